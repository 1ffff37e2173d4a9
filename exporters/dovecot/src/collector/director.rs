//! The `director` collector: a Dovecot 2.3 director's backends (vhosts, assigned users,
//! up/down, tag) and ring (members, connections, sync and handshake state) from its
//! director-admin socket.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::logging::FailureLog;
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::director::{director_status, parse_hosts, parse_ring};
use crate::wire::Address;

/// The `director` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<DirectorArgs> = Spec {
    name: "director",
    default_enabled: false,
    help: "a director's backends and ring from its director-admin socket (Dovecot 2.3)",
    build,
};

/// Flags of the `director` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct DirectorArgs {
    /// The director-admin socket (`$base_dir/director-admin`, mode 0600 root by default:
    /// give the exporter's user access with `service director { unix_listener
    /// director-admin { … } }`).
    #[arg(
        long = "dovecot.director.address",
        default_value = "/run/dovecot/director-admin"
    )]
    pub director_address: String,
}

/// The collector.
#[derive(Debug)]
pub struct DirectorCollector {
    addr: Address,
    failures: FailureLog,
}

fn build(args: DirectorArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let addr: Address = args.director_address.parse().unwrap_or_else(|e| match e {});
    tracing::info!(address = %addr, "director collector enabled");
    setup.add(Arc::new(DirectorCollector {
        addr,
        failures: FailureLog::new(),
    }));
    Ok(())
}

fn bit(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[async_trait]
impl Collector for DirectorCollector {
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let what = "the director-admin socket";
        let (addr, timeout) = (self.addr.clone(), ctx.timeout);
        let status = match tokio::task::spawn_blocking(move || director_status(&addr, timeout))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r.map_err(anyhow::Error::from))
        {
            Ok(s) => s,
            Err(e) => {
                self.failures.failed(what, &format!("{e:#}"));
                return Err(e);
            }
        };
        self.failures.ok(what);
        let (hosts, host_errors) = parse_hosts(&status.hosts);
        let (ring, ring_errors) = parse_ring(&status.ring);
        let mut m = MetricSet::new();
        for b in &hosts {
            let l = labels(&[("backend", &b.ip), ("tag", &b.tag)]);
            m.gauge(
                "dovecot_director_backend_up",
                "1 when the director sends users to the backend, 0 when it is down",
                l.clone(),
                bit(b.up),
            );
            m.gauge(
                "dovecot_director_backend_vhosts",
                "The backend's vhost count: its weight in the user hash",
                l.clone(),
                b.vhosts,
            );
            m.gauge(
                "dovecot_director_backend_users",
                "Users the director has assigned to the backend (kept until director_user_expire after their last login)",
                l.clone(),
                b.users,
            );
            m.gauge(
                "dovecot_director_backend_last_state_change_timestamp_seconds",
                "Unix time of the backend's last up/down change (0: never)",
                l,
                b.last_change,
            );
        }
        m.gauge(
            "dovecot_director_users",
            "Users assigned to a backend, over all backends",
            vec![],
            hosts.iter().map(|b| b.users).sum(),
        );
        if let Some(me) = ring.iter().find(|r| r.kind == "self") {
            m.gauge(
                "dovecot_director_ring_synced",
                "1 when this director reports its ring synced",
                vec![],
                bit(me.synced()),
            );
            m.gauge(
                "dovecot_director_ring_handshaking",
                "1 while this director's ring is still handshaking",
                vec![],
                bit(me.handshaking()),
            );
            if let Some(ms) = me.ms {
                m.gauge(
                    "dovecot_director_ring_last_sync_seconds",
                    "This director's last ring sync, in seconds (doveadm's `ping ms` of the self row)",
                    vec![],
                    ms / 1000.0,
                );
            }
        }
        let mut last_failed: BTreeMap<&str, f64> = BTreeMap::new();
        for r in &ring {
            let e = last_failed.entry(r.director.as_str()).or_default();
            *e = e.max(r.last_failed);
            if r.kind == "self" {
                continue;
            }
            let kind = if r.kind.is_empty() { "none" } else { &r.kind };
            let l = labels(&[("director", &r.director), ("type", kind)]);
            m.gauge(
                "dovecot_director_ring_connection_up",
                "1 for a live connection to another ring member, 0 for a known member without one",
                l.clone(),
                bit(r.connected()),
            );
            if r.connected() {
                m.gauge(
                    "dovecot_director_ring_connection_synced",
                    "1 when the connection to the ring member is synced",
                    l.clone(),
                    bit(r.synced()),
                );
                m.gauge(
                    "dovecot_director_ring_connection_handshaking",
                    "1 while the connection to the ring member is handshaking",
                    l.clone(),
                    bit(r.handshaking()),
                );
                if let Some(ms) = r.ms {
                    m.gauge(
                        "dovecot_director_ring_connection_ping_seconds",
                        "Last ping time to the ring member",
                        l,
                        ms / 1000.0,
                    );
                }
            }
        }
        m.gauge(
            "dovecot_director_ring_members",
            "Directors in the ring listing, this one included",
            vec![],
            last_failed.len() as f64,
        );
        for (d, t) in &last_failed {
            m.gauge(
                "dovecot_director_ring_last_failure_timestamp_seconds",
                "Unix time of the ring member's last network or protocol failure (0: never)",
                labels(&[("director", d)]),
                *t,
            );
        }
        m.gauge(
            "dovecot_director_unreadable_lines",
            "Lines of the last director listings that could not be read",
            vec![],
            (host_errors.len() + ring_errors.len()) as f64,
        );
        Ok(m)
    }
}
