//! The `stats` collector: Dovecot's statistics (2.3+) read at scrape time from the
//! stats-reader socket (unix or TCP), from `doveadm stats dump` run as a command, or from a
//! file holding its output, and turned into labelled series and histograms with the metric
//! definitions of `--dovecot.config`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use anyhow::Context;
use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::reload::{Commit, FnReloadable};
use common::runner::{CollectContext, Collector};

use crate::config::{self, MetricDef};
use crate::stats::doveadm::parse_doveadm;
use crate::stats::resets::ResetTracker;
use crate::stats::series::to_metrics;
use crate::stats::{DumpError, DumpRow, Stat, StatsReader};
use crate::wire::Address;

/// The `stats` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<StatsArgs> = Spec {
    name: "stats",
    default_enabled: true,
    help: "Dovecot's statistics (stats-reader socket or doveadm stats dump) with labels and histograms rebuilt from the metric definitions",
    build,
};

/// Where the dump comes from.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsSourceKind {
    /// The stats-reader socket at `--dovecot.stats-reader.address`.
    Reader,
    /// A command printing `doveadm stats dump` output (any `-f` formatter).
    Command,
    /// A file holding `doveadm stats dump` output, read at every scrape.
    File,
}

/// Flags of the `stats` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct StatsArgs {
    /// The stats-reader socket: a path (unix socket, `$base_dir/stats-reader`) or HOST:PORT
    /// (an `inet_listener stats-reader` of `service stats`).
    #[arg(
        long = "dovecot.stats-reader.address",
        default_value = "/run/dovecot/stats-reader"
    )]
    pub stats_reader_address: String,
    /// A dovecot.conf (its `!include`s followed) or `doveconf -n` output with the `metric`
    /// definitions; without it DUMP names are exported flat.
    #[arg(long = "dovecot.config")]
    pub dovecot_config: Option<PathBuf>,
    /// Where the dump comes from.
    #[arg(long = "collector.stats.source", value_enum, default_value = "reader")]
    pub stats_source: StatsSourceKind,
    /// Command for --collector.stats.source=command (split on white space).
    #[arg(long = "collector.stats.command", default_value = "doveadm stats dump")]
    pub stats_command: String,
    /// File for --collector.stats.source=file.
    #[arg(long = "collector.stats.file")]
    pub stats_file: Option<PathBuf>,
}

/// Where a dump is read.
#[derive(Debug, Clone)]
pub enum StatsSource {
    /// The stats-reader socket.
    Reader(StatsReader),
    /// `doveadm stats dump` (or a stand-in) as a command.
    Command(Vec<String>),
    /// A file with doveadm's output.
    File(PathBuf),
}

impl StatsArgs {
    /// The source these flags describe.
    pub fn source(&self) -> anyhow::Result<StatsSource> {
        Ok(match self.stats_source {
            StatsSourceKind::Reader => {
                let addr: Address = self
                    .stats_reader_address
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--dovecot.stats-reader.address: {e}"))?;
                StatsSource::Reader(StatsReader::new(addr, REQUESTED.to_vec()))
            }
            StatsSourceKind::Command => StatsSource::Command(
                common::command::split(&self.stats_command).context("--collector.stats.command")?,
            ),
            StatsSourceKind::File => StatsSource::File(
                self.stats_file
                    .clone()
                    .context("--collector.stats.source=file needs --collector.stats.file")?,
            ),
        })
    }
}

/// What the exporter asks the stats-reader for: counters and histograms need only these.
pub const REQUESTED: [Stat; 2] = [Stat::Count, Stat::Sum];

/// Metric-name prefixes and names the exporter's other collectors use: a Dovecot `metric`
/// called so would put its series into their families.
const RESERVED_PREFIXES: [&str; 8] = [
    "log_",
    "stats_",
    "service_",
    "oldstats_",
    "scrape_",
    "exporter_",
    "config_",
    "director_",
];
const RESERVED_NAMES: [&str; 4] = ["up", "sessions", "users", "unique_users"];

