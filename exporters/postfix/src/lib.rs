//! Postfix exporter: queue depth and shape (showq, `postqueue -j`, `mailq`, `qshape`)
//! and the mail log.
//!
//! The binary is a thin wrapper around [`main_entry`].

pub mod cli;
pub mod collector;
pub mod logmetrics;
pub mod parse;
pub mod queue;
pub mod reject_rules;

use std::process::ExitCode;
use std::sync::Arc;

use common::ExporterInfo;
use common::cli::CollectorSpec;
use common::runner::Runner;

/// Static facts about this exporter.
pub const INFO: ExporterInfo = ExporterInfo {
    name: "postfix-exporter",
    namespace: "postfix",
    description: "OpenMetrics exporter for Postfix: queue depth and shape, and the mail log",
    default_listen: ":9154",
    env_prefix: "POSTFIX_EXPORTER",
};

/// The explicit list of collectors.
pub const COLLECTORS: &[CollectorSpec] = &[
    CollectorSpec {
        name: "queue",
        default_enabled: true,
        help: "queue depth, age, reasons and qshape matrix from showq, postqueue -j or mailq",
    },
    CollectorSpec {
        name: "log",
        default_enabled: true,
        help: "mail log counters (deliveries, rejects, SASL, TLS, postscreen, delays) from a file, FIFO, stdin or syslog",
    },
    CollectorSpec {
        name: "qshape",
        default_enabled: false,
        help: "qshape text output read from a command or file (--collector.qshape.command/.file)",
    },
];

/// Parses the flags, starts the collectors and serves until SIGTERM/SIGINT.
pub async fn main_entry() -> ExitCode {
    let (args, enabled) = common::cli::parse::<cli::Args>(&INFO, COLLECTORS);
    common::logging::init(&args.log);
    if let Some(cli::Command::Print(p)) = &args.command {
        return cli::print(p);
    }
    match run(args, enabled).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "exiting");
            eprintln!("postfix-exporter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs unsupported lines at info level for `--log.unsupported` (debug otherwise).
struct LoggingHandler {
    inner: logmetrics::PostfixLogHandler,
    loud: bool,
}

impl common::follow::LineHandler for LoggingHandler {
    fn handle_line(&self, line: &str) -> common::follow::LineOutcome {
        let out = self.inner.handle_line(line);
        if let common::follow::LineOutcome::Unsupported(d) = &out {
            if self.loud {
                tracing::info!(daemon = %d, line, "unsupported log line");
            } else {
                tracing::debug!(daemon = %d, line, "unsupported log line");
            }
        }
        out
    }
}

/// A running exporter: the runner plus the log followers that feed it.
pub struct Exporter {
    /// The collectors and registry.
    pub runner: Runner,
    /// Log followers (kept so they can be stopped in tests).
    pub followers: Vec<common::follow::FollowHandle>,
}

/// Builds the runner for the enabled collectors and starts the log follower.
pub fn build(args: &cli::Args, enabled: &[&str]) -> anyhow::Result<Exporter> {
    let mut runner = build_runner(args, enabled)?;
    let mut followers = Vec::new();
    if enabled.contains(&"log") {
        let source = args.maillog.source()?;
        let metrics = Arc::new(logmetrics::LogMetrics::new(args.maillog.options()?));
        metrics.register(runner.registry_mut());
        let fm = common::follow::FollowMetrics::new(INFO.namespace, "daemon");
        fm.register(runner.registry_mut());
        let handler = Arc::new(LoggingHandler {
            inner: logmetrics::PostfixLogHandler(metrics),
            loud: args.maillog.log_unsupported,
        });
        let opts = common::follow::FollowOptions {
            max_line_bytes: args.maillog.max_line_bytes.max(256),
            poll_interval: args
                .maillog
                .poll_interval
                .max(std::time::Duration::from_millis(1)),
            unsupported_label: "daemon",
        };
        tracing::info!(source = %source, "log collector enabled");
        let h = common::follow::spawn(source.clone(), handler, fm, opts)
            .map_err(|e| anyhow::anyhow!("log source {source}: {e}"))?;
        followers.push(h);
    }
    Ok(Exporter { runner, followers })
}

/// Builds the runner for the enabled scrape-time and background collectors.
pub fn build_runner(args: &cli::Args, enabled: &[&str]) -> anyhow::Result<Runner> {
    let mut runner = Runner::new(INFO.namespace);
    common::process::register(runner.registry_mut(), &args.process)?;
    if enabled.contains(&"queue") {
        let cfg = args.queue.config()?;
        tracing::info!(source = %cfg.source, interval_seconds = cfg.interval.as_secs_f64(), "queue collector enabled");
        let qc = collector::queue::QueueCollector::spawn(cfg);
        runner.add_background_ready(qc.background());
        runner.add(qc);
    }
    if enabled.contains(&"qshape") {
        runner.add(Arc::new(collector::qshape::QshapeCollector::new(
            args.qshape.config()?,
        )));
    }
    Ok(runner)
}

/// Runs the exporter with parsed arguments.
pub async fn run(args: cli::Args, enabled: Vec<&'static str>) -> anyhow::Result<()> {
    let exporter = build(&args, &enabled)?;
    let _followers = exporter.followers;
    common::server::serve(
        INFO,
        &args.web,
        Arc::new(exporter.runner),
        axum::Router::new(),
        Vec::new(),
    )
    .await
}
