//! The per-prober sections of a module, with their defaults and the checks that span
//! fields (run while deserializing, so errors carry the line).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{ProberKind, defaults};

/// Deserializes a duration written `500ms`, `10s`, `2m`, `1h` or as a number of seconds.
/// A visitor rather than an untagged enum: buffering would lose the error's line.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration like 500ms, 10s or 2m")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Duration, E> {
            common::cli::parse_duration(s).map_err(E::custom)
        }
        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Duration, E> {
            if n.is_finite() && (0.0..1e9).contains(&n) {
                Ok(Duration::from_secs_f64(n))
            } else {
                Err(E::custom("duration out of range"))
            }
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
            self.visit_f64(n as f64)
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Duration, E> {
            self.visit_f64(n as f64)
        }
    }
    d.deserialize_any(V)
}

/// [`duration`] for optional keys.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// How TLS is used on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text only.
    #[default]
    None,
    /// Upgrade in the protocol (STARTTLS, STLS, AUTH TLS).
    Starttls,
    /// TLS from the first byte (SMTPS 465, IMAPS 993, POP3S 995, FTPS 990, HTTPS).
    Implicit,
}

/// A TLS client's settings, as blackbox_exporter's `tls_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificates (PEM) to verify the server with, instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM), with `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Name the certificate must carry and the SNI sent (default: the target host or the
    /// `hostname` parameter).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any certificate (its expiry is still exported).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Oldest TLS version accepted: `TLS12` or `TLS13`.
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
}

/// A TLS protocol version in `tls_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

impl TlsConfig {
    pub(super) fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }
}

/// A SASL or login mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// SASL PLAIN (SMTP AUTH PLAIN, IMAP AUTHENTICATE PLAIN).
    #[default]
    Plain,
    /// SASL LOGIN for SMTP; the LOGIN command for IMAP; USER/PASS for POP3.
    Login,
}

/// Credentials: a user name and where the password is read from at probe time (a rotated
/// Kubernetes Secret takes effect without a reload). The password itself is never in
/// the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawAuth")]
pub struct Auth {
    /// The mechanism (see [`Mechanism`]); each prober documents its default.
    pub mechanism: Option<Mechanism>,
    /// The login name.
    pub username: String,
    /// Where the password comes from.
    pub password: PasswordSource,
}

/// Where a password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file; one trailing newline is dropped.
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default)]
    mechanism: Option<Mechanism>,
    username: String,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    password_env: Option<String>,
}

impl TryFrom<RawAuth> for Auth {
    type Error = String;
    fn try_from(r: RawAuth) -> Result<Self, String> {
        let password = match (r.password_file, r.password_env) {
            (Some(f), None) => PasswordSource::File(f),
            (None, Some(e)) if !e.is_empty() => PasswordSource::Env(e),
            (None, Some(_)) => return Err("auth: password_env is empty".into()),
            (Some(_), Some(_)) => {
                return Err("auth: give password_file or password_env, not both".into());
            }
            (None, None) => {
                return Err(
                    "auth: password_file or password_env is needed (a password is never written in the module file)"
                        .into(),
                );
            }
        };
        if r.username.is_empty() || r.username.len() > 256 {
            return Err("auth: username must be 1 to 256 characters".into());
        }
        if r.username.chars().any(char::is_control) {
            return Err(
                "auth: username has a control character (it would break the protocol line)".into(),
            );
        }
        Ok(Auth {
            mechanism: r.mechanism,
            username: r.username,
            password,
        })
    }
}

impl Auth {
    pub(super) fn resolve_paths(&mut self, base: &Path) {
        if let PasswordSource::File(p) = &mut self.password
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
    }
}

fn tls_required() -> bool {
    defaults::TLS_REQUIRED
}

/// `smtp:` and `lmtp:`: banner, EHLO/LHLO, STARTTLS, AUTH, and optionally a transaction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// TLS mode (default none).
    #[serde(default)]
    pub tls: TlsMode,
    /// With `tls: starttls`: fail when the server does not offer STARTTLS.
    #[serde(default = "tls_required")]
    pub tls_required: bool,
    /// TLS client settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// The target names a mail domain: probe its MX with the lowest preference (on the
    /// target's port, 25 by default) instead of the name's own addresses.
    #[serde(default)]
    pub mx_lookup: bool,
    /// Name sent with EHLO/LHLO (default: the `hostname` parameter, else this host's name).
    #[serde(default)]
    pub ehlo: Option<String>,
    /// AUTH after EHLO (and after STARTTLS when there is TLS).
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Envelope sender; a transaction runs when this or `rcpt_to` is set.
    #[serde(default)]
    pub mail_from: Option<String>,
    /// Envelope recipients.
    #[serde(default)]
    pub rcpt_to: Vec<String>,
    /// Send a generated message after RCPT (otherwise stop there with RSET).
    #[serde(default)]
    pub data: bool,
    /// Expected banner code (default any 2xx).
    #[serde(default)]
    pub expect_banner_code: Option<u16>,
    /// Expected MAIL reply code (default any 2xx).
    #[serde(default)]
    pub expect_mail_code: Option<u16>,
    /// Expected RCPT reply code (default any 2xx); e.g. 554 proves relaying is denied.
    #[serde(default)]
    pub expect_rcpt_code: Option<u16>,
    /// Expected reply to the end of DATA (default any 2xx).
    #[serde(default)]
    pub expect_data_code: Option<u16>,
    /// Extra header lines of the generated message (`Name: value`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Subject of the generated message.
    #[serde(default)]
    pub subject: Option<String>,
    /// Body of the generated message.
    #[serde(default)]
    pub body: Option<String>,
}

