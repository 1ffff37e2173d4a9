//! An owned, immutable-once-built set of metric families.
//!
//! Collectors that compute their values from a source (a socket reply, a queue
//! walk) build a [`MetricSet`] and hand it to the runner. The set encodes itself
//! through `prometheus-client`, so both exposition formats come from one place.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector as PcCollector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonically increasing count; `_total` is appended on output.
    Counter,
    /// Cumulative buckets plus `_sum` and `_count`.
    Histogram,
}

/// Label pairs of one sample.
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
enum Value {
    Scalar(f64),
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

#[derive(Debug, Clone)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    samples: Vec<(Labels, Value)>,
}

/// A list of metric families with their samples, in insertion order.
#[derive(Debug, Clone, Default)]
pub struct MetricSet {
    families: Vec<Family>,
    index: HashMap<String, usize>,
    failed: bool,
}

/// Builds label pairs from string slices.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Family {
        let idx = match self.index.get(name) {
            Some(i) => *i,
            None => {
                self.families.push(Family {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    samples: Vec::new(),
                });
                let i = self.families.len() - 1;
                self.index.insert(name.to_string(), i);
                i
            }
        };
        &mut self.families[idx]
    }

    /// Marks the set as the result of a failed collection that still carries data (for
    /// example a stale snapshot): the runner reports the collector as failed but serves it.
    pub fn set_failed(&mut self, failed: bool) {
        self.failed = failed;
    }

    /// Whether [`MetricSet::set_failed`] marked this set.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Declares a family without samples, so that HELP/TYPE appear even when empty.
    pub fn declare(&mut self, name: &str, help: &str, kind: Kind) {
        self.family(name, help, kind);
    }

    /// Adds one gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: Labels, value: f64) {
        self.family(name, help, Kind::Gauge)
            .samples
            .push((labels, Value::Scalar(value)));
    }

    /// Adds one counter sample; `name` is given without `_total`.
    pub fn counter(&mut self, name: &str, help: &str, labels: Labels, value: f64) {
        self.family(name, help, Kind::Counter)
            .samples
            .push((labels, Value::Scalar(value)));
    }

    /// Adds one histogram sample from upper bounds and *non-cumulative* bucket counts.
    ///
    /// `bounds` excludes `+Inf`; `counts` has `bounds.len() + 1` entries, the last one
    /// being the overflow bucket.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: Labels,
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) {
        // prometheus-client accumulates the per-bucket counts itself while encoding.
        let mut total = 0u64;
        let mut buckets = Vec::with_capacity(bounds.len() + 1);
        for (i, b) in bounds.iter().enumerate() {
            let c = counts.get(i).copied().unwrap_or(0);
            total += c;
            buckets.push((*b, c));
        }
        let overflow = counts.get(bounds.len()).copied().unwrap_or(0);
        total += overflow;
        buckets.push((f64::INFINITY, overflow));
        self.family(name, help, Kind::Histogram).samples.push((
            labels,
            Value::Histogram {
                sum,
                count: total,
                buckets,
            },
        ));
    }

    /// Appends every family of `other` (samples of a family already present are merged).
    pub fn extend(&mut self, other: MetricSet) {
        for f in other.families {
            let dst = self.family(&f.name, &f.help, f.kind);
            dst.samples.extend(f.samples);
        }
    }

    /// Number of samples in family `name` (tests and debugging).
    pub fn sample_count(&self, name: &str) -> usize {
        self.index
            .get(name)
            .map(|i| self.families[*i].samples.len())
            .unwrap_or(0)
    }

    /// Value of the scalar sample of `name` whose labels contain all of `want`.
    pub fn value(&self, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        let fam = &self.families[*self.index.get(name)?];
        fam.samples.iter().find_map(|(l, v)| {
            let matches = want
                .iter()
                .all(|(k, val)| l.iter().any(|(lk, lv)| lk == k && lv == val));
            match (matches, v) {
                (true, Value::Scalar(x)) => Some(*x),
                _ => None,
            }
        })
    }

    /// Wraps the set for registration in a `prometheus-client` registry.
    pub fn into_collector(self) -> SharedSet {
        SharedSet(Arc::new(self))
    }
}

/// A reference-counted [`MetricSet`] that implements `prometheus-client`'s `Collector`.
#[derive(Debug, Clone)]
pub struct SharedSet(pub Arc<MetricSet>);

impl PcCollector for SharedSet {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        self.0.encode_into(encoder, None)
    }
}

/// A shared set encoded without some of its families (they are served merged elsewhere).
#[derive(Debug)]
struct Without {
    set: Arc<MetricSet>,
    skip: Arc<HashSet<String>>,
}

impl PcCollector for Without {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        self.set.encode_into(encoder, Some(&self.skip))
    }
}

