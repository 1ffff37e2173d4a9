//! The `queue` collector: reads the queue listing from the showq service (unix socket
//! or TCP), from a command (`postqueue -j`, `mailq`) or from a file, aggregates it in
//! the background, and serves the last complete snapshot.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use async_trait::async_trait;
use common::MetricSet;
use common::cli::parse_duration;
use common::collector::{Setup, Spec};
use common::deadline::{DeadlineReader, KillAfter};
use common::runner::{BackgroundOptions, CollectContext, Collector, Status, unix_secs};

use super::spool::{SpoolSummary, SpoolWalker};
use crate::parse::{QueuedMessage, mailq, postqueue_json, showq};
use crate::queue::{QueueAggregator, ShapeOptions};

/// The `queue` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<QueueArgs> = Spec {
    name: "queue",
    default_enabled: true,
    help: "queue depth, age, reasons and qshape matrix from showq, postqueue -j or mailq",
    build,
};

fn build(args: QueueArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let cfg = args.config()?;
    tracing::info!(source = %cfg.source, interval_seconds = cfg.interval.as_secs_f64(), "queue collector enabled");
    let opts = BackgroundOptions {
        interval: cfg.interval,
        // The walk's own deadline ends it with the precise reason; this is the backstop.
        timeout: cfg.timeout + Duration::from_secs(1),
        on_demand_below: Some(cfg.on_demand_below),
        on_demand_min_age: cfg.on_demand_min_age,
        scrape_wait: Duration::from_secs(1),
        status_metrics: Some(status_metrics),
    };
    setup.add_background(Arc::new(Walker::new(cfg)), opts);
    Ok(())
}

/// How the showq service is reached.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowqNetwork {
    /// The unix socket at `--postfix.showq_path`.
    Unix,
    /// TCP at `--postfix.showq_address` (or 127.0.0.1:`--postfix.showq_port`).
    Tcp,
}

/// Queue source kind.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The showq service (no Postfix binaries needed).
    Showq,
    /// A command printing `postqueue -j` JSON or `mailq` text.
    Command,
    /// A file with showq bytes, `postqueue -j` JSON or `mailq` text.
    File,
    /// The queue directory itself (`--postfix.queue_directory`; needs the postfix user or root).
    Spool,
}

/// Flags of the `queue` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueArgs {
    /// Path of the showq unix socket (kumina/Hsn723 compatible).
    #[arg(
        long = "postfix.showq_path",
        default_value = "/var/spool/postfix/public/showq"
    )]
    pub showq_path: PathBuf,
    /// How to reach showq: unix or tcp (Hsn723 compatible).
    #[arg(long = "postfix.showq_network", value_enum, default_value = "unix")]
    pub showq_network: ShowqNetwork,
    /// TCP port of a showq inet service on 127.0.0.1 (Hsn723 compatible).
    #[arg(long = "postfix.showq_port", default_value_t = 10025)]
    pub showq_port: u16,
    /// Full `host:port` of a showq inet service; overrides --postfix.showq_port.
    #[arg(long = "postfix.showq_address")]
    pub showq_address: Option<String>,
    /// Where the queue listing comes from.
    #[arg(long = "collector.queue.source", value_enum, default_value = "showq")]
    pub source: SourceKind,
    /// Postfix queue_directory for --collector.queue.source=spool.
    #[arg(long = "postfix.queue_directory", default_value = "/var/spool/postfix")]
    pub queue_directory: PathBuf,
    /// With --collector.queue.source=spool, re-read every queue file on every Nth walk
    /// instead of only the changed ones (0: never; the first walk always reads all).
    #[arg(long = "collector.queue.spool-full-walk-every", default_value_t = 0)]
    pub spool_full_walk_every: u32,
    /// Command for --collector.queue.source=command (split on whitespace).
    #[arg(long = "collector.queue.command", default_value = "postqueue -j")]
    pub command: String,
    /// File for --collector.queue.source=file.
    #[arg(long = "collector.queue.file")]
    pub file: Option<PathBuf>,
    /// Background refresh interval.
    #[arg(long = "collector.queue.interval", default_value = "30s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Bound on one whole queue walk (connect, read, parse), however slowly showq sends.
    #[arg(long = "collector.queue.timeout", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Queues that get a qshape matrix (comma-separated; empty for none).
    #[arg(
        long = "collector.queue.qshape-queues",
        default_value = "deferred",
        value_delimiter = ','
    )]
    pub qshape_queues: Vec<String>,
    /// Domains per queue kept as labels in postfix_qshape_recipients; the rest is `other`.
    #[arg(long = "collector.queue.qshape-top-domains", default_value_t = 20)]
    pub qshape_top_domains: usize,
    /// First age bucket width in minutes (qshape -t).
    #[arg(long = "collector.queue.qshape-bucket-minutes", default_value_t = 5)]
    pub qshape_bucket_minutes: u32,
    /// Number of age buckets (qshape -b).
    #[arg(long = "collector.queue.qshape-buckets", default_value_t = 10)]
    pub qshape_buckets: usize,
    /// Linear age buckets (qshape -l).
    #[arg(long = "collector.queue.qshape-linear")]
    pub qshape_linear: bool,
    /// Count sender domains instead of recipient domains (qshape -s).
    #[arg(long = "collector.queue.qshape-senders")]
    pub qshape_senders: bool,
    /// Count force-expired messages in the matrix (qshape skips them).
    #[arg(long = "collector.queue.qshape-include-expired")]
    pub qshape_include_expired: bool,
    /// Longest showq attribute value accepted.
    #[arg(long = "collector.queue.max-value-bytes", default_value_t = 64 * 1024)]
    pub max_value_bytes: usize,
}

