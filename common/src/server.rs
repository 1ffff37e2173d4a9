//! The HTTP server: `/metrics` (configurable), `/-/healthy`, `/-/ready`, `/-/reload` and a
//! landing page, GET and HEAD only (POST for reload), optional TLS and basic auth, graceful
//! shutdown on SIGTERM/SIGINT with a bounded drain time, reload on SIGHUP.
//!
//! [`Server`] is a small builder: an exporter hands it its runner and reload hooks, adds
//! routes with their landing-page links (`/probe`), and serves.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum_server::tls_rustls::RustlsConfig;
use tower_http::compression::CompressionLayer;

use crate::ExporterInfo;
use crate::cli::WebArgs;
use crate::collector::Exporter;
use crate::reload::{Commit, Reloadable, Reloader};
use crate::runner::{Runner, timeout_from_header};
use crate::webconfig::{BasicAuth, WebConfig};

type Headers = Arc<Vec<(HeaderName, HeaderValue)>>;

/// The parts of the web config that can change on reload: basic-auth users, response
/// headers and the TLS certificates (switching TLS on or off needs new listeners, so a
/// restart).
#[derive(Default)]
struct WebRuntime {
    path: Option<PathBuf>,
    auth: RwLock<Option<Arc<BasicAuth>>>,
    headers: RwLock<Headers>,
    tls: Option<RustlsConfig>,
}

impl WebRuntime {
    fn auth(&self) -> Option<Arc<BasicAuth>> {
        self.auth
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn headers(&self) -> Headers {
        Arc::clone(&self.headers.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("web config {}", p.display()),
            None => "web config".into(),
        }
    }

    fn set(&self, auth: Option<BasicAuth>, headers: Vec<(HeaderName, HeaderValue)>) {
        *self.auth.write().unwrap_or_else(PoisonError::into_inner) = auth.map(Arc::new);
        *self.headers.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(headers);
    }
}

#[derive(Clone)]
struct AppState {
    info: ExporterInfo,
    runner: Arc<Runner>,
    reloader: Reloader,
    telemetry_path: String,
    links: Vec<(String, String)>,
}

/// Builds and serves one exporter's HTTP endpoints.
pub struct Server {
    info: ExporterInfo,
    runner: Arc<Runner>,
    reloader: Reloader,
    telemetry_path: String,
    extra: Router,
    links: Vec<(String, String)>,
    web: Arc<WebRuntime>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("exporter", &self.info.name)
            .field("telemetry_path", &self.telemetry_path)
            .finish()
    }
}

impl Server {
    /// A server for `runner`, with `/metrics` as telemetry path and no reload hooks.
    pub fn new(info: ExporterInfo, runner: Arc<Runner>) -> Self {
        Self {
            info,
            runner,
            reloader: Reloader::default(),
            telemetry_path: "/metrics".into(),
            extra: Router::new(),
            links: Vec::new(),
            web: Arc::new(WebRuntime::default()),
        }
    }

    /// A server for a built exporter (its runner and its reload hooks).
    pub fn for_exporter(exporter: &Exporter) -> Self {
        Self::new(exporter.info, Arc::clone(&exporter.runner)).reloader(exporter.reloader.clone())
    }

    /// Serves the metrics under `path` instead of `/metrics`.
    pub fn telemetry_path(mut self, path: &str) -> Self {
        self.telemetry_path = path.to_string();
        self
    }

    /// Uses `reloader` for SIGHUP and `POST /-/reload`.
    pub fn reloader(mut self, reloader: Reloader) -> Self {
        self.reloader = reloader;
        self
    }

    /// Adds a route (behind basic auth when configured), listed on the landing page as
    /// `label` when one is given.
    pub fn route(mut self, path: &str, route: MethodRouter, label: Option<&str>) -> Self {
        self.extra = self.extra.route(path, route);
        if let Some(l) = label {
            self.links.push((path.to_string(), l.to_string()));
        }
        self
    }

    /// Adds a landing-page link without a route (for routes merged by the caller).
    pub fn link(mut self, path: &str, label: &str) -> Self {
        self.links.push((path.to_string(), label.to_string()));
        self
    }

    /// Requires these basic-auth users on everything but the health endpoints.
    pub fn basic_auth(self, auth: Option<BasicAuth>) -> Self {
        let headers = (*self.web.headers()).clone();
        self.web.set(auth, headers);
        self
    }

