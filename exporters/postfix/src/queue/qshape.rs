//! The qshape matrix as qshape(1) computes it: options, age buckets, domains, and the
//! `postfix_qshape_recipients` cells (also used for qshape's own output).

use common::MetricSet;
use common::metricset::labels;

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

pub(super) const QSHAPE_HELP: &str = "qshape matrix: recipients (or senders with -s semantics) per domain and age bucket in minutes; top domains plus other";

#[cfg(test)]
mod tests {
    use super::*;

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
}
