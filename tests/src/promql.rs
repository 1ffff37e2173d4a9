//! PromQL as the checks of dashboards/ and alerts/ need it: the metric names an expression
//! selects, and the names of the metrics that the exporters' golden files show.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};

/// Collects selected metric names.
struct Names(BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        let vs = match e {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        if let Some(name) = vs.and_then(|v| v.name.clone()) {
            self.0.insert(name);
        }
        Ok(true)
    }
}

/// Parses `expr` (Prometheus 2.x PromQL).
pub fn parse(expr: &str) -> Result<Expr> {
    parser::parse(expr).map_err(|e| anyhow!("{e}"))
}

/// The metric names `expr` selects.
pub fn metric_names(expr: &str) -> Result<BTreeSet<String>> {
    let e = parse(expr).with_context(|| format!("parsing {expr}"))?;
    let mut v = Names(BTreeSet::new());
    let _ = walk_expr(&mut v, &e);
    Ok(v.0)
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
