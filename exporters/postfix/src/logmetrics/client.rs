//! The smtp and lmtp clients' lines besides deliveries: failed connections (with kumina's
//! timeout counter) and failed SASL logins to a relay.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{ConnectErrorLabels, Shared, SvcDaemonLabels};
use crate::parse::log::ConnectError;

/// smtp/lmtp client counters.
#[derive(Debug)]
pub(super) struct ClientMetrics {
    connection_errors: Family<ConnectErrorLabels, Counter>,
    connection_timed_out: Counter,
    sasl_failures: Family<SvcDaemonLabels, Counter>,
}

impl ClientMetrics {
    pub(super) fn new() -> Self {
        Self {
            connection_errors: Family::default(),
            connection_timed_out: Counter::default(),
            sasl_failures: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_smtp_connection_errors",
            "Outgoing connections that failed (connect to …: REASON), by client daemon and reason",
            self.connection_errors.clone(),
        );
        r.register(
            "postfix_smtp_connection_timed_out",
            "Outgoing smtp connections that timed out (kumina-compatible)",
            self.connection_timed_out.clone(),
        );
        r.register(
            "postfix_smtp_sasl_authentication_failures",
            "Logins of the smtp/lmtp client to a relay that failed (SASL authentication failed; …)",
            self.sasl_failures.clone(),
        );
    }

    pub(super) fn connect_error(
        &self,
        reason: ConnectError,
        daemon: &'static str,
        inst: Shared,
        svc: Shared,
    ) {
        // kumina counts the smtp client's timeouts only.
        if daemon == "smtp" && reason == ConnectError::TimedOut {
            self.connection_timed_out.inc();
        }
        self.connection_errors
            .get_or_create(&ConnectErrorLabels {
                postfix_instance: inst,
                service: svc,
                daemon,
                reason: reason.as_str(),
            })
            .inc();
    }

    pub(super) fn sasl_failed(&self, daemon: &'static str, inst: Shared, svc: Shared) {
        self.sasl_failures
            .get_or_create(&SvcDaemonLabels {
                postfix_instance: inst,
                service: svc,
                daemon,
            })
            .inc();
    }
}
