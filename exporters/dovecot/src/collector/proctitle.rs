//! The `proctitle` collector: Dovecot's processes per service and the numbers in their
//! titles (`verbose_proctitle = yes`): connections per service, auth requests in flight,
//! login clients by state, the director's users, moving users and request rates. Needs the
//! Dovecot processes in view: the same host, or `shareProcessNamespace` in a pod.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::proctitle::parse_titles;

/// The `proctitle` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<ProctitleArgs> = Spec {
    name: "proctitle",
    default_enabled: false,
    help: "processes per Dovecot service and the counters in their titles (verbose_proctitle) from procfs",
    build,
};

/// Flags of the `proctitle` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct ProctitleArgs {
    /// Dovecot's `instance_name`: titles are `dovecot/…` for the default (`dovecot`) and
    /// `dovecot-<instance_name>/…` otherwise.
    #[arg(long = "dovecot.instance-name", default_value = "dovecot")]
    pub instance_name: String,
}

/// The collector.
#[derive(Debug)]
pub struct ProctitleCollector {
    procfs: PathBuf,
    instance: String,
}

fn build(args: ProctitleArgs, setup: &mut Setup) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.instance_name.is_empty() && !args.instance_name.contains('/'),
        "--dovecot.instance-name must be a name (no '/')"
    );
    tracing::info!(procfs = %setup.procfs().display(), instance = %args.instance_name, "proctitle collector enabled");
    setup.add(Arc::new(ProctitleCollector {
        procfs: setup.procfs().to_path_buf(),
        instance: args.instance_name,
    }));
    Ok(())
}

#[async_trait]
impl Collector for ProctitleCollector {
    async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let root = self.procfs.clone();
        let lines =
            tokio::task::spawn_blocking(move || common::process::command_lines(&root)).await??;
        let t = parse_titles(lines.iter().map(|(_, l)| l.as_str()), &self.instance);
        let mut m = MetricSet::new();
        for (svc, n) in &t.processes {
            m.gauge(
                "dovecot_processes",
                "Dovecot processes per service, from their titles",
                labels(&[("service", svc)]),
                *n as f64,
            );
        }
        for (svc, n) in &t.connections {
            m.gauge(
                "dovecot_process_connections",
                "Connections the service's processes show in their titles ([N connections])",
                labels(&[("service", svc)]),
                *n as f64,
            );
        }
        for (state, n) in &t.auth {
            m.gauge(
                "dovecot_process_auth_requests",
                "Auth requests in flight shown in the auth process title, by state (wait, passdb, userdb)",
                labels(&[("state", state)]),
                *n as f64,
            );
        }
        for ((proto, state), n) in &t.login {
            m.gauge(
                "dovecot_process_login_clients",
                "Clients of the login processes by protocol and state (pre_login, proxy, tls_proxy, other), from their titles",
                labels(&[("protocol", proto), ("state", state)]),
                *n as f64,
            );
        }
        if let Some(d) = t.director {
            for (name, help, v) in [
                (
                    "dovecot_process_director_users",
                    "Users in the director's table (its title)",
                    d.users,
                ),
                (
                    "dovecot_process_director_delayed_users",
                    "Users whose login the director delays (its title)",
                    d.delayed,
                ),
                (
                    "dovecot_process_director_moving_users",
                    "Users the director is moving between backends (its title)",
                    d.moving,
                ),
                (
                    "dovecot_process_director_kicking_users",
                    "Users the director is kicking (its title)",
                    d.kicking,
                ),
            ] {
                m.gauge(name, help, vec![], v);
            }
            for (source, v) in [("login", d.login_requests), ("ring", d.ring_requests)] {
                m.gauge(
                    "dovecot_process_director_requests_per_second",
                    "Requests per second the director's title shows, from logins and from the ring",
                    labels(&[("source", source)]),
                    v,
                );
            }
        }
        m.gauge(
            "dovecot_process_unreadable_titles",
            "Dovecot process titles whose bracket text could not be read",
            vec![],
            t.unreadable as f64,
        );
        Ok(m)
    }
}
