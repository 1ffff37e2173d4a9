//! The collector runner: the enabled collectors of one exporter, run concurrently under
//! the scrape timeout, each reporting `<ns>_scrape_collector_success` and
//! `<ns>_scrape_collector_duration_seconds`. One failing or slow collector never fails the
//! scrape.
//!
//! Three kinds of entry, all built by [`crate::collector::Setup`]:
//! - **live** collectors read their source at scrape time, under the timeout;
//! - **background** collectors ([`Background`]) are refreshed on their own interval and
//!   the scrape serves their last complete snapshot, by reference, with one staleness
//!   mechanism for all of them;
//! - **log** collectors update long-lived counters from follower threads; at scrape time
//!   they only report whether every input is open.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::{Notify, watch};

use crate::follow::SourceMetrics;
use crate::metricset::{MetricSet, labels};
use crate::process::ProcessCollector;

/// What a collector is given for one collection.
#[derive(Debug, Clone, Copy)]
pub struct CollectContext {
    /// How long this collection may take before it is abandoned.
    pub timeout: Duration,
}

/// A source of metrics computed on demand. Its name is the one its
/// [`crate::collector::CollectorDef`] gives it.
#[async_trait]
pub trait Collector: Send + Sync + 'static {
    /// Reads the source and returns a complete set of metrics, or an error.
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet>;
}

/// Scrape timeout used when the scraper does not send `X-Prometheus-Scrape-Timeout-Seconds`.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time kept back from the scraper's timeout for encoding and the network.
pub const TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

/// Derives the collection timeout from the scraper's header value.
pub fn timeout_from_header(value: Option<&str>) -> Duration {
    let Some(secs) = value.and_then(|v| v.trim().parse::<f64>().ok()) else {
        return DEFAULT_SCRAPE_TIMEOUT;
    };
    if !secs.is_finite() || secs <= 0.0 {
        return DEFAULT_SCRAPE_TIMEOUT;
    }
    let d = Duration::from_secs_f64(secs.min(3600.0));
    // Keep at least a quarter of a short timeout so tiny values still collect something.
    d.saturating_sub(TIMEOUT_MARGIN).max(d / 4)
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How a background collector is refreshed and served.
#[derive(Debug, Clone)]
pub struct BackgroundOptions {
    /// Time between the end of one refresh and the start of the next.
    pub interval: Duration,
    /// Bound on one refresh; a refresh that takes longer is recorded as failed.
    pub timeout: Duration,
    /// A refresh that took less than this is cheap enough to run again at scrape time,
    /// so small sources are served fresh; `None` never refreshes at scrape time.
    pub on_demand_below: Option<Duration>,
    /// Minimum age of the snapshot before a scrape asks for a refresh.
    pub on_demand_min_age: Duration,
    /// Longest a scrape waits for the refresh it asked for; after that it serves the
    /// snapshot it has.
    pub scrape_wait: Duration,
    /// Extra status metrics derived from the collector's [`Status`] (for example
    /// `postfix_up`), so every staleness signal comes from one state.
    pub status_metrics: Option<fn(&Status) -> MetricSet>,
}

impl Default for BackgroundOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            on_demand_below: None,
            on_demand_min_age: Duration::from_secs(5),
            scrape_wait: Duration::from_secs(1),
            status_metrics: None,
        }
    }
}

/// The state of a background collector as a scrape sees it.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The last refresh succeeded and no refresh is overdue.
    pub ok: bool,
    /// A previous snapshot is served although the last refresh failed (or is overdue).
    pub stale: bool,
    /// When the served snapshot was taken.
    pub last_success: Option<SystemTime>,
    /// Duration of the last finished refresh, in seconds.
    pub last_duration: f64,
    /// Why the last refresh failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct BgState {
    snapshot: Option<Arc<MetricSet>>,
    last_ok: bool,
    last_success: Option<SystemTime>,
    last_duration: f64,
    last_error: Option<String>,
    /// When the refresh under way started.
    running_since: Option<Instant>,
}

/// A collector refreshed on its own interval; scrapes serve its last complete snapshot.
///
/// Only the refresh loop ever runs the inner collector, so concurrent scrapes that ask
/// for a fresh snapshot share one refresh (single flight) instead of starting one each.
pub struct Background {
    name: &'static str,
    inner: Arc<dyn Collector>,
    opts: BackgroundOptions,
    state: Mutex<BgState>,
    wake: Notify,
    /// Bumped after every finished refresh; scrapes wait on it.
    done: watch::Sender<u64>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("collector", &self.name)
            .finish()
    }
}

