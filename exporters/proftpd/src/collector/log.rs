//! The `log` collector: ProFTPd's logs, each kind from its own flag and any of common's log
//! sources (a file, FIFO, stdin or syslog datagrams): the TransferLog (transfers), the
//! SystemLog (sessions, logins, refusals, timeouts), mod_tls's TLSLog (handshakes) and
//! ExtendedLogs in any `LogFormat` (commands; transfers with millisecond durations; logins
//! when no SystemLog is read). One process follows them all; each source is named by its
//! kind in the `source` label.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use common::collector::{Setup, Spec};
use common::follow::{LineHandler, ReadArgs};

use crate::extended::{CommandMetrics, ExtendedLog, has_durations, has_logins, has_transfers};
use crate::logformat::{DEFAULT_FORMAT, LogFormat};
use crate::systemlog::SystemLog;
use crate::tls::TlsLog;
use crate::transfers::{TransferLog, TransferLogMode, TransferMetrics};

/// The `log` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<ProftpdLogArgs> = Spec {
    name: "log",
    default_enabled: true,
    help: "transfers from the TransferLog or an ExtendedLog; sessions, logins, failures, refusals and timeouts from the SystemLog; commands from ExtendedLogs; TLS handshakes from the TLSLog",
    build,
};

/// The label of `proftpd_log_lines_unsupported_total` besides `source`.
pub const UNSUPPORTED_LABEL: &str = "reason";

/// Which log `proftpd_transfers_total` and its siblings are counted from: one only, as both
/// logs have a line for every transfer.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransfersFrom {
    /// An ExtendedLog with `%{transfer-millisecs}` (or `%T`) when one is read, for its
    /// millisecond durations; else the TransferLog; else an ExtendedLog that has transfers.
    #[default]
    Auto,
    /// The TransferLog.
    Transferlog,
    /// The ExtendedLogs whose format has transfers.
    Extendedlog,
}

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
    /// mod_tls's TLSLog (Debian: /var/log/proftpd/tls.log), in the same forms. Repeatable;
    /// `none` (the default) reads none.
    #[arg(
        long = "proftpd.tlslog",
        action = clap::ArgAction::Append,
        default_value = "none"
    )]
    pub tlslog: Vec<String>,
    /// An ExtendedLog: a source as above, optionally with `:FORMAT-NAME` (a `LogFormat` of
    /// --proftpd.config or --proftpd.logformat, or `default`); without a name the format
    /// the config's ExtendedLog directive for that path names. Repeatable. Without this
    /// flag every file ExtendedLog of --proftpd.config is followed.
    #[arg(long = "proftpd.extendedlog", action = clap::ArgAction::Append)]
    pub extendedlog: Vec<String>,
    /// Where transfers are counted from. With `extendedlog` (or `auto` picking it) the
    /// TransferLog still counts which transfers were anonymous.
    #[arg(long = "proftpd.transfers-from", value_enum, default_value_t = TransfersFrom::Auto)]
    pub transfers_from: TransfersFrom,
    /// proftpd.conf (Includes followed), for its LogFormat and ExtendedLog directives.
    #[arg(long = "proftpd.config")]
    pub proftpd_config: Option<PathBuf>,
    /// A log format as NAME=FORMAT (the string of a LogFormat directive, unquoted); wins
    /// over the config's format of that name. Repeatable.
    #[arg(long = "proftpd.logformat", action = clap::ArgAction::Append)]
    pub logformat: Vec<String>,
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

/// The ExtendedLogs to follow: (source spec, format name, format string).
fn extended_logs(args: &ProftpdLogArgs) -> anyhow::Result<Vec<(String, String, String)>> {
    let conf = match &args.proftpd_config {
        Some(p) => crate::conf::load(p)?,
        None => crate::conf::LogConfig::default(),
    };
    let mut formats: BTreeMap<String, String> = BTreeMap::new();
    formats.insert("default".into(), DEFAULT_FORMAT.into());
    formats.extend(conf.formats.clone());
    for f in &args.logformat {
        let (name, fmt) = f
            .split_once('=')
            .with_context(|| format!("--proftpd.logformat={f}: expected NAME=FORMAT"))?;
        formats.insert(name.trim().to_string(), fmt.to_string());
    }
    let wanted: Vec<(String, String)> = if args.extendedlog.is_empty() {
        // Every command would be counted once per log that has it: take the config's logs
        // in order, each only when none of its command classes is taken already.
        let mut taken: Vec<String> = Vec::new();
        let mut out = Vec::new();
        // `syslog:LEVEL` ExtendedLogs reach the exporter through the SystemLog's syslog.
        for d in conf
            .extended_logs
            .iter()
            .filter(|d| d.path.starts_with('/'))
        {
            let classes = d.expanded_classes();
            if classes.iter().any(|c| taken.contains(c)) {
                tracing::info!(path = %d.path, format = %d.format, "ExtendedLog not followed: its command classes overlap a log already followed (give it with --proftpd.extendedlog to read it anyway)");
                continue;
            }
            taken.extend(classes);
            out.push((d.path.clone(), d.format.clone()));
        }
        out
    } else {
        args.extendedlog
            .iter()
            .map(|spec| {
                // `PATH:NAME` when the part after the last ':' names a format.
                if let Some((path, name)) = spec.rsplit_once(':')
                    && formats.contains_key(name)
                {
                    return (path.to_string(), name.to_string());
                }
                let name = conf
                    .extended_logs
                    .iter()
                    .find(|d| spec.ends_with(d.path.as_str()))
                    .map_or("default".to_string(), |d| d.format.clone());
                (spec.clone(), name)
            })
            .collect()
    };
    wanted
        .into_iter()
        .map(|(spec, name)| {
            let fmt = formats
                .get(&name)
                .cloned()
                .with_context(|| format!("ExtendedLog {spec}: no LogFormat called {name}"))?;
            Ok((spec, name, fmt))
        })
        .collect()
}

