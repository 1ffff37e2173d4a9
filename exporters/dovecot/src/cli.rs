//! The exporter-wide flags of the Dovecot exporter and the `print` subcommand. Each
//! collector's own flags live in the collector's file under `collector/`.

use std::path::PathBuf;
use std::process::ExitCode;

/// All flags of `dovecot-exporter` besides its collectors'.
pub type Args = common::cli::Args<Command>;

/// Subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Read `doveadm stats dump` output (any -f formatter) and print the metrics the stats
    /// collector would serve for it (text format 0.0.4, for node_exporter's textfile
    /// collector or debugging).
    Print(PrintArgs),
}

/// Flags of `print`.
#[derive(clap::Args, Debug, Clone)]
pub struct PrintArgs {
    /// A dovecot.conf or `doveconf -n` output with the metric definitions; without it the
    /// names are printed flat.
    #[arg(long = "dovecot.config")]
    pub config: Option<PathBuf>,
    /// Input file; standard input when absent or `-`.
    pub input: Option<PathBuf>,
}

/// Turns the `oldstats` collector on when one of kumina/dovecot_exporter's flags was given
/// (on the command line or in the environment) and it was not turned off explicitly, so
/// kumina's command lines work unchanged.
pub fn enable_by_kumina_flags(selection: &mut common::cli::Selection) {
    use crate::collector::oldstats;
    let name = oldstats::COLLECTOR.name;
    let given = oldstats::ENABLING_FLAGS.iter().any(|id| {
        matches!(
            selection.matches.value_source(id),
            Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
        )
    });
    let off = selection.matches.get_flag(&format!("no-collector.{name}"));
    if given && !off && !selection.enabled.contains(&name) {
        selection.enabled.push(name);
    }
}

/// Runs `print`.
pub fn print(p: &PrintArgs) -> ExitCode {
    common::cli::finish(&crate::INFO, "print", print_to_string(p))
}

/// The text `print` writes for this input.
pub fn print_to_string(p: &PrintArgs) -> anyhow::Result<String> {
    let input = String::from_utf8_lossy(&common::cli::read_input(p.input.as_deref())?).into_owned();
    let defs = match &p.config {
        Some(path) => crate::config::load(path)?,
        None => Vec::new(),
    };
    let d = crate::stats::doveadm::parse_doveadm(&input).map_err(anyhow::Error::msg)?;
    for e in &d.errors {
        eprintln!("skipped: {e}");
    }
    let mut set = common::MetricSet::new();
    for e in crate::stats::series::to_metrics(&defs, &d.rows, &d.stats, &mut set) {
        eprintln!("flat: {}: {}", e.name, e.reason);
    }
    let mut reg = prometheus_client::registry::Registry::default();
    reg.register_collector(Box::new(set.into_collector()));
    Ok(common::expose::render_text(&reg))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::collector::sessions::{SessionsArgs, SessionsSourceKind};
    use crate::collector::stats::{StatsArgs, StatsSource};
    use clap::FromArgMatches;

    fn parse(args: &[&str]) -> (Args, common::cli::Selection) {
        common::cli::try_parse_args::<Args>(&crate::INFO, crate::COLLECTORS, args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_and_sources() {
        let (a, on) = parse(&[]);
        assert_eq!(a.common.web.listen_addresses, vec![":9166"]);
        assert_eq!(on.enabled, vec!["stats", "sessions", "log"]);
        let s = StatsArgs::from_arg_matches(&on.matches).unwrap();
        assert!(s.dovecot_config.is_none());
        match s.source().unwrap() {
            StatsSource::Reader(r) => assert_eq!(r.stats().len(), 2),
            other => panic!("{other:?}"),
        }
        let (_, on) = parse(&[
            "--collector.stats.source=command",
            "--collector.stats.command=doveadm -f json stats dump",
            "--collector.sessions.source=command",
            "--dovecot.anvil.version=2.4",
        ]);
        let s = StatsArgs::from_arg_matches(&on.matches).unwrap();
        match s.source().unwrap() {
            StatsSource::Command(argv) => assert_eq!(argv.len(), 5),
            other => panic!("{other:?}"),
        }
        let w = SessionsArgs::from_arg_matches(&on.matches).unwrap();
        assert_eq!(w.sessions_source, SessionsSourceKind::Command);
        // kumina's flags turn the old stats on; --no-collector.oldstats wins.
        let (_, mut on) = parse(&["--dovecot.scopes=global,user"]);
        enable_by_kumina_flags(&mut on);
        assert_eq!(on.enabled, vec!["stats", "sessions", "log", "oldstats"]);
        let o = crate::collector::oldstats::OldStatsArgs::from_arg_matches(&on.matches).unwrap();
        assert_eq!(o.oldstats_scopes.len(), 2);
        let (_, mut on) = parse(&["--dovecot.socket-path=/x", "--no-collector.oldstats"]);
        enable_by_kumina_flags(&mut on);
        assert_eq!(on.enabled, vec!["stats", "sessions", "log"]);
        let (_, mut on) = parse(&[]);
        enable_by_kumina_flags(&mut on);
        assert_eq!(on.enabled, vec!["stats", "sessions", "log"]);
        use crate::collector::stats::reserved_name;
        assert!(reserved_name("log_logins") && reserved_name("up") && reserved_name("stats_x"));
        assert!(!reserved_name("imap_command") && !reserved_name("auth_failures"));
        let (_, on) = parse(&["--collector.stats.source=file"]);
        let s = StatsArgs::from_arg_matches(&on.matches).unwrap();
        let e = s.source().unwrap_err().to_string();
        assert!(e.contains("--collector.stats.file"), "{e}");
    }
}