impl Background {
    /// Starts refreshing `inner` as `opts` says (on the current tokio runtime).
    pub fn spawn(
        name: &'static str,
        inner: Arc<dyn Collector>,
        opts: BackgroundOptions,
    ) -> Arc<Self> {
        let bg = Self::new(name, inner, opts);
        let task = Arc::clone(&bg);
        tokio::spawn(async move {
            loop {
                task.refresh().await;
                tokio::select! {
                    _ = tokio::time::sleep(task.opts.interval) => {}
                    _ = task.wake.notified() => {}
                }
            }
        });
        bg
    }

    /// A background collector without its refresh loop (tests drive [`Background::refresh`]).
    pub fn new(
        name: &'static str,
        inner: Arc<dyn Collector>,
        opts: BackgroundOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            inner,
            opts,
            state: Mutex::new(BgState::default()),
            wake: Notify::new(),
            done: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BgState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one refresh now, bounded by the timeout, and records its outcome.
    pub async fn refresh(&self) {
        let start = Instant::now();
        self.lock().running_since = Some(start);
        let timeout = self.opts.timeout;
        let ctx = CollectContext { timeout };
        let result = tokio::time::timeout(timeout, self.inner.collect(&ctx)).await;
        let elapsed = start.elapsed().as_secs_f64();
        {
            let mut st = self.lock();
            st.running_since = None;
            st.last_duration = elapsed;
            let had_snapshot = st.snapshot.is_some();
            let serving = if had_snapshot {
                "serving the previous snapshot"
            } else {
                "no snapshot to serve yet"
            };
            match result {
                Ok(Ok(set)) => {
                    st.last_ok = !set.is_failed();
                    st.snapshot = Some(Arc::new(set));
                    st.last_success = Some(SystemTime::now());
                    st.last_error = None;
                }
                Ok(Err(e)) => {
                    let msg = format!("{e:#}");
                    tracing::warn!(collector = self.name, error = %msg, "background collection failed; {serving}");
                    st.last_ok = false;
                    st.last_error = Some(msg);
                }
                Err(_) => {
                    tracing::warn!(
                        collector = self.name,
                        timeout_seconds = timeout.as_secs_f64(),
                        "background collection timed out; {serving}"
                    );
                    st.last_ok = false;
                    st.last_error = Some(format!("timed out after {:.1} s", timeout.as_secs_f64()));
                }
            }
        }
        self.done.send_modify(|g| *g += 1);
    }

    /// Asks the refresh loop to run now instead of at the end of its interval.
    pub fn trigger(&self) {
        self.wake.notify_one();
    }

    /// The collector's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// True once a refresh has succeeded.
    pub fn has_succeeded(&self) -> bool {
        self.lock().last_success.is_some()
    }

    /// The status a scrape reports now.
    pub fn status(&self) -> Status {
        let st = self.lock();
        // A refresh running for longer than an interval is a hung dependency: report it
        // as a failure now rather than after the (longer) timeout.
        let overdue = st
            .running_since
            .is_some_and(|s| s.elapsed() > self.opts.interval);
        let ok = st.last_ok && !overdue;
        Status {
            ok,
            stale: !ok && st.snapshot.is_some(),
            last_success: st.last_success,
            last_duration: st.last_duration,
            last_error: if overdue && st.last_error.is_none() {
                Some("refresh under way for longer than the interval".into())
            } else {
                st.last_error.clone()
            },
        }
    }

    /// The served snapshot and the status, after an on-demand refresh when the source
    /// is cheap and the snapshot old enough (waiting at most `scrape_wait` and `budget`).
    pub async fn current(&self, budget: Duration) -> (Option<Arc<MetricSet>>, Status) {
        if self.wants_refresh() {
            let mut rx = self.done.subscribe();
            rx.mark_unchanged();
            self.trigger();
            let wait = self.opts.scrape_wait.min(budget);
            let _ = tokio::time::timeout(wait, rx.changed()).await;
        }
        let snap = self.lock().snapshot.clone();
        (snap, self.status())
    }

    fn wants_refresh(&self) -> bool {
        let Some(below) = self.opts.on_demand_below else {
            return false;
        };
        let st = self.lock();
        let cheap = st.last_duration < below.as_secs_f64();
        let old = st
            .last_success
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|a| a >= self.opts.on_demand_min_age);
        cheap && old && st.running_since.is_none()
    }
}

enum Kind {
    Live(Arc<dyn Collector>),
    Background(Arc<Background>),
    Logs(Vec<SourceMetrics>),
}