impl QueueArgs {
    /// The qshape options these flags describe.
    pub fn shape(&self) -> anyhow::Result<ShapeOptions> {
        if self.qshape_buckets == 0 || self.qshape_buckets > 64 {
            bail!("--collector.queue.qshape-buckets must be between 1 and 64");
        }
        if self.qshape_bucket_minutes == 0 {
            bail!("--collector.queue.qshape-bucket-minutes must be at least 1");
        }
        Ok(ShapeOptions {
            queues: self
                .qshape_queues
                .iter()
                .map(|q| q.trim().to_string())
                .filter(|q| !q.is_empty())
                .collect(),
            first_bucket_minutes: self.qshape_bucket_minutes,
            buckets: self.qshape_buckets,
            linear: self.qshape_linear,
            by_sender: self.qshape_senders,
            top_domains: self.qshape_top_domains,
            include_expired: self.qshape_include_expired,
        })
    }

    /// The collector configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<QueueConfig> {
        let source = match self.source {
            SourceKind::Showq => match self.showq_network {
                ShowqNetwork::Unix => QueueSource::ShowqUnix(self.showq_path.clone()),
                ShowqNetwork::Tcp => QueueSource::ShowqTcp(
                    self.showq_address
                        .clone()
                        .unwrap_or_else(|| format!("127.0.0.1:{}", self.showq_port)),
                ),
            },
            SourceKind::Command => QueueSource::Command(common::command::split(&self.command)?),
            SourceKind::Spool => QueueSource::Spool(self.queue_directory.clone()),
            SourceKind::File => QueueSource::File(
                self.file
                    .clone()
                    .context("--collector.queue.source=file needs --collector.queue.file")?,
            ),
        };
        if self.interval.is_zero() {
            bail!(
                "--collector.queue.interval must be more than 0s (it is the time between two queue walks)"
            );
        }
        Ok(QueueConfig {
            source,
            shape: self.shape()?,
            interval: self.interval.max(Duration::from_millis(100)),
            timeout: self.timeout.max(Duration::from_millis(100)),
            max_value_bytes: self.max_value_bytes.max(1024),
            spool_full_walk_every: self.spool_full_walk_every,
            ..QueueConfig::default()
        })
    }
}

/// Where the queue listing comes from.
#[derive(Debug, Clone)]
pub enum QueueSource {
    /// The showq unix socket (`$queue_directory/public/showq`).
    ShowqUnix(PathBuf),
    /// A showq service declared as an inet service in master.cf (`host:port`).
    ShowqTcp(String),
    /// A command whose output is `postqueue -j` JSON or `mailq` text.
    Command(Vec<String>),
    /// A file holding showq bytes, `postqueue -j` JSON or `mailq` text.
    File(PathBuf),
    /// The queue directory itself, read like showq does (needs the postfix user or root).
    Spool(PathBuf),
}

