//! The `qshape` collector: exports qshape's own text output (from a command or a
//! file) as `postfix_qshape_recipients`, for hosts that already run qshape.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use common::MetricSet;
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::parse::qshape;

/// Settings of the qshape collector.
#[derive(Debug, Clone)]
pub struct QshapeConfig {
    /// Command printing qshape output.
    pub command: Option<Vec<String>>,
    /// File holding qshape output (used when no command is set).
    pub file: Option<PathBuf>,
    /// Value of the `queue` label.
    pub queue: String,
    /// Domains kept as labels; the rest is `other`.
    pub top_domains: usize,
}

/// Reads qshape output at scrape time.
#[derive(Debug)]
pub struct QshapeCollector {
    cfg: QshapeConfig,
}

impl QshapeCollector {
    /// A collector for `cfg`.
    pub fn new(cfg: QshapeConfig) -> Self {
        Self { cfg }
    }
}

/// Converts qshape text into `postfix_qshape_recipients{queue,domain,age}` (TOTAL and
/// the T column are left out: they are sums of the exported cells).
pub fn metrics_from_text(text: &str, queue: &str, top: usize) -> anyhow::Result<MetricSet> {
    let tables = qshape::parse(text)?;
    let mut m = MetricSet::new();
    let help = "qshape matrix: recipients (or senders with -s semantics) per domain and age bucket in minutes; top domains plus other";
    m.declare(
        "postfix_qshape_recipients",
        help,
        common::metricset::Kind::Gauge,
    );
    for t in tables {
        let mut other = vec![0u64; t.buckets.len()];
        let mut has_other = false;
        for (i, row) in t.rows.iter().enumerate() {
            if i < top {
                for (b, c) in t.buckets.iter().zip(&row.counts) {
                    m.gauge(
                        "postfix_qshape_recipients",
                        help,
                        labels(&[
                            ("queue", queue),
                            ("domain", row.domain.as_str()),
                            ("age", b.as_str()),
                        ]),
                        *c as f64,
                    );
                }
            } else {
                has_other = true;
                for (o, c) in other.iter_mut().zip(&row.counts) {
                    *o += c;
                }
            }
        }
        if has_other {
            for (b, c) in t.buckets.iter().zip(&other) {
                m.gauge(
                    "postfix_qshape_recipients",
                    help,
                    labels(&[("queue", queue), ("domain", "other"), ("age", b.as_str())]),
                    *c as f64,
                );
            }
        }
    }
    Ok(m)
}

#[async_trait]
impl Collector for QshapeCollector {
    fn name(&self) -> &'static str {
        "qshape"
    }

    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let text = if let Some(argv) = &self.cfg.command {
            let (prog, args) = argv.split_first().context("empty qshape command")?;
            let out = tokio::time::timeout(
                ctx.timeout.max(Duration::from_millis(100)),
                tokio::process::Command::new(prog)
                    .args(args)
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .context("qshape command timed out")?
            .with_context(|| format!("running {}", argv.join(" ")))?;
            if !out.status.success() {
                bail!(
                    "{} exited with {}: {}",
                    argv.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else if let Some(p) = &self.cfg.file {
            tokio::fs::read_to_string(p)
                .await
                .with_context(|| format!("reading {}", p.display()))?
        } else {
            bail!("no qshape command or file configured");
        };
        metrics_from_text(&text, &self.cfg.queue, self.cfg.top_domains)
    }
}
