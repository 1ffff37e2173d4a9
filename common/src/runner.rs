//! The collector runner: an explicit list of collectors, run concurrently under a
//! scrape timeout, each reporting `<ns>_scrape_collector_success` and
//! `<ns>_scrape_collector_duration_seconds`. One failing or slow collector never
//! fails the scrape.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

use crate::metricset::{MetricSet, labels};

/// What a collector is given for one collection.
#[derive(Debug, Clone, Copy)]
pub struct CollectContext {
    /// How long this collection may take before it is abandoned.
    pub timeout: Duration,
}

/// A source of metrics computed on demand.
#[async_trait]
pub trait Collector: Send + Sync + 'static {
    /// Name used in `--collector.<name>` and in the `collector` label.
    fn name(&self) -> &'static str;
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

#[derive(Debug, Default)]
struct BgState {
    snapshot: Option<Arc<MetricSet>>,
    last_ok: bool,
    attempted: bool,
    last_success: Option<SystemTime>,
    last_duration: f64,
}

/// A collector refreshed on its own interval; scrapes serve its last complete snapshot.
///
/// Used for expensive sources (a deep mail queue), so a scrape never waits on them.
pub struct Background {
    inner: Arc<dyn Collector>,
    state: Mutex<BgState>,
    wake: Notify,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("collector", &self.inner.name())
            .finish()
    }
}

impl Background {
    /// Starts refreshing `inner` every `interval`, each refresh bounded by `timeout`.
    pub fn spawn(inner: Arc<dyn Collector>, interval: Duration, timeout: Duration) -> Arc<Self> {
        let bg = Arc::new(Self {
            inner,
            state: Mutex::new(BgState::default()),
            wake: Notify::new(),
        });
        let task = Arc::clone(&bg);
        tokio::spawn(async move {
            loop {
                task.refresh(timeout).await;
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = task.wake.notified() => {}
                }
            }
        });
        bg
    }

    /// Asks the refresh loop to run now instead of at the end of its interval.
    pub fn trigger(&self) {
        self.wake.notify_one();
    }

    /// Runs one refresh now (also used by tests and benchmarks).
    pub async fn refresh(&self, timeout: Duration) {
        let start = Instant::now();
        let ctx = CollectContext { timeout };
        let result = tokio::time::timeout(timeout, self.inner.collect(&ctx)).await;
        let elapsed = start.elapsed().as_secs_f64();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.attempted = true;
        st.last_duration = elapsed;
        match result {
            Ok(Ok(set)) => {
                st.snapshot = Some(Arc::new(set));
                st.last_ok = true;
                st.last_success = Some(SystemTime::now());
            }
            Ok(Err(e)) => {
                st.last_ok = false;
                tracing::warn!(collector = self.inner.name(), error = %format!("{e:#}"), "background collection failed; serving the previous snapshot");
            }
            Err(_) => {
                st.last_ok = false;
                tracing::warn!(
                    collector = self.inner.name(),
                    timeout_seconds = timeout.as_secs_f64(),
                    "background collection timed out; serving the previous snapshot"
                );
            }
        }
    }

    /// The name of the wrapped collector.
    pub fn name(&self) -> &'static str {
        self.inner.name()
    }

    /// True once the first refresh finished (successfully or not).
    pub fn attempted(&self) -> bool {
        self.state.lock().map(|s| s.attempted).unwrap_or(true)
    }

    /// The last good snapshot, whether the last refresh succeeded, its duration, and the
    /// time of the last success.
    pub fn current(&self) -> (Option<Arc<MetricSet>>, bool, f64, Option<SystemTime>) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (
            st.snapshot.clone(),
            st.last_ok,
            st.last_duration,
            st.last_success,
        )
    }
}

enum Entry {
    Live(Arc<dyn Collector>),
    Background(Arc<Background>),
}

