//! Test harness for the mail-exporters: real daemons (Postfix, Dovecot, VictoriaMetrics,
//! Prometheus) on loopback ports, each in its own temp dir, stopped by PID when the guard
//! drops.
//!
//! Used by the end-to-end tests of this crate and, as a dev-dependency, by the exporters' own
//! integration tests. Everything binds 127.0.0.1 only. Set `E2E_KEEP_TMP=1` to keep the temp
//! dirs (configs, logs, data) after a run.
//!
//! ```no_run
//! use e2e_tests::{Exporter, VictoriaMetrics, VmAgent, scrape_config};
//! let exporter = Exporter::start("postfix-exporter", &["--no-collector.queue"])?;
//! let vm = VictoriaMetrics::start()?;
//! let _agent = VmAgent::start(&scrape_config("postfix", &exporter.target(), "/metrics"), &vm)?;
//! vm.wait_for_query("up", |s| s.len() == 1, std::time::Duration::from_secs(20))?;
//! # anyhow::Ok(())
//! ```

pub mod artifacts;
pub mod corpus;
pub mod daemon;
pub mod dovecot;
pub mod expo;
pub mod exporter;
pub mod fake;
pub mod golden;
pub mod http;
pub mod instance;
pub mod net;
pub mod pki;
pub mod podman;
pub mod postfix;
pub mod probe;
pub mod proftpd;
pub mod prometheus;
pub mod promql;
pub mod query;
pub mod screenshot;
pub mod smtp;
pub mod tools;
pub mod vm;

pub use daemon::Daemon;
pub use dovecot::{Dovecot, DovecotOptions};
pub use exporter::{
    ACCEPT_OPENMETRICS, ACCEPT_TEXT, Exporter, all_collectors_off, exporter_binary, workspace_root,
};
pub use instance::{Instance, InstanceBuilder};
pub use net::free_port;
pub use postfix::{Postfix, PostfixOptions, SmtpSink};
pub use prometheus::Prometheus;
pub use query::{Sample, scrape_config, scrape_config_jobs, wait_for_query};
pub use vm::{NotifierSink, VictoriaMetrics, VmAgent, VmAlert};

/// A YAML file parsed into `T` (a `serde_norway::Value`, a `serde_json::Value`, a struct);
/// errors name the file.
pub fn read_yaml<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Whether the environment variable `name` is set to something other than empty or `0`
/// (`E2E_KEEP_TMP`, `E2E_NO_BUILD`).
pub fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// A fresh temp dir named `<prefix>XXXXXX` under the system temp dir; kept after the run when
/// `E2E_KEEP_TMP` is set.
pub fn temp_dir(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let keep = env_flag("E2E_KEEP_TMP");
    let dir = tempfile::Builder::new()
        .prefix(&format!("e2e-{prefix}"))
        .disable_cleanup(keep)
        .tempdir()?;
    Ok(dir)
}

/// Polls `ok` every 20 ms until it is true and returns how long that took; panics naming
/// `what` after `limit`. For tests, where a timeout is a failure.
#[allow(clippy::panic)]
pub fn wait_for(
    what: &str,
    limit: std::time::Duration,
    mut ok: impl FnMut() -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    while !ok() {
        if start.elapsed() >= limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    start.elapsed()
}