impl std::fmt::Display for QueueSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueSource::ShowqUnix(p) => write!(f, "unix:{}", p.display()),
            QueueSource::ShowqTcp(a) => write!(f, "tcp:{a}"),
            QueueSource::Command(c) => write!(f, "command:{}", c.join(" ")),
            QueueSource::File(p) => write!(f, "file:{}", p.display()),
            QueueSource::Spool(p) => write!(f, "spool:{}", p.display()),
        }
    }
}

/// Settings of the queue collector.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The source of the listing.
    pub source: QueueSource,
    /// How the qshape matrix is computed.
    pub shape: ShapeOptions,
    /// Refresh interval of the background collection.
    pub interval: Duration,
    /// Bound on one collection (connect + read + parse).
    pub timeout: Duration,
    /// A refresh that took less than this is cheap enough to run again at scrape time.
    pub on_demand_below: Duration,
    /// Minimum age of the snapshot before an on-demand refresh.
    pub on_demand_min_age: Duration,
    /// Longest attribute value accepted from showq.
    pub max_value_bytes: usize,
    /// Spool source: every Nth walk re-reads every file (0: only the first walk does).
    pub spool_full_walk_every: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            source: QueueSource::ShowqUnix(PathBuf::from("/var/spool/postfix/public/showq")),
            shape: ShapeOptions::default(),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            on_demand_below: Duration::from_millis(250),
            on_demand_min_age: Duration::from_secs(5),
            max_value_bytes: 64 * 1024,
            spool_full_walk_every: 0,
        }
    }
}

/// What one walk over the queue produced.
#[derive(Debug)]
pub struct Walk {
    /// The aggregated snapshot.
    pub aggregator: QueueAggregator,
    /// Messages read.
    pub messages: u64,
    /// Records or lines that could not be used (without queue_id, bad JSON lines, ...).
    pub skipped: u64,
    /// showq attribute values longer than the limit, cut.
    pub truncated: u64,
    /// Files read and reused, for the spool source.
    pub spool: Option<SpoolSummary>,
}

/// The text formats a queue listing can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    /// showq's NUL-separated attributes (or the Postfix <= 3.0 text stream).
    Showq,
    /// `postqueue -j` JSON lines.
    Json,
    /// `mailq` / `postqueue -p` text.
    Mailq,
}

impl ListingFormat {
    /// What the format is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            ListingFormat::Showq => "a showq stream",
            ListingFormat::Json => "postqueue -j JSON",
            ListingFormat::Mailq => "mailq text",
        }
    }

    /// Detects the format from the first bytes: NUL bytes (or nothing) → showq, `{` →
    /// `postqueue -j`, anything else → `mailq`.
    pub fn detect(head: &[u8]) -> Self {
        if head.is_empty() || head.contains(&0) {
            ListingFormat::Showq
        } else if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            ListingFormat::Json
        } else {
            ListingFormat::Mailq
        }
    }
}

/// Aggregates a listing read from `reader`, in `format` or, when `None`, the format
/// detected from its first bytes.
pub fn aggregate_reader<R: Read>(
    reader: R,
    format: Option<ListingFormat>,
    now: SystemTime,
    shape: &ShapeOptions,
    max_value_bytes: usize,
) -> anyhow::Result<Walk> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, reader);
    let head = reader.fill_buf().context("reading the queue listing")?;
    let mut agg = QueueAggregator::new(unix_secs(now), shape.clone());
    if head.is_empty() {
        // No bytes at all is an empty queue in every format (`postqueue -j` prints nothing
        // for one), not a cut stream.
        return Ok(Walk {
            aggregator: agg,
            messages: 0,
            skipped: 0,
            truncated: 0,
            spool: None,
        });
    }
    let detected = ListingFormat::detect(head);
    let format = match format {
        // The Postfix <= 3.0 showq stream is text, so a forced showq is taken as given.
        Some(f @ (ListingFormat::Json | ListingFormat::Mailq)) if f != detected => {
            bail!(
                "the input is not {} (it looks like {})",
                f.describe(),
                detected.describe()
            );
        }
        Some(f) => f,
        None => detected,
    };
    let mut messages = 0u64;
    let mut on_msg = |m: QueuedMessage| {
        messages += 1;
        agg.add(&m);
    };
    let (skipped, truncated) = match format {
        ListingFormat::Showq => {
            let limits = showq::Limits {
                max_value_bytes,
                ..Default::default()
            };
            let s = showq::read_stream(reader, &limits, &mut on_msg).context("showq stream")?;
            (s.skipped_records, s.truncated_values)
        }
        ListingFormat::Json => {
            let s =
                postqueue_json::read_stream(reader, &mut on_msg).context("postqueue -j output")?;
            (s.bad_lines, 0)
        }
        ListingFormat::Mailq => {
            mailq::read_stream(reader, now, &mut on_msg).context("mailq output")?;
            (0, 0)
        }
    };
    Ok(Walk {
        aggregator: agg,
        messages,
        skipped,
        truncated,
        spool: None,
    })
}

