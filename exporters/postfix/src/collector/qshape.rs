//! The `qshape` collector: exports qshape's own text output (from a command or a
//! file) as `postfix_qshape_recipients`, for hosts that already run qshape.

use std::path::PathBuf;

use anyhow::{Context, bail};
use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::runner::{CollectContext, Collector};

use crate::parse::qshape;

/// The `qshape` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<QshapeArgs> = Spec {
    name: "qshape",
    default_enabled: false,
    help: "qshape text output read from a command or file (--collector.qshape.command/.file)",
    build: |args, setup: &mut Setup| {
        setup.add(std::sync::Arc::new(QshapeCollector::new(args.config()?)));
        Ok(())
    },
};

/// Flags of the `qshape` collector (qshape text from a command or a file).
#[derive(clap::Args, Debug, Clone)]
pub struct QshapeArgs {
    /// Command printing qshape output, e.g. `qshape deferred` (split on whitespace).
    #[arg(long = "collector.qshape.command")]
    pub text_command: Option<String>,
    /// File holding qshape output (re-read at every scrape).
    #[arg(long = "collector.qshape.file")]
    pub text_file: Option<PathBuf>,
    /// Value of the `queue` label (qshape does not say which queues it read).
    #[arg(long = "collector.qshape.queue", default_value = "deferred")]
    pub text_queue: String,
    /// Domains kept as labels; the rest is `other`.
    #[arg(long = "collector.qshape.top-domains", default_value_t = 20)]
    pub text_top_domains: usize,
}

impl QshapeArgs {
    /// The collector configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<QshapeConfig> {
        let command = self
            .text_command
            .as_deref()
            .map(common::command::split)
            .transpose()?;
        if command.is_none() && self.text_file.is_none() {
            bail!("--collector.qshape needs --collector.qshape.command or --collector.qshape.file");
        }
        Ok(QshapeConfig {
            command,
            file: self.text_file.clone(),
            queue: self.text_queue.clone(),
            top_domains: self.text_top_domains,
        })
    }
}

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
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let text = if let Some(argv) = &self.cfg.command {
            let out = common::command::output(argv, ctx.timeout).await?;
            String::from_utf8_lossy(&out).into_owned()
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
