//! postscreen: connects, passes, DNSBL ranks, pregreets, hangups, access lists,
//! protocol-test violations and rejects.

use common::batch::Histogram;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{
    ActionLabel, CodeLabel, ReasonLabel, Shared, SvcLabels, TestLabel, TypeLabel, ViolationLabels,
    closed,
};
use crate::parse::log::{ActionKind, ActionLine, PostscreenEvent};

/// postscreen DNSBL rank (sum of `postscreen_dnsbl_sites` weights; threshold default 1).
const RANK_BUCKETS: [f64; 9] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0];

fn rank_histogram() -> Histogram {
    Histogram::new(RANK_BUCKETS)
}

/// postscreen counters and the DNSBL rank histogram.
#[derive(Debug)]
pub(super) struct PostscreenMetrics {
    postscreen_connects: Counter,
    postscreen_passes: Family<TypeLabel, Counter>,
    postscreen_rank: Histogram,
    postscreen_pregreets: Family<SvcLabels, Counter>,
    postscreen_hangups: Counter,
    postscreen_access: Family<ActionLabel, Counter>,
    postscreen_violations: Family<ViolationLabels, Counter>,
    postscreen_rejected: Family<CodeLabel, Counter>,
    postscreen_connects_rejected: Family<ReasonLabel, Counter>,
    postscreen_tests_failed: Family<TestLabel, Counter>,
}

/// The texts postscreen logs after `NOQUEUE: reject: CONNECT from [ip]:port: `
/// (`src/postscreen/postscreen.c`); Hsn723 labels with the text itself, so these are the
/// label values (anything else is `other`).
const CONNECT_REJECT_REASONS: [&str; 3] = [
    "too many connections",
    "all screening ports busy",
    "all server ports busy",
];

impl PostscreenMetrics {
    pub(super) fn new() -> Self {
        Self {
            postscreen_connects: Counter::default(),
            postscreen_passes: Family::default(),
            postscreen_rank: rank_histogram(),
            postscreen_pregreets: Family::default(),
            postscreen_hangups: Counter::default(),
            postscreen_access: Family::default(),
            postscreen_violations: Family::default(),
            postscreen_rejected: Family::default(),
            postscreen_connects_rejected: Family::default(),
            postscreen_tests_failed: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_postscreen_connects",
            "Connections to postscreen",
            self.postscreen_connects.clone(),
        );
        r.register(
            "postfix_postscreen_passes",
            "Clients that passed postscreen, new or cached",
            self.postscreen_passes.clone(),
        );
        r.register(
            "postfix_postscreen_dnsbl_rank",
            "postscreen DNSBL rank of scored clients",
            self.postscreen_rank.clone(),
        );
        r.register(
            "postfix_postscreen_pregreets",
            "Clients that talked before the greeting",
            self.postscreen_pregreets.clone(),
        );
        r.register(
            "postfix_postscreen_hangups",
            "Clients that hung up during postscreen tests",
            self.postscreen_hangups.clone(),
        );
        r.register(
            "postfix_postscreen_access_list_matches",
            "postscreen access list matches (allow, deny)",
            self.postscreen_access.clone(),
        );
        r.register(
            "postfix_postscreen_command_violations",
            "postscreen deep protocol test violations",
            self.postscreen_violations.clone(),
        );
        r.register(
            "postfix_postscreen_messages_rejected",
            "postscreen rejects by reply code",
            self.postscreen_rejected.clone(),
        );
        r.register(
            "postfix_postscreen_connects_rejected",
            "Connections postscreen refused before any test, by reason (Hsn723-compatible)",
            self.postscreen_connects_rejected.clone(),
        );
        r.register(
            "postfix_postscreen_tests_failed",
            "postscreen pregreet and deep protocol test failures, by test (Hsn723-compatible)",
            self.postscreen_tests_failed.clone(),
        );
    }

    fn test_failed(&self, test: &'static str) {
        self.postscreen_tests_failed
            .get_or_create(&TestLabel { test })
            .inc();
    }

    pub(super) fn event(&self, p: PostscreenEvent, inst: Shared, svc: Shared) {
        match p {
            PostscreenEvent::Connect => self.postscreen_connects.inc(),
            PostscreenEvent::PassNew => self
                .postscreen_passes
                .get_or_create(&TypeLabel { r#type: "new" })
                .inc(),
            PostscreenEvent::PassOld => self
                .postscreen_passes
                .get_or_create(&TypeLabel { r#type: "old" })
                .inc(),
            PostscreenEvent::DnsblRank(n) => {
                self.postscreen_rank.observe(f64::from(n));
                0
            }
            PostscreenEvent::Pregreet => {
                self.test_failed("PREGREET");
                self.postscreen_pregreets
                    .get_or_create(&SvcLabels {
                        postfix_instance: inst,
                        service: svc,
                    })
                    .inc()
            }
            PostscreenEvent::Hangup => self.postscreen_hangups.inc(),
            PostscreenEvent::AccessList(a) => self
                .postscreen_access
                .get_or_create(&ActionLabel { action: a.as_str() })
                .inc(),
            PostscreenEvent::Violation(v) => {
                self.test_failed(v.test_name());
                self.postscreen_violations
                    .get_or_create(&ViolationLabels {
                        postfix_instance: inst,
                        service: svc,
                        violation: v.as_str(),
                    })
                    .inc()
            }
        };
    }

    /// postscreen's rejects: refused connections by reason, the rest by reply code;
    /// other actions are recognised, not counted.
    pub(super) fn action(&self, a: &ActionLine<'_>) {
        if a.action != ActionKind::Reject {
            return;
        }
        if a.stage == "CONNECT" && a.code.is_none() {
            let reason = closed(a.text, &CONNECT_REJECT_REASONS);
            self.postscreen_connects_rejected
                .get_or_create(&ReasonLabel { reason })
                .inc();
            return;
        }
        self.postscreen_rejected
            .get_or_create(&CodeLabel { code: a.code })
            .inc();
    }
}
