//! mod_tls's TLSLog: handshakes on the control and data channels, and the protocol versions
//! of accepted control connections.
//!
//! `2026-12-02 17:28:27,402 mod_tls/2.9.2[23997]: TLSv1.3 connection accepted, using cipher
//! …`; a failed handshake logs `unable to accept TLS connection: …`, OpenSSL's error list on
//! lines starting with spaces, then `TLS/TLS-C negotiation failed on control channel`, which
//! is the line counted.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use common::follow::{LineHandler, LineOutcome};

type L1 = [(&'static str, &'static str); 1];

/// The TLS counters.
#[derive(Debug, Clone, Default)]
pub struct TlsLog {
    control: Family<L1, Counter>,
    data: Family<L1, Counter>,
    versions: Family<L1, Counter>,
}

fn version(v: &str) -> &'static str {
    match v {
        "TLSv1" => "TLSv1",
        "TLSv1.1" => "TLSv1.1",
        "TLSv1.2" => "TLSv1.2",
        "TLSv1.3" => "TLSv1.3",
        _ => "other",
    }
}

impl TlsLog {
    /// The counters, with both results of control handshakes present from the start.
    pub fn new() -> Self {
        let t = Self::default();
        for r in ["success", "failure"] {
            t.control.get_or_create(&[("result", r)]).get();
        }
        t
    }

    /// Registers the families under `proftpd_`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "proftpd_tls_handshakes",
            "TLS handshakes on the control channel (AUTH TLS), by result",
            self.control.clone(),
        );
        r.register(
            "proftpd_tls_data_handshakes",
            "TLS handshakes on data channels (PROT P), by result",
            self.data.clone(),
        );
        r.register(
            "proftpd_tls_connections",
            "Accepted TLS control connections by protocol version",
            self.versions.clone(),
        );
    }

    fn classify(&self, msg: &str) -> bool {
        if let Some((v, rest)) = msg.split_once(' ') {
            if rest.starts_with("connection accepted") {
                self.control.get_or_create(&[("result", "success")]).inc();
                self.versions
                    .get_or_create(&[("version", version(v))])
                    .inc();
                return true;
            }
            if rest.starts_with("data connection accepted") {
                self.data.get_or_create(&[("result", "success")]).inc();
                return true;
            }
        }
        if msg.starts_with("TLS/TLS-C negotiation failed on control channel") {
            self.control.get_or_create(&[("result", "failure")]).inc();
            return true;
        }
        if msg.starts_with("TLS/TLS-C negotiation failed on data channel") {
            self.data.get_or_create(&[("result", "failure")]).inc();
            return true;
        }
        const KNOWN: [&str; 10] = [
            "TLS/TLS-C requested",
            "unable to accept TLS",
            "client supports secure renegotiations",
            "client does not support secure renegotiations",
            "Protection set to",
            "SSL_shutdown error",
            "TLS session cache",
            "CCC ",
            "client did not reuse SSL session",
            "data channel",
        ];
        KNOWN.iter().any(|k| msg.starts_with(k))
    }
}

impl LineHandler for TlsLog {
    fn handle_line(&self, line: &str) -> LineOutcome {
        if line.trim().is_empty() || line.starts_with([' ', '\t']) {
            return LineOutcome::Handled;
        }
        let Some(l) = common::logline::parse(line) else {
            return LineOutcome::Unsupported("unknown_message".into());
        };
        if !l.program.starts_with("mod_tls") {
            return LineOutcome::Handled;
        }
        if self.classify(l.message) {
            LineOutcome::Recognised
        } else {
            LineOutcome::Unsupported("unknown_message".into())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn handshakes_of_a_real_session_and_two_failures() {
        // The shapes mod_tls 2.9.2 of ProFTPd 1.3.8 writes: an FTPS session with a PROT P
        // upload, then two clients whose handshakes fail.
        let text = "\
2026-12-02 17:28:27,399 mod_tls/2.9.2[23997]: TLS/TLS-C requested, starting TLS handshake
2026-12-02 17:28:27,402 mod_tls/2.9.2[23997]: client supports secure renegotiations
2026-12-02 17:28:27,402 mod_tls/2.9.2[23997]: TLSv1.3 connection accepted, using cipher TLS_AES_256_GCM_SHA384 (256 bits)
2026-12-02 17:28:27,408 mod_tls/2.9.2[23997]: Protection set to Private
2026-12-02 17:28:27,411 mod_tls/2.9.2[23997]: TLSv1.3 data connection accepted, using cipher TLS_AES_256_GCM_SHA384 (256 bits)
2026-12-02 17:28:27,535 mod_tls/2.9.2[23998]: TLS/TLS-C requested, starting TLS handshake
2026-12-02 17:28:27,536 mod_tls/2.9.2[23998]: unable to accept TLS connection: protocol error: 
  (1) error:0A0000C6:SSL routines::packet length too long
2026-12-02 17:28:27,536 mod_tls/2.9.2[23998]: TLS/TLS-C negotiation failed on control channel
2026-12-02 17:28:27,603 mod_tls/2.9.2[23999]: TLS/TLS-C negotiation failed on control channel
2026-12-02 17:28:27,700 mod_tls/2.9.2[24000]: something new
";
        let t = TlsLog::new();
        let out: Vec<LineOutcome> = text.lines().map(|l| t.handle_line(l)).collect();
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, LineOutcome::Unsupported(_)))
                .count(),
            1
        );
        let mut r = Registry::default();
        t.register(&mut r);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        for want in [
            "proftpd_tls_handshakes_total{result=\"success\"} 1",
            "proftpd_tls_handshakes_total{result=\"failure\"} 2",
            "proftpd_tls_data_handshakes_total{result=\"success\"} 1",
            "proftpd_tls_connections_total{version=\"TLSv1.3\"} 1",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }
}
