//! The `queue` collector: reads the queue listing from the showq service (unix socket
//! or TCP), from a command (`postqueue -j`, `mailq`) or from a file, aggregates it in
//! the background, and serves the last complete snapshot.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use async_trait::async_trait;
use common::MetricSet;
use common::runner::{Background, CollectContext, Collector};

use crate::parse::{QueuedMessage, mailq, postqueue_json, showq};
use crate::queue::{QueueAggregator, ShapeOptions};

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

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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
    let format = match format {
        Some(f) => f,
        None => ListingFormat::detect(reader.fill_buf().context("reading the queue listing")?),
    };
    let mut agg = QueueAggregator::new(unix_secs(now), shape.clone());
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
    })
}

/// Reads the whole listing once from `source` (blocking; run it off the async runtime).
pub fn walk_blocking(cfg: &QueueConfig) -> anyhow::Result<Walk> {
    let now = SystemTime::now();
    match &cfg.source {
        QueueSource::ShowqUnix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path)
                .with_context(|| format!("connecting to the showq socket {}", path.display()))?;
            s.set_read_timeout(Some(cfg.timeout))?;
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
            s.set_read_timeout(Some(cfg.timeout))?;
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
            let walk = aggregate_reader(stdout, None, now, &cfg.shape, cfg.max_value_bytes);
            let out = child.wait_with_output()?;
            if !out.status.success() {
                bail!(
                    "{} exited with {}: {}",
                    argv.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            walk
        }
        QueueSource::File(path) => {
            let f =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            aggregate_reader(f, None, now, &cfg.shape, cfg.max_value_bytes)
        }
        QueueSource::Spool(dir) => {
            let mut agg = QueueAggregator::new(unix_secs(now), cfg.shape.clone());
            let s = super::spool::walk(dir, &mut |m| agg.add(&m))
                .with_context(|| format!("reading the queue directory {}", dir.display()))?;
            Ok(Walk {
                aggregator: agg,
                messages: s.messages,
                skipped: s.skipped,
                truncated: 0,
            })
        }
    }
}

/// The inner, expensive collection run by the background task.
struct Walker {
    cfg: QueueConfig,
    /// One showq connection at a time, even when a scrape triggers a refresh. The guard
    /// moves into the blocking walk, so a timed-out walk still holds it until it ends.
    lock: Arc<tokio::sync::Mutex<()>>,
}

#[async_trait]
impl Collector for Walker {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let guard = Arc::clone(&self.lock).lock_owned().await;
        let cfg = self.cfg.clone();
        let start = Instant::now();
        let walk = tokio::task::spawn_blocking(move || {
            let w = walk_blocking(&cfg);
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
        tracing::debug!(messages = walk.messages, seconds = start.elapsed().as_secs_f64(), source = %self.cfg.source, "queue walk done");
        Ok(m)
    }
}

/// The scrape-time face of the queue collector: serves the background snapshot plus
/// `postfix_up`, collection duration and timestamp, and a staleness flag.
pub struct QueueCollector {
    bg: Arc<Background>,
    cfg: QueueConfig,
}

impl QueueCollector {
    /// Starts the background walk and returns the collector to register.
    pub fn spawn(cfg: QueueConfig) -> Arc<Self> {
        let walker = Arc::new(Walker {
            cfg: cfg.clone(),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        });
        let bg = Background::spawn(walker, cfg.interval, cfg.timeout);
        Arc::new(Self { bg, cfg })
    }

    /// The background task (for readiness checks).
    pub fn background(&self) -> Arc<Background> {
        Arc::clone(&self.bg)
    }
}

#[async_trait]
impl Collector for QueueCollector {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let (_, _, last_duration, last_success) = self.bg.current();
        let age = last_success.and_then(|t| SystemTime::now().duration_since(t).ok());
        let cheap = last_duration < self.cfg.on_demand_below.as_secs_f64();
        if cheap && age.is_some_and(|a| a >= self.cfg.on_demand_min_age) {
            // Small queues are walked at scrape time so the numbers are fresh; a deep queue
            // never is, because its last walk was not cheap.
            let _ = tokio::time::timeout(ctx.timeout, self.bg.refresh(self.cfg.timeout)).await;
        }
        let (snap, ok, duration, last_success) = self.bg.current();
        let mut m = MetricSet::new();
        // Before the first good walk the queue gauges are absent rather than falsely zero;
        // postfix_up 0 says why.
        if let Some(s) = snap {
            m.extend((*s).clone());
        }
        m.gauge(
            "postfix_up",
            "Whether the last queue collection from the Postfix source succeeded",
            vec![],
            if ok { 1.0 } else { 0.0 },
        );
        m.gauge(
            "postfix_queue_snapshot_stale",
            "1 when the last queue collection failed and the previous snapshot is served",
            vec![],
            if !ok && last_success.is_some() {
                1.0
            } else {
                0.0
            },
        );
        m.gauge(
            "postfix_queue_collection_duration_seconds",
            "Duration of the last queue collection",
            vec![],
            duration,
        );
        m.gauge(
            "postfix_queue_last_collection_timestamp_seconds",
            "Unix time of the last successful queue collection (0 before the first)",
            vec![],
            last_success.map_or(0.0, unix_secs),
        );
        m.set_failed(!ok);
        Ok(m)
    }
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
