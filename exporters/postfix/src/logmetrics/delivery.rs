//! Delivery attempts of every delivery agent (smtp, lmtp, local, virtual, pipe, error, …)
//! and their delay histograms, ours and kumina's per-agent ones.

use std::cell::OnceCell;

use common::batch::{Histogram, LocalCounter, LocalHistogram};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{
    BoundedLabel, DelayLabels, DeliveryLabels, DsnLabel, PipeDelayLabels, Shared, StageLabel,
    StatusLabel,
};
use crate::parse::log::{Delivery, DeliveryStatus};

/// kumina's delay buckets (seconds), kept for its `*_delivery_delay_seconds` names.
const KUMINA_DELAY_BUCKETS: [f64; 9] =
    [1e-3, 1e-2, 1e-1, 1.0, 10.0, 60.0, 3600.0, 86400.0, 172800.0];
/// Our delay buckets: sub-second local hops up to multi-day queue residence.
const DELAY_BUCKETS: [f64; 14] = [
    0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0, 432000.0,
];

/// Delay stages, in `delays=a/b/c/d` order, then `delay=`.
const STAGES: [&str; 5] = [
    "before_queue_manager",
    "queue_manager",
    "connection_setup",
    "transmission",
    "total",
];

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Metric handles of one program tag (one instance, service and daemon), taken from the
/// families on first use and kept, so a delivery line costs no label hashing. A handle
/// batches its updates on the follower's thread and publishes them into the family's
/// series on flush (after each read); series appear when first counted.
#[derive(Debug, Default)]
pub(super) struct DeliveryCache {
    /// `postfix_deliveries_total`, by status and DSN class.
    deliveries: [[OnceCell<LocalCounter>; 3]; DeliveryStatus::COUNT],
    /// kumina's `postfix_smtp_messages_processed_total`, by status.
    smtp_processed: [OnceCell<LocalCounter>; DeliveryStatus::COUNT],
    /// `postfix_delivery_delay_seconds` of the five stages.
    delays: OnceCell<[LocalHistogram; 5]>,
    /// kumina's smtp/lmtp delay histograms of the four stages.
    kumina_delays: OnceCell<[LocalHistogram; 4]>,
}

impl DeliveryCache {
    /// Publishes the pending updates (see `common::batch`).
    pub(super) fn flush(&self) {
        let counters = self.deliveries.iter().flatten().chain(&self.smtp_processed);
        for c in counters.filter_map(OnceCell::get) {
            c.flush();
        }
        let hists = self.delays.get().into_iter().flatten();
        for h in hists.chain(self.kumina_delays.get().into_iter().flatten()) {
            h.flush();
        }
    }
}

fn class_index(class: &str) -> usize {
    match class {
        "2" => 0,
        "4" => 1,
        _ => 2,
    }
}

fn kumina_delay_histogram() -> Histogram {
    Histogram::new(KUMINA_DELAY_BUCKETS)
}
fn delay_histogram() -> Histogram {
    Histogram::new(DELAY_BUCKETS)
}

/// Delivery counters and delay histograms.
#[derive(Debug)]
pub(super) struct DeliveryMetrics {
    pipe_relays: BoundedLabel,
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_delay: HistFamily<DelayLabels>,
    smtp_processed: Family<StatusLabel, Counter>,
    smtp_delay: HistFamily<StageLabel>,
    lmtp_delay: HistFamily<StageLabel>,
    pipe_delay: HistFamily<PipeDelayLabels>,
    dsns: BoundedLabel,
    smtp_deferred: Counter,
    smtp_deferred_by_dsn: Family<DsnLabel, Counter>,
    smtp_bounced_by_dsn: Family<DsnLabel, Counter>,
    virtual_delivered: Counter,
}

