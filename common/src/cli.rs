//! Command-line conventions shared by every exporter: the Prometheus exporter flags,
//! `--collector.<name>` / `--no-collector.<name>` toggles, and one environment
//! variable per flag (`<PREFIX>_<FLAG>` with dots and dashes as underscores).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};

use crate::ExporterInfo;
use crate::collector::CollectorDef;

/// Flags of the HTTP server.
#[derive(clap::Args, Debug, Clone)]
pub struct WebArgs {
    /// Address to listen on (repeatable; comma-separated in the environment). `:PORT` means all IPv4 interfaces.
    #[arg(long = "web.listen-address", value_delimiter = ',', action = ArgAction::Append)]
    pub listen_addresses: Vec<String>,
    /// Path under which metrics are exposed.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,
    /// Exporter-toolkit web configuration file (TLS and basic auth).
    #[arg(long = "web.config.file")]
    pub config_file: Option<PathBuf>,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    #[arg(long = "web.shutdown-timeout", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Longest wait for a request's headers, on a new connection and between requests on a
    /// kept-alive one (so it is also the idle timeout of HTTP/1.1 connections).
    #[arg(long = "web.read-header-timeout", default_value = "10s", value_parser = parse_duration)]
    pub read_header_timeout: Duration,
    /// Most connections served at once (TLS handshakes included); more are closed at once. 0: no limit.
    #[arg(long = "web.max-connections", default_value_t = 512)]
    pub max_connections: usize,
}

impl Default for WebArgs {
    fn default() -> Self {
        Self {
            listen_addresses: vec!["127.0.0.1:0".into()],
            telemetry_path: "/metrics".into(),
            config_file: None,
            shutdown_timeout: Duration::from_secs(5),
            read_header_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// Log output format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The flags every exporter has besides its collectors': HTTP server, logging, process
/// metrics. Each exporter's `Args` flattens it next to its subcommands.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// HTTP server flags.
    #[command(flatten)]
    pub web: WebArgs,
    /// Logging flags.
    #[command(flatten)]
    pub log: LogArgs,
    /// Process metrics flags (`--process.watch`).
    #[command(flatten)]
    pub process: crate::process::ProcessArgs,
}

/// The input of a one-shot subcommand: the file at `path`, or standard input when there is
/// none or it is `-`.
pub fn read_input(path: Option<&std::path::Path>) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    match path {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))
        }
        _ => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
            Ok(input)
        }
    }
}

/// All flags of an exporter: the common ones and its one-shot subcommands `C` (`print`).
#[derive(clap::Parser, Debug, Clone)]
#[command(subcommand_negates_reqs = true)]
pub struct Args<C: clap::Subcommand> {
    /// HTTP server, logging and process metrics flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Optional subcommand; without one the exporter serves HTTP.
    #[command(subcommand)]
    pub command: Option<C>,
}

/// Ends a one-shot subcommand (`print`): its output on stdout and success, or
/// `<binary> <what>: <error>` on stderr and failure.
pub fn finish(info: &ExporterInfo, what: &str, result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(s) => {
            print!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{} {what}: {e:#}", info.name);
            ExitCode::FAILURE
        }
    }
}

/// Flags of the exporter's own logging.
#[derive(clap::Args, Debug, Clone)]
pub struct LogArgs {
    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_enum)]
    pub format: LogFormat,
}

/// The collectors chosen on the command line, and the matches their flags are read from.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Every parsed flag (the collectors' own flags are read from it when they are built).
    pub matches: ArgMatches,
    /// The enabled collectors, in list order.
    pub enabled: Vec<&'static str>,
}

/// `--version` output: version, git revision and compiler.
pub fn long_version() -> String {
    format!(
        "{} (revision {}, built with {})",
        crate::buildinfo::VERSION,
        crate::buildinfo::REVISION,
        crate::buildinfo::RUSTC
    )
}

