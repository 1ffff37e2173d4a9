//! qmgr: messages entering the active queue (size, recipients), removed and expired.

use std::cell::OnceCell;

use common::batch::{Histogram, LocalCounter, LocalHistogram};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// kumina's `qmgr_messages_inserted_size_bytes` buckets.
const SIZE_BUCKETS: [f64; 7] = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/// kumina's `qmgr_messages_inserted_recipients` buckets.
const NRCPT_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// The qmgr handles of one program tag (see `DeliveryCache`): every message that enters
/// the active queue observes both histograms.
#[derive(Debug, Default)]
pub(super) struct QmgrCache {
    size: OnceCell<LocalHistogram>,
    nrcpt: OnceCell<LocalHistogram>,
    removed: OnceCell<LocalCounter>,
}

impl QmgrCache {
    /// Publishes the pending updates (see `common::batch`).
    pub(super) fn flush(&self) {
        for h in [&self.size, &self.nrcpt]
            .into_iter()
            .filter_map(OnceCell::get)
        {
            h.flush();
        }
        if let Some(c) = self.removed.get() {
            c.flush();
        }
    }
}

/// qmgr counters and histograms.
#[derive(Debug)]
pub(super) struct QmgrMetrics {
    qmgr_removed: Counter,
    qmgr_expired: Counter,
    qmgr_size: Histogram,
    qmgr_nrcpt: Histogram,
}

impl QmgrMetrics {
    pub(super) fn new() -> Self {
        Self {
            qmgr_removed: Counter::default(),
            qmgr_expired: Counter::default(),
            qmgr_size: Histogram::new(SIZE_BUCKETS),
            qmgr_nrcpt: Histogram::new(NRCPT_BUCKETS),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_qmgr_messages_removed",
            "Messages removed from the queue by qmgr",
            self.qmgr_removed.clone(),
        );
        r.register(
            "postfix_qmgr_messages_expired",
            "Messages expired or force-expired and returned to sender by qmgr",
            self.qmgr_expired.clone(),
        );
        r.register(
            "postfix_qmgr_messages_inserted_size_bytes",
            "Size of messages inserted into the active queue in bytes",
            self.qmgr_size.clone(),
        );
        r.register(
            "postfix_qmgr_messages_inserted_recipients",
            "Number of recipients per message inserted into the active queue",
            self.qmgr_nrcpt.clone(),
        );
        // kumina's misspelt name of the same histogram, for dashboards built on it.
        r.register(
            "postfix_qmgr_messages_inserted_receipients",
            "Same as postfix_qmgr_messages_inserted_recipients (kumina's spelling)",
            self.qmgr_nrcpt.clone(),
        );
    }

    pub(super) fn active(&self, size: u64, nrcpt: u32, cache: &QmgrCache) {
        let local = |h: &Histogram| LocalHistogram::new(h.clone());
        cache
            .size
            .get_or_init(|| local(&self.qmgr_size))
            .observe(size as f64);
        cache
            .nrcpt
            .get_or_init(|| local(&self.qmgr_nrcpt))
            .observe(f64::from(nrcpt));
    }

    pub(super) fn removed(&self, cache: &QmgrCache) {
        cache
            .removed
            .get_or_init(|| LocalCounter::new(self.qmgr_removed.clone()))
            .inc();
    }

    pub(super) fn expired(&self) {
        self.qmgr_expired.inc();
    }
}
