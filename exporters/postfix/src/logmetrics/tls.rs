//! TLS sessions established by smtpd (inbound) and smtp/lmtp (outbound).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{BoundedLabel, TlsLabels, closed};
use crate::parse::log::{TlsConnection, TlsDirection};

const TLS_PROTOCOLS: [&str; 6] = ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3", "SSLv2"];

/// TLS connection counters.
#[derive(Debug)]
pub(super) struct TlsMetrics {
    cipher_labels: bool,
    ciphers: BoundedLabel,
    smtpd_tls: Family<TlsLabels, Counter>,
    smtp_tls: Family<TlsLabels, Counter>,
}

impl TlsMetrics {
    pub(super) fn new(cap: usize, cipher_labels: bool) -> Self {
        Self {
            cipher_labels,
            ciphers: BoundedLabel::new(cap, None, &[]),
            smtpd_tls: Family::default(),
            smtp_tls: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_smtpd_tls_connections",
            "Incoming TLS connections",
            self.smtpd_tls.clone(),
        );
        r.register(
            "postfix_smtp_tls_connections",
            "Outgoing TLS connections",
            self.smtp_tls.clone(),
        );
    }

    /// Counts inbound sessions of smtpd and outbound sessions of smtp/lmtp; any other
    /// combination (tlsproxy) is recognised but not counted.
    pub(super) fn connection(&self, t: &TlsConnection<'_>, daemon: &str) {
        let labels = TlsLabels {
            trust: t.trust,
            protocol: closed(t.protocol, &TLS_PROTOCOLS),
            cipher: self.cipher_labels.then(|| self.ciphers.get(t.cipher)),
        };
        match (t.direction, daemon) {
            (TlsDirection::Inbound, "smtpd") => self.smtpd_tls.get_or_create(&labels).inc(),
            (TlsDirection::Outbound, "smtp" | "lmtp") => self.smtp_tls.get_or_create(&labels).inc(),
            _ => 0,
        };
    }
}
