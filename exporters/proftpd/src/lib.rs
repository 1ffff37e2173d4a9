//! ProFTPd exporter: transfers from the TransferLog (xferlog) or an ExtendedLog, sessions,
//! logins and failures from the SystemLog, TLS handshakes from the TLSLog, commands from
//! ExtendedLogs in any LogFormat, and live sessions from the scoreboard or the process
//! titles.
//!
//! The binary is a thin wrapper around [`main_entry`].

pub mod cli;
pub mod collector;
pub mod conf;
pub mod extended;
pub mod logformat;
pub mod proctitle;
pub mod scoreboard;
pub mod systemlog;
pub mod tls;
pub mod transfers;
pub mod xferlog;

use std::process::ExitCode;

use common::ExporterInfo;

pub use collector::COLLECTORS;

/// Static facts about this exporter.
pub const INFO: ExporterInfo = ExporterInfo {
    name: "proftpd-exporter",
    namespace: "proftpd",
    description: "OpenMetrics exporter for ProFTPd: transfers, sessions and logins from its logs",
    default_listen: ":9162",
    env_prefix: "PROFTPD_EXPORTER",
};

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
