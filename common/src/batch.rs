//! Metric updates batched per thread, published in one step.
//!
//! A log line updates several metrics, and each update of a shared metric is an atomic
//! read-modify-write (a counter) or a mutex round trip (a histogram): on a hot log
//! follower they were the largest cost left per line. A follower thread keeps
//! [`LocalCounter`] and [`LocalHistogram`] handles instead: they add up in plain memory
//! and publish into the shared metric on [`LocalCounter::flush`] (the follower flushes
//! after every read, before it counts the read's lines, so a scrape that sees N lines read
//! also sees everything those N lines counted), and on drop, so nothing pending is lost
//! when a handle goes away.
//!
//! [`Histogram`] is a classic histogram with the same exposition as prometheus-client's
//! (bucket bounds as given, plus `+Inf`) that also takes a whole batch under one lock.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::{MetricType, TypedMetric};

/// A thread's handle on a shared [`Counter`]: increments stay local until flushed.
///
/// Not `Sync`: it belongs to one thread (typically in a thread-local cache).
#[derive(Debug)]
pub struct LocalCounter {
    shared: Counter,
    pending: Cell<u64>,
}

impl LocalCounter {
    /// A handle on `shared` with nothing pending.
    pub fn new(shared: Counter) -> Self {
        Self {
            shared,
            pending: Cell::new(0),
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.pending.set(self.pending.get().wrapping_add(n));
    }

    /// Publishes what is pending into the shared counter.
    #[inline]
    pub fn flush(&self) {
        let n = self.pending.replace(0);
        if n > 0 {
            self.shared.inc_by(n);
        }
    }
}

impl Drop for LocalCounter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The state of a [`Histogram`]: sum, count and the count of each bucket (not cumulative).
#[derive(Debug)]
struct HistState {
    sum: f64,
    count: u64,
    /// Same length as the histogram's bounds (the last is `+Inf`).
    counts: Vec<u64>,
}

/// A classic (bucketed) histogram that can be shared between threads and registered like
/// prometheus-client's, which it replaces where observations are batched.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Upper bounds, ascending, the last one `+Inf`.
    bounds: Arc<[f64]>,
    state: Arc<Mutex<HistState>>,
}

impl Histogram {
    /// A histogram with these upper bounds; non-finite ones are dropped and `+Inf` added,
    /// as prometheus-client does.
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds: Arc<[f64]> = bounds
            .into_iter()
            .filter(|b| b.is_finite())
            .chain(std::iter::once(f64::INFINITY))
            .collect();
        let counts = vec![0; bounds.len()];
        Self {
            bounds,
            state: Arc::new(Mutex::new(HistState {
                sum: 0.0,
                count: 0,
                counts,
            })),
        }
    }

    /// Records one value (NaN goes to the `+Inf` bucket, as in prometheus-client).
    pub fn observe(&self, v: f64) {
        let i = bucket_index(&self.bounds, v);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.sum += v;
        s.count += 1;
        if let Some(c) = s.counts.get_mut(i) {
            *c += 1;
        }
    }

    /// Sum and count of the observations (for tests and summaries).
    pub fn sum_and_count(&self) -> (f64, u64) {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (s.sum, s.count)
    }

    fn add(&self, sum: f64, count: u64, counts: &[Cell<u64>]) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.sum += sum;
        s.count += count;
        for (c, local) in s.counts.iter_mut().zip(counts) {
            *c += local.replace(0);
        }
    }
}

