//! Shared building blocks of the mail-exporters.
//!
//! Everything here is independent of any mail daemon: the HTTP server with its
//! content negotiation, the collector runner, process metrics read from procfs,
//! log following and syslog reception, command-line conventions and logging.

pub mod buildinfo;
pub mod cli;
pub mod follow;
pub mod logging;
pub mod logline;
pub mod metricset;
pub mod negotiate;
pub mod process;
pub mod runner;
pub mod server;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod webconfig;

pub use metricset::MetricSet;
pub use runner::{Collector, Runner};

/// Static facts about one exporter binary, used by the landing page, build info and flags.
#[derive(Debug, Clone, Copy)]
pub struct ExporterInfo {
    /// Binary name, for example `postfix-exporter`.
    pub name: &'static str,
    /// Metric namespace, for example `postfix`.
    pub namespace: &'static str,
    /// One-line description shown on the landing page and in `--help`.
    pub description: &'static str,
    /// Default for `--web.listen-address`.
    pub default_listen: &'static str,
    /// Prefix of the environment variables that mirror every flag (e.g. `POSTFIX_EXPORTER`).
    pub env_prefix: &'static str,
}
