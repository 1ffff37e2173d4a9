//! Collectors as definitions: one file per collector owns its name, its flags (a clap
//! `Args` struct), their defaults and how the collector is built; each exporter lists its
//! definitions in one slice, like node_exporter's `registerCollector` but explicit.
//!
//! ```no_run
//! use std::sync::Arc;
//! use common::collector::{CollectorDef, Setup, Spec};
//! use common::runner::{CollectContext, Collector};
//! use common::MetricSet;
//!
//! /// Flags of the `uptime` collector.
//! #[derive(clap::Args, Debug, Clone)]
//! pub struct UptimeArgs {
//!     /// File to read.
//!     #[arg(long = "collector.uptime.file", default_value = "/proc/uptime")]
//!     pub file: std::path::PathBuf,
//! }
//!
//! struct Uptime(std::path::PathBuf);
//!
//! #[async_trait::async_trait]
//! impl Collector for Uptime {
//!     async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
//!         let text = tokio::fs::read_to_string(&self.0).await?;
//!         let secs: f64 = text.split_whitespace().next().unwrap_or("0").parse()?;
//!         let mut m = MetricSet::new();
//!         m.gauge("demo_uptime_seconds", "Uptime", vec![], secs);
//!         Ok(m)
//!     }
//! }
//!
//! /// The collector's entry for the exporter's list.
//! pub const UPTIME: Spec<UptimeArgs> = Spec {
//!     name: "uptime",
//!     default_enabled: true,
//!     help: "system uptime",
//!     build: |args, setup| {
//!         setup.add(Arc::new(Uptime(args.file)));
//!         Ok(())
//!     },
//! };
//!
//! /// The exporter's one list.
//! pub const COLLECTORS: &[&dyn CollectorDef] = &[&UPTIME];
//! ```

use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, Command, FromArgMatches};
use prometheus_client::registry::Registry;

use crate::ExporterInfo;
use crate::follow::{
    FollowHandle, FollowMetrics, FollowOptions, LineHandler, Source, SourceMetrics,
};
use crate::reload::{Reloadable, Reloader};
use crate::runner::{Background, BackgroundOptions, Collector, Runner};

/// One collector's entry in an exporter's list.
pub trait CollectorDef: Sync {
    /// Name, as in `--collector.<name>` and the `collector` label.
    fn name(&self) -> &'static str;
    /// Whether it runs without `--collector.<name>`.
    fn default_enabled(&self) -> bool;
    /// One line for `--help` and the landing page.
    fn help(&self) -> &'static str;
    /// Adds the collector's own flags to the command line.
    fn augment_args(&self, cmd: Command) -> Command;
    /// Builds the collector from the parsed flags (only called when it is enabled).
    fn build(&self, matches: &ArgMatches, setup: &mut Setup) -> anyhow::Result<()>;
}

/// A [`CollectorDef`] from a clap `Args` type and a build function; `const`-friendly,
/// so each collector file declares `pub const X: Spec<XArgs> = Spec { .. }`.
pub struct Spec<A> {
    /// See [`CollectorDef::name`].
    pub name: &'static str,
    /// See [`CollectorDef::default_enabled`].
    pub default_enabled: bool,
    /// See [`CollectorDef::help`].
    pub help: &'static str,
    /// Builds the collector from its flags.
    pub build: fn(A, &mut Setup) -> anyhow::Result<()>,
}

/// Flags of a collector that has none.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct NoArgs {}

impl<A> CollectorDef for Spec<A>
where
    A: clap::Args + FromArgMatches + Send + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn default_enabled(&self) -> bool {
        self.default_enabled
    }

    fn help(&self) -> &'static str {
        self.help
    }

    fn augment_args(&self, cmd: Command) -> Command {
        let heading = format!("Collector {}", self.name);
        A::augment_args(cmd.next_help_heading(heading)).next_help_heading(None::<&str>)
    }

    fn build(&self, matches: &ArgMatches, setup: &mut Setup) -> anyhow::Result<()> {
        let args = A::from_arg_matches(matches)
            .with_context(|| format!("flags of the {} collector", self.name))?;
        (self.build)(args, setup)
    }
}

/// Parses the flags of one collector `Args` type from `argv` (tests).
pub fn parse_args<A, I, S>(argv: I) -> Result<A, clap::Error>
where
    A: clap::Args + FromArgMatches,
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = A::augment_args(Command::new("test").no_binary_name(true));
    let m = cmd.try_get_matches_from_mut(argv)?;
    A::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
}

/// Everything a collector's build function may add to the exporter.
pub struct Setup {
    info: ExporterInfo,
    runner: Runner,
    reloader: Reloader,
    follow_metrics: Option<FollowMetrics>,
    followers: Vec<FollowHandle>,
    current: &'static str,
    sources: Vec<SourceMetrics>,
    procfs: std::path::PathBuf,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("exporter", &self.info.name)
            .field("collector", &self.current)
            .finish()
    }
}

