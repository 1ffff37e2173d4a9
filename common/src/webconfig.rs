//! `--web.config.file` in the Prometheus exporter-toolkit format: TLS and basic auth.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # or `cert:` with inline PEM
//!   key_file: server.key           # or `key:` with inline PEM
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt         # or `client_ca:` with inline PEM
//!   min_version: TLS12             # TLS12 | TLS13 (TLS10/TLS11 mean TLS12 here)
//!   max_version: TLS13
//! http_server_config:
//!   http2: true
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   prometheus: $2y$10$...        # bcrypt hash
//! ```
//!
//! Relative file names are resolved against the directory of the config file, as the
//! exporter-toolkit does. Unknown keys are errors, so a typo never silently disables TLS or
//! authentication. Accepted but ignored (with a warning): `cipher_suites`,
//! `prefer_server_cipher_suites`, `curve_preferences` (rustls picks safe suites and curves
//! itself). Rejected: `client_allowed_sans` (not implemented; accepting it would silently
//! widen access). `rate_limit` (`interval`, `burst`) limits requests as the toolkit does: a
//! token bucket of `burst` requests refilled one per `interval`, 429 past it (health
//! endpoints excepted). The file is re-read on reload (SIGHUP, `POST /-/reload`).
//!
//! Errors never quote a value from the file: a value in the wrong place may be a password
//! or a key (`invalid type: string "prom:S3cret"` is what a YAML library says), so quoted
//! values are replaced by `"…"` and every message is capped. A user named twice is an
//! error, not "the last one wins".

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, anyhow, bail};
use axum::http::{HeaderName, HeaderValue};
use base64::Engine;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;

/// A loaded web configuration.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// TLS server configuration, when `tls_server_config` is present.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic-auth users, when `basic_auth_users` is present and not empty.
    pub basic_auth: Option<BasicAuth>,
    /// Response headers from `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `rate_limit`, when `burst` is above 0.
    pub rate_limit: Option<RateLimit>,
}

/// The exporter-toolkit's `rate_limit`: `burst` requests at once, one more per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Time to earn one more request.
    pub interval: std::time::Duration,
    /// Requests that may come at once.
    pub burst: u32,
}

/// A token bucket for [`RateLimit`] (one per server, shared by all clients like the
/// toolkit's).
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    state: Mutex<(f64, std::time::Instant)>,
}

impl Limiter {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new((f64::from(limit.burst), std::time::Instant::now())),
        }
    }

    /// Takes one token; false when the bucket is empty.
    pub fn allow(&self) -> bool {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let per = self.limit.interval.as_secs_f64();
        let earned = if per > 0.0 {
            now.duration_since(st.1).as_secs_f64() / per
        } else {
            f64::INFINITY
        };
        st.0 = (st.0 + earned).min(f64::from(self.limit.burst));
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Longest error message about the file: a 100 MB value must not become 100 MB of log.
const MAX_MESSAGE: usize = 300;

/// Removes quoted values from a YAML library's message and caps its length.
fn redact(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(MAX_MESSAGE + 8));
    let mut in_quote = false;
    for c in msg.chars() {
        if c == '"' {
            if !in_quote {
                out.push_str("\"…");
            } else {
                out.push('"');
            }
            in_quote = !in_quote;
            continue;
        }
        if !in_quote {
            out.push(c);
        }
        if out.len() >= MAX_MESSAGE {
            out.push_str(" …");
            break;
        }
    }
    out
}

/// Caps text taken from the file (a user name, a header name) before it goes in a message.
fn shown(s: &str) -> String {
    let mut t: String = s.chars().take(64).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    format!("{t:?}")
}

/// Successful verifications kept before the cache is emptied and refilled.
const AUTH_CACHE_SIZE: usize = 1024;

