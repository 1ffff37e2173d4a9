//! The `scoreboard` collector: live sessions by protocol and state, and whether the daemon
//! runs, from `ftpwho -o json` on ProFTPd's scoreboard file (shared with a sidecar through
//! a volume).

use std::path::PathBuf;
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
    help: "live sessions by protocol and state, and proftpd_up, from the scoreboard (ftpwho -o json)",
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
}

/// The collector.
#[derive(Debug)]
pub struct ScoreboardCollector {
    argv: Vec<String>,
    failures: FailureLog,
}

fn build(args: ScoreboardArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let mut argv = common::command::split(&args.ftpwho).context("--collector.scoreboard.ftpwho")?;
    argv.extend(["-o".into(), "json".into(), "-f".into()]);
    argv.push(args.scoreboard.display().to_string());
    tracing::info!(command = %argv.join(" "), "scoreboard collector enabled");
    setup.add(Arc::new(ScoreboardCollector {
        argv,
        failures: FailureLog::new(),
    }));
    Ok(())
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
        let what = "the ProFTPd scoreboard";
        let read = async {
            let out = common::command::output(&self.argv, ctx.timeout).await?;
            parse(&String::from_utf8_lossy(&out))
                .with_context(|| format!("{}: not ftpwho's JSON", self.argv.join(" ")))
        };
        let mut m = MetricSet::new();
        let board = match read.await {
            Ok(b) => {
                self.failures.ok(what);
                b
            }
            Err(e) => {
                self.failures.failed(what, &format!("{e:#}"));
                m.gauge(
                    "proftpd_up",
                    "1 when the scoreboard shows a running ProFTPd",
                    vec![],
                    0.0,
                );
                m.set_failed(true);
                return Ok(m);
            }
        };
        let up = board.server.as_ref().is_some_and(|s| s.pid > 0);
        m.gauge(
            "proftpd_up",
            "1 when the scoreboard shows a running ProFTPd",
            vec![],
            if up { 1.0 } else { 0.0 },
        );
        if let Some(s) = board.server.as_ref().filter(|s| s.started_ms > 0) {
            m.gauge(
                "proftpd_server_start_time_seconds",
                "Unix time the ProFTPd daemon started (from the scoreboard)",
                vec![],
                s.started_ms as f64 / 1000.0,
            );
        }
        let mut counts: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        for s in STATES {
            counts.insert(("ftp", s), 0);
        }
        for c in &board.connections {
            *counts.entry((c.protocol(), c.state())).or_default() += 1;
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
