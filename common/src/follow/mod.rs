//! Log following: files across rotation (rename-and-recreate, copytruncate), FIFOs,
//! stdin, and syslog reception over UDP and unix datagram sockets.
//!
//! [`spawn`] starts one follower on its own thread. The thread reads with plain
//! blocking I/O and calls the [`LineHandler`] directly for every line, without a
//! channel in between, because the handler is the hot path of every log-driven
//! exporter. Metric families live in one [`FollowMetrics`] per exporter; each source
//! gets its [`SourceMetrics`] (label `source`).
//!
//! # Sources
//!
//! - **File** ([`Source::File`]): starts at the end unless `from_beginning`; a file
//!   that does not exist yet is waited for (polled every
//!   [`FollowOptions::poll_interval`]) and read from its beginning once it appears.
//!   At end of file the follower looks at what the path names now:
//!   - another file (rename-and-recreate rotation, `postfix logrotate`, logrotate's
//!     `create`): the old descriptor is read to its end, then the new file is read
//!     from its beginning: nothing lost, nothing counted twice. Rotations are seen
//!     at most once per poll: a file rotated away twice within one poll interval is
//!     skipped (rotations are hours apart in practice);
//!   - the same file, shorter than the read offset (logrotate `copytruncate`): what
//!     was written after our last read and before logrotate's copy is only in the
//!     copy, so the newest file matching [`FollowOptions::rotated_copies`]
//!     (`<path>.1`, `<path>-*`) whose bytes before our offset are the ones we read
//!     last is read from our offset to its end; then the truncated file is read from 0.
//!     No copy found is counted (`_log_truncations_unrecovered_total`). What remains
//!     inherent: lines written between logrotate's copy and its truncate are in
//!     neither file; a copy compressed before we look (`compress` without
//!     `delaycompress`) cannot be read; and a writer that appends more than the old
//!     offset before the next poll hides the truncation. Prefer rename rotation;
//!   - nothing (deleted, or renamed with no new file yet): the open descriptor keeps
//!     being drained (a writer may still append to it) until a new file appears.
//! - **FIFO** ([`Source::Fifo`]): opened read-write when the exporter may write to it,
//!   so a reader always exists: a writer opening with `O_NONBLOCK` (ProFTPd) never
//!   fails with `ENXIO`, and there is no reopen window when a writer closes. Without
//!   write permission it is opened read-only (then such a writer can fail while no
//!   reader is there: give the exporter write permission). Reads do not block: while
//!   the FIFO is empty the follower looks at the path every poll, and when the path
//!   names another FIFO (deleted and created again) it drains the old one and opens
//!   the new. The FIFO must already exist (created with `mkfifo`); a missing path is
//!   waited for.
//! - **Stdin** ([`Source::Stdin`]): read to end of file.
//! - **Syslog** ([`Source::SyslogUdp`], [`Source::SyslogUnix`]): each datagram is a
//!   message; `\n`-separated parts are separate lines, trailing `\0` is removed, and
//!   the text is passed on with its `<PRI>` ([`crate::logline::parse`] handles it).
//!   A unix socket path left over from a previous run is removed before binding, and
//!   the socket is made writable by everyone (mode 0666) so the mail daemons, which
//!   run as other users, can log to it. Bind errors are returned by [`spawn`].
//!
//! Every source cuts lines longer than [`FollowOptions::max_line_bytes`] (the first
//! bytes are delivered once, the rest up to the newline discarded and counted in
//! `_log_lines_truncated_total`), so memory is bounded whatever the input. Invalid
//! UTF-8 is replaced lossily, a trailing `\r` is removed and empty lines are skipped.

mod file;
mod lines;
mod pipe;
mod socket;
mod tee;

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use lines::LineReader;

mod args;
pub use args::{FollowArgs, ReadArgs};
pub use tee::TeeTarget;