    /// Uses the basic-auth users and response headers of `cfg` (its TLS part is applied by
    /// [`Server::serve`] from the file, or by the caller's listeners).
    pub fn web_config(self, cfg: WebConfig) -> Self {
        self.web.set(cfg.basic_auth, cfg.headers);
        self
    }

    /// The router with every route and layer (tests drive it directly).
    pub fn router(&self) -> Router {
        let state = AppState {
            info: self.info,
            runner: Arc::clone(&self.runner),
            reloader: self.reloader.clone(),
            telemetry_path: self.telemetry_path.clone(),
            links: self.links.clone(),
        };
        let protected = Router::new()
            .route(&self.telemetry_path, get(metrics_handler))
            .route("/", get(landing_handler))
            .route("/-/reload", post(reload_handler))
            .with_state(state.clone())
            .merge(self.extra.clone())
            .layer(CompressionLayer::new().gzip(true))
            .layer(middleware::from_fn_with_state(
                Arc::clone(&self.web),
                auth_middleware,
            ));
        // Health endpoints stay open even with basic auth: kubelet probes carry no
        // credentials and the answers reveal nothing.
        Router::new()
            .route("/-/healthy", get(|| async { "Healthy\n" }))
            .route("/-/ready", get(ready_handler))
            .with_state(state)
            .merge(protected)
            // `http_server_config.headers` go on every response, 401s and health checks included.
            .layer(middleware::from_fn_with_state(
                Arc::clone(&self.web),
                headers_middleware,
            ))
    }

    /// Loads the web config (if any), binds the listeners, reloads on SIGHUP, and serves
    /// until SIGTERM/SIGINT.
    pub async fn serve(mut self, web: &WebArgs) -> anyhow::Result<()> {
        self.telemetry_path = web.telemetry_path.clone();
        let cfg = match &web.config_file {
            Some(p) => crate::webconfig::load(p)?,
            None => WebConfig::default(),
        };
        let WebConfig {
            tls,
            basic_auth,
            headers,
        } = cfg;
        let rustls = tls.map(RustlsConfig::from_config);
        let rt = Arc::new(WebRuntime {
            path: web.config_file.clone(),
            tls: rustls.clone(),
            ..Default::default()
        });
        rt.set(basic_auth, headers);
        self.web = Arc::clone(&rt);
        if web.config_file.is_some() {
            self.reloader.add(Arc::new(WebReload(rt)));
        }
        let listeners = bind_all(&web.listen_addresses)?;
        let router = self.router();
        let reloader = self.reloader.clone();
        tokio::spawn(async move { reload_on_sighup(reloader).await });
        serve_with(
            listeners,
            router,
            rustls,
            shutdown_signal(),
            web.shutdown_timeout,
        )
        .await
    }
}

/// The web config's reload hook (a newtype so the runtime stays private).
struct WebReload(Arc<WebRuntime>);

impl Reloadable for WebReload {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn prepare(&self) -> anyhow::Result<Commit> {
        let path = self.0.path.clone().context("no web config file")?;
        let cfg = crate::webconfig::load(&path)?;
        anyhow::ensure!(
            cfg.tls.is_some() == self.0.tls.is_some(),
            "web config {}: switching TLS {} needs a restart",
            path.display(),
            if cfg.tls.is_some() { "on" } else { "off" }
        );
        let rt = Arc::clone(&self.0);
        Ok(Box::new(move || {
            let WebConfig {
                tls,
                basic_auth,
                headers,
            } = cfg;
            if let (Some(h), Some(t)) = (&rt.tls, tls) {
                h.reload_from_config(t);
            }
            rt.set(basic_auth, headers);
        }))
    }
}

/// Runs a reload on every SIGHUP, off the async workers (files, bcrypt).
async fn reload_on_sighup(reloader: Reloader) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload only through POST /-/reload");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP received, reloading the configuration");
        let r = reloader.clone();
        // The outcome is logged and in the reload metrics.
        let _ = tokio::task::spawn_blocking(move || r.reload()).await;
    }
}

