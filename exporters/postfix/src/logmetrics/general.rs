//! Lines about the system rather than mail: lookup-table restarts, kumina's unsupported
//! line counter, and the OpenDKIM signatures kumina counts from the same log.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{BoundedLabel, DkimLabels, ServiceLevelLabels, Shared, Str, SvcDaemonLabels};

/// Counters that belong to no daemon family.
#[derive(Debug)]
pub(super) struct GeneralMetrics {
    selectors: BoundedLabel,
    domains: BoundedLabel,
    table_restarts: Family<SvcDaemonLabels, Counter>,
    kumina_unsupported: Family<ServiceLevelLabels, Counter>,
    dkim_signatures: Family<DkimLabels, Counter>,
}

impl GeneralMetrics {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            selectors: BoundedLabel::new(cap, None, &[]),
            domains: BoundedLabel::new(cap, None, &[]),
            table_restarts: Family::default(),
            kumina_unsupported: Family::default(),
            dkim_signatures: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_lookup_table_restarts",
            "Daemons that exited to reopen a changed lookup table (table … has changed -- restarting)",
            self.table_restarts.clone(),
        );
        r.register(
            "postfix_unsupported_log_entries",
            "Postfix lines of a shape this exporter does not know, by daemon and severity (kumina-compatible)",
            self.kumina_unsupported.clone(),
        );
        r.register(
            "opendkim_signatures_added",
            "DKIM signatures OpenDKIM added, by selector (subject) and signing domain (kumina-compatible)",
            self.dkim_signatures.clone(),
        );
    }

    pub(super) fn table_restart(&self, daemon: &'static str, inst: Shared, svc: Shared) {
        self.table_restarts
            .get_or_create(&SvcDaemonLabels {
                postfix_instance: inst,
                service: svc,
                daemon,
            })
            .inc();
    }

    /// `level` is the severity label value, `""` for a plain line.
    pub(super) fn unsupported(&self, daemon: &'static str, level: Str) {
        self.kumina_unsupported
            .get_or_create(&ServiceLevelLabels {
                service: daemon,
                level,
            })
            .inc();
    }

    /// An OpenDKIM line; returns whether it was a signature.
    pub(super) fn opendkim(&self, message: &str) -> bool {
        let Some((selector, domain)) = dkim_signature(message) else {
            return false;
        };
        self.dkim_signatures
            .get_or_create(&DkimLabels {
                subject: self.selectors.get(selector),
                domain: self.domains.get(domain),
            })
            .inc();
        true
    }
}

/// `QID: DKIM-Signature field added (s=SELECTOR, d=DOMAIN)` → (SELECTOR, DOMAIN). Signing
/// domains and selectors come from OpenDKIM's own key table, so they are few; the labels
/// are capped all the same.
fn dkim_signature(message: &str) -> Option<(&str, &str)> {
    let (_, rest) = message.split_once(": DKIM-Signature field added (s=")?;
    let (selector, rest) = rest.split_once(", d=")?;
    let domain = rest.strip_suffix(')')?;
    let plain = |s: &str| !s.is_empty() && !s.contains([' ', ',', ')']);
    (plain(selector) && plain(domain)).then_some((selector, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_signature_lines() {
        assert_eq!(
            dkim_signature("4D1B1A0A4C: DKIM-Signature field added (s=mail, d=example.com)"),
            Some(("mail", "example.com"))
        );
        assert_eq!(
            dkim_signature("4D1B1A0A4C: DKIM-Signature field added (s=, d=example.com)"),
            None
        );
        assert_eq!(
            dkim_signature("4D1B1A0A4C: DKIM verification successful"),
            None
        );
    }
}
