//! Background delivery routes: every `interval` a tagged message is sent and looked for
//! until `lost_after`; one found later counts as late. Per route: send and delivery
//! success (separate: a failed handover is not a lost message), latencies, timestamps of
//! the last attempt and success, late and lost counts.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::{Config, Route};
use crate::dns::Resolver;
use crate::session::{Session, Step};

/// Lost messages still looked for (as late arrivals), per route.
const MAX_LOST_TRACKED: usize = 20;

/// The `route` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// Route name from the module file.
    pub route: String,
}

/// `route` and `reason` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteReason {
    /// Route name.
    pub route: String,
    /// A [`crate::session::Reason`].
    pub reason: String,
}

type F64Gauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The routes' metrics (long-lived: they survive reloads).
#[derive(Clone)]
pub struct RouteMetrics {
    attempts: Family<RouteLabel, Counter>,
    send_success: Family<RouteLabel, Gauge>,
    send_failures: Family<RouteReason, Counter>,
    success: Family<RouteLabel, Gauge>,
    last_latency: Family<RouteLabel, F64Gauge>,
    latency: Family<RouteLabel, Histogram>,
    last_attempt: Family<RouteLabel, F64Gauge>,
    last_success: Family<RouteLabel, F64Gauge>,
    late: Family<RouteLabel, Counter>,
    lost: Family<RouteLabel, Counter>,
    receive_errors: Family<RouteReason, Counter>,
}

/// Latency buckets: local delivery in well under a second, a queue run in minutes.
const BUCKETS: [f64; 13] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

impl RouteMetrics {
    /// Registers the families under `mailprobe_delivery_`.
    pub fn new(r: &mut Registry) -> RouteMetrics {
        let m = RouteMetrics {
            attempts: Family::default(),
            send_success: Family::default(),
            send_failures: Family::default(),
            success: Family::default(),
            last_latency: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            last_attempt: Family::default(),
            last_success: Family::default(),
            late: Family::default(),
            lost: Family::default(),
            receive_errors: Family::default(),
        };
        r.register(
            "mailprobe_delivery_attempts",
            "Probe messages the route tried to send",
            m.attempts.clone(),
        );
        r.register(
            "mailprobe_delivery_send_success",
            "Whether the last handover of a probe message succeeded (1) or not (0)",
            m.send_success.clone(),
        );
        r.register(
            "mailprobe_delivery_send_failures",
            "Failed handovers of probe messages, by reason",
            m.send_failures.clone(),
        );
        r.register(
            "mailprobe_delivery_success",
            "Whether the last sent probe message arrived before lost_after (1) or not (0)",
            m.success.clone(),
        );
        r.register(
            "mailprobe_delivery_last_latency_seconds",
            "Time from handover to arrival of the last delivered probe message",
            m.last_latency.clone(),
        );
        r.register(
            "mailprobe_delivery_latency_seconds",
            "Time from handover to arrival of probe messages delivered in time",
            m.latency.clone(),
        );
        r.register(
            "mailprobe_delivery_last_attempt_timestamp_seconds",
            "When the route last tried to send a probe message",
            m.last_attempt.clone(),
        );
        r.register(
            "mailprobe_delivery_last_success_timestamp_seconds",
            "When a probe message of the route last arrived in time",
            m.last_success.clone(),
        );
        r.register(
            "mailprobe_delivery_late",
            "Probe messages that arrived after lost_after",
            m.late.clone(),
        );
        r.register(
            "mailprobe_delivery_lost",
            "Probe messages not found within lost_after",
            m.lost.clone(),
        );
        r.register(
            "mailprobe_delivery_receive_errors",
            "Failed looks at the receiving mailbox, by reason",
            m.receive_errors.clone(),
        );
        m
    }

    fn label(route: &str) -> RouteLabel {
        RouteLabel {
            route: route.to_string(),
        }
    }
}

fn now() -> f64 {
    common::runner::unix_secs(SystemTime::now())
}

