//! The `log` collector: counters from Dovecot's log (logins, login and auth failures by
//! reason, logouts, LMTP/LDA deliveries, quota, warnings and errors), read from one or more
//! sources (a file, a FIFO, stdin or syslog datagrams).

use std::path::PathBuf;
use std::sync::Arc;

use common::collector::{Setup, Spec};
use common::follow::FollowArgs;

use crate::log::LogMetrics;

/// The `log` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<DovecotLogArgs> = Spec {
    name: "log",
    default_enabled: true,
    help: "log counters (logins, login and auth failures by reason, logouts, deliveries, quota, errors) from a file, FIFO, stdin or syslog",
    build,
};

/// The label of `dovecot_log_lines_unsupported_total` besides `source`.
const UNSUPPORTED_LABEL: &str = "service";

/// Flags of the `log` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct DovecotLogArgs {
    /// Log file followed when no --collector.log.source is given (Debian's Dovecot logs to
    /// syslog's mail facility).
    #[arg(long = "dovecot.log-path", default_value = "/var/log/mail.log")]
    pub log_path: PathBuf,
    /// Log inputs and how they are read (`--collector.log.*`).
    #[command(flatten)]
    pub follow: FollowArgs,
    /// Log every unsupported line at info level (debug level otherwise).
    #[arg(long = "log.unsupported")]
    pub log_unsupported: bool,
}

fn build(args: DovecotLogArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let sources = args.follow.sources(Some(&args.log_path))?;
    let metrics = Arc::new(LogMetrics::new());
    metrics.register(setup.registry());
    let opts = args.follow.options(args.log_unsupported);
    setup.follow_all(sources, metrics, UNSUPPORTED_LABEL, opts)?;
    Ok(())
}