/// The bucket of `v`: the first bound at or above it, else (NaN) the last.
#[inline]
fn bucket_index(bounds: &[f64], v: f64) -> usize {
    bounds
        .iter()
        .position(|b| *b >= v)
        .unwrap_or(bounds.len().saturating_sub(1))
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Copied out so the lock is not held while the encoder writes.
        let (sum, count, buckets) = {
            let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let buckets: Vec<(f64, u64)> = self
                .bounds
                .iter()
                .copied()
                .zip(s.counts.iter().copied())
                .collect();
            (s.sum, s.count, buckets)
        };
        encoder.encode_histogram(
            sum,
            count,
            &buckets,
            None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A thread's handle on a shared [`Histogram`]: observations are bucketed locally and
/// published together.
#[derive(Debug)]
pub struct LocalHistogram {
    shared: Histogram,
    sum: Cell<f64>,
    count: Cell<u64>,
    counts: Box<[Cell<u64>]>,
}

impl LocalHistogram {
    /// A handle on `shared` with nothing pending.
    pub fn new(shared: Histogram) -> Self {
        let counts = (0..shared.bounds.len()).map(|_| Cell::new(0)).collect();
        Self {
            shared,
            sum: Cell::new(0.0),
            count: Cell::new(0),
            counts,
        }
    }

    /// Records one value.
    #[inline]
    pub fn observe(&self, v: f64) {
        let i = bucket_index(&self.shared.bounds, v);
        if let Some(c) = self.counts.get(i) {
            c.set(c.get() + 1);
        }
        self.sum.set(self.sum.get() + v);
        self.count.set(self.count.get() + 1);
    }

    /// Publishes what is pending into the shared histogram, under one lock.
    #[inline]
    pub fn flush(&self) {
        let count = self.count.replace(0);
        if count > 0 {
            self.shared.add(self.sum.replace(0.0), count, &self.counts);
        }
    }
}

impl Drop for LocalHistogram {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    fn text(name: &str, h: &Histogram) -> String {
        let mut r = Registry::default();
        r.register(name, "h", h.clone());
        let mut out = String::new();
        encode(&mut out, &r).unwrap_or_default();
        out
    }

    #[test]
    fn encodes_like_prometheus_client() {
        let bounds = [0.5, 1.0, 5.0];
        let ours = Histogram::new(bounds);
        let theirs = prometheus_client::metrics::histogram::Histogram::new(bounds);
        for v in [0.1, 0.5, 0.7, 3.0, 9.0, f64::NAN, 1.0] {
            ours.observe(v);
            theirs.observe(v);
        }
        let mut r = Registry::default();
        r.register("x", "h", theirs);
        let mut want = String::new();
        encode(&mut want, &r).unwrap_or_default();
        assert_eq!(text("x", &ours), want);
        assert!(want.contains("x_bucket{le=\"1.0\"} 4"), "{want}");
    }

    #[test]
    fn local_histogram_publishes_on_flush_and_drop() {
        let h = Histogram::new([1.0, 10.0]);
        let local = LocalHistogram::new(h.clone());
        local.observe(0.5);
        local.observe(2.0);
        local.observe(20.0);
        assert_eq!(h.sum_and_count(), (0.0, 0));
        local.flush();
        assert_eq!(h.sum_and_count(), (22.5, 3));
        local.flush();
        assert_eq!(h.sum_and_count(), (22.5, 3), "a second flush adds nothing");
        local.observe(1.0);
        drop(local);
        assert_eq!(h.sum_and_count(), (23.5, 4));
        let out = text("d", &h);
        assert!(out.contains("d_bucket{le=\"1.0\"} 2"), "{out}");
        assert!(out.contains("d_bucket{le=\"10.0\"} 3"), "{out}");
        assert!(out.contains("d_bucket{le=\"+Inf\"} 4"), "{out}");
    }

    #[test]
    fn local_counter_publishes_on_flush_and_drop() {
        let c: Counter = Counter::default();
        let a = LocalCounter::new(c.clone());
        let b = LocalCounter::new(c.clone());
        a.inc();
        a.inc_by(4);
        b.inc();
        assert_eq!(c.get(), 0);
        a.flush();
        assert_eq!(c.get(), 5);
        drop(b);
        assert_eq!(c.get(), 6);
        a.flush();
        assert_eq!(c.get(), 6);
    }
}
