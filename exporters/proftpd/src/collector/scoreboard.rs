//! The `scoreboard` collector: live sessions by protocol and state, and whether the daemon
//! runs, from `ftpwho -o json` on ProFTPd's scoreboard file (shared with a sidecar through
//! a volume), or, where no ftpwho can run (a sidecar image holds only the exporter), from
//! ProFTPd's process titles in procfs (a shared process namespace).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::logging::FailureLog;
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::scoreboard::parse;

/// The `scoreboard` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<ScoreboardArgs> = Spec {
    name: "scoreboard",
    default_enabled: true,
    help: "live sessions by protocol and state, and proftpd_up, from the scoreboard (ftpwho -o json) or ProFTPd's process titles",
    build,
};

/// Flags of the `scoreboard` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct ScoreboardArgs {
    /// ProFTPd's ScoreboardFile.
    #[arg(long = "proftpd.scoreboard", default_value = "/run/proftpd.scoreboard")]
    pub scoreboard: PathBuf,
    /// The ftpwho to run (the one of the same ProFTPd version: the file's layout changes).
    #[arg(long = "collector.scoreboard.ftpwho", default_value = "ftpwho")]
    pub ftpwho: String,
    /// Where sessions are read: `ftpwho`, `proctitle` (process titles under --path.procfs;
    /// in a pod, shareProcessNamespace), or `auto`: ftpwho when it is found at start, else
    /// the titles.
    #[arg(long = "collector.scoreboard.source", value_enum, default_value_t = SessionSource::Auto)]
    pub source: SessionSource,
    /// ProFTPd's PidFile, which scopes the process titles to one daemon and its sessions;
    /// when it cannot be read, every ProFTPd process counts.
    #[arg(long = "proftpd.pidfile", default_value = "/run/proftpd.pid")]
    pub pidfile: PathBuf,
}

/// Where the `scoreboard` collector reads sessions.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionSource {
    /// ftpwho when it is found at start, else the process titles.
    #[default]
    Auto,
    /// `ftpwho -o json` on the scoreboard file.
    Ftpwho,
    /// ProFTPd's process titles in procfs.
    Proctitle,
}

/// How the collector reads.
#[derive(Debug)]
enum Reader {
    Ftpwho(Vec<String>),
    Titles { procfs: PathBuf, pidfile: PathBuf },
}

/// The collector.
#[derive(Debug)]
pub struct ScoreboardCollector {
    reader: Reader,
    failures: FailureLog,
}

fn build(args: ScoreboardArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let mut argv = common::command::split(&args.ftpwho).context("--collector.scoreboard.ftpwho")?;
    argv.extend(["-o".into(), "json".into(), "-f".into()]);
    argv.push(args.scoreboard.display().to_string());
    let use_ftpwho = match args.source {
        SessionSource::Ftpwho => true,
        SessionSource::Proctitle => false,
        SessionSource::Auto => argv.first().is_some_and(|p| common::command::runnable(p)),
    };
    let reader = if use_ftpwho {
        tracing::info!(command = %argv.join(" "), "scoreboard collector enabled");
        Reader::Ftpwho(argv)
    } else {
        tracing::info!(procfs = %setup.procfs().display(), pidfile = %args.pidfile.display(), ftpwho = %args.ftpwho, "scoreboard collector reads ProFTPd's process titles (no ftpwho found, or --collector.scoreboard.source=proctitle)");
        Reader::Titles {
            procfs: setup.procfs().to_path_buf(),
            pidfile: args.pidfile,
        }
    };
    setup.add(Arc::new(ScoreboardCollector {
        reader,
        failures: FailureLog::new(),
    }));
    Ok(())
}

/// What either source says: whether the daemon runs, when it started, and its sessions.
#[derive(Debug, Default)]
struct Seen {
    up: bool,
    started: Option<f64>,
    sessions: BTreeMap<(&'static str, &'static str), u64>,
}

