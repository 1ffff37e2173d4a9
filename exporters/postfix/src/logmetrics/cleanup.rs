//! cleanup: messages processed, header/body-check actions and milter actions.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{CheckActionLabels, Shared, SvcActionLabels, closed};
use crate::parse::log::{ActionKind, ActionLine};

/// cleanup counters.
#[derive(Debug)]
pub(super) struct CleanupMetrics {
    cleanup_processed: Counter,
    cleanup_rejected: Counter,
    cleanup_milter: Family<SvcActionLabels, Counter>,
    cleanup_not_accepted: Counter,
    cleanup_checks: Family<CheckActionLabels, Counter>,
}

/// Where a header/body check matched (`part` label): the cleanup form's first word, or
/// `milter_header`/`milter_body` for milter_header_checks on what a milter added.
const PARTS: [&str; 6] = [
    "header",
    "body",
    "mime-header",
    "nested-header",
    "milter_header",
    "milter_body",
];

impl CleanupMetrics {
    pub(super) fn new() -> Self {
        Self {
            cleanup_processed: Counter::default(),
            cleanup_rejected: Counter::default(),
            cleanup_milter: Family::default(),
            cleanup_not_accepted: Counter::default(),
            cleanup_checks: Family::default(),
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
        r.register(
            "postfix_cleanup_messages_not_accepted",
            "Messages cleanup did not queue: rejected or discarded by a check or a milter (kumina's name; kumina never counted it)",
            self.cleanup_not_accepted.clone(),
        );
        r.register(
            "postfix_cleanup_check_actions",
            "header_checks/body_checks (and milter_header_checks) actions, by action and part",
            self.cleanup_checks.clone(),
        );
    }

    pub(super) fn message_id(&self) {
        self.cleanup_processed.inc();
    }

    pub(super) fn action(&self, a: &ActionLine<'_>, inst: Shared, svc: Shared) {
        if matches!(
            a.action,
            ActionKind::Reject
                | ActionKind::Discard
                | ActionKind::MilterReject
                | ActionKind::MilterDiscard
        ) {
            self.cleanup_not_accepted.inc();
        }
        if a.action.is_milter() {
            let l = SvcActionLabels {
                postfix_instance: inst,
                service: svc,
                action: a.action.as_str(),
            };
            self.cleanup_milter.get_or_create(&l).inc();
            return;
        }
        // A header/body check (cleanup's own form; `stage` is the part).
        if a.action == ActionKind::Reject {
            self.cleanup_rejected.inc();
        }
        let part = closed(a.stage, &PARTS);
        let l = CheckActionLabels {
            postfix_instance: inst,
            service: svc,
            action: a.action.as_str(),
            part: match part {
                "mime-header" => "mime_header",
                "nested-header" => "nested_header",
                p => p,
            },
        };
        self.cleanup_checks.get_or_create(&l).inc();
    }
}
