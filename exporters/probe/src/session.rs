//! One probe's state: its phases and their durations, the failure (phase and a reason from
//! a closed set), the transcript for `debug=true` with secrets masked, the connection,
//! and what the probers found. It turns into the probe's metrics at the end.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::MetricSet;
use common::metricset::labels;
use tokio::net::TcpStream;

use crate::config::{Module, TlsConfig};
use crate::conn::{Conn, LineError, Stream};
use crate::target::Target;
use crate::tls::TlsInfo;

/// Why a probe failed: a closed set, so `probe_failed_phase_info{reason}` stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The name did not resolve.
    Dns,
    /// The connection was refused (nothing listens).
    Refused,
    /// The deadline passed (a black hole, a slow server).
    Timeout,
    /// Another network error (unreachable, reset).
    Network,
    /// The server closed the connection.
    Closed,
    /// TLS failed: handshake, certificate, or TLS not offered when required.
    Tls,
    /// Credentials refused.
    Auth,
    /// A well-formed reply with a code or status other than expected.
    UnexpectedReply,
    /// Something that is not the protocol (garbage, a broken multi-line reply).
    Protocol,
    /// A line or reply beyond the limits.
    TooLarge,
    /// FTP: the passive reply names another address than the control connection's.
    PasvAddressMismatch,
    /// HTTP: a status code outside `valid_status_codes`.
    HttpStatus,
    /// HTTP: the body failed a regular-expression check.
    BodyMismatch,
    /// Delivery: the message was not found in time.
    NotDelivered,
    /// The module cannot run (a password file that cannot be read).
    Config,
    /// HTTP: a redirect points at a target the module may not reach.
    NotAllowed,
}

impl Reason {
    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Dns => "dns",
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::Network => "network",
            Reason::Closed => "closed",
            Reason::Tls => "tls",
            Reason::Auth => "auth",
            Reason::UnexpectedReply => "unexpected_reply",
            Reason::Protocol => "protocol",
            Reason::TooLarge => "too_large",
            Reason::PasvAddressMismatch => "pasv_address_mismatch",
            Reason::HttpStatus => "http_status",
            Reason::BodyMismatch => "body_mismatch",
            Reason::NotDelivered => "not_delivered",
            Reason::Config => "config",
            Reason::NotAllowed => "not_allowed",
        }
    }

    /// Every reason, for the docs' table and a test that keeps them in sync.
    pub const ALL: [Reason; 16] = [
        Reason::Dns,
        Reason::Refused,
        Reason::Timeout,
        Reason::Network,
        Reason::Closed,
        Reason::Tls,
        Reason::Auth,
        Reason::UnexpectedReply,
        Reason::Protocol,
        Reason::TooLarge,
        Reason::PasvAddressMismatch,
        Reason::HttpStatus,
        Reason::BodyMismatch,
        Reason::NotDelivered,
        Reason::Config,
        Reason::NotAllowed,
    ];
}

/// A failed step: the reason and a message for the debug output and logs (never a secret:
/// it passes through [`Session::scrub`]).
#[derive(Debug, Clone)]
pub struct Fail {
    /// The reason.
    pub reason: Reason,
    /// What happened.
    pub detail: String,
}

impl Fail {
    /// A failure.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Fail {
        Fail {
            reason,
            detail: detail.into(),
        }
    }

    /// The failure of an I/O error.
    pub fn io(e: &std::io::Error) -> Fail {
        use std::io::ErrorKind as K;
        let reason = match e.kind() {
            K::ConnectionRefused => Reason::Refused,
            K::TimedOut | K::WouldBlock => Reason::Timeout,
            K::UnexpectedEof | K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted => {
                Reason::Closed
            }
            _ if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => Reason::Tls,
            _ => Reason::Network,
        };
        Fail::new(reason, e.to_string())
    }
}

impl From<LineError> for Fail {
    fn from(e: LineError) -> Fail {
        match e {
            LineError::Closed => Fail::new(Reason::Closed, "the server closed the connection"),
            LineError::TooLong => Fail::new(Reason::TooLarge, e.to_string()),
            LineError::Io(io) => Fail::io(&io),
        }
    }
}

/// A probe step's result.
pub type Step<T = ()> = Result<T, Fail>;

/// The most transcript lines kept (a hostile server cannot grow the debug output).
const MAX_LOG_LINES: usize = 2000;
/// Each transcript line is cut to this many characters.
const MAX_LOG_LINE: usize = 300;

