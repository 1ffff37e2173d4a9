//! The exporter-wide flags of the ProFTPd exporter and the `print` subcommand. Each
//! collector's own flags live in the collector's file under `collector/`.

use std::path::PathBuf;
use std::process::ExitCode;

/// All flags of `proftpd-exporter` besides its collectors'.
pub type Args = common::cli::Args<Command>;

/// Subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Read a TransferLog (xferlog) and print the metrics the transferlog collector would
    /// serve for it (text format 0.0.4); unsupported lines are written to standard error.
    Print(PrintArgs),
}

/// Flags of `print`.
#[derive(clap::Args, Debug, Clone)]
pub struct PrintArgs {
    /// Input file; standard input when absent or `-`.
    pub input: Option<PathBuf>,
}

/// Runs `print`.
pub fn print(p: &PrintArgs) -> ExitCode {
    common::cli::finish(&crate::INFO, "print", print_to_string(p))
}

/// The text `print` writes for this input.
pub fn print_to_string(p: &PrintArgs) -> anyhow::Result<String> {
    use common::follow::{LineHandler, LineOutcome};
    let input = common::cli::read_input(p.input.as_deref())?;
    let text = String::from_utf8_lossy(&input);
    let metrics = crate::transfers::TransferMetrics::new();
    let handler = crate::transfers::TransferLog::new(metrics.clone());
    for (i, line) in text.lines().enumerate() {
        if let LineOutcome::Unsupported(reason) = handler.handle_line(line) {
            eprintln!("unsupported line {} ({reason})", i + 1);
        }
    }
    let mut reg = prometheus_client::registry::Registry::default();
    metrics.register(&mut reg);
    Ok(common::expose::render_text(&reg))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::collector::log::ProftpdLogArgs;
    use clap::FromArgMatches;

    fn parse(args: &[&str]) -> (Args, common::cli::Selection) {
        common::cli::try_parse_args::<Args>(&crate::INFO, crate::COLLECTORS, args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_and_sources() {
        let (a, on) = parse(&[]);
        assert_eq!(a.common.web.listen_addresses, vec![":9162"]);
        assert_eq!(on.enabled, vec!["log", "scoreboard"]);
        let t = ProftpdLogArgs::from_arg_matches(&on.matches).unwrap();
        assert_eq!(t.transferlog, vec!["/var/log/proftpd/xferlog"]);
        assert_eq!(t.systemlog, vec!["/var/log/proftpd/proftpd.log"]);
        let (_, on) = parse(&[
            "--proftpd.transferlog=fifo:/run/proftpd/xferlog",
            "--proftpd.transferlog=udp://127.0.0.1:5514",
        ]);
        let t = ProftpdLogArgs::from_arg_matches(&on.matches).unwrap();
        assert_eq!(t.transferlog.len(), 2);
        assert!(
            t.read
                .source("proftpd.transferlog", &t.transferlog[1])
                .is_ok()
        );
        assert!(t.read.source("proftpd.transferlog", "bogus:x").is_err());
    }
}
