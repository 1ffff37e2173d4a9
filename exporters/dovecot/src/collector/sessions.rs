//! The `sessions` collector: logged-in sessions and users per protocol, from anvil's
//! `CONNECT-DUMP` (the conversation `doveadm who` has) or from `doveadm who` run as a
//! command, read at scrape time.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::logging::FailureLog;
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::sessions::{
    AnvilVersion, ListingError, SessionCounts, SessionLine, anvil_dump, parse_connect_dump,
    parse_who,
};
use crate::wire::Address;

/// The `sessions` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<SessionsArgs> = Spec {
    name: "sessions",
    default_enabled: true,
    help: "logged-in sessions and users per protocol from anvil (as doveadm who) or doveadm who",
    build,
};

/// Where the listing comes from.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionsSourceKind {
    /// Anvil's socket at `--dovecot.anvil.address`.
    Anvil,
    /// A command printing `doveadm who` output (grouped or `-1`).
    Command,
}

/// Flags of the `sessions` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct SessionsArgs {
    /// Anvil's socket (`$base_dir/anvil`; mode 0600 root by default: give the exporter's
    /// user access with `service anvil { unix_listener anvil { user, group, mode } }`).
    #[arg(long = "dovecot.anvil.address", default_value = "/run/dovecot/anvil")]
    pub anvil_address: String,
    /// Anvil protocol: 2.3 or 2.4.
    #[arg(long = "dovecot.anvil.version", value_enum, default_value = "2.3")]
    pub anvil_version: AnvilVersion,
    /// Where the listing comes from.
    #[arg(
        long = "collector.sessions.source",
        value_enum,
        default_value = "anvil"
    )]
    pub sessions_source: SessionsSourceKind,
    /// Command for --collector.sessions.source=command (split on white space).
    #[arg(long = "collector.sessions.command", default_value = "doveadm who")]
    pub sessions_command: String,
}

/// The protocols always exported, at 0 when nobody is logged in: the ones every install
/// serves. Others appear once seen and then stay.
const BASE_PROTOCOLS: [&str; 2] = ["imap", "pop3"];

#[derive(Debug)]
enum Source {
    Anvil(Address, AnvilVersion),
    Command(Vec<String>),
}

/// The collector.
#[derive(Debug)]
pub struct SessionsCollector {
    source: Source,
    seen: Mutex<BTreeSet<String>>,
    failures: FailureLog,
}

fn build(args: SessionsArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let source = match args.sessions_source {
        SessionsSourceKind::Anvil => {
            let addr: Address = args.anvil_address.parse().unwrap_or_else(|e| match e {});
            Source::Anvil(addr, args.anvil_version)
        }
        SessionsSourceKind::Command => Source::Command(
            common::command::split(&args.sessions_command)
                .context("--collector.sessions.command")?,
        ),
    };
    tracing::info!(source = ?source, "sessions collector enabled");
    setup.add(Arc::new(SessionsCollector {
        source,
        seen: Mutex::new(BASE_PROTOCOLS.iter().map(|p| p.to_string()).collect()),
        failures: FailureLog::new(),
    }));
    Ok(())
}

impl SessionsCollector {
    async fn read(
        &self,
        ctx: &CollectContext,
    ) -> anyhow::Result<(Vec<SessionLine>, Vec<ListingError>)> {
        match &self.source {
            Source::Anvil(addr, version) => {
                let (addr, version, timeout) = (addr.clone(), *version, ctx.timeout);
                let text = tokio::task::spawn_blocking(move || anvil_dump(&addr, version, timeout))
                    .await??;
                Ok(parse_connect_dump(&text))
            }
            Source::Command(argv) => {
                let out = common::command::output(argv, ctx.timeout).await?;
                parse_who(&String::from_utf8_lossy(&out))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", argv.join(" ")))
            }
        }
    }
}

#[async_trait]
impl Collector for SessionsCollector {
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let what = "Dovecot's session listing";
        let (lines, errors) = match self.read(ctx).await {
            Ok(v) => v,
            Err(e) => {
                self.failures.failed(what, &format!("{e:#}"));
                return Err(e);
            }
        };
        self.failures.ok(what);
        if let Some(e) = errors.first() {
            tracing::debug!(lines = errors.len(), first = %e, "unreadable session listing lines skipped");
        }
        let counts = SessionCounts::of(&lines);
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.extend(counts.by_protocol.keys().cloned());
        let mut m = MetricSet::new();
        for p in seen.iter() {
            let (sessions, users) = counts.by_protocol.get(p).copied().unwrap_or((0, 0));
            m.gauge(
                "dovecot_sessions",
                "Logged-in sessions (connections past authentication) by protocol",
                labels(&[("protocol", p)]),
                sessions as f64,
            );
            m.gauge(
                "dovecot_users",
                "Distinct users with a logged-in session, by protocol",
                labels(&[("protocol", p)]),
                users as f64,
            );
        }
        m.gauge(
            "dovecot_unique_users",
            "Distinct users with a logged-in session over all protocols",
            vec![],
            counts.users as f64,
        );
        m.gauge(
            "dovecot_sessions_unreadable_lines",
            "Lines of the last session listing that could not be read and were skipped",
            vec![],
            errors.len() as f64,
        );
        Ok(m)
    }
}
