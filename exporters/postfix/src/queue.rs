//! Aggregation of queued messages into the queue metrics: per-queue depth, size and
//! oldest age, the qshape matrix (age bucket × domain), deferral reason classes and
//! kumina-compatible size/age histograms.
//!
//! Messages are fed one at a time from a streaming parser, so memory grows with the
//! number of distinct domains, never with the number of messages.

use std::collections::HashMap;

use common::MetricSet;
use common::metricset::labels;

use crate::parse::{QUEUES, QueuedMessage};

/// How the qshape matrix is computed (qshape's `-t`, `-b`, `-l`, `-s`).
#[derive(Debug, Clone)]
pub struct ShapeOptions {
    /// Queues that get a matrix (default: `deferred`).
    pub queues: Vec<String>,
    /// Width of the first age bucket in minutes (qshape `-t`, default 5).
    pub first_bucket_minutes: u32,
    /// Number of age buckets, the last one open-ended (qshape `-b`, default 10).
    pub buckets: usize,
    /// Linear instead of doubling buckets (qshape `-l`).
    pub linear: bool,
    /// Count sender domains (one per message) instead of recipient domains (qshape `-s`).
    pub by_sender: bool,
    /// Domains kept as labels per queue; the rest are summed into `other`.
    pub top_domains: usize,
    /// Count force-expired messages in the matrix. qshape skips them (their queue file
    /// mode carries the expire bit), so the default is false to match qshape.
    pub include_expired: bool,
}

impl Default for ShapeOptions {
    fn default() -> Self {
        Self {
            queues: vec!["deferred".to_string()],
            first_bucket_minutes: 5,
            buckets: 10,
            linear: false,
            by_sender: false,
            top_domains: 20,
            include_expired: false,
        }
    }
}

impl ShapeOptions {
    /// Column labels as qshape prints them after `T`: `5`, `10`, …, `1280`, `1280+`.
    pub fn bucket_labels(&self) -> Vec<String> {
        let n = self.buckets.max(1);
        let tick = u64::from(self.first_bucket_minutes.max(1));
        let mut out = Vec::with_capacity(n);
        let mut t = 0u64;
        for i in 1..=n {
            if i < n {
                t = if t != 0 && !self.linear {
                    t.saturating_mul(2)
                } else {
                    t.saturating_add(tick)
                };
                out.push(t.to_string());
            } else {
                out.push(format!("{t}+"));
            }
        }
        out
    }

    /// Zero-based bucket index for a message `age_seconds` old, exactly as qshape computes it.
    pub fn bucket_index(&self, age_seconds: f64) -> usize {
        let n = self.buckets.max(1);
        let m = age_seconds / (60.0 * f64::from(self.first_bucket_minutes.max(1)));
        // NaN (unknown age) lands in the first bucket like a fresh message.
        if m.is_nan() || m < 1.0 {
            return 0;
        }
        let one_based = if self.linear {
            (m + 1.0).floor()
        } else {
            2.0 + m.log2().floor()
        };
        let idx = if one_based.is_finite() && one_based >= 1.0 {
            (one_based as usize).min(n)
        } else {
            n
        };
        idx - 1
    }
}

/// The domain qshape files an address under: text after the last `@`, lowercased,
/// `..` collapsed and one leading and trailing dot removed; the null sender is
/// `MAILER-DAEMON`.
pub fn qshape_domain(address: &str) -> String {
    if address.is_empty() || address == "MAILER-DAEMON" {
        return "MAILER-DAEMON".to_string();
    }
    let lower = address.to_lowercase();
    let after = match lower.rfind('@') {
        Some(i) => &lower[i + 1..],
        None => lower.as_str(),
    };
    let mut d = after.to_string();
    while d.contains("..") {
        d = d.replace("..", ".");
    }
    // qshape's `s/\.?(.+?)\.?$/$1/` keeps a lone "." as is.
    if d.len() > 1
        && let Some(s) = d.strip_prefix('.')
    {
        d = s.to_string();
    }
    if d.len() > 1
        && let Some(s) = d.strip_suffix('.')
    {
        d = s.to_string();
    }
    d
}

/// Closed set of deferral reason classes (`postfix_queue_delay_reasons{reason}`).
pub const REASONS: [&str; 12] = [
    "connection_refused",
    "timeout",
    "dns",
    "tls",
    "greylisted",
    "mailbox_full",
    "rate_limited",
    "transport_deferred",
    "4xx_other",
    "5xx_other",
    "other",
    "none",
];