/// One walk of the spool at `dir` by `walker`, aggregated: only files changed since the
/// walker's last walk are read, every file with `full`.
pub fn walk_spool(
    walker: &mut SpoolWalker,
    dir: &Path,
    full: bool,
    now: SystemTime,
    shape: &ShapeOptions,
) -> anyhow::Result<Walk> {
    let mut agg = QueueAggregator::new(unix_secs(now), shape.clone());
    let s = walker
        .walk(dir, full, &mut |m| agg.add(m))
        .with_context(|| format!("reading the queue directory {}", dir.display()))?;
    Ok(Walk {
        aggregator: agg,
        messages: s.messages,
        skipped: s.skipped,
        truncated: 0,
        spool: Some(s),
    })
}

/// Reads the whole listing once from `source` (blocking; run it off the async runtime).
pub fn walk_blocking(cfg: &QueueConfig) -> anyhow::Result<Walk> {
    let now = SystemTime::now();
    match &cfg.source {
        QueueSource::ShowqUnix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path)
                .with_context(|| format!("connecting to the showq socket {}", path.display()))?;
            let s = DeadlineReader::new(s, cfg.timeout);
            aggregate_reader(s, None, now, &cfg.shape, cfg.max_value_bytes)
        }
        QueueSource::ShowqTcp(addr) => {
            use std::net::ToSocketAddrs;
            let sa = addr
                .to_socket_addrs()
                .with_context(|| format!("resolving showq address {addr}"))?
                .next()
                .with_context(|| format!("showq address {addr} resolves to nothing"))?;
            let s =
                std::net::TcpStream::connect_timeout(&sa, cfg.timeout.min(Duration::from_secs(10)))
                    .with_context(|| format!("connecting to showq at {addr}"))?;
            let s = DeadlineReader::new(s, cfg.timeout);
            aggregate_reader(s, None, now, &cfg.shape, cfg.max_value_bytes)
        }
        QueueSource::Command(argv) => {
            let (prog, args) = argv.split_first().context("empty queue command")?;
            let mut child = std::process::Command::new(prog)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("running {}", argv.join(" ")))?;
            let stdout = child.stdout.take().context("command stdout")?;
            let watchdog = KillAfter::arm(&child, cfg.timeout);
            let walk = aggregate_reader(stdout, None, now, &cfg.shape, cfg.max_value_bytes);
            let out = child.wait_with_output()?;
            if watchdog.fired() {
                bail!(
                    "{} did not finish within {:.1} s and was killed",
                    argv.join(" "),
                    cfg.timeout.as_secs_f64()
                );
            }
            drop(watchdog);
            if !out.status.success() {
                return Err(common::command::exit_error(argv, out.status, &out.stderr));
            }
            walk
        }
        QueueSource::File(path) => {
            let f =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            aggregate_reader(f, None, now, &cfg.shape, cfg.max_value_bytes)
        }
        // A one-off walk has no earlier walk to reuse: every file is read.
        QueueSource::Spool(dir) => walk_spool(&mut SpoolWalker::new(), dir, true, now, &cfg.shape),
    }
}

/// The queue walk, run by the background refresh loop only (so concurrent scrapes share
/// one walk).
pub struct Walker {
    cfg: QueueConfig,
    /// One showq connection at a time, even when a scrape triggers a refresh. The guard
    /// moves into the blocking walk, so a timed-out walk still holds it until it ends.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The spool source's cache, kept from one walk to the next.
    spool: Arc<Mutex<SpoolState>>,
}

