//! The `oldstats` collector: Dovecot's old statistics (`EXPORT`, 2.2's `stats` and 2.3's
//! `old-stats`) under kumina/dovecot_exporter's names, so its flags and dashboards work
//! unchanged. Off by default; giving `--dovecot.socket-path` or `--dovecot.scopes` turns it
//! on, as it was kumina's only source.

use std::sync::Arc;

use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::logging::FailureLog;
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::oldstats::{Scope, export, parse_export};
use crate::wire::Address;

/// The `oldstats` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<OldStatsArgs> = Spec {
    name: "oldstats",
    default_enabled: false,
    help: "Dovecot's old statistics (EXPORT global|user|domain|ip|session|command) with kumina/dovecot_exporter's names; on when --dovecot.socket-path or --dovecot.scopes is given",
    build,
};

/// The flags that, given explicitly, turn the collector on (kumina's drop-in flags).
pub const ENABLING_FLAGS: [&str; 2] = ["oldstats_socket_path", "oldstats_scopes"];

/// Flags of the `oldstats` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct OldStatsArgs {
    /// The old stats socket (kumina compatible): a path (`$base_dir/stats` in 2.2,
    /// `$base_dir/old-stats` in 2.3) or HOST:PORT of an `inet_listener` of `service old-stats`.
    #[arg(long = "dovecot.socket-path", default_value = "/var/run/dovecot/stats")]
    pub oldstats_socket_path: String,
    /// Scopes to export (kumina compatible, comma-separated): global, user, domain, ip,
    /// session, command. Only global by default: the others make a series per key.
    #[arg(
        long = "dovecot.scopes",
        value_enum,
        value_delimiter = ',',
        default_value = "global"
    )]
    pub oldstats_scopes: Vec<Scope>,
    /// Most keys (users, domains, ...) exported per scope; the rest are dropped and counted.
    #[arg(long = "collector.oldstats.max-keys", default_value_t = 10_000)]
    pub oldstats_max_keys: usize,
}

/// The collector.
#[derive(Debug)]
pub struct OldStatsCollector {
    addr: Address,
    scopes: Vec<Scope>,
    max_keys: usize,
    failures: FailureLog,
}

fn build(args: OldStatsArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let mut scopes = args.oldstats_scopes;
    scopes.sort();
    scopes.dedup();
    anyhow::ensure!(!scopes.is_empty(), "--dovecot.scopes names no scope");
    let addr: Address = args
        .oldstats_socket_path
        .parse()
        .unwrap_or_else(|e| match e {});
    tracing::info!(address = %addr, scopes = ?scopes, "oldstats collector enabled");
    setup.add(Arc::new(OldStatsCollector {
        addr,
        scopes,
        max_keys: args.oldstats_max_keys,
        failures: FailureLog::new(),
    }));
    Ok(())
}

impl OldStatsCollector {
    /// One scope's series into `m`; an error if it could not be read.
    async fn scope(
        &self,
        scope: Scope,
        ctx: &CollectContext,
        m: &mut MetricSet,
    ) -> anyhow::Result<()> {
        let (addr, timeout) = (self.addr.clone(), ctx.timeout);
        let text = tokio::task::spawn_blocking(move || export(&addr, scope, timeout)).await??;
        let e = parse_export(scope, &text)
            .map_err(|e| anyhow::anyhow!("old-stats EXPORT {}: {e}", scope.as_str()))?;
        let name = scope.as_str();
        let help = format!("Dovecot old stats, scope {name}");
        let dropped = e.rows.len().saturating_sub(self.max_keys);
        for (key, values) in e.rows.iter().take(self.max_keys) {
            let l = if scope == Scope::Global {
                vec![]
            } else {
                // kumina's name for the key nobody logged in under.
                let k = if key.is_empty() { "empty_user" } else { key };
                labels(&[(name, k)])
            };
            for (col, v) in e.columns.iter().zip(values) {
                if let Some(v) = v {
                    m.gauge(&format!("dovecot_{name}_{col}"), &help, l.clone(), *v);
                }
            }
        }
        let sl = labels(&[("scope", name)]);
        m.gauge(
            "dovecot_oldstats_keys_dropped",
            "Keys of the last old-stats export left out by --collector.oldstats.max-keys",
            sl.clone(),
            dropped as f64,
        );
        m.gauge(
            "dovecot_oldstats_unreadable_cells",
            "Cells of the last old-stats export that should have been numbers and were not",
            sl,
            e.bad_cells as f64,
        );
        Ok(())
    }
}

#[async_trait]
impl Collector for OldStatsCollector {
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let mut m = MetricSet::new();
        let mut failed = None;
        for scope in &self.scopes {
            let mut part = MetricSet::new();
            let ok = match self.scope(*scope, ctx, &mut part).await {
                Ok(()) => {
                    m.extend(part);
                    true
                }
                Err(e) => {
                    failed = Some(format!("{e:#}"));
                    false
                }
            };
            m.gauge(
                "dovecot_up",
                "Whether the last read of this old-stats scope succeeded (kumina/dovecot_exporter's metric)",
                labels(&[("scope", scope.as_str())]),
                if ok { 1.0 } else { 0.0 },
            );
        }
        let what = "Dovecot's old statistics";
        match failed {
            Some(e) => {
                self.failures.failed(what, &e);
                m.set_failed(true);
            }
            None => {
                self.failures.ok(what);
            }
        }
        Ok(m)
    }
}