impl Setup {
    /// The metric namespace (e.g. `postfix`).
    pub fn namespace(&self) -> &'static str {
        self.info.namespace
    }

    /// The procfs mount the exporter reads processes from (`--path.procfs`).
    pub fn procfs(&self) -> &std::path::Path {
        &self.procfs
    }

    /// The long-lived registry, for metrics updated outside scrapes (log counters).
    pub fn registry(&mut self) -> &mut Registry {
        self.runner.registry_mut()
    }

    /// Adds the collector, read at scrape time under the scrape timeout.
    pub fn add(&mut self, collector: Arc<dyn Collector>) {
        self.runner.add(self.current, collector);
    }

    /// Adds the collector, refreshed in the background; scrapes serve its snapshot.
    pub fn add_background(
        &mut self,
        collector: Arc<dyn Collector>,
        opts: BackgroundOptions,
    ) -> Arc<Background> {
        let bg = Background::spawn(self.current, collector, opts);
        self.runner.add_background(Arc::clone(&bg));
        bg
    }

    /// Adds a configuration file re-read on SIGHUP and `POST /-/reload`.
    pub fn add_reloadable(&mut self, item: Arc<dyn Reloadable>) {
        self.reloader.add(item);
    }

    /// Starts following log source `source`, named `name` in the follower metrics'
    /// `source` label, feeding `handler`. Unsupported lines are labelled
    /// `unsupported_label` (the same for every source of one exporter). The collector
    /// being built becomes a log collector: it succeeds while all its sources are open.
    pub fn follow(
        &mut self,
        name: &str,
        source: Source,
        handler: Arc<dyn LineHandler>,
        unsupported_label: &'static str,
        opts: FollowOptions,
    ) -> anyhow::Result<()> {
        let ns = self.info.namespace;
        let fm = match &self.follow_metrics {
            Some(fm) => {
                anyhow::ensure!(
                    fm.unsupported_label() == unsupported_label,
                    "log sources of one exporter must share the unsupported-line label ({} vs {unsupported_label})",
                    fm.unsupported_label()
                );
                fm.clone()
            }
            None => {
                let fm = FollowMetrics::new(ns, unsupported_label);
                fm.register(self.runner.registry_mut());
                self.follow_metrics = Some(fm.clone());
                fm
            }
        };
        // Every source started so far has a follower, this collector's included.
        anyhow::ensure!(
            !self.followers.iter().any(|f| f.name() == name),
            "log source {name} is given twice"
        );
        let metrics = fm.source(name);
        tracing::info!(collector = self.current, source = %source, name, "following log source");
        let handle = crate::follow::spawn(source.clone(), handler, metrics.clone(), opts)
            .with_context(|| format!("log source {source}"))?;
        self.sources.push(metrics);
        self.followers.push(handle);
        Ok(())
    }
}

impl Setup {
    /// [`Setup::follow`] for each of `sources`, each named by its source string (bounded:
    /// it comes from the flags, and it tells the operator which input a counter is about).
    pub fn follow_all(
        &mut self,
        sources: Vec<Source>,
        handler: Arc<dyn LineHandler>,
        unsupported_label: &'static str,
        opts: FollowOptions,
    ) -> anyhow::Result<()> {
        for source in sources {
            let name = source.to_string();
            self.follow(
                &name,
                source,
                Arc::clone(&handler),
                unsupported_label,
                opts.clone(),
            )?;
        }
        Ok(())
    }
}

/// A built exporter: the runner with its collectors, the reload hooks and the log
/// followers (kept so tests can stop them).
#[derive(Debug)]
pub struct Exporter {
    /// Static facts about the exporter.
    pub info: ExporterInfo,
    /// The collectors and the long-lived registry.
    pub runner: Arc<Runner>,
    /// The reloadable configuration files (the web config is added by the server).
    pub reloader: Reloader,
    /// The log followers.
    pub followers: Vec<FollowHandle>,
}

impl Exporter {
    /// Builds every enabled collector of `defs` from the parsed flags, plus the process
    /// metrics. Must run inside a tokio runtime (background collectors spawn tasks).
    pub fn build(
        info: ExporterInfo,
        defs: &[&dyn CollectorDef],
        selection: &crate::cli::Selection,
        process: &crate::process::ProcessArgs,
    ) -> anyhow::Result<Self> {
        let mut runner = Runner::new(info.namespace);
        runner.set_process(crate::process::ProcessCollector::new(process)?);
        let reloader = Reloader::default();
        reloader.register(runner.registry_mut(), info.namespace);
        let mut setup = Setup {
            info,
            runner,
            reloader,
            follow_metrics: None,
            followers: Vec::new(),
            current: "",
            sources: Vec::new(),
            procfs: process.procfs.clone(),
        };
        if selection.enabled.is_empty() {
            tracing::warn!(
                "every collector is disabled: only build info and process metrics are served"
            );
        }
        for def in defs {
            if !selection.enabled.contains(&def.name()) {
                continue;
            }
            setup.current = def.name();
            def.build(&selection.matches, &mut setup)
                .with_context(|| format!("{} collector", def.name()))?;
            if !setup.sources.is_empty() {
                let sources = std::mem::take(&mut setup.sources);
                setup.runner.add_logs(def.name(), sources);
            }
            tracing::info!(collector = def.name(), "collector enabled");
        }
        Ok(Self {
            info,
            runner: Arc::new(setup.runner),
            reloader: setup.reloader,
            followers: setup.followers,
        })
    }
}
