//! Dovecot exporter: Dovecot's statistics (the stats-reader socket, or `doveadm stats
//! dump`) with labels and histograms rebuilt from the `metric` definitions of the Dovecot
//! config.
//!
//! The binary is a thin wrapper around [`main_entry`].

pub mod cli;
pub mod collector;
pub mod config;
pub mod director;
pub mod doveadm;
pub mod log;
pub mod oldstats;
pub mod proctitle;
pub mod service;
pub mod sessions;
pub mod stats;
pub mod wire;

use std::process::ExitCode;

use common::ExporterInfo;

pub use collector::COLLECTORS;

/// Static facts about this exporter.
pub const INFO: ExporterInfo = ExporterInfo {
    name: "dovecot-exporter",
    namespace: "dovecot",
    description: "OpenMetrics exporter for Dovecot: statistics with labels and histograms",
    default_listen: ":9166",
    env_prefix: "DOVECOT_EXPORTER",
};

/// Parses the flags, starts the collectors and serves until SIGTERM/SIGINT.
pub async fn main_entry() -> ExitCode {
    common::run_main(
        INFO,
        COLLECTORS,
        cli::enable_by_kumina_flags,
        |cmd: &cli::Command| match cmd {
            cli::Command::Print(p) => cli::print(p),
        },
    )
    .await
}