async fn reload_handler(State(st): State<AppState>) -> Response {
    let r = st.reloader.clone();
    match tokio::task::spawn_blocking(move || r.reload()).await {
        Ok(Ok(())) => (StatusCode::OK, "Reloaded\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Reload failed: {e:#}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Reload failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn headers_middleware(
    State(web): State<Arc<WebRuntime>>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    for (k, v) in web.headers().iter() {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

async fn auth_middleware(State(web): State<Arc<WebRuntime>>, req: Request, next: Next) -> Response {
    let Some(auth) = web.auth() else {
        return next.run(req).await;
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // bcrypt costs tens of milliseconds on a cache miss; keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref()))
        .await
        .unwrap_or(false);
    if ok {
        next.run(req).await
    } else {
        let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mail-exporters\""),
        );
        r
    }
}

async fn ready_handler(State(st): State<AppState>) -> Response {
    match st.runner.not_ready() {
        None => (StatusCode::OK, "Ready\n").into_response(),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics_handler(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let timeout = timeout_from_header(
        headers
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok()),
    );
    crate::expose::respond(st.runner.scrape(timeout).await, &headers)
}

async fn landing_handler(State(st): State<AppState>) -> Html<String> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let collectors: String = st
        .runner
        .collector_names()
        .iter()
        .map(|c| format!("<li>{}</li>", esc(c)))
        .collect();
    let mut links = format!(
        "<li><a href=\"{p}\">{p}</a> metrics</li><li><a href=\"/-/healthy\">/-/healthy</a></li><li><a href=\"/-/ready\">/-/ready</a></li>",
        p = esc(&st.telemetry_path)
    );
    for (path, label) in &st.links {
        links.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>",
            esc(path),
            esc(label)
        ));
    }
    links.push_str("<li>POST /-/reload re-reads the configuration files</li>");
    Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title></head><body>\
<h1>{name}</h1><p>{desc}</p>\
<p>Version {ver}, revision {rev}, built with {rustc}.</p>\
<h2>Endpoints</h2><ul>{links}</ul><h2>Enabled collectors</h2><ul>{collectors}</ul></body></html>\n",
        name = esc(st.info.name),
        desc = esc(st.info.description),
        ver = esc(crate::buildinfo::VERSION),
        rev = esc(crate::buildinfo::REVISION),
        rustc = esc(crate::buildinfo::RUSTC),
    ))
}

/// Resolves a listen address; `:PORT` (Go style) means `0.0.0.0:PORT`.
pub fn resolve_listen(addr: &str) -> anyhow::Result<SocketAddr> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.to_socket_addrs()
        .with_context(|| format!("invalid listen address {addr:?}"))?
        .next()
        .with_context(|| format!("listen address {addr:?} resolves to nothing"))
}

/// Binds every listen address up front, so an occupied port is a startup error.
pub fn bind_all(addrs: &[String]) -> anyhow::Result<Vec<(String, TcpListener)>> {
    let mut out = Vec::new();
    for a in addrs {
        let sa = resolve_listen(a)?;
        let l = TcpListener::bind(sa).with_context(|| format!("cannot listen on {a}"))?;
        l.set_nonblocking(true)
            .with_context(|| format!("cannot listen on {a}"))?;
        out.push((a.clone(), l));
    }
    Ok(out)
}

/// Serves `router` on pre-bound listeners until `shutdown` resolves, then drains for at
/// most `drain`.
pub async fn serve_listeners(
    listeners: Vec<(String, TcpListener)>,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    serve_with(
        listeners,
        router,
        tls.map(RustlsConfig::from_config),
        shutdown,
        drain,
    )
    .await
}

/// As [`serve_listeners`], with a TLS handle that reloads can update.
async fn serve_with(
    listeners: Vec<(String, TcpListener)>,
    router: Router,
    tls: Option<RustlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (addr, l) in listeners {
        let svc = router.clone().into_make_service();
        let h = handle.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %addr, scheme, "listening");
        match &tls {
            Some(rc) => {
                let server = axum_server::from_tcp_rustls(l, rc.clone())
                    .with_context(|| format!("cannot serve on {addr}"))?;
                tasks
                    .spawn(async move { server.handle(h).serve(svc).await.map_err(|e| (addr, e)) });
            }
            None => {
                let server =
                    axum_server::from_tcp(l).with_context(|| format!("cannot serve on {addr}"))?;
                tasks
                    .spawn(async move { server.handle(h).serve(svc).await.map_err(|e| (addr, e)) });
            }
        }
    }
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(drain_seconds = drain.as_secs_f64(), "shutting down");
        h.graceful_shutdown(Some(drain));
    });
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err((addr, e))) => anyhow::bail!("server on {addr} failed: {e}"),
            Err(e) => anyhow::bail!("server task failed: {e}"),
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