/// Parses a duration such as `500ms`, `5s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (use e.g. 500ms, 5s, 2m, 1h)"))?;
    if !v.is_finite() || v < 0.0 || v * mult > 1e9 {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

/// Environment variable name for flag `long` under `prefix`.
pub fn env_name(prefix: &str, long: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + long.len() + 1);
    s.push_str(prefix);
    s.push('_');
    for c in long.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_uppercase());
        } else {
            s.push('_');
        }
    }
    s
}

/// Adds `--collector.<name>` and `--no-collector.<name>` for every collector, and each
/// collector's own flags.
pub fn add_collector_flags(mut cmd: Command, specs: &[&dyn CollectorDef]) -> Command {
    for spec in specs {
        let default = if spec.default_enabled() {
            "enabled"
        } else {
            "disabled"
        };
        cmd = cmd
            .arg(
                Arg::new(format!("collector.{}", spec.name()))
                    .long(format!("collector.{}", spec.name()))
                    .action(ArgAction::SetTrue)
                    .help(format!(
                        "Enable the {} collector [{default}]: {}",
                        spec.name(),
                        spec.help()
                    ))
                    .help_heading("Collectors"),
            )
            .arg(
                Arg::new(format!("no-collector.{}", spec.name()))
                    .long(format!("no-collector.{}", spec.name()))
                    .action(ArgAction::SetTrue)
                    .help(format!("Disable the {} collector", spec.name()))
                    .help_heading("Collectors"),
            );
    }
    for spec in specs {
        cmd = spec.augment_args(cmd);
    }
    cmd
}

/// The collectors enabled by the parsed flags, in spec order.
pub fn enabled_collectors(m: &ArgMatches, specs: &[&dyn CollectorDef]) -> Vec<&'static str> {
    specs
        .iter()
        .filter(|s| {
            let on = m.get_flag(&format!("collector.{}", s.name()));
            let off = m.get_flag(&format!("no-collector.{}", s.name()));
            if off {
                false
            } else {
                on || s.default_enabled()
            }
        })
        .map(|s| s.name())
        .collect()
}

/// Gives every long flag an environment variable and the exporter's listen default.
pub fn finalize_command(cmd: Command, info: &ExporterInfo) -> Command {
    let prefix = info.env_prefix;
    cmd.mut_args(|a| {
        let Some(long) = a.get_long().map(str::to_string) else {
            return a;
        };
        if long == "help" || long == "version" {
            return a;
        }
        let a = if long == "web.listen-address" {
            a.default_value(info.default_listen)
        } else {
            a
        };
        a.env(env_name(prefix, &long))
    })
}

/// Parses `T` plus the collector toggles from the process arguments; exits with clap's
/// message on a bad flag.
pub fn parse<T: clap::CommandFactory + FromArgMatches>(
    info: &ExporterInfo,
    specs: &[&dyn CollectorDef],
) -> (T, Selection) {
    parse_from(info, specs, std::env::args_os())
}

/// As [`parse`], from an explicit argument list (tests).
pub fn parse_from<T, I, S>(
    info: &ExporterInfo,
    specs: &[&dyn CollectorDef],
    args: I,
) -> (T, Selection)
where
    T: clap::CommandFactory + FromArgMatches,
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    match try_parse_from::<T, I, S>(info, specs, args) {
        Ok(v) => v,
        Err(e) => e.exit(),
    }
}

/// As [`try_parse_from`] with the exporter's name as argv\[0\] and `args` after it: the
/// exporters' flag tests.
pub fn try_parse_args<T>(
    info: &ExporterInfo,
    specs: &[&dyn CollectorDef],
    args: &[&str],
) -> Result<(T, Selection), clap::Error>
where
    T: clap::CommandFactory + FromArgMatches,
{
    let argv = std::iter::once(info.name).chain(args.iter().copied());
    try_parse_from::<T, _, _>(info, specs, argv)
}

