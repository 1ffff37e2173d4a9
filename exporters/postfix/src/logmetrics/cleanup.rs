//! cleanup: messages processed, header/body-check rejects and milter actions.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{Shared, SvcActionLabels};
use crate::parse::log::{ActionKind, ActionLine};

/// cleanup counters.
#[derive(Debug)]
pub(super) struct CleanupMetrics {
    cleanup_processed: Counter,
    cleanup_rejected: Counter,
    cleanup_milter: Family<SvcActionLabels, Counter>,
}

impl CleanupMetrics {
    pub(super) fn new() -> Self {
        Self {
            cleanup_processed: Counter::default(),
            cleanup_rejected: Counter::default(),
            cleanup_milter: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_cleanup_messages_processed",
            "Messages processed by cleanup (message-id= lines)",
            self.cleanup_processed.clone(),
        );
        r.register(
            "postfix_cleanup_messages_rejected",
            "Messages rejected by cleanup header/body checks",
            self.cleanup_rejected.clone(),
        );
        r.register(
            "postfix_cleanup_milter_actions",
            "Milter actions logged by cleanup",
            self.cleanup_milter.clone(),
        );
    }

    pub(super) fn message_id(&self) {
        self.cleanup_processed.inc();
    }

    pub(super) fn action(&self, a: &ActionLine<'_>, inst: Shared, svc: Shared) {
        match a.action {
            ActionKind::Reject => self.cleanup_rejected.inc(),
            k if k.is_milter() => {
                let l = SvcActionLabels {
                    postfix_instance: inst,
                    service: svc,
                    action: k.as_str(),
                };
                self.cleanup_milter.get_or_create(&l).inc()
            }
            _ => 0,
        };
    }
}
