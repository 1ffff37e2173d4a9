//! The `transferlog` collector: transfer counters from ProFTPd's TransferLog (xferlog), read
//! from a file, FIFO, stdin or syslog datagrams.

use std::sync::Arc;

use common::collector::{Setup, Spec};
use common::follow::ReadArgs;

use crate::transfers::{TransferLog, TransferMetrics};

/// The `transferlog` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<TransferLogArgs> = Spec {
    name: "transferlog",
    default_enabled: true,
    help: "transfers by direction, status and protocol, bytes and durations from the TransferLog (xferlog)",
    build,
};

/// The label of `proftpd_log_lines_unsupported_total` besides `source`.
pub const UNSUPPORTED_LABEL: &str = "reason";

/// Flags of the `transferlog` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct TransferLogArgs {
    /// The TransferLog: a path (Debian: /var/log/proftpd/xferlog), file:PATH, fifo:PATH, -
    /// (stdin), udp://HOST:PORT or unixgram:PATH. Repeatable.
    #[arg(
        long = "proftpd.transferlog",
        action = clap::ArgAction::Append,
        default_value = "/var/log/proftpd/xferlog"
    )]
    pub transferlog: Vec<String>,
    /// How the logs are read (`--collector.log.*`).
    #[command(flatten)]
    pub read: ReadArgs,
    /// Log every unsupported line at info level (debug level otherwise).
    #[arg(long = "log.unsupported")]
    pub log_unsupported: bool,
}

fn build(args: TransferLogArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let metrics = TransferMetrics::new();
    metrics.register(setup.registry());
    let handler = Arc::new(TransferLog::new(metrics));
    let opts = args.read.options(args.log_unsupported);
    let one = args.transferlog.len() == 1;
    for spec in &args.transferlog {
        let source = args.read.source("proftpd.transferlog", spec)?;
        // One TransferLog is `transferlog` in the `source` label; several are told apart.
        let name = if one {
            "transferlog".to_string()
        } else {
            format!("transferlog:{source}")
        };
        setup.follow(
            &name,
            source,
            handler.clone(),
            UNSUPPORTED_LABEL,
            opts.clone(),
        )?;
    }
    Ok(())
}