/// Classifies a recipient's delay reason into [`REASONS`] (returns the index).
///
/// Specific causes win over the wrapper text, so `delivery temporarily suspended:
/// connect to …: Connection refused` counts as `connection_refused`; a bare
/// `deferred transport` or `delivery temporarily suspended` is `transport_deferred`.
pub fn classify_reason(reason: Option<&str>) -> usize {
    let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return 11;
    };
    let l = r.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| l.contains(n));
    if has(&["tls", "ssl", "starttls", "certificate"]) {
        3
    } else if has(&[
        "host or domain name not found",
        "name service error",
        "host not found",
        "no mx host",
        "nxdomain",
        "domain not found",
        "dns",
    ]) {
        2
    } else if has(&["connection refused"]) {
        0
    } else if has(&["timed out", "timeout", "conversation with"]) && has(&["timed out", "timeout"])
    {
        1
    } else if has(&["greylist", "graylist", "try again later", "please retry"]) {
        4
    } else if has(&[
        "quota",
        "mailbox full",
        "mailbox is full",
        "over quota",
        "insufficient storage",
        "552 5.2.2",
        "452 4.2.2",
        "4.2.2",
    ]) {
        5
    } else if has(&[
        "rate limit",
        "too many",
        "throttl",
        "rate-limit",
        "exceeded",
    ]) {
        6
    } else if has(&[
        "deferred transport",
        "temporarily suspended",
        "transport is unavailable",
    ]) {
        7
    } else if let Some(class) = smtp_class(&l) {
        if class == b'4' { 8 } else { 9 }
    } else {
        10
    }
}

/// Finds the first SMTP reply code (`4xx`/`5xx`) or enhanced status (`4.x.x`/`5.x.x`).
fn smtp_class(text: &str) -> Option<u8> {
    let b = text.as_bytes();
    for i in 0..b.len() {
        let c = b[i];
        if c != b'4' && c != b'5' {
            continue;
        }
        let before_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'.';
        if !before_ok {
            continue;
        }
        let rest = &b[i + 1..];
        let three_digits = rest.len() >= 2
            && rest[0].is_ascii_digit()
            && rest[1].is_ascii_digit()
            && rest.get(2).is_none_or(|x| !x.is_ascii_alphanumeric());
        let enhanced = rest.len() >= 3 && rest[0] == b'.' && rest[1].is_ascii_digit();
        if three_digits || enhanced {
            return Some(c);
        }
    }
    None
}

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

