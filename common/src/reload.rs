//! Reloading configuration files without a restart: on SIGHUP and `POST /-/reload`
//! (Prometheus' and blackbox_exporter's conventions), every registered [`Reloadable`]
//! re-reads its file. The swap is all or nothing: each file is read and validated first,
//! and only when all of them are good are the new versions put in place. A bad file keeps
//! every old one and the error says which file and why.
//!
//! Metrics (named as Prometheus and blackbox_exporter name them):
//! `<ns>_config_last_reload_successful` (1 or 0) and
//! `<ns>_config_last_reload_success_timestamp_seconds` (the start counts as the first
//! successful load).

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::runner::unix_secs;

/// A new configuration, validated and ready to be put in place.
pub type Commit = Box<dyn FnOnce() + Send>;

/// Something that re-reads its configuration on reload.
pub trait Reloadable: Send + Sync {
    /// What is reloaded, for messages (e.g. `web config /etc/x/web.yml`).
    fn describe(&self) -> String;
    /// Reads and validates the new configuration without applying it; the returned
    /// closure applies it. An error leaves the running configuration untouched.
    fn prepare(&self) -> anyhow::Result<Commit>;
}

/// The reloadable parts of one exporter and the reload metrics.
#[derive(Clone)]
pub struct Reloader {
    items: Arc<Mutex<Vec<Arc<dyn Reloadable>>>>,
    /// One reload at a time: SIGHUP and `POST /-/reload` may race.
    serial: Arc<Mutex<()>>,
    successful: Gauge,
    success_time: Gauge<f64, AtomicU64>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("items", &self.describe())
            .finish()
    }
}

impl Default for Reloader {
    fn default() -> Self {
        let r = Self {
            items: Arc::default(),
            serial: Arc::default(),
            successful: Gauge::default(),
            success_time: Gauge::default(),
        };
        // Loading the configuration at start is the first successful load.
        r.successful.set(1);
        r.success_time.set(unix_secs(SystemTime::now()));
        r
    }
}

impl Reloader {
    /// Registers the reload metrics under namespace `ns`.
    pub fn register(&self, registry: &mut Registry, ns: &str) {
        registry.register(
            format!("{ns}_config_last_reload_successful"),
            "Whether the last configuration reload attempt was successful",
            self.successful.clone(),
        );
        registry.register(
            format!("{ns}_config_last_reload_success_timestamp_seconds"),
            "Timestamp of the last successful configuration reload",
            self.success_time.clone(),
        );
    }

    /// Adds one reloadable part.
    pub fn add(&self, item: Arc<dyn Reloadable>) {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(item);
    }

    /// What would be reloaded.
    pub fn describe(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|i| i.describe())
            .collect()
    }

    /// Re-reads every part; applies all or none. Blocking (file reads, bcrypt checks):
    /// call it off the async workers.
    pub fn reload(&self) -> anyhow::Result<()> {
        let _one = self.serial.lock().unwrap_or_else(PoisonError::into_inner);
        let items = self
            .items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut commits = Vec::with_capacity(items.len());
        for item in &items {
            match item.prepare() {
                Ok(c) => commits.push(c),
                Err(e) => {
                    self.successful.set(0);
                    let e = e.context(format!(
                        "reloading {}; the previous configuration stays in use",
                        item.describe()
                    ));
                    tracing::error!(error = %format!("{e:#}"), "configuration reload failed");
                    return Err(e);
                }
            }
        }
        for c in commits {
            c();
        }
        self.successful.set(1);
        self.success_time.set(unix_secs(SystemTime::now()));
        tracing::info!(parts = ?items.iter().map(|i| i.describe()).collect::<Vec<_>>(), "configuration reloaded");
        Ok(())
    }

    /// Whether the last reload succeeded (1) or not (0).
    pub fn last_successful(&self) -> i64 {
        self.successful.get()
    }
}

/// A [`Reloadable`] made of a description and a function that reads the file and returns
/// the closure that applies it.
pub struct FnReloadable<F> {
    what: String,
    prepare: F,
}

impl<F> FnReloadable<F>
where
    F: Fn() -> anyhow::Result<Commit> + Send + Sync,
{
    /// A reloadable part described as `what`.
    pub fn new(what: impl Into<String>, prepare: F) -> Self {
        Self {
            what: what.into(),
            prepare,
        }
    }
}

impl<F> Reloadable for FnReloadable<F>
where
    F: Fn() -> anyhow::Result<Commit> + Send + Sync,
{
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn prepare(&self) -> anyhow::Result<Commit> {
        (self.prepare)()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    #[test]
    fn all_or_nothing() {
        let r = Reloader::default();
        let applied = Arc::new(AtomicU32::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let a = Arc::clone(&applied);
        r.add(Arc::new(FnReloadable::new("first", move || {
            let a = Arc::clone(&a);
            Ok(Box::new(move || {
                a.fetch_add(1, Ordering::SeqCst);
            }) as Commit)
        })));
        let f = Arc::clone(&fail);
        r.add(Arc::new(FnReloadable::new("second file", move || {
            anyhow::ensure!(!f.load(Ordering::SeqCst), "line 3: bad key");
            Ok(Box::new(|| {}) as Commit)
        })));
        r.reload().unwrap();
        assert_eq!(applied.load(Ordering::SeqCst), 1);
        assert_eq!(r.last_successful(), 1);
        fail.store(true, Ordering::SeqCst);
        let e = format!("{:#}", r.reload().unwrap_err());
        assert!(
            e.contains("second file") && e.contains("line 3: bad key"),
            "{e}"
        );
        assert_eq!(applied.load(Ordering::SeqCst), 1, "nothing applied");
        assert_eq!(r.last_successful(), 0);
    }
}
