//! The `qshape` collector: exports qshape's own text output (from a command or a
//! file) as `postfix_qshape_recipients`, for hosts that already run qshape.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use common::MetricSet;
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

/// Converts qshape text into `postfix_qshape_recipients{queue,domain,age}` (TOTAL, the T
/// column and `-p` parent-domain rows are left out: they are sums of the exported cells).
pub fn metrics_from_text(text: &str, queue: &str, top: usize) -> anyhow::Result<MetricSet> {
    let tables = qshape::parse(text)?;
    let mut m = MetricSet::new();
    for t in tables {
        // Parent-domain rows of `qshape -p` (`.example.com`) repeat their subdomains' counts.
        let rows = t
            .rows
            .iter()
            .filter(|r| !r.domain.starts_with('.'))
            .map(|r| (r.domain.as_str(), r.counts.as_slice()));
        crate::queue::add_qshape_cells(&mut m, queue, &t.buckets, rows, top);
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