/// Whether a `metric` definition's name collides with the exporter's own metrics.
pub fn reserved_name(name: &str) -> bool {
    RESERVED_NAMES.contains(&name) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn warn_reserved(defs: &[MetricDef]) {
    for d in defs.iter().filter(|d| reserved_name(&d.name)) {
        tracing::warn!(
            metric = %d.name,
            file = %d.origin.0.display(),
            line = d.origin.1,
            "this Dovecot metric's name is one the exporter uses for its own metrics; rename it, or its series mix with them"
        );
    }
}

fn build(args: StatsArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let source = args.source()?;
    let defs = match &args.dovecot_config {
        Some(path) => config::load(path)?,
        None => Vec::new(),
    };
    warn_reserved(&defs);
    tracing::info!(
        source = ?source,
        definitions = defs.len(),
        labelled = args.dovecot_config.is_some(),
        "stats collector enabled"
    );
    if args.dovecot_config.is_none() {
        tracing::warn!(
            "no --dovecot.config: Dovecot's statistics are exported under their flat DUMP names, without labels or histograms"
        );
    }
    let c = Arc::new(StatsCollector::new(
        source,
        args.dovecot_config.clone(),
        defs,
    ));
    if let Some(path) = args.dovecot_config {
        let target = Arc::clone(&c);
        setup.add_reloadable(Arc::new(FnReloadable::new(
            format!("Dovecot metric definitions {}", path.display()),
            move || {
                let defs = config::load(&path)?;
                warn_reserved(&defs);
                let target = Arc::clone(&target);
                Ok(Box::new(move || target.set_definitions(defs)) as Commit)
            },
        )));
    }
    setup.add(c);
    Ok(())
}

/// State kept from one scrape to the next.
#[derive(Debug, Default)]
struct State {
    resets: ResetTracker,
    resets_total: u64,
    wraps_total: u64,
    /// Failed reads by reason.
    read_errors: Vec<(&'static str, u64)>,
    /// The unmapped names last logged, so a standing problem is logged once.
    last_unmapped: Vec<String>,
    last_unreadable: usize,
}

/// The collector.
#[derive(Debug)]
pub struct StatsCollector {
    source: StatsSource,
    labelled: bool,
    defs: RwLock<Arc<Vec<MetricDef>>>,
    state: Mutex<State>,
    failures: common::logging::FailureLog,
}

/// One dump, whichever source it came from.
struct Read {
    rows: Vec<DumpRow>,
    stats: Vec<Stat>,
    errors: Vec<DumpError>,
}

/// A failed read, with the bounded `reason` label it is counted under.
struct ReadFailure {
    reason: &'static str,
    error: anyhow::Error,
}

impl ReadFailure {
    fn new(reason: &'static str, error: impl Into<anyhow::Error>) -> Self {
        ReadFailure {
            reason,
            error: error.into(),
        }
    }
}

impl StatsCollector {
    /// A collector of `source`; `config` names the definitions' file (`None`: flat names).
    pub fn new(source: StatsSource, config: Option<PathBuf>, defs: Vec<MetricDef>) -> Self {
        Self {
            source,
            labelled: config.is_some(),
            defs: RwLock::new(Arc::new(defs)),
            state: Mutex::default(),
            failures: common::logging::FailureLog::new(),
        }
    }

    /// Puts new metric definitions in place (a reload).
    pub fn set_definitions(&self, defs: Vec<MetricDef>) {
        tracing::info!(
            definitions = defs.len(),
            "Dovecot metric definitions reloaded"
        );
        *self.defs.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(defs);
    }

    async fn read(&self, ctx: &CollectContext) -> Result<Read, ReadFailure> {
        match &self.source {
            StatsSource::Reader(reader) => {
                let reader = reader.clone();
                let timeout = ctx.timeout;
                let dump = tokio::task::spawn_blocking(move || reader.dump(timeout))
                    .await
                    .map_err(|e| ReadFailure::new("io", e))?
                    .map_err(|e| ReadFailure::new(e.reason(), e))?;
                Ok(Read {
                    rows: dump.rows,
                    stats: REQUESTED.to_vec(),
                    errors: dump.errors,
                })
            }
            StatsSource::Command(argv) => {
                let out = common::command::output(argv, ctx.timeout)
                    .await
                    .map_err(|e| ReadFailure::new("command", e))?;
                doveadm_read(&String::from_utf8_lossy(&out))
            }
            StatsSource::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .with_context(|| format!("reading {}", path.display()))
                    .map_err(|e| ReadFailure::new("io", e))?;
                doveadm_read(&text)
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn doveadm_read(text: &str) -> Result<Read, ReadFailure> {
    let d = parse_doveadm(text).map_err(|e| ReadFailure::new("parse", anyhow::anyhow!(e)))?;
    if !d.stats.contains(&Stat::Count) {
        return Err(ReadFailure::new(
            "parse",
            anyhow::anyhow!("doveadm stats dump output without a count column"),
        ));
    }
    Ok(Read {
        rows: d.rows,
        stats: d.stats,
        errors: d.errors,
    })
}

const READ_REASONS: [&str; 8] = [
    "io",
    "timeout",
    "version",
    "truncated",
    "too_large",
    "command",
    "parse",
    "other",
];

#[async_trait]
impl Collector for StatsCollector {
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let read = self.read(ctx).await;
        let defs = Arc::clone(&self.defs.read().unwrap_or_else(PoisonError::into_inner));
        let mut m = MetricSet::new();
        let mut st = self.state();
        let up = match read {
            Ok(mut r) => {
                self.failures.ok("Dovecot's statistics");
                let obs = st.resets.observe(&mut r.rows, &r.stats);
                if obs.reset {
                    st.resets_total += 1;
                    tracing::warn!(
                        "Dovecot's statistics went down since the last scrape: the stats process restarted (doveadm reload, a crash) or they were reset; counters start again from zero"
                    );
                }
                st.wraps_total += obs.wrapped as u64;
                let unmapped = to_metrics(&defs, &r.rows, &r.stats, &mut m);
                let names: Vec<String> = unmapped.iter().map(|e| e.name.clone()).collect();
                if names != st.last_unmapped {
                    if let Some(e) = unmapped.first() {
                        tracing::warn!(
                            rows = unmapped.len(),
                            first = %e.name,
                            reason = e.reason,
                            "DUMP rows the metric definitions do not explain are exported under their flat names"
                        );
                    }
                    st.last_unmapped = names;
                }
                if r.errors.len() != st.last_unreadable {
                    if let Some(e) = r.errors.first() {
                        tracing::warn!(lines = r.errors.len(), first = %e, "unreadable stats dump lines skipped");
                    }
                    st.last_unreadable = r.errors.len();
                }
                m.gauge(
                    "dovecot_stats_rows",
                    "Rows (metrics and sub-metrics) in the last dump",
                    vec![],
                    r.rows.len() as f64,
                );
                m.gauge(
                    "dovecot_stats_unreadable_lines",
                    "Lines of the last dump that could not be read and were skipped",
                    vec![],
                    r.errors.len() as f64,
                );
                m.gauge(
                    "dovecot_stats_unmapped_rows",
                    "Rows of the last dump that the metric definitions do not explain, exported under their flat names",
                    vec![],
                    unmapped.len() as f64,
                );
                true
            }
            Err(f) => {
                self.failures
                    .failed("Dovecot's statistics", &format!("{:#}", f.error));
                let reason = READ_REASONS
                    .iter()
                    .find(|r| **r == f.reason)
                    .copied()
                    .unwrap_or("other");
                match st.read_errors.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => st.read_errors.push((reason, 1)),
                }
                m.set_failed(true);
                false
            }
        };
        m.gauge(
            "dovecot_up",
            "Whether the last read of Dovecot's statistics succeeded",
            vec![],
            if up { 1.0 } else { 0.0 },
        );
        m.gauge(
            "dovecot_stats_labelled",
            "1 when series get their labels and histograms from --dovecot.config, 0 when DUMP names are exported flat",
            vec![],
            if self.labelled { 1.0 } else { 0.0 },
        );
        m.gauge(
            "dovecot_stats_metric_definitions",
            "Metric definitions read from --dovecot.config",
            vec![],
            defs.len() as f64,
        );
        m.counter(
            "dovecot_stats_resets",
            "Times Dovecot's statistics were found lower than at the scrape before (stats process restarted or reset)",
            vec![],
            st.resets_total as f64,
        );
        m.counter(
            "dovecot_stats_count_wraps",
            "Event counts that wrapped at 2^32 and were carried on",
            vec![],
            st.wraps_total as f64,
        );
        for reason in READ_REASONS {
            let n = st
                .read_errors
                .iter()
                .find(|(r, _)| *r == reason)
                .map_or(0, |(_, n)| *n);
            m.counter(
                "dovecot_stats_read_errors",
                "Failed reads of Dovecot's statistics, by reason",
                common::metricset::labels(&[("reason", reason)]),
                n as f64,
            );
        }
        Ok(m)
    }
}
