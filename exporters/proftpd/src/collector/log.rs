//! The `log` collector: ProFTPd's logs, each kind from its own flag and any of common's log
//! sources (a file, FIFO, stdin or syslog datagrams): the TransferLog (transfers) and the
//! SystemLog (sessions, logins, refusals, timeouts). One process follows them all; each
//! source is named by its kind in the `source` label.

use std::sync::Arc;

use common::collector::{Setup, Spec};
use common::follow::{LineHandler, ReadArgs};

use crate::systemlog::SystemLog;
use crate::transfers::{TransferLog, TransferMetrics};

/// The `log` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<ProftpdLogArgs> = Spec {
    name: "log",
    default_enabled: true,
    help: "transfers from the TransferLog; sessions, logins, failures, refusals and timeouts from the SystemLog",
    build,
};

/// The label of `proftpd_log_lines_unsupported_total` besides `source`.
pub const UNSUPPORTED_LABEL: &str = "reason";

/// Flags of the `log` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct ProftpdLogArgs {
    /// The TransferLog (xferlog): a path, file:PATH, fifo:PATH, - (stdin), udp://HOST:PORT
    /// or unixgram:PATH. Repeatable; `none` reads none.
    #[arg(
        long = "proftpd.transferlog",
        action = clap::ArgAction::Append,
        default_value = "/var/log/proftpd/xferlog"
    )]
    pub transferlog: Vec<String>,
    /// The SystemLog, in the same forms (`proftpd -n` writes it to stderr: pipe it to a
    /// FIFO or stdin; syslog: udp:// or unixgram:). Repeatable; `none` reads none.
    /// Successful logins need `SyslogLevel info`.
    #[arg(
        long = "proftpd.systemlog",
        action = clap::ArgAction::Append,
        default_value = "/var/log/proftpd/proftpd.log"
    )]
    pub systemlog: Vec<String>,
    /// How the logs are read (`--collector.log.*`).
    #[command(flatten)]
    pub read: ReadArgs,
    /// Log every unsupported line at info level (debug level otherwise).
    #[arg(long = "log.unsupported")]
    pub log_unsupported: bool,
}

/// Follows every source of one kind, named `kind` (or `kind:<source>` when there are
/// several).
fn follow_kind(
    setup: &mut Setup,
    args: &ProftpdLogArgs,
    kind: &str,
    flag: &str,
    specs: &[String],
    handler: Arc<dyn LineHandler>,
) -> anyhow::Result<()> {
    let specs: Vec<&String> = specs.iter().filter(|s| s.as_str() != "none").collect();
    let opts = args.read.options(args.log_unsupported);
    for spec in &specs {
        let source = args.read.source(flag, spec)?;
        let name = if specs.len() == 1 {
            kind.to_string()
        } else {
            format!("{kind}:{source}")
        };
        setup.follow(
            &name,
            source,
            Arc::clone(&handler),
            UNSUPPORTED_LABEL,
            opts.clone(),
        )?;
    }
    Ok(())
}

fn build(args: ProftpdLogArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let transfers = TransferMetrics::new();
    transfers.register(setup.registry());
    let system = Arc::new(SystemLog::new());
    system.register(setup.registry());
    let (t, s) = (args.transferlog.clone(), args.systemlog.clone());
    follow_kind(
        setup,
        &args,
        "transferlog",
        "proftpd.transferlog",
        &t,
        Arc::new(TransferLog::new(transfers)),
    )?;
    follow_kind(setup, &args, "systemlog", "proftpd.systemlog", &s, system)?;
    Ok(())
}