impl Default for SmtpSection {
    fn default() -> Self {
        Self {
            tls: TlsMode::None,
            tls_required: defaults::TLS_REQUIRED,
            tls_config: TlsConfig::default(),
            mx_lookup: false,
            ehlo: None,
            auth: None,
            mail_from: None,
            rcpt_to: Vec::new(),
            data: false,
            expect_banner_code: None,
            expect_mail_code: None,
            expect_rcpt_code: None,
            expect_data_code: None,
            headers: BTreeMap::new(),
            subject: None,
            body: None,
        }
    }
}

impl SmtpSection {
    pub(super) fn validate(&self, prober: ProberKind) -> anyhow::Result<()> {
        for code in [
            self.expect_banner_code,
            self.expect_mail_code,
            self.expect_rcpt_code,
            self.expect_data_code,
        ]
        .into_iter()
        .flatten()
        {
            anyhow::ensure!(
                (200..=599).contains(&code),
                "smtp: expected reply code {code} is not a reply code (200-599)"
            );
        }
        if self.data {
            anyhow::ensure!(
                !self.rcpt_to.is_empty(),
                "smtp: data: true needs rcpt_to (a message needs a recipient)"
            );
        }
        for (k, v) in &self.headers {
            anyhow::ensure!(
                !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                    && !v.contains(['\r', '\n']),
                "smtp: headers: {k:?} is not a valid header line"
            );
        }
        for a in self.rcpt_to.iter().chain(self.mail_from.iter()) {
            anyhow::ensure!(
                !a.contains(['\r', '\n', '<', '>']),
                "smtp: address {a:?} has a line break or angle bracket"
            );
        }
        if prober == ProberKind::Lmtp && self.tls == TlsMode::Implicit {
            tracing::debug!("LMTP over implicit TLS is unusual but allowed");
        }
        Ok(())
    }
}

/// `imap:`: greeting, CAPABILITY, STARTTLS, login, optional EXAMINE of a mailbox, LOGOUT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSection {
    /// TLS mode (default none).
    #[serde(default)]
    pub tls: TlsMode,
    /// With `tls: starttls`: fail when the server does not offer STARTTLS.
    #[serde(default = "tls_required")]
    pub tls_required: bool,
    /// TLS client settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Login (mechanism `login`: the LOGIN command, default; `plain`: AUTHENTICATE PLAIN).
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Mailbox opened read-only (EXAMINE) after login, for its message count.
    #[serde(default)]
    pub mailbox: Option<String>,
}

impl Default for ImapSection {
    fn default() -> Self {
        Self {
            tls: TlsMode::None,
            tls_required: defaults::TLS_REQUIRED,
            tls_config: TlsConfig::default(),
            auth: None,
            mailbox: None,
        }
    }
}

/// `pop3:`: greeting, CAPA, STLS, USER/PASS, STAT, optional RETR, QUIT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pop3Section {
    /// TLS mode (default none).
    #[serde(default)]
    pub tls: TlsMode,
    /// With `tls: starttls`: fail when the server does not offer STLS.
    #[serde(default = "tls_required")]
    pub tls_required: bool,
    /// TLS client settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Login (USER/PASS; mechanism `plain`: AUTH PLAIN).
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Retrieve the newest message after STAT (when there is one).
    #[serde(default)]
    pub retr: bool,
}

impl Default for Pop3Section {
    fn default() -> Self {
        Self {
            tls: TlsMode::None,
            tls_required: defaults::TLS_REQUIRED,
            tls_config: TlsConfig::default(),
            auth: None,
            retr: false,
        }
    }
}

/// The FTP data channel kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FtpData {
    /// PASV (IPv4 address and port in the reply).
    #[default]
    Pasv,
    /// EPSV (port only; the control connection's address).
    Epsv,
    /// No data channel: greeting and login only.
    None,
}