/// Basic-auth users with bcrypt hashes.
///
/// bcrypt is deliberately slow (tens of milliseconds at cost 10), so successful
/// verifications are cached, keyed by a keyed 128-bit hash of user and password (the
/// password itself is never stored). Unknown users are still checked against a dummy hash
/// so the response time does not tell which user names exist.
pub struct BasicAuth {
    users: Vec<(String, String)>,
    cache: Mutex<HashSet<u128>>,
    keys: (
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    ),
    dummy: OnceLock<String>,
    dummy_cost: u32,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes stay out of logs and debug output.
        f.debug_struct("BasicAuth")
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for BasicAuth {
    fn default() -> Self {
        Self::from_users(Vec::new())
    }
}

impl BasicAuth {
    /// Builds the checker from `(user, bcrypt hash)` pairs; hashes are validated.
    pub fn new(users: BTreeMap<String, String>) -> anyhow::Result<Self> {
        let mut list = Vec::with_capacity(users.len());
        for (user, hash) in users {
            // bcrypt's error repeats the value, which may be a password typed in by mistake.
            bcrypt::HashParts::from_str(&hash).map_err(|_| {
                anyhow!(
                    "user {}: the value is not a bcrypt hash (like $2y$10$ followed by 53 characters)",
                    shown(&user)
                )
            })?;
            list.push((user, hash));
        }
        Ok(Self::from_users(list))
    }

    fn from_users(users: Vec<(String, String)>) -> Self {
        let dummy_cost = users
            .iter()
            .filter_map(|(_, h)| bcrypt::HashParts::from_str(h).ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Self {
            users,
            cache: Mutex::new(HashSet::new()),
            keys: Default::default(),
            dummy: OnceLock::new(),
            dummy_cost,
        }
    }

    /// Names of the configured users.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|(u, _)| u.as_str())
    }

    /// True when the `Authorization` header carries valid credentials.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        // Compare against every user without stopping early, so timing does not reveal
        // where (or whether) the name matched.
        let mut found: Option<&str> = None;
        for (u, h) in &self.users {
            if ct_eq(u.as_bytes(), &user) {
                found = Some(h.as_str());
            }
        }
        let key = self.cache_key(&user, &pass);
        let Some(hash) = found else {
            let dummy = self.dummy.get_or_init(|| {
                bcrypt::hash("mail-exporters dummy password", self.dummy_cost).unwrap_or_default()
            });
            let _ = bcrypt::verify(&pass, dummy);
            return false;
        };
        if self.cache.lock().map(|c| c.contains(&key)).unwrap_or(false) {
            return true;
        }
        let ok = bcrypt::verify(&pass, hash).unwrap_or(false);
        if ok && let Ok(mut c) = self.cache.lock() {
            if c.len() >= AUTH_CACHE_SIZE {
                c.clear();
            }
            c.insert(key);
        }
        ok
    }

    fn cache_key(&self, user: &[u8], pass: &[u8]) -> u128 {
        let one = |s: &std::collections::hash_map::RandomState| {
            let mut h = s.build_hasher();
            user.hash(&mut h);
            pass.hash(&mut h);
            h.finish()
        };
        (u128::from(one(&self.keys.0)) << 64) | u128::from(one(&self.keys.1))
    }
}

/// The user name of a `Basic` authorization header (for logs; never the password).
pub fn basic_user(header: &str) -> Option<String> {
    parse_basic(header).map(|(u, _)| String::from_utf8_lossy(&u).into_owned())
}

/// Splits `Basic base64(user:password)` into its parts.
fn parse_basic(header: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|b| *b == b':')?;
    let (user, pass) = raw.split_at(colon);
    Some((user.to_vec(), pass.get(1..)?.to_vec()))
}

/// Equality whose running time depends only on the lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<ClientAuthType>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: Option<serde_norway::Value>,
    burst: Option<u64>,
}

