//! Transaction probes for mail platforms: SMTP, submission, SMTPS, LMTP, IMAP, POP3, FTP
//! and HTTP dialogues with per-phase timings behind blackbox_exporter's `/probe` contract,
//! and end-to-end delivery checks (send, then find the message by IMAP, POP3 or in a
//! Maildir) both within a probe and as background routes.
//!
//! The binary is a thin wrapper around [`main_entry`].

pub mod cli;
pub mod config;
pub mod conn;
pub mod delivery;
pub mod dns;
pub mod handler;
pub mod message;
pub mod prober;
pub mod reply;
pub mod routes;
pub mod secret;
pub mod session;
pub mod target;
pub mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use common::ExporterInfo;
use common::reload::{Commit, FnReloadable, Reloader};
use common::runner::Runner;

use crate::config::Config;
use crate::handler::{App, ProbeMetrics};

/// Static facts about this exporter.
pub const INFO: ExporterInfo = ExporterInfo {
    name: "mailprobe-exporter",
    namespace: "mailprobe",
    description: "Transaction probes for mail platforms: SMTP, LMTP, IMAP, POP3, FTP and HTTP behind /probe, and end-to-end delivery",
    default_listen: ":9126",
    env_prefix: "MAILPROBE_EXPORTER",
};

/// A built prober: the runner (self metrics, process metrics), the reload hooks, the
/// shared state of `/probe` and the running delivery routes.
pub struct Built {
    /// Self and process metrics.
    pub runner: Arc<Runner>,
    /// The module file's reload hook and the reload metrics.
    pub reloader: Reloader,
    /// The `/probe` state.
    pub app: App,
    /// The delivery routes (replaced on reload).
    pub routes: Arc<Mutex<routes::Running>>,
}

/// Loads the module file and builds everything; starts the delivery routes. Must run
/// inside a tokio runtime.
pub fn build(args: &cli::Args) -> anyhow::Result<Built> {
    let path = args.probe.config_file.clone();
    let config = Arc::new(Config::load(&path)?);
    let mut runner = Runner::new(INFO.namespace);
    runner.set_process(common::process::ProcessCollector::new(
        &args.common.process,
    )?);
    let reloader = Reloader::default();
    reloader.register(runner.registry_mut(), INFO.namespace);
    let metrics = ProbeMetrics::default();
    metrics.register(runner.registry_mut());
    let route_metrics = routes::RouteMetrics::new(runner.registry_mut());
    let resolver = match args.probe.dns_server {
        Some(a) => dns::Resolver::with_server(a),
        None => dns::Resolver::system(),
    };
    let app = App {
        config: Arc::new(RwLock::new(Arc::clone(&config))),
        resolver: resolver.clone(),
        timeout_offset: args.probe.timeout_offset,
        allow_any: args.probe.allow_any_target,
        metrics,
    };
    let routes = Arc::new(Mutex::new(routes::start(
        &config,
        &resolver,
        &route_metrics,
    )));
    add_reload(&reloader, path, &app, &routes, route_metrics);
    tracing::info!(
        modules = config.modules.len(),
        routes = config.routes.len(),
        "module file loaded"
    );
    Ok(Built {
        runner: Arc::new(runner),
        reloader,
        app,
        routes,
    })
}

fn add_reload(
    reloader: &Reloader,
    path: PathBuf,
    app: &App,
    running: &Arc<Mutex<routes::Running>>,
    metrics: routes::RouteMetrics,
) {
    let app = app.clone();
    let running = Arc::clone(running);
    reloader.add(Arc::new(FnReloadable::new(
        format!("module file {}", path.display()),
        move || {
            let cfg = Arc::new(Config::load(&path)?);
            let app = app.clone();
            let running = Arc::clone(&running);
            let metrics = metrics.clone();
            let resolver = app.resolver.clone();
            let handle = tokio::runtime::Handle::try_current().ok();
            Ok(Box::new(move || {
                *app.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&cfg);
                let mut r = running.lock().unwrap_or_else(PoisonError::into_inner);
                // The old tasks stop as their handles drop; the new ones start now.
                *r = routes::Running::default();
                if let Some(h) = handle {
                    let _g = h.enter();
                    *r = routes::start(&cfg, &resolver, &metrics);
                }
            }) as Commit)
        },
    )));
}

/// The HTTP server of a built prober: `/metrics`, `/probe`, health and reload.
pub fn server(b: &Built) -> common::server::Server {
    common::server::Server::new(INFO, Arc::clone(&b.runner))
        .reloader(b.reloader.clone())
        .route(
            "/probe",
            axum::routing::get(handler::probe).with_state(b.app.clone()),
            Some("Probe (/probe?module=...&target=...)"),
        )
}

/// Parses the flags, loads the module file and serves until SIGTERM/SIGINT.
pub async fn main_entry() -> ExitCode {
    let (args, _) = common::cli::parse::<cli::Args>(&INFO, &[]);
    common::logging::init(&args.common.log);
    if args.probe.config_check {
        return match Config::load(&args.probe.config_file) {
            Ok(c) => {
                println!(
                    "{}: {} modules, {} routes: OK",
                    args.probe.config_file.display(),
                    c.modules.len(),
                    c.routes.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e:#}", INFO.name);
                ExitCode::FAILURE
            }
        };
    }
    let result = async {
        let built = build(&args)?;
        server(&built).serve(&args.common.web).await
    };
    common::exit_code(INFO, result.await)
}
