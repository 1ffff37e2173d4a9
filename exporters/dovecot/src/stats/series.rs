//! DUMP rows turned back into labelled series, using the metric definitions.
//!
//! A DUMP lists each metric depth first: the metric's own row, then each `group_by` value
//! as `<parent>_<value>`, recursively, and for a quantized last level the non-empty buckets
//! as `<parent>_<field>_<lo>_<hi>`. Here every event is exported exactly once, at the
//! deepest level it reached: a node's own series carry what its children do not (an event
//! without the next `group_by` field stops at its parent), with the missing labels empty.
//! So `sum()` over a family is the metric's total and never double counts, unlike Dovecot's
//! own endpoint, which exports every level in the same family.
//!
//! Names follow Dovecot's native scheme (2.3.14+): `dovecot_<metric>_total` (events),
//! `dovecot_<metric>_duration_seconds_total` and `dovecot_<metric>_<field>_total` (field
//! sums); a quantized last level makes `dovecot_<metric>` a cumulative histogram (bounds in
//! seconds for `duration`).

use common::MetricSet;
use common::metricset::Labels;

use super::dump::{DumpRow, Stat};
use crate::config::{GroupMethod, MetricDef};

/// A row or definition that could not be mapped; the row is exported under its flat name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    /// The flattened name.
    pub name: String,
    /// Why.
    pub reason: &'static str,
}

impl MapError {
    fn new(row: &DumpRow, reason: &'static str) -> Self {
        MapError {
            name: row.name.clone(),
            reason,
        }
    }
}

/// The sums of one row, in base units.
#[derive(Debug, Clone, Default)]
struct Sums {
    count: f64,
    /// Seconds.
    duration: f64,
    fields: Vec<(String, f64)>,
}

impl Sums {
    fn of(row: &DumpRow, requested: &[Stat]) -> Self {
        Sums {
            count: row.duration.get(requested, &Stat::Count).unwrap_or(0.0),
            duration: row.duration.get(requested, &Stat::Sum).unwrap_or(0.0) / 1e6,
            fields: row
                .fields
                .iter()
                .map(|(f, v)| (f.clone(), v.get(requested, &Stat::Sum).unwrap_or(0.0)))
                .collect(),
        }
    }

    fn field(&self, name: &str) -> f64 {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map_or(0.0, |(_, v)| *v)
    }

    /// Takes a child's sums out of its parent's own share.
    fn subtract(&mut self, child: &Sums) {
        self.count -= child.count;
        self.duration -= child.duration;
        for (f, v) in &mut self.fields {
            *v -= child.field(f);
        }
    }

    /// Never below zero: a dump taken while events arrive can show a child ahead of its
    /// parent.
    fn clamped(&self) -> Sums {
        Sums {
            count: self.count.max(0.0),
            duration: self.duration.max(0.0),
            fields: self
                .fields
                .iter()
                .map(|(f, v)| (f.clone(), v.max(0.0)))
                .collect(),
        }
    }
}

/// A discrete node of one metric's tree.
#[derive(Debug)]
struct Node {
    name: String,
    /// The group_by values from the root down to here.
    path: Vec<String>,
    /// What the node's children do not account for: the events that stopped here.
    own: Sums,
    /// Quantized buckets under this node: (upper bound index, count).
    buckets: Vec<(usize, f64)>,
}

fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The bucket a quantized sub-metric name (`duration_11_100`, `size_ninf_10`,
/// `duration_1000001_inf`) stands for: the index of its upper bound, `bounds.len()` for +Inf.
fn bucket_index(rest: &str, field: &str, bounds: &[f64]) -> Option<usize> {
    let tail = rest.strip_prefix(field)?.strip_prefix('_')?;
    let (lo, hi) = tail.split_once('_')?;
    if lo != "ninf" && lo.parse::<i64>().is_err() {
        return None;
    }
    if hi == "inf" {
        return Some(bounds.len());
    }
    let hi: f64 = hi.parse::<i64>().ok()? as f64;
    bounds.iter().position(|b| *b == hi)
}

/// Adds the series of `rows` to `set`; rows no definition explains are exported flat
/// (`dovecot_<name>_total`, …) and reported.
pub fn to_metrics(
    defs: &[MetricDef],
    rows: &[DumpRow],
    requested: &[Stat],
    set: &mut MetricSet,
) -> Vec<MapError> {
    let mut errors = Vec::new();
    let mut i = 0;
    while let Some(row) = rows.get(i) {
        let def = defs.iter().find(|d| d.name == row.name);
        // The rows of this metric: its own, then every one under its prefix up to the next
        // metric's own row.
        let mut end = i + 1;
        if def.is_some() {
            let prefix = format!("{}_", row.name);
            while let Some(r) = rows.get(end) {
                if defs.iter().any(|d| d.name == r.name) || !r.name.starts_with(&prefix) {
                    break;
                }
                end += 1;
            }
        }
        let group = rows.get(i..end).unwrap_or_default();
        match def {
            Some(def)
                if valid_name(&def.name) && def.group_by.iter().all(|g| valid_name(&g.field)) =>
            {
                metric(def, group, requested, set, &mut errors);
            }
            Some(_) => errors.push(MapError::new(
                row,
                "metric or group_by name is not a valid metric or label name",
            )),
            None => flat(row, requested, set, &mut errors),
        }
        i = end;
    }
    errors
}

fn flat(row: &DumpRow, requested: &[Stat], set: &mut MetricSet, errors: &mut Vec<MapError>) {
    if !valid_name(&row.name) {
        errors.push(MapError::new(row, "not a valid metric name"));
        return;
    }
    let s = Sums::of(row, requested);
    let base = format!("dovecot_{}", row.name);
    counters(&base, &s, Vec::new(), set);
}

fn counters(base: &str, s: &Sums, labels: Labels, set: &mut MetricSet) {
    set.counter(base, "Events of this kind", labels.clone(), s.count);
    set.counter(
        &format!("{base}_duration_seconds"),
        "Total duration of events of this kind",
        labels.clone(),
        s.duration,
    );
    field_counters(base, s, labels, set);
}

fn field_counters(base: &str, s: &Sums, labels: Labels, set: &mut MetricSet) {
    for (f, v) in &s.fields {
        if valid_name(f) {
            set.counter(
                &format!("{base}_{f}"),
                "Total of the field's values for events of this kind",
                labels.clone(),
                *v,
            );
        }
    }
}

fn metric(
    def: &MetricDef,
    rows: &[DumpRow],
    requested: &[Stat],
    set: &mut MetricSet,
    errors: &mut Vec<MapError>,
) {
    let quantized = def
        .group_by
        .last()
        .filter(|g| g.method != GroupMethod::Discrete);
    let discrete: Vec<&str> = def
        .group_by
        .iter()
        .take(def.group_by.len() - usize::from(quantized.is_some()))
        .map(|g| g.field.as_str())
        .collect();
    let bounds = quantized.map(|q| q.method.bounds()).unwrap_or_default();
    let depth = discrete.len();

    let mut nodes: Vec<Node> = Vec::new();
    // Indices into `nodes` of the chain from the root to the last node.
    let mut chain: Vec<usize> = Vec::new();
    for row in rows {
        if nodes.is_empty() {
            push_node(&mut nodes, &mut chain, row, None, requested);
            continue;
        }
        // The deepest node of the chain this row is under.
        while let Some(&top) = chain.last() {
            let under = nodes.get(top).is_some_and(|n| {
                row.name
                    .strip_prefix(n.name.as_str())
                    .and_then(|r| r.strip_prefix('_'))
                    .is_some_and(|r| !r.is_empty())
            });
            if under {
                break;
            }
            chain.pop();
        }
        let Some(&parent) = chain.last() else {
            errors.push(MapError::new(row, "not under its metric"));
            continue;
        };
        let Some((plen, pdepth)) = nodes.get(parent).map(|n| (n.name.len(), n.path.len())) else {
            continue;
        };
        let rest = row.name.get(plen + 1..).unwrap_or("");
        if pdepth == depth {
            if let Some(q) = quantized
                && let Some(b) = bucket_index(rest, &q.field, &bounds)
            {
                let count = row.duration.get(requested, &Stat::Count).unwrap_or(0.0);
                if let Some(n) = nodes.get_mut(parent) {
                    n.buckets.push((b, count));
                }
                continue;
            }
            // A value with `_` in it, at the deepest level: a sibling of the parent.
            chain.pop();
            let Some(&grand) = chain.last() else {
                errors.push(MapError::new(row, "deeper than the metric's group_by"));
                continue;
            };
            push_node(&mut nodes, &mut chain, row, Some(grand), requested);
            continue;
        }
        push_node(&mut nodes, &mut chain, row, Some(parent), requested);
    }
    emit(def, &discrete, quantized.is_some(), &bounds, &nodes, set);
}

/// Adds `row` as a child of `parent` (the root when `None`): its value is the rest of its
/// name after the parent's, and its sums leave the parent's own share.
fn push_node(
    nodes: &mut Vec<Node>,
    chain: &mut Vec<usize>,
    row: &DumpRow,
    parent: Option<usize>,
    requested: &[Stat],
) {
    let sums = Sums::of(row, requested);
    let mut path = Vec::new();
    if let Some(p) = parent.and_then(|p| nodes.get_mut(p)) {
        p.own.subtract(&sums);
        path.clone_from(&p.path);
        path.push(row.name.get(p.name.len() + 1..).unwrap_or("").to_string());
    }
    nodes.push(Node {
        name: row.name.clone(),
        path,
        own: sums,
        buckets: Vec::new(),
    });
    chain.push(nodes.len() - 1);
}

fn labels_of(discrete: &[&str], path: &[String]) -> Labels {
    discrete
        .iter()
        .enumerate()
        .map(|(i, f)| (f.to_string(), path.get(i).cloned().unwrap_or_default()))
        .collect()
}

fn emit(
    def: &MetricDef,
    discrete: &[&str],
    histogram: bool,
    bounds: &[f64],
    nodes: &[Node],
    set: &mut MetricSet,
) {
    let base = format!("dovecot_{}", def.name);
    let depth = discrete.len();
    let is_duration = def.group_by.last().is_some_and(|g| g.field == "duration");
    // Seconds for duration (Dovecot counts microseconds); divided, not multiplied by 1e-6:
    // 10 / 1e6 is exactly 1e-5 in binary floating point.
    let scale = if is_duration { 1e6 } else { 1.0 };
    let scaled: Vec<f64> = bounds.iter().map(|b| b / scale).collect();
    for n in nodes {
        let own = n.own.clamped();
        let leaf = n.path.len() == depth;
        // Intermediate levels only when some events stopped there; the root always, so the
        // family exists from the start.
        if !leaf && !n.path.is_empty() && own.count == 0.0 {
            continue;
        }
        let labels = labels_of(discrete, &n.path);
        if !histogram {
            counters(&base, &own, labels, set);
            continue;
        }
        // Buckets exist only under the deepest discrete level.
        if leaf {
            let mut counts = vec![0u64; bounds.len() + 1];
            for (i, c) in &n.buckets {
                if let Some(slot) = counts.get_mut(*i) {
                    *slot += *c as u64;
                }
            }
            let field = def.group_by.last().map_or("", |g| g.field.as_str());
            // `_sum` is exact for duration and for a field listed in `fields`; otherwise
            // Dovecot does not keep it.
            let sum = if is_duration {
                own.duration
            } else if own.fields.iter().any(|(f, _)| f == field) {
                own.field(field)
            } else {
                f64::NAN
            };
            set.histogram(
                &base,
                "Histogram of events of this kind",
                labels.clone(),
                &scaled,
                &counts,
                sum,
            );
        }
        field_counters(&base, &own, labels, set);
    }
}

#[cfg(test)]
mod tests;