/// The toolkit's semantics: no limit unless `burst` is above 0; `interval` is a Go
/// duration (`1s`, `250ms`) or a number of seconds.
fn rate_limit(r: RawRateLimit) -> anyhow::Result<Option<RateLimit>> {
    let burst = r.burst.unwrap_or(0);
    if burst == 0 {
        return Ok(None);
    }
    let burst = u32::try_from(burst).map_err(|_| anyhow!("burst: {burst} is too large"))?;
    let interval = match r.interval {
        None => bail!("interval: missing (e.g. interval: 1s)"),
        Some(serde_norway::Value::String(s)) => crate::cli::parse_duration(&s)
            .map_err(|_| anyhow!("interval: {} is not a duration like 1s or 250ms", shown(&s)))?,
        Some(serde_norway::Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| anyhow!("interval: not a usable number of seconds"))?,
        Some(_) => bail!("interval: expected a duration like 1s"),
    };
    Ok(Some(RateLimit { interval, burst }))
}

/// Deserializing into a struct keeps the last of two equal keys; two entries for one user
/// would leave a password working that the operator believes is gone. The generic YAML
/// value refuses duplicates, so the text is read as one first.
fn reject_duplicate_keys(text: &str) -> anyhow::Result<()> {
    match serde_norway::from_str::<serde_norway::Value>(text) {
        // Keys are names (of users, of settings), not secrets: the message keeps the
        // key, capped like every quoted name.
        Err(e) if e.to_string().contains("duplicate entry") => {
            let msg = e.to_string();
            let key = msg.split('"').nth(1).unwrap_or("");
            let before = msg.split('"').next().unwrap_or("");
            let after = msg.rsplit('"').next().unwrap_or("");
            bail!(
                "{}{}{} (each user, and each key, once)",
                redact(before),
                shown(key),
                redact(after)
            )
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum ClientAuthType {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

/// Headers the exporter-toolkit lets an operator set.
const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// Loads and validates the file; errors name the file and the problem.
pub fn load(path: &Path) -> anyhow::Result<WebConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("web config {}: cannot read", path.display()))?;
    parse(&text, path).map_err(|e| anyhow!("web config {}: {e:#}", path.display()))
}

/// Parses the YAML `text`; `path` locates relative file names (and is not read itself).
fn parse(text: &str, path: &Path) -> anyhow::Result<WebConfig> {
    // An empty file (or one of only comments) is a valid "no TLS, no auth" config.
    let raw: RawConfig = match serde_norway::from_str::<Option<RawConfig>>(text) {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => bail!("{}", redact(&e.to_string())),
    };
    reject_duplicate_keys(text)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut cfg = WebConfig::default();
    let mut http2 = true;
    if let Some(h) = raw.http_server_config {
        http2 = h.http2.unwrap_or(true);
        for (name, value) in h.headers.unwrap_or_default() {
            let Some(canon) = ALLOWED_HEADERS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&name))
            else {
                bail!(
                    "http_server_config.headers: header {} cannot be configured (allowed: {})",
                    shown(&name),
                    ALLOWED_HEADERS.join(", ")
                );
            };
            if value.is_empty() {
                continue;
            }
            let hv = HeaderValue::from_str(&value).map_err(|_| {
                anyhow!(
                    "http_server_config.headers.{canon}: invalid value {}",
                    shown(&value)
                )
            })?;
            let hn = HeaderName::from_bytes(canon.as_bytes()).map_err(|_| {
                anyhow!("http_server_config.headers: invalid header name {canon:?}")
            })?;
            cfg.headers.push((hn, hv));
        }
    }
    if let Some(t) = raw.tls_server_config {
        cfg.tls = Some(Arc::new(
            build_tls(t, base, http2).context("tls_server_config")?,
        ));
    }
    if let Some(users) = raw.basic_auth_users
        && !users.is_empty()
    {
        cfg.basic_auth = Some(BasicAuth::new(users).context("basic_auth_users")?);
    }
    if let Some(r) = raw.rate_limit {
        cfg.rate_limit = rate_limit(r).context("rate_limit")?;
    }
    Ok(cfg)
}

