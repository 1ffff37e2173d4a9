//! Shared building blocks of the mail-exporters.
//!
//! Everything here is independent of any mail daemon: the HTTP server with its
//! content negotiation, the collector runner, process metrics read from procfs,
//! log following and syslog reception, command-line conventions and logging.

pub mod batch;
pub mod buildinfo;
pub mod cli;
pub mod collector;
pub mod command;
pub mod connlimit;
pub mod deadline;
pub mod expose;
pub mod follow;
pub mod labels;
pub mod logging;
pub mod logline;
pub mod metricset;
pub mod negotiate;
pub mod process;
pub mod reload;
pub mod runner;
pub mod server;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod webconfig;

pub use collector::{CollectorDef, Exporter, Setup, Spec};
pub use metricset::MetricSet;
pub use runner::{Collector, Runner};

/// Runs a whole exporter: builds the enabled collectors of `defs` from the parsed flags
/// and serves until SIGTERM/SIGINT. Errors are logged and printed; the exit code says
/// whether it ended cleanly.
pub async fn run_exporter(
    info: ExporterInfo,
    defs: &[&dyn CollectorDef],
    selection: &cli::Selection,
    process: &process::ProcessArgs,
    web: &cli::WebArgs,
) -> std::process::ExitCode {
    let result = async {
        let exporter = Exporter::build(info, defs, selection, process)?;
        server::Server::for_exporter(&exporter).serve(web).await
    };
    exit_code(info, result.await)
}

/// An exporter's whole `main`: parses the flags (its collectors' and subcommands `C`),
/// lets `adjust` change the collector selection (flags of a peer exporter that turn a
/// collector on), sets up logging, then runs the subcommand given with `run`, or serves
/// until SIGTERM/SIGINT.
pub async fn run_main<C>(
    info: ExporterInfo,
    defs: &[&dyn CollectorDef],
    adjust: fn(&mut cli::Selection),
    run: fn(&C) -> std::process::ExitCode,
) -> std::process::ExitCode
where
    C: clap::Subcommand + std::fmt::Debug + Clone,
{
    let (args, mut selection) = cli::parse::<cli::Args<C>>(&info, defs);
    adjust(&mut selection);
    logging::init(&args.common.log);
    if let Some(c) = &args.command {
        return run(c);
    }
    run_exporter(
        info,
        defs,
        &selection,
        &args.common.process,
        &args.common.web,
    )
    .await
}

/// Runs an exporter's async entry point on a multi-threaded runtime and returns its exit
/// code. Shutdown is bounded: blocking work still in flight when the server has drained (a
/// queue walk stuck on a hung showq, a read of a hung procfs) is abandoned after a short
/// grace instead of holding the process, as a plain `#[tokio::main]` would.
pub fn block_main(
    entry: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(entry);
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

/// How long blocking work may still run once the server has stopped.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Logs and prints a fatal error (with its causes) and turns the outcome into an exit code.
pub fn exit_code(info: ExporterInfo, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "exiting");
            eprintln!("{}: {e:#}", info.name);
            std::process::ExitCode::FAILURE
        }
    }
}

/// Static facts about one exporter binary, used by the landing page, build info and flags.
#[derive(Debug, Clone, Copy)]
pub struct ExporterInfo {
    /// Binary name, for example `postfix-exporter`.
    pub name: &'static str,
    /// Metric namespace, for example `postfix`.
    pub namespace: &'static str,
    /// One-line description shown on the landing page and in `--help`.
    pub description: &'static str,
    /// Default for `--web.listen-address`.
    pub default_listen: &'static str,
    /// Prefix of the environment variables that mirror every flag (e.g. `POSTFIX_EXPORTER`).
    pub env_prefix: &'static str,
}