/// The spool walker and how many walks it made (for the every-Nth full walk).
#[derive(Default)]
struct SpoolState {
    walker: SpoolWalker,
    walks: u64,
}

impl SpoolState {
    /// One walk; the first and every `cfg.spool_full_walk_every`th re-read every file.
    fn walk(&mut self, dir: &Path, cfg: &QueueConfig) -> anyhow::Result<Walk> {
        let every = u64::from(cfg.spool_full_walk_every);
        let full = every > 0 && self.walks.is_multiple_of(every);
        self.walks += 1;
        walk_spool(&mut self.walker, dir, full, SystemTime::now(), &cfg.shape)
    }
}

impl Walker {
    /// A walker for `cfg`.
    pub fn new(cfg: QueueConfig) -> Self {
        Self {
            cfg,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            spool: Arc::new(Mutex::new(SpoolState::default())),
        }
    }
}

#[async_trait]
impl Collector for Walker {
    async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let guard = Arc::clone(&self.lock).lock_owned().await;
        let cfg = self.cfg.clone();
        let spool = Arc::clone(&self.spool);
        let start = Instant::now();
        let walk = tokio::task::spawn_blocking(move || {
            let w = match &cfg.source {
                QueueSource::Spool(dir) => {
                    let mut st = spool.lock().unwrap_or_else(|poisoned| {
                        // A walk that panicked may have left the cache half-updated: start over.
                        let mut st = poisoned.into_inner();
                        st.walker.clear();
                        st
                    });
                    st.walk(dir, &cfg)
                }
                _ => walk_blocking(&cfg),
            };
            drop(guard);
            w
        })
        .await
        .context("queue walk task")??;
        let mut m = walk.aggregator.into_metrics();
        m.gauge(
            "postfix_queue_walk_messages",
            "Messages read in the last complete queue walk",
            vec![],
            walk.messages as f64,
        );
        m.gauge(
            "postfix_queue_walk_skipped_records",
            "Records or lines of the last queue walk that could not be used",
            vec![],
            walk.skipped as f64,
        );
        m.gauge(
            "postfix_queue_walk_truncated_values",
            "showq attribute values of the last queue walk cut at --collector.queue.max-value-bytes",
            vec![],
            walk.truncated as f64,
        );
        if let Some(s) = walk.spool {
            m.gauge(
                "postfix_queue_spool_files_read",
                "Queue files (with their defer logs) read in the last spool walk: new or changed since the walk before",
                vec![],
                s.files_read as f64,
            );
            m.gauge(
                "postfix_queue_spool_files_reused",
                "Queue files of the last spool walk whose cached summary was used, unchanged since the walk before",
                vec![],
                s.files_reused as f64,
            );
        }
        tracing::debug!(messages = walk.messages, seconds = start.elapsed().as_secs_f64(), source = %self.cfg.source, "queue walk done");
        Ok(m)
    }
}

/// `postfix_up` and the queue's staleness and timing gauges, all from the one status of
/// the background collection (the runner adds `postfix_scrape_collector_*` from the same).
pub fn status_metrics(st: &Status) -> MetricSet {
    let mut m = MetricSet::new();
    m.gauge(
        "postfix_up",
        "Whether the last queue collection from the Postfix source succeeded",
        vec![],
        if st.ok { 1.0 } else { 0.0 },
    );
    m.gauge(
        "postfix_queue_snapshot_stale",
        "1 when the last queue collection failed and the previous snapshot is served",
        vec![],
        if st.stale { 1.0 } else { 0.0 },
    );
    m.gauge(
        "postfix_queue_collection_duration_seconds",
        "Duration of the last queue collection",
        vec![],
        st.last_duration,
    );
    m.gauge(
        "postfix_queue_last_collection_timestamp_seconds",
        "Unix time of the last successful queue collection (0 before the first)",
        vec![],
        st.last_success.map_or(0.0, unix_secs),
    );
    m
}

impl QueueSource {
    /// A short, bounded label value for the source kind.
    pub fn kind(&self) -> &'static str {
        match self {
            QueueSource::ShowqUnix(_) => "showq_unix",
            QueueSource::ShowqTcp(_) => "showq_tcp",
            QueueSource::Command(_) => "command",
            QueueSource::File(_) => "file",
            QueueSource::Spool(_) => "spool",
        }
    }
}