impl DeliveryMetrics {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            pipe_relays: BoundedLabel::new(cap, None, &[]),
            deliveries: Family::default(),
            delivery_delay: Family::new_with_constructor(delay_histogram),
            smtp_processed: Family::default(),
            smtp_delay: Family::new_with_constructor(kumina_delay_histogram),
            lmtp_delay: Family::new_with_constructor(kumina_delay_histogram),
            pipe_delay: Family::new_with_constructor(kumina_delay_histogram),
            dsns: BoundedLabel::new(cap, None, &[]),
            smtp_deferred: Counter::default(),
            smtp_deferred_by_dsn: Family::default(),
            smtp_bounced_by_dsn: Family::default(),
            virtual_delivered: Counter::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_deliveries",
            "Delivery attempts by delivery agent and status (qmgr: expired messages)",
            self.deliveries.clone(),
        );
        r.register(
            "postfix_delivery_delay_seconds",
            "Per-stage delays (delays=a/b/c/d) and total delay of final deliveries (sent, bounced)",
            self.delivery_delay.clone(),
        );
        r.register(
            "postfix_smtp_messages_processed",
            "smtp delivery attempts by status (kumina-compatible)",
            self.smtp_processed.clone(),
        );
        r.register(
            "postfix_smtp_delivery_delay_seconds",
            "SMTP message processing time in seconds, final statuses only (kumina-compatible)",
            self.smtp_delay.clone(),
        );
        r.register(
            "postfix_lmtp_delivery_delay_seconds",
            "LMTP message processing time in seconds, final statuses only (kumina-compatible)",
            self.lmtp_delay.clone(),
        );
        r.register(
            "postfix_pipe_delivery_delay_seconds",
            "Pipe message processing time in seconds, final statuses only (kumina-compatible)",
            self.pipe_delay.clone(),
        );
        r.register(
            "postfix_smtp_deferred_messages",
            "smtp delivery attempts deferred (kumina's name; kumina never counted it)",
            self.smtp_deferred.clone(),
        );
        r.register(
            "postfix_smtp_deferred_messages_by_dsn",
            "smtp delivery attempts deferred, by enhanced status code (Hsn723-compatible)",
            self.smtp_deferred_by_dsn.clone(),
        );
        r.register(
            "postfix_smtp_bounced_messages_by_dsn",
            "smtp delivery attempts bounced, by enhanced status code (Hsn723-compatible)",
            self.smtp_bounced_by_dsn.clone(),
        );
        r.register(
            "postfix_virtual_delivered",
            "Messages the virtual delivery agent delivered (kumina-compatible)",
            self.virtual_delivered.clone(),
        );
    }

    /// One delivery line; `cache` holds the handles of the line's program tag.
    pub(super) fn delivery(
        &self,
        d: &Delivery<'_>,
        daemon: &'static str,
        inst: &Shared,
        svc: &Shared,
        cache: &DeliveryCache,
    ) {
        let status = d.status.as_str();
        let dsn_class = d.dsn_class();
        cache.deliveries[d.status.index()][class_index(dsn_class)]
            .get_or_init(|| {
                LocalCounter::new(
                    self.deliveries
                        .get_or_create(&DeliveryLabels {
                            postfix_instance: inst.clone(),
                            service: svc.clone(),
                            daemon,
                            status,
                            dsn_class,
                        })
                        .clone(),
                )
            })
            .inc();
        match (daemon, d.status) {
            ("smtp", st) => {
                cache.smtp_processed[d.status.index()]
                    .get_or_init(|| {
                        LocalCounter::new(
                            self.smtp_processed
                                .get_or_create(&StatusLabel { status })
                                .clone(),
                        )
                    })
                    .inc();
                let by_dsn = match st {
                    DeliveryStatus::Deferred => {
                        self.smtp_deferred.inc();
                        Some(&self.smtp_deferred_by_dsn)
                    }
                    DeliveryStatus::Bounced => Some(&self.smtp_bounced_by_dsn),
                    _ => None,
                };
                // Lines from before Postfix 2.3 have no dsn=: nothing to label with.
                if let Some(family) = by_dsn.filter(|_| !d.dsn.is_empty()) {
                    family
                        .get_or_create(&DsnLabel {
                            dsn: self.dsns.get(d.dsn),
                        })
                        .inc();
                }
            }
            ("virtual", DeliveryStatus::Sent) => {
                self.virtual_delivered.inc();
            }
            _ => {}
        }
        if !matches!(d.status, DeliveryStatus::Sent | DeliveryStatus::Bounced) {
            return;
        }
        let Some(delays) = d.delays else { return };
        let values = [
            delays[0],
            delays[1],
            delays[2],
            delays[3],
            d.delay.unwrap_or(delays.iter().sum()),
        ];
        let delays = cache.delays.get_or_init(|| {
            STAGES.map(|stage| {
                LocalHistogram::new(
                    self.delivery_delay
                        .get_or_create(&DelayLabels {
                            postfix_instance: inst.clone(),
                            service: svc.clone(),
                            daemon,
                            stage,
                        })
                        .clone(),
                )
            })
        });
        for (h, v) in delays.iter().zip(values) {
            h.observe(v);
        }
        let kumina = match daemon {
            "smtp" => Some(&self.smtp_delay),
            "lmtp" => Some(&self.lmtp_delay),
            _ => None,
        };
        if let Some(family) = kumina {
            let hs = cache.kumina_delays.get_or_init(|| {
                [STAGES[0], STAGES[1], STAGES[2], STAGES[3]].map(|stage| {
                    LocalHistogram::new(family.get_or_create(&StageLabel { stage }).clone())
                })
            });
            for (h, v) in hs.iter().zip(values) {
                h.observe(v);
            }
        }
        // pipe's kumina histogram is labelled by relay too: not cacheable per tag.
        if daemon == "pipe" {
            let relay = self.pipe_relays.get(d.relay);
            for (stage, v) in STAGES.iter().take(4).zip(values) {
                self.pipe_delay
                    .get_or_create(&PipeDelayLabels {
                        relay: relay.clone(),
                        stage,
                    })
                    .observe(v);
            }
        }
    }

    /// qmgr's `status=expired` ends the message like a final temporary failure.
    pub(super) fn expired(&self, daemon: &'static str, inst: Shared, svc: Shared) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                postfix_instance: inst,
                service: svc,
                daemon,
                status: "expired",
                dsn_class: "4",
            })
            .inc();
    }
}