/// Reads inline PEM or a file (relative to the config's directory), naming the key on error.
fn pem_source(
    inline: Option<String>,
    file: Option<PathBuf>,
    base: &Path,
    inline_key: &str,
    file_key: &str,
) -> anyhow::Result<Option<(Vec<u8>, String)>> {
    match (inline, file) {
        (Some(_), Some(_)) => bail!("{inline_key} and {file_key} are mutually exclusive"),
        (Some(s), None) => Ok(Some((s.into_bytes(), format!("inline {inline_key}")))),
        (None, Some(f)) => {
            let full = if f.is_absolute() { f } else { base.join(f) };
            let bytes = std::fs::read(&full)
                .with_context(|| format!("{file_key}: cannot read {}", full.display()))?;
            Ok(Some((bytes, format!("{file_key} {}", full.display()))))
        }
        (None, None) => Ok(None),
    }
}

fn certs(pem: &[u8], what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{what}: invalid PEM certificate: {e}"))?;
    if certs.is_empty() {
        bail!("{what}: no PEM certificate found");
    }
    Ok(certs)
}

fn build_tls(t: RawTls, base: &Path, http2: bool) -> anyhow::Result<rustls::ServerConfig> {
    if t.client_allowed_sans
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        bail!(
            "client_allowed_sans is not supported by this exporter; remove it or terminate TLS in a proxy"
        );
    }
    if t.cipher_suites.as_ref().is_some_and(|s| !s.is_empty()) {
        tracing::warn!(
            "web config: cipher_suites is ignored; rustls uses its own safe cipher suites"
        );
    }
    if t.prefer_server_cipher_suites.is_some() {
        tracing::warn!("web config: prefer_server_cipher_suites is ignored");
    }
    if t.curve_preferences.as_ref().is_some_and(|s| !s.is_empty()) {
        tracing::warn!("web config: curve_preferences is ignored; rustls uses its own safe curves");
    }

    let (cert_pem, cert_what) = pem_source(t.cert, t.cert_file, base, "cert", "cert_file")?
        .ok_or_else(|| anyhow!("missing cert_file (or cert)"))?;
    let (key_pem, key_what) = pem_source(t.key, t.key_file, base, "key", "key_file")?
        .ok_or_else(|| anyhow!("missing key_file (or key)"))?;
    let chain = certs(&cert_pem, &cert_what)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| anyhow!("{key_what}: no usable PEM private key: {e}"))?;

    let min = t.min_version.unwrap_or(TlsVersion::TLS12);
    let max = t.max_version.unwrap_or(TlsVersion::TLS13);
    if max < TlsVersion::TLS12 {
        bail!("max_version {max:?} is not supported (TLS 1.0 and 1.1 are not implemented)");
    }
    if min > max {
        bail!("min_version {min:?} is above max_version {max:?}");
    }
    if min < TlsVersion::TLS12 {
        tracing::warn!(min_version = ?min, "web config: TLS 1.0/1.1 are not implemented; the minimum is TLS 1.2");
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= TlsVersion::TLS12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::TLS13 {
        versions.push(&rustls::version::TLS13);
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .context("protocol versions")?;

    let auth = t.client_auth_type.unwrap_or(ClientAuthType::NoClientCert);
    let ca = pem_source(
        t.client_ca,
        t.client_ca_file,
        base,
        "client_ca",
        "client_ca_file",
    )?;
    let builder = match (auth, ca) {
        (ClientAuthType::NoClientCert, Some(_)) => {
            bail!(
                "client_ca_file is set but client_auth_type is NoClientCert; use RequireAndVerifyClientCert"
            )
        }
        (ClientAuthType::NoClientCert, None) => builder.with_no_client_auth(),
        (ClientAuthType::RequestClientCert | ClientAuthType::RequireAnyClientCert, _) => builder
            .with_client_cert_verifier(Arc::new(AnyClientCert {
                mandatory: auth == ClientAuthType::RequireAnyClientCert,
                algs: provider.signature_verification_algorithms,
            })),
        (
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert,
            None,
        ) => {
            bail!("client_auth_type {auth:?} needs client_ca_file (or client_ca)")
        }
        (
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert,
            Some((pem, what)),
        ) => {
            let mut roots = RootCertStore::empty();
            for c in certs(&pem, &what)? {
                roots
                    .add(c)
                    .map_err(|e| anyhow!("{what}: unusable CA certificate: {e}"))?;
            }
            let vb =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let vb = if auth == ClientAuthType::VerifyClientCertIfGiven {
                vb.allow_unauthenticated()
            } else {
                vb
            };
            let verifier = vb.build().map_err(|e| {
                anyhow!("{what}: cannot build the client certificate verifier: {e}")
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            anyhow!("{key_what} does not match the certificate in {cert_what}")
        }
        other => anyhow!("{cert_what} / {key_what}: {other}"),
    })?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// `RequestClientCert` / `RequireAnyClientCert`: a client certificate is asked for (or
/// required) but its chain is not verified, exactly as Go's `crypto/tls` does. The
/// handshake signature is still checked, so the client holds the key of what it presents.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    fn auth() -> BasicAuth {
        let mut users = BTreeMap::new();
        users.insert(
            "alice".to_string(),
            bcrypt::hash("s3cret:with colon", 4).unwrap(),
        );
        users.insert("bob".to_string(), bcrypt::hash("hunter2", 4).unwrap());
        BasicAuth::new(users).unwrap()
    }

    #[test]
    fn basic_auth_accepts_only_the_right_pair() {
        let a = auth();
        assert!(a.check(Some(&header("alice", "s3cret:with colon"))));
        assert!(a.check(Some(&header("bob", "hunter2"))));
        // Cached now; still right and still rejecting the wrong ones.
        assert!(a.check(Some(&header("bob", "hunter2"))));
        assert!(!a.check(Some(&header("bob", "hunter3"))));
        assert!(!a.check(Some(&header("alice", "hunter2"))));
        assert!(!a.check(Some(&header("mallory", "hunter2"))));
        assert!(!a.check(Some(&header("bo", "hunter2"))));
        assert!(!a.check(Some(&header("", ""))));
        assert!(!a.check(None));
        assert!(!a.check(Some("Bearer abc")));
        assert!(!a.check(Some("Basic !!!notbase64")));
        // No colon in the decoded credentials.
        assert!(!a.check(Some("Basic Ym9i")));
        // Scheme is case-insensitive (RFC 7617).
        let lower = header("bob", "hunter2").replacen("Basic", "basic", 1);
        assert!(a.check(Some(&lower)));
        assert_eq!(a.users().collect::<Vec<_>>(), vec!["alice", "bob"]);
        assert!(
            !format!("{a:?}").contains("$2"),
            "hashes must not be printed"
        );
    }

    #[test]
    fn cache_makes_repeated_checks_cheap() {
        let mut users = BTreeMap::new();
        users.insert("u".to_string(), bcrypt::hash("p", 10).unwrap());
        let a = BasicAuth::new(users).unwrap();
        let h = header("u", "p");
        let t0 = std::time::Instant::now();
        assert!(a.check(Some(&h)));
        let first = t0.elapsed();
        let t1 = std::time::Instant::now();
        for _ in 0..100 {
            assert!(a.check(Some(&h)));
        }
        let hundred = t1.elapsed();
        assert!(
            hundred < first,
            "100 cached checks {hundred:?} vs one bcrypt {first:?}"
        );
    }

    #[test]
    fn bad_hash_is_rejected_at_load() {
        let mut users = BTreeMap::new();
        users.insert("eve".to_string(), "plaintext".to_string());
        let err = BasicAuth::new(users).unwrap_err().to_string();
        assert!(
            err.contains("\"eve\"") && err.contains("not a bcrypt hash"),
            "{err}"
        );
        // The value may be a password typed where the hash belongs: never echoed.
        assert!(!err.contains("plaintext"), "{err}");
    }

    #[test]
    fn errors_never_quote_values_and_stay_short() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        let huge = "S".repeat(1_000_000);
        for text in [
            "basic_auth_users: prom:S3cretPassw0rd!\n".to_string(),
            "basic_auth_users:\n  prom: [S3cretPassw0rd!]\n".to_string(),
            format!("basic_auth_users: {huge}\n"),
            format!("tls_server_config:\n  key: 12\n  cert: [{huge}]\n"),
        ] {
            std::fs::write(&p, &text).unwrap();
            let e = format!("{:#}", load(&p).unwrap_err());
            assert!(!e.contains("S3cret") && !e.contains("SSSS"), "{e}");
            assert!(e.len() < 600, "{} bytes", e.len());
            assert!(e.contains("web.yml"), "{e}");
        }
    }

    #[test]
    fn a_user_given_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        let h = bcrypt::hash("x", 4).unwrap();
        std::fs::write(
            &p,
            format!("basic_auth_users:\n  prom: '{h}'\n  prom: '{h}'\n"),
        )
        .unwrap();
        let e = format!("{:#}", load(&p).unwrap_err());
        assert!(
            e.contains("duplicate entry with key \"prom\"") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn rate_limit_is_a_token_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        std::fs::write(&p, "rate_limit:\n  interval: 1s\n  burst: 3\n").unwrap();
        let r = load(&p).unwrap().rate_limit.unwrap();
        assert_eq!(
            r,
            RateLimit {
                interval: std::time::Duration::from_secs(1),
                burst: 3
            }
        );
        let l = Limiter::new(r);
        assert!(l.allow() && l.allow() && l.allow());
        assert!(!l.allow(), "the fourth at once is refused");
        std::fs::write(&p, "rate_limit:\n  burst: 0\n").unwrap();
        assert_eq!(load(&p).unwrap().rate_limit, None, "burst 0 means no limit");
        std::fs::write(&p, "rate_limit:\n  burst: 2\n").unwrap();
        assert!(load(&p).is_err(), "a burst needs an interval");
    }

    #[test]
    fn ct_eq_matches_plain_equality() {
        for (a, b) in [
            ("", ""),
            ("a", ""),
            ("", "a"),
            ("abc", "abc"),
            ("abc", "abd"),
            ("ab", "abc"),
        ] {
            assert_eq!(ct_eq(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn empty_and_comment_only_files_mean_nothing_configured() {
        for text in ["", "# nothing\n", "---\n"] {
            let c = parse(text, Path::new("/x/web.yml")).unwrap();
            assert!(c.tls.is_none() && c.basic_auth.is_none() && c.headers.is_empty());
        }
        let c = parse("basic_auth_users: {}\n", Path::new("/x/web.yml")).unwrap();
        assert!(c.basic_auth.is_none());
    }

    #[test]
    fn unknown_keys_and_values_are_errors_with_location() {
        let err = parse("tls_server_config:\n  cert_fil: x\n", Path::new("w.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `cert_fil`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("tls_server_config"), "{err}");

        let err = parse(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n",
            Path::new("w.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown variant `Always`"), "{err}");
        assert!(err.contains("line 4"), "{err}");

        let err = parse("basic_auth_user:\n  a: b\n", Path::new("w.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `basic_auth_user`"), "{err}");
    }

    #[test]
    fn headers_are_validated_and_canonicalised() {
        let c = parse(
            "http_server_config:\n  http2: false\n  headers:\n    x-frame-options: deny\n    Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n",
            Path::new("w.yml"),
        )
        .unwrap();
        let names: Vec<_> = c
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![
                "strict-transport-security=max-age=31536000",
                "x-frame-options=deny"
            ]
        );
        let err = parse(
            "http_server_config:\n  headers:\n    Server: x\n",
            Path::new("w.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"Server\" cannot be configured"), "{err}");
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let err = parse(
            "tls_server_config:\n  key_file: k\n",
            Path::new("/nonexistent/w.yml"),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("missing cert_file (or cert)"),
            "{err:#}"
        );
        let err = parse(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
            Path::new("/nonexistent/w.yml"),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("cert_file: cannot read /nonexistent/c.pem"),
            "{msg}"
        );
    }
}