/// What a handler made of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// A parser recognised the line.
    Recognised,
    /// No parser recognised it; counted in `<ns>_log_lines_unsupported_total{<label>=value}`.
    Unsupported(String),
    /// The handler accounted for the line itself (e.g. a foreign program's line).
    Handled,
}

/// Receives every complete line from a follower.
pub trait LineHandler: Send + Sync + 'static {
    /// Called once per line, without the line terminator; invalid UTF-8 is replaced lossily.
    fn handle_line(&self, line: &str) -> LineOutcome;

    /// Called after each read's lines (at most one read buffer or datagram), on the
    /// follower's thread, before the read's lines are counted: a handler that batches its
    /// metric updates per thread (see [`crate::batch`]) publishes them here, so a scrape
    /// that sees a line counted sees its metrics too.
    fn flush(&self) {}
}

/// Where log lines come from.
///
/// Parsed from a string by [`FromStr`]: `/path` or `file:/path` (a file, followed
/// from its end), `fifo:/path`, `-` or `stdin`, `udp://127.0.0.1:5514` or
/// `udp://[::1]:5514`, `unixgram:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A regular file, followed across rotation.
    File {
        /// Path of the file (the name logrotate and Postfix write to).
        path: PathBuf,
        /// Read the existing content first instead of starting at the end.
        from_beginning: bool,
    },
    /// A named pipe.
    Fifo(PathBuf),
    /// The standard input of the process.
    Stdin,
    /// Syslog datagrams received on a UDP address.
    SyslogUdp(SocketAddr),
    /// Syslog datagrams received on a unix datagram socket (like `/dev/log`).
    SyslogUnix(PathBuf),
}

/// Why a source string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid log source {0:?}: expected /path, file:PATH, fifo:PATH, -, stdin, udp://HOST:PORT or unixgram:PATH"
)]
pub struct SourceParseError(String);

impl FromStr for Source {
    type Err = SourceParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SourceParseError(s.to_string());
        let nonempty = |p: &str| {
            if p.is_empty() {
                Err(err())
            } else {
                Ok(PathBuf::from(p))
            }
        };
        if s == "-" || s == "stdin" {
            Ok(Source::Stdin)
        } else if let Some(p) = s.strip_prefix("file:") {
            Ok(Source::File {
                path: nonempty(p)?,
                from_beginning: false,
            })
        } else if let Some(p) = s.strip_prefix("fifo:") {
            Ok(Source::Fifo(nonempty(p)?))
        } else if let Some(p) = s.strip_prefix("unixgram:") {
            Ok(Source::SyslogUnix(nonempty(p)?))
        } else if let Some(a) = s.strip_prefix("udp://") {
            a.parse().map(Source::SyslogUdp).map_err(|_| err())
        } else if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
            Ok(Source::File {
                path: PathBuf::from(s),
                from_beginning: false,
            })
        } else {
            Err(err())
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { path, .. } => write!(f, "file:{}", path.display()),
            Source::Fifo(p) => write!(f, "fifo:{}", p.display()),
            Source::Stdin => f.write_str("stdin"),
            Source::SyslogUdp(a) => write!(f, "udp://{a}"),
            Source::SyslogUnix(p) => write!(f, "unixgram:{}", p.display()),
        }
    }
}

/// Tuning of a follower.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Longest line delivered; longer lines are cut to this many bytes.
    pub max_line_bytes: usize,
    /// How often a file at its end, or a missing file, is looked at again.
    pub poll_interval: Duration,
    /// Log every unsupported line at info level instead of debug (`--log.unsupported`).
    pub log_unsupported: bool,
    /// Where logrotate's `copytruncate` leaves the copy, as patterns over the followed
    /// path: `{}` is the path, `*` (once, in the file name) any text. On truncation the
    /// rest of the old content is read from the newest matching copy.
    pub rotated_copies: Vec<String>,
    /// Copy every line read, unchanged, to this stream (`--collector.log.tee`).
    pub tee: Option<TeeTarget>,
}