struct Entry {
    name: &'static str,
    kind: Kind,
}

/// Counters of the HTTP server, in the exporter's namespace.
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    /// Requests refused for missing or wrong basic-auth credentials.
    pub auth_failures: Counter,
    /// Connections closed at once because `--web.max-connections` were open.
    pub connections_rejected: Counter,
    /// Requests answered 429 by the web config's `rate_limit`.
    pub rate_limited: Counter,
}

impl HttpMetrics {
    fn register(&self, registry: &mut Registry, ns: &str) {
        registry.register(
            format!("{ns}_http_auth_failures"),
            "Requests refused for missing or wrong basic-auth credentials",
            self.auth_failures.clone(),
        );
        registry.register(
            format!("{ns}_http_connections_rejected"),
            "Connections closed at once because the connection limit was reached",
            self.connections_rejected.clone(),
        );
        registry.register(
            format!("{ns}_http_requests_rate_limited"),
            "Requests refused with 429 by the web config's rate_limit",
            self.rate_limited.clone(),
        );
    }
}

/// Holds the enabled collectors and the long-lived registry of one exporter.
pub struct Runner {
    namespace: &'static str,
    entries: Vec<Entry>,
    registry: Registry,
    process: Option<Arc<ProcessCollector>>,
    http: HttpMetrics,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("namespace", &self.namespace)
            .field("collectors", &self.collector_names())
            .finish()
    }
}

/// One entry's result at scrape time.
struct Outcome {
    name: &'static str,
    snapshot: Option<Arc<MetricSet>>,
    extra: Option<MetricSet>,
    ok: bool,
    duration: f64,
    age: Option<f64>,
}

impl Runner {
    /// A runner for metric namespace `namespace` (e.g. `postfix`), with build info registered.
    pub fn new(namespace: &'static str) -> Self {
        let mut registry = Registry::default();
        crate::buildinfo::register(&mut registry, namespace);
        let http = HttpMetrics::default();
        http.register(&mut registry, namespace);
        Self {
            namespace,
            entries: Vec::new(),
            registry,
            process: None,
            http,
        }
    }

    /// The HTTP server's counters (shared: clones count into the same series).
    pub fn http_metrics(&self) -> &HttpMetrics {
        &self.http
    }