/// The collectors that encode `sets` as one exposition: a family that several sets carry
/// (two collectors exporting the same metric for different label values) is written once,
/// with the samples of all of them, because scrapers reject a repeated family. Sets are
/// served by reference; only the colliding families are copied.
pub fn combine(sets: Vec<Arc<MetricSet>>) -> Vec<Box<dyn PcCollector>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for set in &sets {
        for f in &set.families {
            *seen.entry(f.name.as_str()).or_default() += 1;
        }
    }
    let shared: HashSet<String> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name.to_string())
        .collect();
    if shared.is_empty() {
        return sets
            .into_iter()
            .map(|s| Box::new(SharedSet(s)) as Box<dyn PcCollector>)
            .collect();
    }
    let mut merged = MetricSet::new();
    for set in &sets {
        for f in set.families.iter().filter(|f| shared.contains(&f.name)) {
            let into = merged.family(&f.name, &f.help, f.kind);
            if into.kind != f.kind {
                tracing::warn!(family = %f.name, "two collectors export one family with different types; the second is left out");
                continue;
            }
            into.samples.extend(f.samples.iter().cloned());
        }
    }
    let skip = Arc::new(shared);
    let mut out: Vec<Box<dyn PcCollector>> = sets
        .into_iter()
        .map(|set| {
            Box::new(Without {
                set,
                skip: Arc::clone(&skip),
            }) as Box<dyn PcCollector>
        })
        .collect();
    out.push(Box::new(merged.into_collector()));
    out
}

impl MetricSet {
    fn encode_into(
        &self,
        mut encoder: DescriptorEncoder,
        skip: Option<&HashSet<String>>,
    ) -> Result<(), fmt::Error> {
        for f in &self.families {
            if skip.is_some_and(|s| s.contains(&f.name)) {
                continue;
            }
            let ty = match f.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut me = encoder.encode_descriptor(&f.name, &f.help, None, ty)?;
            // A lone unlabelled sample is encoded directly: an empty label set would be
            // written as `{}`.
            if let [(labels, value)] = f.samples.as_slice()
                && labels.is_empty()
            {
                encode_value(f.kind, value, me)?;
                continue;
            }
            for (labels, value) in &f.samples {
                encode_value(f.kind, value, me.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

fn encode_value(
    kind: Kind,
    value: &Value,
    mut enc: prometheus_client::encoding::MetricEncoder,
) -> Result<(), fmt::Error> {
    match (kind, value) {
        (Kind::Counter, Value::Scalar(v)) => ConstCounter::new(*v).encode(enc),
        (_, Value::Scalar(v)) => ConstGauge::new(*v).encode(enc),
        (
            _,
            Value::Histogram {
                sum,
                count,
                buckets,
            },
        ) => enc.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    #[test]
    fn encodes_all_kinds_in_order() {
        let mut s = MetricSet::new();
        s.gauge(
            "q_messages",
            "Messages",
            labels(&[("queue", "active")]),
            3.0,
        );
        s.counter("lines", "Lines", vec![], 7.0);
        s.histogram("age_seconds", "Age", vec![], &[1.0, 10.0], &[1, 2, 3], 40.5);
        s.declare("empty", "Nothing", Kind::Gauge);
        let mut r = Registry::default();
        r.register_collector(Box::new(s.into_collector()));
        let mut out = String::new();
        encode(&mut out, &r).unwrap();
        assert_eq!(
            out,
            "# HELP q_messages Messages\n# TYPE q_messages gauge\nq_messages{queue=\"active\"} 3.0\n\
             # HELP lines Lines\n# TYPE lines counter\nlines_total 7.0\n\
             # HELP age_seconds Age\n# TYPE age_seconds histogram\nage_seconds_sum 40.5\nage_seconds_count 6\n\
             age_seconds_bucket{le=\"1.0\"} 1\nage_seconds_bucket{le=\"10.0\"} 3\nage_seconds_bucket{le=\"+Inf\"} 6\n\
             # HELP empty Nothing\n# TYPE empty gauge\n# EOF\n"
        );
    }

    #[test]
    fn a_family_from_two_sets_is_written_once() {
        let mut a = MetricSet::new();
        a.gauge("t_cells", "Cells", labels(&[("queue", "deferred")]), 1.0);
        a.gauge("t_a_only", "A", vec![], 2.0);
        let mut b = MetricSet::new();
        b.gauge("t_cells", "Cells", labels(&[("queue", "hold")]), 3.0);
        let mut r = Registry::default();
        for c in combine(vec![Arc::new(a), Arc::new(b)]) {
            r.register_collector(c);
        }
        let mut out = String::new();
        encode(&mut out, &r).unwrap();
        assert_eq!(out.matches("# TYPE t_cells gauge").count(), 1, "{out}");
        assert!(
            out.contains("t_cells{queue=\"deferred\"} 1.0\nt_cells{queue=\"hold\"} 3.0\n"),
            "{out}"
        );
        assert!(out.contains("t_a_only 2.0\n"), "{out}");
    }

    #[test]
    fn value_lookup_matches_label_subset() {
        let mut s = MetricSet::new();
        s.gauge("g", "h", labels(&[("a", "1"), ("b", "2")]), 5.0);
        assert_eq!(s.value("g", &[("b", "2")]), Some(5.0));
        assert_eq!(s.value("g", &[("b", "3")]), None);
        assert_eq!(s.sample_count("g"), 1);
    }
}