/// `ftp:`: greeting, AUTH TLS/PROT P, login, a passive data channel with LIST or RETR.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpSection {
    /// TLS mode (default none; `starttls` is explicit FTPS with AUTH TLS).
    #[serde(default)]
    pub tls: TlsMode,
    /// With `tls: starttls`: fail when AUTH TLS is refused.
    #[serde(default = "tls_required")]
    pub tls_required: bool,
    /// TLS client settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Login; without it the probe logs in as `anonymous`.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Data channel: pasv (default), epsv or none.
    #[serde(default)]
    pub data: FtpData,
    /// Directory listed over the data channel (default: the login directory).
    #[serde(default)]
    pub list: Option<String>,
    /// File retrieved over the data channel instead of a listing.
    #[serde(default)]
    pub retr: Option<String>,
}

impl Default for FtpSection {
    fn default() -> Self {
        Self {
            tls: TlsMode::None,
            tls_required: defaults::TLS_REQUIRED,
            tls_config: TlsConfig::default(),
            auth: None,
            data: FtpData::Pasv,
            list: None,
            retr: None,
        }
    }
}

/// A body check: a regular expression compiled at load time.
#[derive(Debug, Clone)]
pub struct BodyRegex(pub regex::bytes::Regex);

impl<'de> Deserialize<'de> for BodyRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        regex::bytes::RegexBuilder::new(&s)
            .size_limit(1 << 20)
            .build()
            .map(BodyRegex)
            .map_err(|e| serde::de::Error::custom(format!("invalid regular expression: {e}")))
    }
}

/// `http:`: one request (redirects followed), status and body checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Request method (default GET).
    #[serde(default = "http_method")]
    pub method: String,
    /// Path when the target is `host:port` (a URL target carries its own).
    #[serde(default = "http_path")]
    pub path: String,
    /// TLS for `host:port` targets: `implicit` means https (a URL target's scheme decides).
    #[serde(default)]
    pub tls: TlsMode,
    /// TLS client settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Basic-auth credentials (mechanism ignored).
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Accepted final status codes (default any 2xx).
    #[serde(default)]
    pub valid_status_codes: Vec<u16>,
    /// Follow 3xx redirects (default true).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Fail when the body matches one of these.
    #[serde(default)]
    pub fail_if_body_matches_regexp: Vec<BodyRegex>,
    /// Fail when the body does not match all of these.
    #[serde(default)]
    pub fail_if_body_not_matches_regexp: Vec<BodyRegex>,
}

fn http_method() -> String {
    "GET".into()
}

fn http_path() -> String {
    "/".into()
}

fn yes() -> bool {
    true
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            method: http_method(),
            path: http_path(),
            tls: TlsMode::None,
            tls_config: TlsConfig::default(),
            headers: BTreeMap::new(),
            body: None,
            auth: None,
            valid_status_codes: Vec::new(),
            follow_redirects: true,
            fail_if_body_matches_regexp: Vec::new(),
            fail_if_body_not_matches_regexp: Vec::new(),
        }
    }
}

/// `delivery:`: which SMTP module sends and where the message is looked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySection {
    /// An smtp or lmtp module with `rcpt_to` (its `data` is implied).
    pub send: String,
    /// Where the message arrives.
    pub receive: Receive,
    /// How often the mailbox is looked at while waiting.
    #[serde(default = "poll_interval", deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// Keep the probe message instead of deleting it once found.
    #[serde(default)]
    pub keep: bool,
}

fn poll_interval() -> Duration {
    defaults::POLL_INTERVAL
}

/// Where a delivery probe looks for its message: exactly one of the keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawReceive")]
pub enum Receive {
    /// An IMAP module and server: SEARCH by the probe header, then delete.
    Imap {
        /// An imap module with auth.
        module: String,
        /// `host:port` of the IMAP server.
        target: String,
    },
    /// A POP3 module and server: scan the headers (TOP), then DELE.
    Pop3 {
        /// A pop3 module with auth.
        module: String,
        /// `host:port` of the POP3 server.
        target: String,
    },
    /// A Maildir on a shared volume: look in `new/` and `cur/`.
    Maildir {
        /// The Maildir (the directory holding `new/` and `cur/`).
        path: PathBuf,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteMailbox {
    module: String,
    target: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceive {
    #[serde(default)]
    imap: Option<RemoteMailbox>,
    #[serde(default)]
    pop3: Option<RemoteMailbox>,
    #[serde(default)]
    maildir: Option<PathBuf>,
}

impl TryFrom<RawReceive> for Receive {
    type Error = &'static str;
    fn try_from(r: RawReceive) -> Result<Self, Self::Error> {
        match (r.imap, r.pop3, r.maildir) {
            (Some(m), None, None) => Ok(Receive::Imap {
                module: m.module,
                target: m.target,
            }),
            (None, Some(m), None) => Ok(Receive::Pop3 {
                module: m.module,
                target: m.target,
            }),
            (None, None, Some(path)) => Ok(Receive::Maildir { path }),
            _ => Err("receive: give exactly one of imap, pop3 or maildir"),
        }
    }
}
