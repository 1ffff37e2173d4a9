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
    let (args, selection) = common::cli::parse::<cli::Args>(&INFO, COLLECTORS);
    common::logging::init(&args.common.log);
    if let Some(cli::Command::Print(p)) = &args.command {
        return cli::print(p);
    }
    common::run_exporter(
        INFO,
        COLLECTORS,
        &selection,
        &args.common.process,
        &args.common.web,
    )
    .await
}