/// A row of the computed qshape matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeRow {
    /// Domain (or `TOTAL`, or `other`).
    pub domain: String,
    /// Sum over the buckets.
    pub total: u64,
    /// Count per bucket.
    pub counts: Vec<u64>,
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

    fn classify_cached(&mut self, reason: Option<&str>) -> usize {
        let Some(r) = reason else {
            return classify_reason(None);
        };
        if let Some(i) = self.reason_cache.get(r) {
            return *i;
        }
        let i = classify_reason(Some(r));
        if self.reason_cache.len() < REASON_CACHE_LIMIT {
            self.reason_cache.insert(r.to_string(), i);
        }
        i
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

    /// Adds one message.
    pub fn add(&mut self, msg: &QueuedMessage) {
        let now = self.now;
        let classes: Vec<usize> = msg
            .recipients
            .iter()
            .map(|r| self.classify_cached(r.reason.as_deref()))
            .collect();
        let idx = self.queue_index(&msg.queue);
        let opts = &self.opts;
        let q = &mut self.queues[idx];
        q.stats.messages += 1;
        q.stats.recipients += msg.recipients.len() as u64;
        let size = msg.size.unwrap_or(0);
        q.stats.size_bytes += size;
        if msg.forced_expire {
            q.stats.forced_expire += 1;
        }
        if let Some(t) = msg.arrival_time {
            q.stats.oldest_arrival = Some(q.stats.oldest_arrival.map_or(t, |o| o.min(t)));
        }
        q.size.observe(&SIZE_BOUNDS, size as f64);
        let age = msg.arrival_time.map(|t| (now - t as f64).max(0.0));
        if let Some(a) = age {
            q.age.observe(&AGE_BOUNDS, a);
        }
        for c in classes {
            q.reasons[c] += 1;
        }
        if let Some(shape) = q.shape.as_mut() {
            // qshape ignores files without recipients and, via its mode check, force-expired ones.
            if msg.recipients.is_empty() || (msg.forced_expire && !opts.include_expired) {
                return;
            }
            // Ages use the raw difference so that a message from the future is "fresh", as in qshape.
            let raw_age = msg.arrival_time.map_or(0.0, |t| now - t as f64);
            let b = opts.bucket_index(raw_age);
            let mut bump = |domain: String| {
                let row = shape
                    .entry(domain)
                    .or_insert_with(|| vec![0; opts.buckets.max(1) + 1]);
                row[0] += 1;
                if let Some(c) = row.get_mut(b + 1) {
                    *c += 1;
                }
            };
            if opts.by_sender {
                bump(qshape_domain(&msg.sender));
            } else {
                for r in &msg.recipients {
                    bump(qshape_domain(&r.address));
                }
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

/// Adds the `postfix_qshape_recipients` cells of one queue: the first `top` domain rows
/// (already sorted like qshape) by name, the rest summed into `domain="other"`.
pub fn add_qshape_cells<'a>(
    m: &mut MetricSet,
    queue: &str,
    bucket_labels: &[String],
    rows: impl Iterator<Item = (&'a str, &'a [u64])>,
    top: usize,
) {
    m.declare(
        "postfix_qshape_recipients",
        QSHAPE_HELP,
        common::metricset::Kind::Gauge,
    );
    let mut other: Option<Vec<u64>> = None;
    for (i, (domain, counts)) in rows.enumerate() {
        if i < top {
            add_qshape_row(m, queue, domain, bucket_labels, counts);
        } else {
            let o = other.get_or_insert_with(|| vec![0; bucket_labels.len()]);
            for (o, c) in o.iter_mut().zip(counts) {
                *o += c;
            }
        }
    }
    if let Some(o) = other {
        add_qshape_row(m, queue, "other", bucket_labels, &o);
    }
}

fn add_qshape_row(
    m: &mut MetricSet,
    queue: &str,
    domain: &str,
    bucket_labels: &[String],
    counts: &[u64],
) {
    for (lbl, c) in bucket_labels.iter().zip(counts) {
        m.gauge(
            "postfix_qshape_recipients",
            QSHAPE_HELP,
            labels(&[("queue", queue), ("domain", domain), ("age", lbl.as_str())]),
            *c as f64,
        );
    }
}

const QSHAPE_HELP: &str = "qshape matrix: recipients (or senders with -s semantics) per domain and age bucket in minutes; top domains plus other";

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
    use crate::parse::Recipient;

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
    fn bucket_labels_match_qshape_headers() {
        let d = ShapeOptions::default();
        assert_eq!(
            d.bucket_labels(),
            [
                "5", "10", "20", "40", "80", "160", "320", "640", "1280", "1280+"
            ]
        );
        let o = ShapeOptions {
            first_bucket_minutes: 1,
            buckets: 6,
            ..Default::default()
        };
        assert_eq!(o.bucket_labels(), ["1", "2", "4", "8", "16", "16+"]);
        let l = ShapeOptions {
            first_bucket_minutes: 2,
            buckets: 5,
            linear: true,
            ..Default::default()
        };
        assert_eq!(l.bucket_labels(), ["2", "4", "6", "8", "8+"]);
    }

    #[test]
    fn bucket_index_follows_qshape_arithmetic() {
        let d = ShapeOptions::default();
        assert_eq!(d.bucket_index(0.0), 0);
        assert_eq!(d.bucket_index(299.0), 0);
        assert_eq!(d.bucket_index(300.0), 1); // m = 1 -> 2 + 0 -> second bucket
        assert_eq!(d.bucket_index(599.0), 1);
        assert_eq!(d.bucket_index(600.0), 2);
        assert_eq!(d.bucket_index(1280.0 * 60.0), 9);
        assert_eq!(d.bucket_index(1e9), 9);
        assert_eq!(d.bucket_index(-50.0), 0);
        let l = ShapeOptions {
            first_bucket_minutes: 2,
            buckets: 5,
            linear: true,
            ..Default::default()
        };
        assert_eq!(l.bucket_index(119.0), 0);
        assert_eq!(l.bucket_index(120.0), 1);
        assert_eq!(l.bucket_index(479.0), 3);
        assert_eq!(l.bucket_index(480.0), 4);
        assert_eq!(l.bucket_index(1e7), 4);
    }

    #[test]
    fn domains_like_qshape() {
        assert_eq!(qshape_domain("Dave@Example.COM"), "example.com");
        assert_eq!(qshape_domain("a@b@c.org"), "c.org");
        assert_eq!(qshape_domain("root"), "root");
        assert_eq!(qshape_domain(""), "MAILER-DAEMON");
        assert_eq!(qshape_domain("MAILER-DAEMON"), "MAILER-DAEMON");
        assert_eq!(qshape_domain("x@.a..b."), "a.b");
    }

    #[test]
    fn reasons_are_classified_into_the_closed_set() {
        let c = |s: &str| REASONS[classify_reason(Some(s))];
        assert_eq!(
            c("connect to 127.0.0.1[127.0.0.1]:2525: Connection refused"),
            "connection_refused"
        );
        assert_eq!(
            c(
                "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2525: Connection refused"
            ),
            "connection_refused"
        );
        assert_eq!(c("deferred transport"), "transport_deferred");
        assert_eq!(
            c("connect to mx.example.com[192.0.2.1]:25: Connection timed out"),
            "timeout"
        );
        assert_eq!(
            c(
                "Host or domain name not found. Name service error for name=x type=MX: Host not found, try again"
            ),
            "dns"
        );
        assert_eq!(c("Cannot start TLS: handshake failure"), "tls");
        assert_eq!(
            c(
                "host mx[1.2.3.4] said: 450 4.7.1 <a@b>: Recipient address rejected: Greylisted, see http://x"
            ),
            "greylisted"
        );
        assert_eq!(c("host mx said: 452 4.2.2 Mailbox full"), "mailbox_full");
        assert_eq!(
            c("host mx said: 421 4.7.0 Too many concurrent connections"),
            "rate_limited"
        );
        assert_eq!(c("host mx said: 451 4.3.0 Internal error"), "4xx_other");
        assert_eq!(c("host mx said: 550 5.7.1 Go away"), "5xx_other");
        assert_eq!(
            c("lost connection with mx[1.2.3.4] while receiving the initial server greeting"),
            "other"
        );
        assert_eq!(REASONS[classify_reason(None)], "none");
        assert_eq!(REASONS[classify_reason(Some("  "))], "none");
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
