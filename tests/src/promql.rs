//! PromQL as the checks of dashboards/ and alerts/ need it: the metric names an expression
//! selects, and the names of the metrics that the exporters' golden files show.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use promql_parser::parser::{self, Expr};

/// Parses `expr` (Prometheus 2.x PromQL).
pub fn parse(expr: &str) -> Result<Expr> {
    parser::parse(expr).map_err(|e| anyhow!("{e}"))
}

/// The metric names `expr` selects.
pub fn metric_names(expr: &str) -> Result<BTreeSet<String>> {
    let e = parse(expr).with_context(|| format!("parsing {expr}"))?;
    Ok(uses(&e).into_iter().map(|u| u.name).collect())
}

/// One use of a metric in an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// The metric name.
    pub name: String,
    /// Label matchers as (label, value) pairs (the operator left out).
    pub matchers: Vec<(String, String)>,
    /// The range of a range selector.
    pub range: Option<std::time::Duration>,
    /// Whether the range selector is the argument of rate, irate or increase.
    pub in_counter_function: bool,
}

/// Every named selector of `e`, with the context the dashboard lint needs.
pub fn uses(e: &Expr) -> Vec<Use> {
    let mut out = Vec::new();
    walk_uses(e, false, &mut out);
    out
}

fn walk_uses(e: &Expr, counter_arg: bool, out: &mut Vec<Use>) {
    let mut add = |vs: &promql_parser::parser::VectorSelector, range, in_fn| {
        if let Some(name) = &vs.name {
            out.push(Use {
                name: name.clone(),
                matchers: vs
                    .matchers
                    .matchers
                    .iter()
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect(),
                range,
                in_counter_function: in_fn,
            });
        }
    };
    match e {
        Expr::VectorSelector(vs) => add(vs, None, false),
        Expr::MatrixSelector(ms) => add(&ms.vs, Some(ms.range), counter_arg),
        Expr::Aggregate(a) => {
            walk_uses(&a.expr, false, out);
            if let Some(p) = &a.param {
                walk_uses(p, false, out);
            }
        }
        Expr::Unary(u) => walk_uses(&u.expr, false, out),
        Expr::Binary(b) => {
            walk_uses(&b.lhs, false, out);
            walk_uses(&b.rhs, false, out);
        }
        Expr::Paren(p) => walk_uses(&p.expr, false, out),
        Expr::Subquery(s) => walk_uses(&s.expr, false, out),
        Expr::Call(c) => {
            let counter_fn = matches!(c.func.name, "rate" | "irate" | "increase");
            for a in &c.args.args {
                walk_uses(a, counter_fn, out);
            }
        }
        _ => {}
    }
}

/// Every sample name the golden files in `dir` show: each `# TYPE` family, with a histogram's
/// `_bucket`, `_count` and `_sum` and a summary's `_count` and `_sum`.
pub fn golden_names(dir: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        for line in text.lines() {
            let mut f = line.split_whitespace();
            if (f.next(), f.next()) != (Some("#"), Some("TYPE")) {
                continue;
            }
            let (Some(name), Some(kind)) = (f.next(), f.next()) else {
                continue;
            };
            names.insert(name.to_string());
            let suffixes: &[&str] = match kind {
                "histogram" => &["_bucket", "_count", "_sum"],
                "summary" => &["_count", "_sum"],
                _ => &[],
            };
            for s in suffixes {
                names.insert(format!("{name}{s}"));
            }
        }
    }
    Ok(names)
}

/// Metrics of other programs that the pod-health rules and panels use: kube-state-metrics
/// (`kube_*`), cAdvisor (`container_*`), the kubelet's volume stats (`kubelet_volume_*`) and
/// what vmagent adds to every scrape.
pub fn is_external(name: &str) -> bool {
    name.starts_with("kube_")
        || name.starts_with("container_")
        || name.starts_with("kubelet_volume_stats_")
        || matches!(
            name,
            "up" | "scrape_duration_seconds"
                | "scrape_timeout_seconds"
                | "scrape_samples_scraped"
                | "scrape_series_added"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_functions_ranges_and_joins() {
        let n = metric_names(
            r#"sum by (job) (rate(a_total{x="1"}[5m])) / on (job) group_left b and c offset 10m"#,
        )
        .unwrap_or_default();
        assert_eq!(
            n.into_iter().collect::<Vec<_>>(),
            ["a_total", "b", "c"].map(String::from)
        );
        assert!(metric_names("sum(").is_err());
    }
}