/// The running route tasks; dropping it stops them.
#[derive(Default)]
pub struct Running(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Running {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// Starts one task per route of `cfg`.
pub fn start(cfg: &Arc<Config>, resolver: &Resolver, metrics: &RouteMetrics) -> Running {
    let mut tasks = Vec::new();
    for r in &cfg.routes {
        let Some(module) = cfg.modules.get(&r.module).cloned().map(Arc::new) else {
            continue;
        };
        let route = r.clone();
        let resolver = resolver.clone();
        let metrics = metrics.clone();
        // Series exist from the start, so a route that never succeeded shows 0, not nothing.
        let l = RouteMetrics::label(&route.name);
        let _ = metrics.attempts.get_or_create(&l);
        let _ = metrics.late.get_or_create(&l);
        let _ = metrics.lost.get_or_create(&l);
        let _ = metrics.success.get_or_create(&l);
        let _ = metrics.send_success.get_or_create(&l);
        let _ = metrics.latency.get_or_create(&l);
        tracing::info!(route = %route.name, module = %route.module, target = %route.target, "delivery route started");
        tasks.push(tokio::spawn(async move {
            run_route(route, module, resolver, metrics).await;
        }));
    }
    Running(tasks)
}

async fn run_route(
    route: Route,
    module: Arc<crate::config::Module>,
    resolver: Resolver,
    m: RouteMetrics,
) {
    let Some(plan) = module.plan.clone() else {
        return;
    };
    let l = RouteMetrics::label(&route.name);
    let mut lost: VecDeque<String> = VecDeque::new();
    let mut tick = tokio::time::interval(route.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        m.attempts.get_or_create(&l).inc();
        m.last_attempt.get_or_create(&l).set(now());
        let send_module = Arc::clone(&plan.send.1);
        let target = match crate::target::Target::parse(&route.target, 25) {
            Ok(t) => t,
            // The file's check refuses such a route; stop rather than spin.
            Err(e) => {
                tracing::error!(route = %route.name, error = %e, "delivery route target is invalid; route stopped");
                return;
            }
        };
        let mut s = Session::new(&plan.send.0, Arc::clone(&send_module), target);
        let sent = tokio::time::timeout(send_module.timeout, async {
            s.phase("resolve");
            s.addrs = resolver
                .addresses(
                    &s.target.host,
                    send_module.preferred_ip_protocol,
                    send_module.ip_protocol_fallback,
                )
                .await
                .map_err(|e| {
                    crate::session::Fail::new(crate::session::Reason::Dns, e.to_string())
                })?;
            crate::delivery::send(&mut s, &plan, Some(&route.name)).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(crate::session::Fail::new(
                crate::session::Reason::Timeout,
                "send timed out",
            ))
        });
        let id = match sent {
            Ok(id) => {
                m.send_success.get_or_create(&l).set(1);
                id
            }
            Err(f) => {
                m.send_success.get_or_create(&l).set(0);
                m.send_failures
                    .get_or_create(&RouteReason {
                        route: route.name.clone(),
                        reason: f.reason.as_str().into(),
                    })
                    .inc();
                s.record_failure(f.clone());
                tracing::warn!(route = %route.name, phase = s.current_phase(), reason = f.reason.as_str(), error = %s.scrub(&f.detail), "delivery probe: sending failed");
                continue;
            }
        };
        let started = Instant::now();
        let mut found_in_time = false;
        while started.elapsed() < route.lost_after {
            let mut want: Vec<String> = vec![id.clone()];
            want.extend(lost.iter().cloned());
            let mut log = Vec::new();
            let budget = plan.send.1.timeout.max(Duration::from_secs(5));
            let r: Step<Vec<String>> = tokio::time::timeout(
                budget,
                crate::delivery::find(&plan, &want, &resolver, &mut log),
            )
            .await
            .unwrap_or_else(|_| {
                Err(crate::session::Fail::new(
                    crate::session::Reason::Timeout,
                    "mailbox check timed out",
                ))
            });
            match r {
                Ok(found) => {
                    for f in &found {
                        if *f == id {
                            found_in_time = true;
                        } else if let Some(pos) = lost.iter().position(|x| x == f) {
                            lost.remove(pos);
                            m.late.get_or_create(&l).inc();
                        }
                    }
                }
                Err(f) => {
                    m.receive_errors
                        .get_or_create(&RouteReason {
                            route: route.name.clone(),
                            reason: f.reason.as_str().into(),
                        })
                        .inc();
                    tracing::warn!(route = %route.name, reason = f.reason.as_str(), error = %f.detail, "delivery probe: mailbox check failed");
                }
            }
            if found_in_time {
                break;
            }
            tokio::time::sleep(plan.poll_interval).await;
        }
        if found_in_time {
            let secs = started.elapsed().as_secs_f64();
            m.success.get_or_create(&l).set(1);
            m.last_latency.get_or_create(&l).set(secs);
            m.latency.get_or_create(&l).observe(secs);
            m.last_success.get_or_create(&l).set(now());
        } else {
            m.success.get_or_create(&l).set(0);
            m.lost.get_or_create(&l).inc();
            tracing::warn!(route = %route.name, id = %id, "delivery probe: message lost");
            lost.push_back(id);
            if lost.len() > MAX_LOST_TRACKED {
                lost.pop_front();
            }
        }
    }
}