    /// The metric namespace.
    pub fn namespace(&self) -> &'static str {
        self.namespace
    }

    /// The long-lived registry for metrics updated outside scrapes (log counters, reload).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Adds collector `name`, read at scrape time.
    pub fn add(&mut self, name: &'static str, collector: Arc<dyn Collector>) {
        self.entries.push(Entry {
            name,
            kind: Kind::Live(collector),
        });
    }

    /// Adds a background collector (already spawned); its name is its own.
    pub fn add_background(&mut self, bg: Arc<Background>) {
        self.entries.push(Entry {
            name: bg.name(),
            kind: Kind::Background(bg),
        });
    }

    /// Adds log collector `name`, whose success is "every one of `sources` is open".
    pub fn add_logs(&mut self, name: &'static str, sources: Vec<SourceMetrics>) {
        self.entries.push(Entry {
            name,
            kind: Kind::Logs(sources),
        });
    }

    /// Sets the process metrics, read before encoding and under the scrape timeout.
    pub fn set_process(&mut self, p: ProcessCollector) {
        self.process = Some(Arc::new(p));
    }

    /// Names of the enabled collectors, in order.
    pub fn collector_names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// `None` when ready (every background collector has succeeded once), otherwise
    /// why not.
    pub fn not_ready(&self) -> Option<String> {
        let waiting: Vec<String> = self
            .entries
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::Background(b) if !b.has_succeeded() => {
                    let why = b
                        .status()
                        .last_error
                        .unwrap_or_else(|| "first collection under way".into());
                    Some(format!(
                        "collector {} has not collected yet ({why})",
                        e.name
                    ))
                }
                _ => None,
            })
            .collect();
        (!waiting.is_empty()).then(|| waiting.join("; "))
    }

    /// True when every background collector has succeeded once.
    pub fn is_ready(&self) -> bool {
        self.not_ready().is_none()
    }

    async fn run_entry(e: &Entry, timeout: Duration) -> Outcome {
        let start = Instant::now();
        let mut out = Outcome {
            name: e.name,
            snapshot: None,
            extra: None,
            ok: false,
            duration: 0.0,
            age: None,
        };
        match &e.kind {
            Kind::Live(c) => {
                let ctx = CollectContext { timeout };
                match tokio::time::timeout(timeout, c.collect(&ctx)).await {
                    Ok(Ok(set)) => {
                        out.ok = !set.is_failed();
                        out.snapshot = Some(Arc::new(set));
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(collector = e.name, error = %format!("{err:#}"), "collector failed");
                    }
                    Err(_) => {
                        tracing::warn!(
                            collector = e.name,
                            timeout_seconds = timeout.as_secs_f64(),
                            "collector timed out"
                        );
                    }
                }
                out.duration = start.elapsed().as_secs_f64();
            }
            Kind::Background(b) => {
                let (snap, st) = b.current(timeout).await;
                out.snapshot = snap;
                out.ok = st.ok;
                out.duration = st.last_duration;
                // +Inf before the first success makes staleness alerts fire.
                out.age = Some(
                    st.last_success
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .map_or(f64::INFINITY, |d| d.as_secs_f64()),
                );
                out.extra = b.opts.status_metrics.map(|f| f(&st));
            }
            Kind::Logs(sources) => {
                out.ok = sources.iter().all(|s| s.source_up() == 1);
                out.duration = start.elapsed().as_secs_f64();
            }
        }
        out
    }

    /// Runs every collector under `timeout` and returns the OpenMetrics body.
    pub async fn scrape(&self, timeout: Duration) -> String {
        let entries = self.entries.iter().map(|e| Self::run_entry(e, timeout));
        let process = async {
            let p = self.process.clone()?;
            // procfs reads can block (a hung FUSE or NFS-backed /proc of a host mount).
            let task = tokio::task::spawn_blocking(move || p.collect());
            match tokio::time::timeout(timeout, task).await {
                Ok(Ok(set)) => Some(set),
                _ => {
                    tracing::warn!("process metrics not read within the scrape timeout");
                    None
                }
            }
        };
        let (results, process) = tokio::join!(futures::future::join_all(entries), process);

        let ns = self.namespace;
        let mut meta = MetricSet::new();
        let success = format!("{ns}_scrape_collector_success");
        let duration = format!("{ns}_scrape_collector_duration_seconds");
        let age = format!("{ns}_scrape_collector_snapshot_age_seconds");
        let mut per_scrape = Registry::default();
        let mut sets = Vec::with_capacity(results.len() + 2);
        for r in results {
            let l = labels(&[("collector", r.name)]);
            meta.gauge(
                &success,
                "Whether the collector's last collection succeeded (1) or failed (0)",
                l.clone(),
                if r.ok { 1.0 } else { 0.0 },
            );
            meta.gauge(
                &duration,
                "Duration of the collector's last collection",
                l.clone(),
                r.duration,
            );
            if let Some(a) = r.age {
                meta.gauge(
                    &age,
                    "Seconds since the background collector's served snapshot was taken",
                    l,
                    a,
                );
            }
            if let Some(s) = r.snapshot {
                sets.push(s);
            }
            if let Some(x) = r.extra {
                sets.push(Arc::new(x));
            }
        }
        if let Some(p) = process {
            sets.push(Arc::new(p));
        }
        sets.push(Arc::new(meta));
        for c in crate::metricset::combine(sets) {
            per_scrape.register_collector(c);
        }
        crate::expose::encode(&[&self.registry, &per_scrape])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Fixed(&'static str, Option<f64>, Duration);

    #[async_trait]
    impl Collector for Fixed {
        async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
            tokio::time::sleep(self.2).await;
            let v = self.1.ok_or_else(|| anyhow::anyhow!("source down"))?;
            let mut s = MetricSet::new();
            s.gauge(&format!("t_{}_value", self.0), "v", vec![], v);
            Ok(s)
        }
    }

    #[test]
    fn header_timeout_keeps_a_margin() {
        assert_eq!(timeout_from_header(None), DEFAULT_SCRAPE_TIMEOUT);
        assert_eq!(timeout_from_header(Some("10")), Duration::from_millis(9500));
        assert_eq!(timeout_from_header(Some("0.4")), Duration::from_millis(100));
        assert_eq!(timeout_from_header(Some("nan")), DEFAULT_SCRAPE_TIMEOUT);
        assert_eq!(timeout_from_header(Some("-3")), DEFAULT_SCRAPE_TIMEOUT);
    }

    #[tokio::test]
    async fn failing_and_slow_collectors_do_not_fail_the_scrape() {
        let mut r = Runner::new("t");
        r.add("good", Arc::new(Fixed("good", Some(4.0), Duration::ZERO)));
        r.add("bad", Arc::new(Fixed("bad", None, Duration::ZERO)));
        r.add(
            "slow",
            Arc::new(Fixed("slow", Some(1.0), Duration::from_secs(5))),
        );
        let body = r.scrape(Duration::from_millis(200)).await;
        assert!(body.contains("t_good_value 4.0\n"), "{body}");
        assert!(!body.contains("t_slow_value"), "{body}");
        for (c, v) in [("good", 1), ("bad", 0), ("slow", 0)] {
            let want = format!("t_scrape_collector_success{{collector=\"{c}\"}} {v}.0\n");
            assert!(body.contains(&want), "{want} not in {body}");
        }
        assert!(body.contains("t_exporter_build_info{version="), "{body}");
        assert!(body.ends_with("# EOF\n"));
    }

    struct Flaky(AtomicU32);
    #[async_trait]
    impl Collector for Flaky {
        async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            anyhow::ensure!(n != 1, "second call fails");
            let mut s = MetricSet::new();
            s.gauge("t_flaky_value", "v", vec![], 42.0 + f64::from(n));
            Ok(s)
        }
    }

    #[tokio::test]
    async fn background_serves_last_good_snapshot_and_one_status() {
        fn status(s: &Status) -> MetricSet {
            let mut m = MetricSet::new();
            m.gauge("t_up", "up", vec![], if s.ok { 1.0 } else { 0.0 });
            m.gauge("t_stale", "stale", vec![], if s.stale { 1.0 } else { 0.0 });
            m
        }
        let bg = Background::new(
            "flaky",
            Arc::new(Flaky(AtomicU32::new(0))),
            BackgroundOptions {
                status_metrics: Some(status),
                ..Default::default()
            },
        );
        let mut r = Runner::new("t");
        r.add_background(Arc::clone(&bg));
        let why = r.not_ready().unwrap();
        assert!(why.contains("collector flaky"), "{why}");
        bg.refresh().await;
        assert!(r.is_ready());
        let body = r.scrape(Duration::from_secs(1)).await;
        assert!(body.contains("t_flaky_value 42.0"), "{body}");
        assert!(
            body.contains("t_up 1.0\n") && body.contains("t_stale 0.0\n"),
            "{body}"
        );
        assert!(body.contains("t_scrape_collector_success{collector=\"flaky\"} 1"));
        bg.refresh().await;
        let body = r.scrape(Duration::from_secs(1)).await;
        assert!(
            body.contains("t_flaky_value 42.0"),
            "stale snapshot kept: {body}"
        );
        assert!(
            body.contains("t_up 0.0\n") && body.contains("t_stale 1.0\n"),
            "{body}"
        );
        assert!(body.contains("t_scrape_collector_success{collector=\"flaky\"} 0"));
        assert!(body.contains("t_scrape_collector_snapshot_age_seconds{collector=\"flaky\"}"));
        assert!(r.is_ready(), "ready stays once a collection succeeded");
    }

    #[tokio::test]
    async fn never_succeeded_is_not_ready_and_says_why() {
        let bg = Background::new(
            "down",
            Arc::new(Fixed("down", None, Duration::ZERO)),
            BackgroundOptions::default(),
        );
        let mut r = Runner::new("t");
        r.add_background(Arc::clone(&bg));
        bg.refresh().await;
        let why = r.not_ready().unwrap();
        assert!(why.contains("source down"), "{why}");
        let body = r.scrape(Duration::from_secs(1)).await;
        assert!(
            body.contains("t_scrape_collector_snapshot_age_seconds{collector=\"down\"} +Inf"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_refresh() {
        struct Slow(AtomicU32);
        #[async_trait]
        impl Collector for Slow {
            async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
                self.0.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(MetricSet::new())
            }
        }
        let inner = Arc::new(Slow(AtomicU32::new(0)));
        let bg = Background::spawn(
            "slow",
            inner.clone(),
            BackgroundOptions {
                interval: Duration::from_secs(3600),
                on_demand_below: Some(Duration::from_secs(1)),
                on_demand_min_age: Duration::ZERO,
                ..Default::default()
            },
        );
        while !bg.has_succeeded() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = inner.0.load(Ordering::SeqCst);
        let scrapes = (0..20).map(|_| bg.current(Duration::from_secs(2)));
        futures::future::join_all(scrapes).await;
        let walks = inner.0.load(Ordering::SeqCst) - before;
        assert!((1..=2).contains(&walks), "{walks} refreshes for 20 scrapes");
    }
}
