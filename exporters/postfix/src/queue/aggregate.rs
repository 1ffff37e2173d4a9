//! One queue snapshot from a stream of messages: per-queue depth, size and age
//! histograms, reason classes and the qshape matrix.

use std::collections::HashMap;

use common::MetricSet;
use common::metricset::labels;

use super::facts::MessageFacts;
use super::qshape::{QSHAPE_HELP, ShapeOptions, ShapeRow, add_qshape_cells};
use super::reasons::{REASONS, classify_reason};
use crate::parse::QUEUES;

/// Per-queue depth figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueStats {
    /// Messages in the queue.
    pub messages: u64,
    /// Recipients of those messages.
    pub recipients: u64,
    /// Sum of message content sizes in bytes.
    pub size_bytes: u64,
    /// Earliest arrival time (unix seconds), if any message has one.
    pub oldest_arrival: Option<i64>,
    /// Force-expired messages.
    pub forced_expire: u64,
}

/// Size histogram bounds of kumina's `postfix_showq_message_size_bytes`.
pub const SIZE_BOUNDS: [f64; 7] = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/// Age histogram bounds of kumina's `postfix_showq_message_age_seconds`.
pub const AGE_BOUNDS: [f64; 8] = [1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

#[derive(Debug, Clone, Default)]
struct Hist {
    counts: Vec<u64>,
    sum: f64,
}

impl Hist {
    fn new(bounds: usize) -> Self {
        Self {
            counts: vec![0; bounds + 1],
            sum: 0.0,
        }
    }
    fn observe(&mut self, bounds: &[f64], v: f64) {
        let i = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
    }
}

#[derive(Debug, Clone)]
struct PerQueue {
    name: String,
    stats: QueueStats,
    reasons: [u64; REASONS.len()],
    size: Hist,
    age: Hist,
    /// domain -> [total, bucket counts...]
    shape: Option<HashMap<String, Vec<u64>>>,
}

/// Builds one queue snapshot from a stream of messages.
#[derive(Debug, Clone)]
pub struct QueueAggregator {
    now: f64,
    opts: ShapeOptions,
    queues: Vec<PerQueue>,
    /// Deferred queues repeat a handful of reason texts; classifying each once halves the
    /// CPU cost of a walk. Bounded so that unique texts cannot grow it without limit.
    reason_cache: HashMap<String, usize>,
}

/// Most distinct reason texts remembered by one aggregation.
const REASON_CACHE_LIMIT: usize = 4096;

fn classify_cached(cache: &mut HashMap<String, usize>, reason: Option<&str>) -> usize {
    let Some(r) = reason else {
        return classify_reason(None);
    };
    if let Some(i) = cache.get(r) {
        return *i;
    }
    let i = classify_reason(Some(r));
    if cache.len() < REASON_CACHE_LIMIT {
        cache.insert(r.to_string(), i);
    }
    i
}

impl QueueAggregator {
    /// A new aggregation with ages measured against `now` (unix seconds).
    pub fn new(now: f64, opts: ShapeOptions) -> Self {
        let queues = QUEUES.iter().map(|q| PerQueue::new(q, &opts)).collect();
        Self {
            now,
            opts,
            queues,
            reason_cache: HashMap::new(),
        }
    }

    fn queue_index(&mut self, name: &str) -> usize {
        match self.queues.iter().position(|q| q.name == name) {
            Some(i) => i,
            None => {
                // Unknown queue names (a future Postfix) are kept, bounded by what showq sends.
                let q = PerQueue::new(name, &self.opts);
                self.queues.push(q);
                self.queues.len() - 1
            }
        }
    }

    /// Adds one message: a parsed [`QueuedMessage`] or any other [`MessageFacts`].
    pub fn add<M: MessageFacts + ?Sized>(&mut self, msg: &M) {
        let now = self.now;
        let mut classes = [0u64; REASONS.len()];
        let cache = &mut self.reason_cache;
        msg.reason_classes(&mut |r| classify_cached(cache, r), &mut |c, n| {
            if let Some(x) = classes.get_mut(c) {
                *x += n;
            }
        });
        let idx = self.queue_index(msg.queue());
        let opts = &self.opts;
        let q = &mut self.queues[idx];
        let recipients = msg.recipient_count();
        let arrival_time = msg.arrival_time();
        let forced_expire = msg.forced_expire();
        q.stats.messages += 1;
        q.stats.recipients += recipients;
        let size = msg.size().unwrap_or(0);
        q.stats.size_bytes += size;
        if forced_expire {
            q.stats.forced_expire += 1;
        }
        if let Some(t) = arrival_time {
            q.stats.oldest_arrival = Some(q.stats.oldest_arrival.map_or(t, |o| o.min(t)));
        }
        q.size.observe(&SIZE_BOUNDS, size as f64);
        let age = arrival_time.map(|t| (now - t as f64).max(0.0));
        if let Some(a) = age {
            q.age.observe(&AGE_BOUNDS, a);
        }
        for (sum, n) in q.reasons.iter_mut().zip(classes) {
            *sum += n;
        }
        if let Some(shape) = q.shape.as_mut() {
            // qshape ignores files without recipients and, via its mode check, force-expired ones.
            if recipients == 0 || (forced_expire && !opts.include_expired) {
                return;
            }
            // Ages use the raw difference so that a message from the future is "fresh", as in qshape.
            let raw_age = arrival_time.map_or(0.0, |t| now - t as f64);
            let b = opts.bucket_index(raw_age);
            let width = opts.buckets.max(1) + 1;
            let mut bump = |domain: &str, n: u64| {
                // Look up by &str first: a walk adds to existing rows far more often than it
                // creates one, and this spares an allocation per recipient.
                if !shape.contains_key(domain) {
                    shape.insert(domain.to_string(), vec![0; width]);
                }
                if let Some(row) = shape.get_mut(domain) {
                    if let Some(t) = row.first_mut() {
                        *t += n;
                    }
                    if let Some(c) = row.get_mut(b + 1) {
                        *c += n;
                    }
                }
            };
            if opts.by_sender {
                msg.sender_domain(&mut |d| bump(d, 1));
            } else {
                msg.recipient_domains(&mut bump);
            }
        }
    }

    /// Depth figures of one queue (zero for a queue that had no messages).
    pub fn stats(&self, queue: &str) -> QueueStats {
        self.queues
            .iter()
            .find(|q| q.name == queue)
            .map(|q| q.stats)
            .unwrap_or_default()
    }

    /// Recipients per reason class for one queue, in [`REASONS`] order.
    pub fn reasons(&self, queue: &str) -> [u64; REASONS.len()] {
        self.queues
            .iter()
            .find(|q| q.name == queue)
            .map(|q| q.reasons)
            .unwrap_or([0; REASONS.len()])
    }

    /// The full (untruncated) matrix of `queue`: TOTAL first, then domains sorted like
    /// qshape (by total descending, then name length, then name).
    pub fn matrix(&self, queue: &str) -> Vec<ShapeRow> {
        let Some(shape) = self
            .queues
            .iter()
            .find(|q| q.name == queue)
            .and_then(|q| q.shape.as_ref())
        else {
            return Vec::new();
        };
        let n = self.opts.buckets.max(1);
        let mut total = vec![0u64; n + 1];
        let mut rows: Vec<ShapeRow> = shape
            .iter()
            .map(|(d, v)| {
                for (t, x) in total.iter_mut().zip(v) {
                    *t += x;
                }
                ShapeRow {
                    domain: d.clone(),
                    total: v.first().copied().unwrap_or(0),
                    counts: v.iter().skip(1).copied().collect(),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then(a.domain.len().cmp(&b.domain.len()))
                .then(a.domain.cmp(&b.domain))
        });
        let mut out = vec![ShapeRow {
            domain: "TOTAL".to_string(),
            total: total.first().copied().unwrap_or(0),
            counts: total.iter().skip(1).copied().collect(),
        }];
        out.extend(rows);
        out
    }

    /// Encodes the snapshot. Every known queue is present, with zeros when empty.
    pub fn into_metrics(self) -> MetricSet {
        let mut m = MetricSet::new();
        let now = self.now;
        for q in &self.queues {
            let l = || labels(&[("queue", q.name.as_str())]);
            m.gauge(
                "postfix_queue_messages",
                "Messages in the queue",
                l(),
                q.stats.messages as f64,
            );
            m.gauge(
                "postfix_queue_recipients",
                "Recipients of the messages in the queue",
                l(),
                q.stats.recipients as f64,
            );
            m.gauge(
                "postfix_queue_size_bytes",
                "Sum of the content sizes of the messages in the queue",
                l(),
                q.stats.size_bytes as f64,
            );
            m.gauge(
                "postfix_queue_oldest_message_age_seconds",
                "Age of the oldest message in the queue, from its arrival time (0 when empty)",
                l(),
                q.stats
                    .oldest_arrival
                    .map_or(0.0, |t| (now - t as f64).max(0.0)),
            );
            m.gauge(
                "postfix_queue_forced_expire_messages",
                "Messages in the queue marked for forced expiry (postsuper -e)",
                l(),
                q.stats.forced_expire as f64,
            );
        }
        for q in &self.queues {
            for (i, reason) in REASONS.iter().enumerate() {
                m.gauge(
                    "postfix_queue_delay_reasons",
                    "Recipients in the queue per deferral reason class",
                    labels(&[("queue", q.name.as_str()), ("reason", reason)]),
                    q.reasons[i] as f64,
                );
            }
        }
        for q in &self.queues {
            m.histogram(
                "postfix_showq_message_size_bytes",
                "Size of messages in the queue (rebuilt on every queue snapshot)",
                labels(&[("queue", q.name.as_str())]),
                &SIZE_BOUNDS,
                &q.size.counts,
                q.size.sum,
            );
        }
        for q in &self.queues {
            m.histogram(
                "postfix_showq_message_age_seconds",
                "Age of messages in the queue (rebuilt on every queue snapshot)",
                labels(&[("queue", q.name.as_str())]),
                &AGE_BOUNDS,
                &q.age.counts,
                q.age.sum,
            );
        }
        let bucket_labels = self.opts.bucket_labels();
        m.declare(
            "postfix_qshape_recipients",
            QSHAPE_HELP,
            common::metricset::Kind::Gauge,
        );
        for q in &self.queues {
            if q.shape.is_none() {
                continue;
            }
            let rows = self.matrix(&q.name);
            let cells = rows
                .iter()
                .skip(1)
                .map(|r| (r.domain.as_str(), r.counts.as_slice()));
            add_qshape_cells(
                &mut m,
                &q.name,
                &bucket_labels,
                cells,
                self.opts.top_domains,
            );
        }
        m
    }
}

impl PerQueue {
    fn new(name: &str, opts: &ShapeOptions) -> Self {
        Self {
            name: name.to_string(),
            stats: QueueStats::default(),
            reasons: [0; REASONS.len()],
            size: Hist::new(SIZE_BOUNDS.len()),
            age: Hist::new(AGE_BOUNDS.len()),
            shape: opts.queues.iter().any(|q| q == name).then(HashMap::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{QueuedMessage, Recipient};

    fn msg(queue: &str, t: i64, size: u64, rcpts: &[(&str, Option<&str>)]) -> QueuedMessage {
        QueuedMessage {
            queue: queue.into(),
            queue_id: "ABC".into(),
            arrival_time: Some(t),
            size: Some(size),
            forced_expire: false,
            sender: "alice@mx.test.local".into(),
            recipients: rcpts
                .iter()
                .map(|(a, r)| Recipient {
                    address: (*a).into(),
                    reason: r.map(Into::into),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn aggregates_queues_matrix_and_histograms() {
        let now = 1_000_000.0;
        let mut a = QueueAggregator::new(
            now,
            ShapeOptions {
                top_domains: 1,
                ..Default::default()
            },
        );
        a.add(&msg(
            "deferred",
            1_000_000 - 400,
            281,
            &[
                ("a@example.com", Some("Connection refused")),
                ("b@Example.org", Some("deferred transport")),
            ],
        ));
        a.add(&msg(
            "deferred",
            1_000_000 - 30,
            2000,
            &[("c@example.com", Some("Connection refused"))],
        ));
        let mut exp = msg("deferred", 1_000_000 - 30, 10, &[("z@zzz.net", None)]);
        exp.forced_expire = true;
        a.add(&exp);
        a.add(&msg(
            "active",
            1_000_000 - 5,
            100,
            &[("x@example.com", None)],
        ));
        let d = a.stats("deferred");
        assert_eq!(
            (d.messages, d.recipients, d.size_bytes, d.forced_expire),
            (3, 4, 2291, 1)
        );
        assert_eq!(d.oldest_arrival, Some(1_000_000 - 400));
        let rows = a.matrix("deferred");
        assert_eq!(
            rows[0],
            ShapeRow {
                domain: "TOTAL".into(),
                total: 3,
                counts: vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0]
            }
        );
        assert_eq!(
            rows[1],
            ShapeRow {
                domain: "example.com".into(),
                total: 2,
                counts: vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
            }
        );
        assert_eq!(rows[2].domain, "example.org");
        assert_eq!(rows.len(), 3, "force-expired message skipped like qshape");
        assert_eq!(a.reasons("deferred")[0], 2);
        assert_eq!(a.reasons("deferred")[7], 1);
        assert_eq!(a.reasons("deferred")[11], 1);
        let m = a.into_metrics();
        assert_eq!(
            m.value("postfix_queue_messages", &[("queue", "hold")]),
            Some(0.0)
        );
        assert_eq!(
            m.value("postfix_queue_messages", &[("queue", "deferred")]),
            Some(3.0)
        );
        assert_eq!(
            m.value(
                "postfix_queue_oldest_message_age_seconds",
                &[("queue", "deferred")]
            ),
            Some(400.0)
        );
        assert_eq!(
            m.value(
                "postfix_queue_oldest_message_age_seconds",
                &[("queue", "maildrop")]
            ),
            Some(0.0)
        );
        assert_eq!(
            m.value(
                "postfix_qshape_recipients",
                &[("domain", "example.com"), ("age", "10")]
            ),
            Some(1.0)
        );
        assert_eq!(
            m.value(
                "postfix_qshape_recipients",
                &[("domain", "other"), ("age", "10")]
            ),
            Some(1.0)
        );
        assert_eq!(
            m.value("postfix_qshape_recipients", &[("domain", "example.org")]),
            None
        );
        assert_eq!(
            m.sample_count("postfix_queue_delay_reasons"),
            5 * REASONS.len()
        );
        assert_eq!(m.sample_count("postfix_showq_message_size_bytes"), 5);
    }
}