/// One probe in progress.
pub struct Session {
    /// The module's name.
    pub module_name: String,
    /// The module.
    pub module: Arc<Module>,
    /// The target as given.
    pub target: Target,
    /// The addresses to connect to, in order (already checked against the allow list).
    pub addrs: Vec<IpAddr>,
    /// `hostname` parameter: SNI and EHLO name.
    pub hostname: Option<String>,
    /// The resolver (HTTP redirects resolve again).
    pub resolver: Option<crate::dns::Resolver>,
    /// What the module may reach (`None`: anything, `--probe.allow-any-target`).
    pub allow: Option<crate::target::AllowList>,
    /// When the probe must be over (delivery probes stop looking before it).
    pub deadline: Option<Instant>,
    /// An HTTP target given as a URL: https or not, and the path with the query.
    pub url: Option<(bool, String)>,
    /// The connection, once made.
    pub conn: Option<Conn>,
    /// The address connected to.
    pub peer: Option<SocketAddr>,
    /// The last reply code (SMTP, LMTP, FTP).
    pub last_code: Option<u16>,
    /// The TLS session's facts, after a handshake.
    pub tls: Option<TlsInfo>,
    /// The TLS client of the control connection (FTP reuses it, and its session, for the
    /// data channel).
    pub tls_client: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    /// The probe's own gauges (`probe_imap_mailbox_messages`, ...).
    pub extra: MetricSet,
    started: Instant,
    phases: Vec<(&'static str, Duration)>,
    current: Option<(&'static str, Instant)>,
    failure: Option<(&'static str, Fail)>,
    log: Vec<String>,
    secrets: Vec<String>,
}

impl Session {
    /// A probe of `target` with `module`, started now.
    pub fn new(module_name: &str, module: Arc<Module>, target: Target) -> Session {
        Session {
            module_name: module_name.to_string(),
            module,
            target,
            addrs: Vec::new(),
            hostname: None,
            resolver: None,
            allow: None,
            url: None,
            deadline: None,
            conn: None,
            peer: None,
            last_code: None,
            tls: None,
            tls_client: None,
            extra: MetricSet::new(),
            started: Instant::now(),
            phases: Vec::new(),
            current: None,
            failure: None,
            log: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Starts phase `name` (ending the one before).
    pub fn phase(&mut self, name: &'static str) {
        self.end_phase();
        self.current = Some((name, Instant::now()));
    }

    /// Ends the current phase.
    pub fn end_phase(&mut self) {
        if let Some((name, t)) = self.current.take() {
            let d = t.elapsed();
            match self.phases.iter_mut().find(|(n, _)| *n == name) {
                // A phase run twice (EHLO before and after STARTTLS) adds up.
                Some((_, total)) => *total += d,
                None => self.phases.push((name, d)),
            }
        }
    }

    /// The phase running now, or the last one.
    pub fn current_phase(&self) -> &'static str {
        self.current
            .map(|(n, _)| n)
            .or_else(|| self.phases.last().map(|(n, _)| *n))
            .unwrap_or("setup")
    }

    /// Records that the current phase failed.
    pub fn record_failure(&mut self, fail: Fail) {
        let phase = self.current_phase();
        let detail = self.scrub(&fail.detail);
        self.note(&format!(
            "phase {phase} failed ({}): {detail}",
            fail.reason.as_str()
        ));
        self.end_phase();
        if self.failure.is_none() {
            self.failure = Some((phase, Fail::new(fail.reason, detail)));
        }
    }

    /// The failure, if any: phase and reason.
    pub fn failure(&self) -> Option<(&'static str, &Fail)> {
        self.failure.as_ref().map(|(p, f)| (*p, f))
    }

    /// The phases finished so far and their durations.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Registers a secret: it (and its base64 forms) is masked wherever it would be shown.
    pub fn add_secret(&mut self, s: &str) {
        if !s.is_empty() {
            self.secrets.push(s.to_string());
        }
    }

    /// `text` with every registered secret, plain or base64-encoded, replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            let b64 = base64::engine::general_purpose::STANDARD.encode(s);
            for needle in [s.as_str(), b64.as_str()] {
                if !needle.is_empty() && out.contains(needle) {
                    out = out.replace(needle, "<secret>");
                }
            }
        }
        out
    }

    /// Adds a transcript line (`C:` sent, `S:` received, or a note).
    pub fn note(&mut self, line: &str) {
        if self.log.len() >= MAX_LOG_LINES {
            return;
        }
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut l: String = line.chars().take(MAX_LOG_LINE).collect();
        if line.chars().count() > MAX_LOG_LINE {
            l.push('…');
        }
        let l = self.scrub(&l);
        self.log.push(format!("{ms:8.1}ms {l}"));
        if self.log.len() == MAX_LOG_LINES {
            self.log.push("… transcript cut".into());
        }
    }

    /// The transcript.
    pub fn transcript(&self) -> &[String] {
        &self.log
    }

    fn conn(&mut self) -> Step<&mut Conn> {
        self.conn
            .as_mut()
            .ok_or_else(|| Fail::new(Reason::Network, "not connected"))
    }

    /// Connects to the first address that answers (phase `connect`).
    pub async fn connect(&mut self) -> Step {
        self.phase("connect");
        let port = self.target.port;
        let mut last = Fail::new(Reason::Network, "no address to connect to");
        for ip in self.addrs.clone() {
            let addr = SocketAddr::new(ip, port);
            self.note(&format!("connecting to {addr}"));
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    self.conn = Some(Conn::new(Stream::Plain(s)));
                    self.peer = Some(addr);
                    return Ok(());
                }
                Err(e) => {
                    self.note(&format!("connect to {addr}: {e}"));
                    last = Fail::io(&e);
                }
            }
        }
        Err(last)
    }