/// Sessions and the daemon from the process titles under `procfs`: the children of the
/// PidFile's daemon, or every ProFTPd process when there is no PidFile to read.
fn from_titles(procfs: &Path, pidfile: &Path) -> anyhow::Result<Seen> {
    use crate::proctitle::{Title, classify};
    let procs = common::process::command_lines(procfs)
        .with_context(|| format!("cannot list the processes of {}", procfs.display()))?;
    if procs.is_empty() {
        anyhow::bail!(
            "{} shows no process but the exporter: no shared process namespace (in a pod: shareProcessNamespace: true)",
            procfs.display()
        );
    }
    // A PidFile that cannot be read or holds no number scopes nothing.
    let master: Option<u32> = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    let mut seen = Seen::default();
    for (pid, title) in procs
        .iter()
        .filter_map(|(pid, t)| classify(t).map(|c| (*pid, c)))
    {
        let state = match master {
            Some(m) if pid == m => {
                seen.up = true;
                continue;
            }
            Some(m) if common::process::parent_pid(procfs, pid) != Some(m) => continue,
            // Without a PidFile the title tells the daemon from a session.
            None if matches!(title, Title::Master | Title::Unknown) => {
                seen.up = true;
                continue;
            }
            _ => match title {
                Title::Session(s) => s,
                Title::Master | Title::Unknown => "other",
            },
        };
        *seen.sessions.entry(("ftp", state)).or_default() += 1;
    }
    // Sessions whose daemon is gone (a stale PidFile) are not counted as its sessions.
    if !seen.up {
        seen.sessions.clear();
    }
    Ok(seen)
}

/// The label values always exported, at 0 when no session is in that state.
const STATES: [&str; 5] = [
    "idle",
    "authenticating",
    "uploading",
    "downloading",
    "other",
];

#[async_trait]
impl Collector for ScoreboardCollector {
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let (what, read) = match &self.reader {
            Reader::Ftpwho(argv) => ("the ProFTPd scoreboard", self.ftpwho(argv, ctx).await),
            Reader::Titles { procfs, pidfile } => {
                ("ProFTPd's process titles", from_titles(procfs, pidfile))
            }
        };
        let mut m = MetricSet::new();
        let up_help = "1 when the scoreboard (or the process titles) shows a running ProFTPd";
        let seen = match read {
            Ok(s) => {
                self.failures.ok(what);
                s
            }
            Err(e) => {
                self.failures.failed(what, &format!("{e:#}"));
                m.gauge("proftpd_up", up_help, vec![], 0.0);
                m.set_failed(true);
                return Ok(m);
            }
        };
        m.gauge(
            "proftpd_up",
            up_help,
            vec![],
            if seen.up { 1.0 } else { 0.0 },
        );
        if let Some(t) = seen.started {
            m.gauge(
                "proftpd_server_start_time_seconds",
                "Unix time the ProFTPd daemon started (from the scoreboard)",
                vec![],
                t,
            );
        }
        let mut counts = seen.sessions;
        for s in STATES {
            counts.entry(("ftp", s)).or_insert(0);
        }
        for ((protocol, state), n) in counts {
            m.gauge(
                "proftpd_sessions",
                "Sessions in the scoreboard by protocol and state (idle, authenticating, uploading, downloading, other)",
                labels(&[("protocol", protocol), ("state", state)]),
                n as f64,
            );
        }
        Ok(m)
    }
}

impl ScoreboardCollector {
    async fn ftpwho(&self, argv: &[String], ctx: &CollectContext) -> anyhow::Result<Seen> {
        let out = common::command::output(argv, ctx.timeout).await?;
        let board = parse(&String::from_utf8_lossy(&out))
            .with_context(|| format!("{}: not ftpwho's JSON", argv.join(" ")))?;
        let mut seen = Seen {
            up: board.server.as_ref().is_some_and(|s| s.pid > 0),
            ..Seen::default()
        };
        seen.started = board
            .server
            .as_ref()
            .filter(|s| s.started_ms > 0)
            .map(|s| s.started_ms as f64 / 1000.0);
        for c in &board.connections {
            *seen.sessions.entry((c.protocol(), c.state())).or_default() += 1;
        }
        Ok(seen)
    }
}