fn build(args: ProftpdLogArgs, setup: &mut Setup) -> anyhow::Result<()> {
    // Every format first: one the parser cannot support stops the start, naming the variable.
    let logs = extended_logs(&args)?
        .into_iter()
        .map(|(spec, name, fmt)| {
            let format =
                LogFormat::new(&fmt).with_context(|| format!("LogFormat {name} \"{fmt}\""))?;
            Ok((spec, name, format))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let followed = |specs: &[String]| specs.iter().any(|s| s != "none");
    let ext_transfers = logs.iter().any(|(_, _, f)| has_transfers(f));
    let from_extended = match args.transfers_from {
        TransfersFrom::Transferlog => false,
        TransfersFrom::Extendedlog if !ext_transfers => anyhow::bail!(
            "--proftpd.transfers-from=extendedlog: no ExtendedLog read has a format with the command (%m or %r), its status (%s or %{{transfer-status}}) and the bytes (%b) or the duration (%{{transfer-millisecs}})"
        ),
        TransfersFrom::Extendedlog => true,
        TransfersFrom::Auto => {
            logs.iter()
                .any(|(_, _, f)| has_transfers(f) && has_durations(f))
                || (!followed(&args.transferlog) && ext_transfers)
        }
    };
    let logins_from_extended = !followed(&args.systemlog);
    if from_extended {
        tracing::info!(
            "transfers are counted from the ExtendedLogs (the TransferLog, if read, counts anonymous transfers only)"
        );
    }

    let transfers = TransferMetrics::new();
    transfers.register(setup.registry());
    let system = Arc::new(SystemLog::new());
    system.register(setup.registry());
    let (t, s) = (args.transferlog.clone(), args.systemlog.clone());
    let mode = if from_extended {
        TransferLogMode::AnonymousOnly
    } else {
        TransferLogMode::All
    };
    let transfer_log = TransferLog::new(transfers.clone()).with_mode(mode);
    follow_kind(
        setup,
        &args,
        "transferlog",
        "proftpd.transferlog",
        &t,
        Arc::new(transfer_log),
    )?;
    let logins = system.logins();
    follow_kind(setup, &args, "systemlog", "proftpd.systemlog", &s, system)?;
    let tls = Arc::new(TlsLog::new());
    tls.register(setup.registry());
    let tl = args.tlslog.clone();
    follow_kind(setup, &args, "tlslog", "proftpd.tlslog", &tl, tls)?;
    let commands = CommandMetrics::default();
    commands.register(setup.registry());
    let opts = args.read.options(args.log_unsupported);
    for (spec, name, format) in &logs {
        let source = args.read.source("proftpd.extendedlog", spec)?;
        let same_format = logs.iter().filter(|(_, n, _)| n == name).count();
        let label = if same_format == 1 {
            format!("extendedlog:{name}")
        } else {
            format!("extendedlog:{name}:{source}")
        };
        let mut handler = ExtendedLog::new(format.clone(), commands.clone());
        if from_extended && has_transfers(format) {
            handler = handler.with_transfers(transfers.clone());
        }
        if logins_from_extended && has_logins(format) {
            tracing::info!(log = %label, "logins are counted from this ExtendedLog's PASS replies (no SystemLog is read; failure reasons need it)");
            handler = handler.with_logins(logins.clone());
        }
        setup.follow(
            &label,
            source,
            Arc::new(handler),
            UNSUPPORTED_LABEL,
            opts.clone(),
        )?;
    }
    Ok(())
}