    /// Runs the TLS handshake on the connection (phase `tls`); `alpn` for HTTP.
    pub async fn start_tls(&mut self, cfg: &TlsConfig, alpn: &[&[u8]]) -> Step {
        self.phase("tls");
        let default_name = self
            .hostname
            .clone()
            .unwrap_or_else(|| self.target.host.server_name());
        let config = crate::tls::client_config(cfg, alpn)
            .map_err(|e| Fail::new(Reason::Config, format!("{e:#}")))?;
        let name = crate::tls::server_name(cfg, &default_name)
            .map_err(|e| Fail::new(Reason::Config, e.to_string()))?;
        let conn = self
            .conn
            .take()
            .ok_or_else(|| Fail::new(Reason::Network, "not connected"))?;
        if conn.has_buffered() {
            // Bytes sent before the handshake would be read as if inside the TLS session
            // (the STARTTLS command-injection flaw, CVE-2011-0411).
            return Err(Fail::new(
                Reason::Protocol,
                "the server sent data after its STARTTLS reply, before the handshake",
            ));
        }
        let Stream::Plain(tcp) = conn.into_stream() else {
            return Err(Fail::new(Reason::Protocol, "TLS is already on"));
        };
        self.tls_client = Some((Arc::clone(&config), name.clone()));
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| Fail::new(Reason::Tls, format!("TLS handshake: {e}")))?;
        let info = crate::tls::info(tls.get_ref().1);
        self.note(&format!(
            "TLS established: {} {} subject {:?}",
            info.version, info.cipher, info.subject
        ));
        self.tls = Some(info);
        self.conn = Some(Conn::new(Stream::Tls(Box::new(tls))));
        Ok(())
    }

    /// Sends `line` and CR LF.
    pub async fn send(&mut self, line: &str) -> Step {
        self.note(&format!("C: {line}"));
        self.write_line(line).await
    }

    /// Sends `line` and CR LF, showing `shown` in the transcript (for credentials).
    pub async fn send_masked(&mut self, line: &str, shown: &str) -> Step {
        self.note(&format!("C: {shown}"));
        self.write_line(line).await
    }

    async fn write_line(&mut self, line: &str) -> Step {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.conn()?
            .write_all(&bytes)
            .await
            .map_err(|e| Fail::io(&e))
    }

    /// Writes raw bytes (a message body), noting only their size.
    pub async fn send_raw(&mut self, bytes: &[u8], what: &str) -> Step {
        self.note(&format!("C: <{what}, {} bytes>", bytes.len()));
        self.conn()?
            .write_all(bytes)
            .await
            .map_err(|e| Fail::io(&e))
    }

    /// Reads one line from the server.
    pub async fn read_line(&mut self) -> Step<String> {
        let line = self.conn()?.read_line().await?;
        self.note(&format!("S: {line}"));
        Ok(line)
    }

    /// Reads `n` bytes (an IMAP literal), noting only their size.
    pub async fn read_bytes(&mut self, n: usize) -> Step<Vec<u8>> {
        let b = self.conn()?.read_exact_bytes(n).await?;
        self.note(&format!("S: <{n} bytes>"));
        Ok(b)
    }

    /// Ends the `quit` phase with the server's answer to QUIT/LOGOUT (already checked by
    /// the caller): a server that hangs up instead of answering has still done its work,
    /// so `closed` passes; any other failure stands. Then closes the connection.
    pub async fn end_quit<T>(&mut self, answer: Step<T>) -> Step {
        match answer {
            Ok(_) => {}
            Err(f) if f.reason == Reason::Closed => {
                self.note("the server closed the connection instead of answering")
            }
            Err(f) => return Err(f),
        }
        self.close().await;
        self.end_phase();
        Ok(())
    }

    /// Closes the connection politely (TLS close_notify).
    pub async fn close(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.shutdown().await;
        }
    }

    /// Sets a probe gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.extra.gauge(name, help, vec![], value);
    }

    /// The probe's metrics: success, durations, phases, the failure, TLS facts and what
    /// the prober found.
    pub fn metrics(&self, success: bool, timeout: Duration, dns: Option<Duration>) -> MetricSet {
        let mut m = MetricSet::new();
        m.gauge(
            "probe_success",
            "Whether the probe succeeded",
            vec![],
            f64::from(u8::from(success)),
        );
        m.gauge(
            "probe_duration_seconds",
            "How long the probe took to complete in seconds",
            vec![],
            self.elapsed().as_secs_f64(),
        );
        m.gauge(
            "probe_timeout_seconds",
            "The time budget of the probe in seconds",
            vec![],
            timeout.as_secs_f64(),
        );
        if let Some(d) = dns {
            m.gauge(
                "probe_dns_lookup_time_seconds",
                "Returns the time taken for probe dns lookup in seconds",
                vec![],
                d.as_secs_f64(),
            );
        }
        if let Some(p) = self.peer {
            m.gauge(
                "probe_ip_protocol",
                "Specifies whether probe ip protocol is IP4 or IP6",
                vec![],
                if p.is_ipv4() { 4.0 } else { 6.0 },
            );
            m.gauge(
                "probe_ip_addr_hash",
                "Specifies the hash of IP address. It's useful to detect if the IP address changes",
                vec![],
                f64::from(fnv32a(p.ip().to_string().as_bytes())),
            );
        }
        let help = "Duration of each phase of the probe in seconds";
        m.declare(
            "probe_phase_duration_seconds",
            help,
            common::metricset::Kind::Gauge,
        );
        for (phase, d) in &self.phases {
            m.gauge(
                "probe_phase_duration_seconds",
                help,
                labels(&[("phase", phase)]),
                d.as_secs_f64(),
            );
        }
        if let Some((phase, f)) = &self.failure {
            m.gauge(
                "probe_failed_phase_info",
                "The phase the probe failed in and why (1 when it failed)",
                labels(&[("phase", phase), ("reason", f.reason.as_str())]),
                1.0,
            );
        }
        if let Some(code) = self.last_code {
            m.gauge(
                "probe_last_reply_code",
                "The code of the last reply of the server (SMTP, LMTP, FTP)",
                vec![],
                f64::from(code),
            );
        }
        if let Some(t) = &self.tls {
            m.gauge(
                "probe_tls_version_info",
                "Returns the TLS version used or NaN when unknown",
                labels(&[("version", &t.version)]),
                1.0,
            );
            m.gauge(
                "probe_tls_cipher_info",
                "Returns the TLS cipher negotiated during handshake",
                labels(&[("cipher", &t.cipher)]),
                1.0,
            );
            if let Some(e) = t.earliest_expiry {
                m.gauge(
                    "probe_ssl_earliest_cert_expiry",
                    "Returns last SSL chain expiry in unixtime",
                    vec![],
                    e as f64,
                );
                m.gauge(
                    "probe_ssl_last_chain_expiry_timestamp_seconds",
                    "Returns last SSL chain expiry in timestamp",
                    vec![],
                    e as f64,
                );
            }
        }
        m.extend(self.extra.clone());
        m
    }
}