/// The copies logrotate makes: `mail.log.1` (the default) and `mail.log-20261201`
/// (`dateext`).
pub const DEFAULT_ROTATED_COPIES: [&str; 2] = ["{}.1", "{}-*"];

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            max_line_bytes: 64 * 1024,
            poll_interval: Duration::from_millis(250),
            log_unsupported: false,
            rotated_copies: DEFAULT_ROTATED_COPIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            tee: None,
        }
    }
}

/// Distinct `Unsupported` values counted under their own label value per source;
/// further values are counted as `other`, so a handler echoing text from the log
/// cannot blow up the label cardinality.
pub const MAX_UNSUPPORTED_VALUES: usize = 64;

type SourceLabel = [(&'static str, String); 1];
type PairLabel = [(&'static str, String); 2];

/// The follower metric families of one exporter, shared by all its log sources.
///
/// Names, with `<ns>` the exporter namespace, each labelled `source` (the name the
/// exporter gives the source, e.g. the source string or `transferlog`):
/// `<ns>_log_lines_total` (every line read), `<ns>_log_lines_unsupported_total{source,<label>}`,
/// `<ns>_log_lines_truncated_total`, `<ns>_log_read_errors_total`,
/// `<ns>_log_rotations_total{source,kind="rename"|"truncate"}`, `<ns>_log_source_up`
/// (1 while the file is open or the socket bound) and
/// `<ns>_log_last_line_read_timestamp_seconds` (wall clock of the last read that gave
/// lines). Registered once per exporter, so several sources never register one family
/// twice; [`FollowMetrics::source`] hands out the per-source handles.
#[derive(Debug, Clone)]
pub struct FollowMetrics {
    namespace: String,
    label: &'static str,
    lines: Family<SourceLabel, Counter>,
    unsupported: Family<PairLabel, Counter>,
    truncated: Family<SourceLabel, Counter>,
    read_errors: Family<SourceLabel, Counter>,
    rotations: Family<PairLabel, Counter>,
    unrecovered: Family<SourceLabel, Counter>,
    source_up: Family<SourceLabel, Gauge>,
    last_line_timestamp: Family<SourceLabel, Gauge<f64, AtomicU64>>,
}

impl FollowMetrics {
    /// New families for namespace `namespace` (e.g. `postfix`); unsupported lines are
    /// labelled with `unsupported_label` (e.g. `daemon`) besides `source`.
    pub fn new(namespace: &str, unsupported_label: &'static str) -> Self {
        Self {
            namespace: namespace.to_string(),
            label: unsupported_label,
            lines: Family::default(),
            unsupported: Family::default(),
            truncated: Family::default(),
            read_errors: Family::default(),
            rotations: Family::default(),
            unrecovered: Family::default(),
            source_up: Family::default(),
            last_line_timestamp: Family::default(),
        }
    }

    /// The label name of unsupported lines besides `source`.
    pub fn unsupported_label(&self) -> &'static str {
        self.label
    }

    /// The handles of source `name`; its series exist (at 0) from this call on, so
    /// `increase()` sees the first event.
    pub fn source(&self, name: &str) -> SourceMetrics {
        let l = || [("source", name.to_string())];
        let kind = |k: &str| [("source", name.to_string()), ("kind", k.to_string())];
        SourceMetrics {
            name: name.to_string(),
            label: self.label,
            lines: self.lines.get_or_create_owned(&l()),
            unsupported: self.unsupported.clone(),
            truncated: self.truncated.get_or_create_owned(&l()),
            read_errors: self.read_errors.get_or_create_owned(&l()),
            rename: self.rotations.get_or_create_owned(&kind("rename")),
            truncate: self.rotations.get_or_create_owned(&kind("truncate")),
            unrecovered: self.unrecovered.get_or_create_owned(&l()),
            source_up: self.source_up.get_or_create_owned(&l()),
            last_line_timestamp: self.last_line_timestamp.get_or_create_owned(&l()),
        }
    }

    /// Registers all the families on `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let ns = &self.namespace;
        registry.register(
            format!("{ns}_log_lines"),
            "Log lines read",
            self.lines.clone(),
        );
        registry.register(
            format!("{ns}_log_lines_unsupported"),
            "Log lines that no parser recognised",
            self.unsupported.clone(),
        );
        registry.register(
            format!("{ns}_log_lines_truncated"),
            "Log lines longer than the maximum line length, cut",
            self.truncated.clone(),
        );
        registry.register(
            format!("{ns}_log_read_errors"),
            "Errors reading or opening the log source",
            self.read_errors.clone(),
        );
        registry.register(
            format!("{ns}_log_rotations"),
            "Log file rotations seen, by kind (rename or truncate)",
            self.rotations.clone(),
        );
        registry.register(
            format!("{ns}_log_truncations_unrecovered"),
            "Copytruncate rotations after which no rotated copy held the rest of the old content (lines may be lost)",
            self.unrecovered.clone(),
        );
        registry.register(
            format!("{ns}_log_source_up"),
            "1 while the log file is open or the syslog socket is bound",
            self.source_up.clone(),
        );
        registry.register(
            format!("{ns}_log_last_line_read_timestamp_seconds"),
            "Unix time at which the last log line was read",
            self.last_line_timestamp.clone(),
        );
    }
}

/// The metrics of one log source (cheap to clone: all clones share the values).
#[derive(Debug, Clone)]
pub struct SourceMetrics {
    name: String,
    label: &'static str,
    lines: Counter,
    unsupported: Family<PairLabel, Counter>,
    truncated: Counter,
    read_errors: Counter,
    rename: Counter,
    truncate: Counter,
    unrecovered: Counter,
    source_up: Gauge,
    last_line_timestamp: Gauge<f64, AtomicU64>,
}

impl SourceMetrics {
    /// The source's name (its `source` label value).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lines read so far.
    pub fn lines_total(&self) -> u64 {
        self.lines.get()
    }

    /// Unsupported lines counted under `value`.
    pub fn unsupported_total(&self, value: &str) -> u64 {
        self.unsupported
            .get(&[
                ("source", self.name.clone()),
                (self.label, value.to_string()),
            ])
            .map_or(0, |c| c.get())
    }

    /// Lines cut at the maximum length.
    pub fn truncated_total(&self) -> u64 {
        self.truncated.get()
    }

    /// Read and open errors.
    pub fn read_errors_total(&self) -> u64 {
        self.read_errors.get()
    }

    /// Rotations of `kind` (`rename` or `truncate`).
    pub fn rotations_total(&self, kind: &str) -> u64 {
        match kind {
            "rename" => self.rename.get(),
            "truncate" => self.truncate.get(),
            _ => 0,
        }
    }

    /// Truncations after which the rest of the old content was not found in a copy.
    pub fn truncations_unrecovered_total(&self) -> u64 {
        self.unrecovered.get()
    }

    /// Whether the source is open (1) or not (0).
    pub fn source_up(&self) -> i64 {
        self.source_up.get()
    }

    /// Unix time of the last read that gave lines, 0 before the first.
    pub fn last_line_read_timestamp(&self) -> f64 {
        self.last_line_timestamp.get()
    }

    fn unsupported_counter(&self, value: &str) -> Counter {
        self.unsupported.get_or_create_owned(&[
            ("source", self.name.clone()),
            (self.label, value.to_string()),
        ])
    }

    fn rotated(&self, kind: &str) {
        match kind {
            "rename" => self.rename.inc(),
            _ => self.truncate.inc(),
        };
    }
}

/// State shared between a follower thread and its handle.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    started: Mutex<bool>,
    cv: Condvar,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn set_started(&self) {
        *self.started.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_all();
    }

    /// Sleeps up to `d`, waking early on stop; returns whether to stop.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut guard = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.stopping() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = match self.cv.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        self.stopping()
    }
}

