//! Postfix exporter: queue depth and shape (showq, `postqueue -j`, `mailq`, `qshape`)
//! and the mail log.
//!
//! The binary is a thin wrapper around [`main_entry`].

pub mod cli;
pub mod collector;
pub mod logmetrics;
pub mod parse;
pub mod queue;
pub mod reject_rules;

use std::process::ExitCode;

use common::ExporterInfo;

/// Static facts about this exporter.
pub const INFO: ExporterInfo = ExporterInfo {
    name: "postfix-exporter",
    namespace: "postfix",
    description: "OpenMetrics exporter for Postfix: queue depth and shape, and the mail log",
    default_listen: ":9154",
    env_prefix: "POSTFIX_EXPORTER",
};

pub use collector::COLLECTORS;

/// Parses the flags, starts the collectors and serves until SIGTERM/SIGINT.
pub async fn main_entry() -> ExitCode {
    common::run_main(
        INFO,
        COLLECTORS,
        |_| {},
        |cmd: &cli::Command| match cmd {
            cli::Command::Print(p) => cli::print(p),
        },
    )
    .await
}