/// FNV-1a, 32 bits: blackbox_exporter's `probe_ip_addr_hash`.
fn fnv32a(b: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &c in b {
        h ^= u32::from(c);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let m =
            crate::config::Config::parse("modules: {m: {prober: smtp}}", std::path::Path::new("."))
                .unwrap();
        let module = Arc::new(m.modules["m"].clone());
        Session::new("m", module, Target::parse("127.0.0.1:25", 25).unwrap())
    }

    #[test]
    fn secrets_are_masked_plain_and_base64() {
        let mut s = session();
        s.add_secret("hunter2");
        s.note("S: 535 you sent hunter2");
        s.note(&format!(
            "S: echo {}",
            base64::engine::general_purpose::STANDARD.encode("hunter2")
        ));
        s.record_failure(Fail::new(Reason::Auth, "server said hunter2"));
        let all = s.transcript().join("\n");
        assert!(
            !all.contains("hunter2") && !all.contains("aHVudGVyMg=="),
            "{all}"
        );
        assert!(s.failure().unwrap().1.detail.contains("<secret>"));
    }

    #[test]
    fn phases_add_up_and_failure_names_the_phase() {
        let mut s = session();
        s.phase("ehlo");
        s.phase("starttls");
        s.phase("ehlo");
        s.record_failure(Fail::new(Reason::Timeout, "deadline"));
        let m = s.metrics(false, Duration::from_secs(5), None);
        assert_eq!(m.sample_count("probe_phase_duration_seconds"), 2);
        assert_eq!(
            m.value(
                "probe_failed_phase_info",
                &[("phase", "ehlo"), ("reason", "timeout")]
            ),
            Some(1.0)
        );
        assert_eq!(m.value("probe_success", &[]), Some(0.0));
        // The published FNV-1a test vectors.
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    }
}