/// A running follower.
///
/// Dropping the handle leaves the follower running (like a detached thread); call
/// [`FollowHandle::stop`] to end it.
#[derive(Debug)]
pub struct FollowHandle {
    name: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    source: Source,
    local_addr: Option<SocketAddr>,
}

impl FollowHandle {
    /// The source's name (its `source` label value).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the follower is in place: the file opened (and positioned) or found
    /// missing and being waited for, the FIFO being opened, the socket bound.
    pub fn started(&self) -> bool {
        *self
            .shared
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until [`FollowHandle::started`] or `timeout`; returns whether it started.
    pub fn wait_started(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self
            .shared
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !*guard {
            let now = Instant::now();
            if now >= deadline || self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return *guard;
            }
            guard = match self.shared.cv.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }

    /// The bound address of a UDP syslog source (useful when port 0 was asked for).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Whether the follower thread has ended (stdin at end of file, or stopped).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the follower and waits (up to a few seconds) for its thread to end.
    ///
    /// Returns whether it ended; a follower blocked reading stdin cannot be interrupted.
    pub fn stop(mut self) -> bool {
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            let _guard = self
                .shared
                .started
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.cv.notify_all();
        }
        if let Source::Fifo(path) = &self.source {
            pipe::wake_fifo(path);
        }
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.join().is_ok()
    }
}