impl Entry {
    fn name(&self) -> &'static str {
        match self {
            Entry::Live(c) => c.name(),
            Entry::Background(b) => b.name(),
        }
    }
}

/// Holds the enabled collectors and the long-lived registry of one exporter.
pub struct Runner {
    namespace: &'static str,
    entries: Vec<Entry>,
    registry: Registry,
    ready_checks: Vec<Arc<AtomicBool>>,
    ready_backgrounds: Vec<Arc<Background>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("namespace", &self.namespace)
            .field("collectors", &self.collector_names())
            .finish()
    }
}

impl Runner {
    /// A runner for metric namespace `namespace` (e.g. `postfix`), with build info registered.
    pub fn new(namespace: &'static str) -> Self {
        let mut registry = Registry::default();
        crate::buildinfo::register(&mut registry, namespace);
        Self {
            namespace,
            entries: Vec::new(),
            registry,
            ready_checks: Vec::new(),
            ready_backgrounds: Vec::new(),
        }
    }

    /// The metric namespace.
    pub fn namespace(&self) -> &'static str {
        self.namespace
    }

    /// The long-lived registry for metrics updated outside scrapes (log counters, process).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Adds a collector read at scrape time.
    pub fn add(&mut self, collector: Arc<dyn Collector>) {
        self.entries.push(Entry::Live(collector));
    }

    /// Adds a background collector (already spawned).
    pub fn add_background(&mut self, bg: Arc<Background>) {
        self.entries.push(Entry::Background(bg));
    }

    /// Adds a flag that must be true before `/-/ready` answers 200.
    pub fn add_ready_check(&mut self, flag: Arc<AtomicBool>) {
        self.ready_checks.push(flag);
    }

    /// Makes `/-/ready` wait for the first refresh of a background task that is served
    /// through a live collector of its own.
    pub fn add_background_ready(&mut self, bg: Arc<Background>) {
        self.ready_backgrounds.push(bg);
    }

    /// Names of the enabled collectors, in order.
    pub fn collector_names(&self) -> Vec<&'static str> {
        self.entries.iter().map(Entry::name).collect()
    }

    /// True when every background collector has finished its first refresh and every
    /// readiness flag is set.
    pub fn is_ready(&self) -> bool {
        self.entries.iter().all(|e| match e {
            Entry::Live(_) => true,
            Entry::Background(b) => b.attempted(),
        }) && self.ready_backgrounds.iter().all(|b| b.attempted())
            && self.ready_checks.iter().all(|f| f.load(Ordering::Acquire))
    }

    /// Runs every collector under `timeout` and returns the OpenMetrics body.
    pub async fn scrape(&self, timeout: Duration) -> String {
        let ctx = CollectContext { timeout };
        let futures = self.entries.iter().map(|e| async move {
            match e {
                Entry::Live(c) => {
                    let start = Instant::now();
                    let r = tokio::time::timeout(timeout, c.collect(&ctx)).await;
                    let dur = start.elapsed().as_secs_f64();
                    match r {
                        Ok(Ok(set)) => {
                            let ok = !set.is_failed();
                            (c.name(), Some(Arc::new(set)), ok, dur, None)
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(collector = c.name(), error = %format!("{err:#}"), "collector failed");
                            (c.name(), None, false, dur, None)
                        }
                        Err(_) => {
                            tracing::warn!(collector = c.name(), timeout_seconds = timeout.as_secs_f64(), "collector timed out");
                            (c.name(), None, false, dur, None)
                        }
                    }
                }
                Entry::Background(b) => {
                    let (snap, ok, dur, last) = b.current();
                    (b.name(), snap, ok, dur, Some(last))
                }
            }
        });
        let results = futures::future::join_all(futures).await;

        let ns = self.namespace;
        let mut meta = MetricSet::new();
        let success = format!("{ns}_scrape_collector_success");
        let duration = format!("{ns}_scrape_collector_duration_seconds");
        let age = format!("{ns}_scrape_collector_snapshot_age_seconds");
        let mut per_scrape = Registry::default();
        let now = SystemTime::now();
        for (name, snap, ok, dur, bg) in results {
            meta.gauge(
                &success,
                "Whether the collector's last collection succeeded (1) or failed (0)",
                labels(&[("collector", name)]),
                if ok { 1.0 } else { 0.0 },
            );
            meta.gauge(
                &duration,
                "Duration of the collector's last collection",
                labels(&[("collector", name)]),
                dur,
            );
            if let Some(last) = bg {
                // Age of the served snapshot; +Inf before the first success makes staleness alerts fire.
                let a = last
                    .and_then(|t| now.duration_since(t).ok())
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(f64::INFINITY);
                meta.gauge(
                    &age,
                    "Seconds since the background collector's served snapshot was taken",
                    labels(&[("collector", name)]),
                    a,
                );
            }
            if let Some(s) = snap {
                per_scrape.register_collector(Box::new(crate::metricset::SharedSet(s)));
            }
        }
        per_scrape.register_collector(Box::new(meta.into_collector()));

        let mut out = String::with_capacity(64 * 1024);
        // Writing to a String cannot fail; an error here would be a bug in the encoder.
        if encode_registry(&mut out, &self.registry).is_err()
            || encode_registry(&mut out, &per_scrape).is_err()
        {
            tracing::error!("encoding metrics failed");
        }
        let _ = encode_eof(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Option<f64>, Duration);

    #[async_trait]
    impl Collector for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
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
        r.add(Arc::new(Fixed("good", Some(4.0), Duration::ZERO)));
        r.add(Arc::new(Fixed("bad", None, Duration::ZERO)));
        r.add(Arc::new(Fixed("slow", Some(1.0), Duration::from_secs(5))));
        let body = r.scrape(Duration::from_millis(200)).await;
        assert!(body.contains("t_good_value 4.0\n"), "{body}");
        assert!(!body.contains("t_slow_value"), "{body}");
        assert!(
            body.contains("t_scrape_collector_success{collector=\"good\"} 1.0\n"),
            "{body}"
        );
        assert!(
            body.contains("t_scrape_collector_success{collector=\"bad\"} 0.0\n"),
            "{body}"
        );
        assert!(
            body.contains("t_scrape_collector_success{collector=\"slow\"} 0.0\n"),
            "{body}"
        );
        assert!(body.contains("t_exporter_build_info{version="), "{body}");
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn background_serves_last_good_snapshot() {
        struct Flaky(std::sync::atomic::AtomicU32);
        #[async_trait]
        impl Collector for Flaky {
            fn name(&self) -> &'static str {
                "flaky"
            }
            async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                anyhow::ensure!(n == 0, "second call fails");
                let mut s = MetricSet::new();
                s.gauge("t_flaky_value", "v", vec![], 42.0);
                Ok(s)
            }
        }
        let bg = Background::spawn(
            Arc::new(Flaky(Default::default())),
            Duration::from_secs(3600),
            Duration::from_secs(1),
        );
        let mut r = Runner::new("t");
        r.add_background(Arc::clone(&bg));
        for _ in 0..100 {
            if r.is_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(r.is_ready());
        let body = r.scrape(Duration::from_secs(1)).await;
        assert!(body.contains("t_flaky_value 42.0"), "{body}");
        assert!(body.contains("t_scrape_collector_success{collector=\"flaky\"} 1"));
        bg.refresh(Duration::from_secs(1)).await;
        let body = r.scrape(Duration::from_secs(1)).await;
        assert!(
            body.contains("t_flaky_value 42.0"),
            "stale snapshot kept: {body}"
        );
        assert!(body.contains("t_scrape_collector_success{collector=\"flaky\"} 0"));
        assert!(body.contains("t_scrape_collector_snapshot_age_seconds{collector=\"flaky\"}"));
    }
}