/// As [`parse_from`], returning clap's error instead of exiting.
pub fn try_parse_from<T, I, S>(
    info: &ExporterInfo,
    specs: &[&dyn CollectorDef],
    args: I,
) -> Result<(T, Selection), clap::Error>
where
    T: clap::CommandFactory + FromArgMatches,
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let cmd = T::command()
        .name(info.name)
        .version(crate::buildinfo::VERSION)
        .long_version(long_version());
    // After the collectors' flags: a derived `Args` struct's doc comment would otherwise
    // become the whole program's description.
    let mut cmd = finalize_command(add_collector_flags(cmd, specs), info)
        .about(info.description)
        .long_about(None::<&str>);
    let m = cmd.try_get_matches_from_mut(args)?;
    let t = T::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))?;
    let enabled = enabled_collectors(&m, specs);
    Ok((
        t,
        Selection {
            matches: m,
            enabled,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Args {
        #[command(flatten)]
        web: WebArgs,
        #[command(flatten)]
        log: LogArgs,
    }

    const INFO: ExporterInfo = ExporterInfo {
        name: "test-exporter",
        namespace: "t",
        description: "test",
        default_listen: ":9999",
        env_prefix: "TEST_EXPORTER_CLI",
    };
    /// Flags of collector `a`.
    #[derive(clap::Args, Debug)]
    struct AArgs {
        /// An option of collector a.
        #[arg(long = "collector.a.depth", default_value_t = 3)]
        depth: u32,
    }

    const A: crate::collector::Spec<AArgs> = crate::collector::Spec {
        name: "a",
        default_enabled: true,
        help: "A",
        build: |_, _| Ok(()),
    };
    const B: crate::collector::Spec<crate::collector::NoArgs> = crate::collector::Spec {
        name: "b",
        default_enabled: false,
        help: "B",
        build: |_, _| Ok(()),
    };
    const SPECS: &[&dyn CollectorDef] = &[&A, &B];

    #[test]
    fn defaults_and_toggles() {
        let (a, on) = try_parse_from::<Args, _, _>(&INFO, SPECS, ["x"]).unwrap();
        assert_eq!(a.web.listen_addresses, vec![":9999"]);
        assert_eq!(a.web.telemetry_path, "/metrics");
        assert_eq!(on.enabled, vec!["a"]);
        let (_, on) = try_parse_from::<Args, _, _>(
            &INFO,
            SPECS,
            [
                "x",
                "--no-collector.a",
                "--collector.b",
                "--collector.a.depth=5",
            ],
        )
        .unwrap();
        assert_eq!(on.enabled, vec!["b"]);
        let a = <AArgs as FromArgMatches>::from_arg_matches(&on.matches).unwrap();
        assert_eq!(a.depth, 5);
        let err = try_parse_from::<Args, _, _>(&INFO, SPECS, ["x", "--version"]).unwrap_err();
        assert!(err.to_string().contains("revision"), "{err}");
        // The exporter's description heads --help, not the last collector's doc comment.
        let help = try_parse_from::<Args, _, _>(&INFO, SPECS, ["x", "--help"]).unwrap_err();
        let help = help.to_string();
        assert!(help.starts_with("test\n"), "{help}");
        assert!(!help.contains("Flags of collector"), "{help}");
    }

    #[test]
    fn repeatable_listen_address_and_unknown_flag() {
        let (a, _) = try_parse_from::<Args, _, _>(
            &INFO,
            SPECS,
            [
                "x",
                "--web.listen-address=127.0.0.1:1",
                "--web.listen-address",
                "[::1]:2",
            ],
        )
        .unwrap();
        assert_eq!(a.web.listen_addresses, vec!["127.0.0.1:1", "[::1]:2"]);
        let err = try_parse_from::<Args, _, _>(&INFO, SPECS, ["x", "--bogus"]).unwrap_err();
        assert!(err.to_string().contains("--bogus"), "{err}");
    }

    #[test]
    fn env_names_and_durations() {
        assert_eq!(
            env_name("POSTFIX_EXPORTER", "web.listen-address"),
            "POSTFIX_EXPORTER_WEB_LISTEN_ADDRESS"
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