/// Starts following `source` on a new thread, calling `handler` for every line.
///
/// Errors: a syslog socket that cannot be bound (address in use, bad path), a unix
/// socket path that exists and is not a socket, a FIFO path that exists and is not
/// a FIFO, or a thread that cannot be created.
pub fn spawn(
    source: Source,
    handler: Arc<dyn LineHandler>,
    metrics: SourceMetrics,
    opts: FollowOptions,
) -> std::io::Result<FollowHandle> {
    let shared = Arc::new(Shared::default());
    let name = metrics.name().to_string();
    let tee = opts
        .tee
        .map(|t| tee::Tee::new(t, metrics.name(), opts.max_line_bytes));
    let reader = LineReader::new(
        handler,
        metrics,
        opts.max_line_bytes,
        opts.log_unsupported,
        tee,
    );
    let poll = opts.poll_interval.max(Duration::from_millis(1));
    let ctx = Ctx {
        shared: shared.clone(),
        reader,
        poll,
    };
    let builder = std::thread::Builder::new();
    let mut local_addr = None;
    let thread = match &source {
        Source::File {
            path,
            from_beginning,
        } => {
            let (path, from_beginning) = (path.clone(), *from_beginning);
            let copies = opts.rotated_copies.clone();
            builder
                .name("follow-file".into())
                .spawn(move || file::run(&path, from_beginning, &copies, ctx))?
        }
        Source::Fifo(path) => {
            if let Ok(m) = std::fs::metadata(path)
                && !m.file_type().is_fifo()
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} exists and is not a FIFO", path.display()),
                ));
            }
            let path = path.clone();
            builder
                .name("follow-fifo".into())
                .spawn(move || pipe::run_fifo(&path, ctx))?
        }
        Source::Stdin => builder
            .name("follow-stdin".into())
            .spawn(move || pipe::run_stdin(ctx))?,
        Source::SyslogUdp(addr) => {
            let sock = socket::bind_udp(*addr, poll)?;
            local_addr = sock.local_addr().ok();
            ctx.reader.metrics().source_up.set(1);
            shared.set_started();
            builder
                .name("follow-udp".into())
                .spawn(move || socket::run_udp(sock, ctx))?
        }
        Source::SyslogUnix(path) => {
            let sock = socket::bind_unix(path, poll)?;
            ctx.reader.metrics().source_up.set(1);
            shared.set_started();
            let path = path.clone();
            builder
                .name("follow-unixgram".into())
                .spawn(move || socket::run_unix(sock, &path, ctx))?
        }
    };
    Ok(FollowHandle {
        name,
        shared,
        thread: Some(thread),
        source,
        local_addr,
    })
}

/// What every follower thread works with.
struct Ctx {
    shared: Arc<Shared>,
    reader: LineReader,
    poll: Duration,
}

impl Ctx {
    fn metrics(&self) -> &SourceMetrics {
        self.reader.metrics()
    }
}

/// Size of one read from a file or pipe: large enough that a fast writer is caught
/// up with in few system calls.
const READ_CHUNK: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        let f = |p: &str| Source::File {
            path: p.into(),
            from_beginning: false,
        };
        assert_eq!("/var/log/mail.log".parse(), Ok(f("/var/log/mail.log")));
        assert_eq!("file:/var/log/x".parse(), Ok(f("/var/log/x")));
        assert_eq!("file:rel/x".parse(), Ok(f("rel/x")));
        assert_eq!("./x".parse(), Ok(f("./x")));
        assert_eq!("fifo:/run/p".parse(), Ok(Source::Fifo("/run/p".into())));
        assert_eq!("-".parse(), Ok(Source::Stdin));
        assert_eq!("stdin".parse(), Ok(Source::Stdin));
        assert_eq!(
            "udp://127.0.0.1:5514".parse(),
            Ok(Source::SyslogUdp("127.0.0.1:5514".parse().unwrap()))
        );
        assert_eq!(
            "udp://[::1]:5514".parse(),
            Ok(Source::SyslogUdp("[::1]:5514".parse().unwrap()))
        );
        assert_eq!(
            "unixgram:/dev/log".parse(),
            Ok(Source::SyslogUnix("/dev/log".into()))
        );
        for bad in [
            "",
            "mail.log",
            "udp://localhost:514",
            "udp://1.2.3.4",
            "file:",
            "tcp://x:1",
        ] {
            assert!(bad.parse::<Source>().is_err(), "{bad}");
        }
        for s in [
            "file:/a",
            "fifo:/b",
            "stdin",
            "udp://[::1]:5",
            "unixgram:/c",
        ] {
            assert_eq!(s.parse::<Source>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn registers_metric_names_per_source() {
        let m = FollowMetrics::new("postfix", "daemon");
        let a = m.source("file:/var/log/mail.log");
        let b = m.source("udp://127.0.0.1:514");
        a.lines.inc();
        a.unsupported_counter("smtpd").inc();
        b.rotated("rename");
        let mut r = Registry::default();
        m.register(&mut r);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        for want in [
            "postfix_log_lines_total{source=\"file:/var/log/mail.log\"} 1\n",
            "postfix_log_lines_total{source=\"udp://127.0.0.1:514\"} 0\n",
            "postfix_log_lines_unsupported_total{source=\"file:/var/log/mail.log\",daemon=\"smtpd\"} 1\n",
            "postfix_log_lines_truncated_total{source=\"udp://127.0.0.1:514\"} 0\n",
            "postfix_log_read_errors_total{source=\"file:/var/log/mail.log\"} 0\n",
            "postfix_log_rotations_total{source=\"udp://127.0.0.1:514\",kind=\"rename\"} 1\n",
            "postfix_log_rotations_total{source=\"file:/var/log/mail.log\",kind=\"truncate\"} 0\n",
            "postfix_log_source_up{source=\"file:/var/log/mail.log\"} 0\n",
            "postfix_log_last_line_read_timestamp_seconds{source=\"udp://127.0.0.1:514\"} 0.0\n",
        ] {
            assert!(out.contains(want), "{want} not in {out}");
        }
        assert_eq!(a.unsupported_total("smtpd"), 1);
        assert_eq!(b.rotations_total("rename"), 1);
    }
}
