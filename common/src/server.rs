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
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tower_http::compression::CompressionLayer;

use crate::ExporterInfo;
use crate::cli::WebArgs;
use crate::collector::Exporter;
use crate::connlimit::LimitAcceptor;
use crate::reload::{Commit, Reloadable, Reloader};
use crate::runner::HttpMetrics;
use crate::runner::{Runner, timeout_from_header};
use crate::webconfig::{BasicAuth, Limiter, WebConfig};

type Headers = Arc<Vec<(HeaderName, HeaderValue)>>;

/// The parts of the web config that can change on reload: basic-auth users, response
/// headers and the TLS certificates (switching TLS on or off needs new listeners, so a
/// restart).
#[derive(Default)]
struct WebRuntime {
    auth: RwLock<Option<Arc<BasicAuth>>>,
    headers: RwLock<Headers>,
    limiter: RwLock<Option<Arc<Limiter>>>,
    tls: Option<RustlsConfig>,
    http: HttpMetrics,
    /// Failed logins are logged at most once a second; the rest are counted here.
    auth_log: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
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

    fn set(&self, cfg: WebConfig) {
        let WebConfig {
            basic_auth,
            headers,
            rate_limit,
            tls: _,
        } = cfg;
        *self.auth.write().unwrap_or_else(PoisonError::into_inner) = basic_auth.map(Arc::new);
        *self.headers.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(headers);
        *self.limiter.write().unwrap_or_else(PoisonError::into_inner) =
            rate_limit.map(|r| Arc::new(Limiter::new(r)));
    }

    fn limiter(&self) -> Option<Arc<Limiter>> {
        self.limiter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Logs a refused login without flooding: one line a second, with the count since.
    fn log_auth_failure(&self, user: Option<&str>) {
        let mut st = self.auth_log.lock().unwrap_or_else(PoisonError::into_inner);
        st.1 += 1;
        let due = st.0.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            let user: String = user.unwrap_or("").chars().take(64).collect();
            tracing::warn!(user = %user, failures = st.1, "basic auth failed (wrong user or password)");
            *st = (Some(std::time::Instant::now()), 0);
        }
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
            runner: Arc::clone(&runner),
            reloader: Reloader::default(),
            telemetry_path: "/metrics".into(),
            extra: Router::new(),
            links: Vec::new(),
            web: Arc::new(WebRuntime {
                http: runner.http_metrics().clone(),
                ..Default::default()
            }),
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
        *self
            .web
            .auth
            .write()
            .unwrap_or_else(PoisonError::into_inner) = auth.map(Arc::new);
        self
    }

    /// Uses the basic-auth users and response headers of `cfg` (its TLS part is applied by
    /// [`Server::serve`] from the file, or by the caller's listeners).
    pub fn web_config(self, cfg: WebConfig) -> Self {
        self.web.set(cfg);
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
        let rustls = cfg.tls.clone().map(RustlsConfig::from_config);
        let rt = Arc::new(WebRuntime {
            tls: rustls.clone(),
            http: self.runner.http_metrics().clone(),
            ..Default::default()
        });
        rt.set(cfg);
        self.web = Arc::clone(&rt);
        if let Some(path) = &web.config_file {
            self.reloader.add(Arc::new(WebReload {
                path: path.clone(),
                web: rt,
            }));
        }
        crate::connlimit::raise_nofile_limit();
        let listeners = bind_all(&web.listen_addresses)?;
        let router = self.router();
        let reloader = self.reloader.clone();
        tokio::spawn(async move { reload_on_sighup(reloader).await });
        let limits = ConnLimits {
            read_header_timeout: web.read_header_timeout.max(Duration::from_millis(100)),
            max_connections: web.max_connections,
            rejected: self.runner.http_metrics().connections_rejected.clone(),
        };
        serve_with(
            listeners,
            router,
            rustls,
            shutdown_signal(),
            web.shutdown_timeout,
            limits,
        )
        .await
    }
}

/// The web config file's reload hook (it owns an `Arc`, which the commit closure needs).
struct WebReload {
    path: PathBuf,
    web: Arc<WebRuntime>,
}

impl Reloadable for WebReload {
    fn describe(&self) -> String {
        format!("web config {}", self.path.display())
    }

    fn prepare(&self) -> anyhow::Result<Commit> {
        let cfg = crate::webconfig::load(&self.path)?;
        anyhow::ensure!(
            cfg.tls.is_some() == self.web.tls.is_some(),
            "web config {}: switching TLS {} needs a restart",
            self.path.display(),
            if cfg.tls.is_some() { "on" } else { "off" }
        );
        let rt = Arc::clone(&self.web);
        Ok(Box::new(move || {
            if let (Some(h), Some(t)) = (&rt.tls, cfg.tls.clone()) {
                h.reload_from_config(t);
            }
            rt.set(cfg);
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
    if let Some(l) = web.limiter()
        && !l.allow()
    {
        web.http.rate_limited.inc();
        return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response();
    }
    let Some(auth) = web.auth() else {
        return next.run(req).await;
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let user = header.as_deref().and_then(crate::webconfig::basic_user);
    let sent = header.is_some();
    // bcrypt costs tens of milliseconds on a cache miss; keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref()))
        .await
        .unwrap_or(false);
    if ok {
        next.run(req).await
    } else {
        web.http.auth_failures.inc();
        // A first request without credentials is how browsers ask; only wrong ones warn.
        if sent {
            web.log_auth_failure(user.as_deref());
        }
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
        ConnLimits::default(),
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
    limits: ConnLimits,
) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    let mut tasks = tokio::task::JoinSet::new();
    // One cap for all listeners: it protects the process's descriptors, not a socket's.
    let limit = LimitAcceptor::new(
        DefaultAcceptor::new(),
        limits.max_connections,
        limits.rejected.clone(),
    );
    for (addr, l) in listeners {
        let svc = router.clone().into_make_service();
        let h = handle.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %addr, scheme, max_connections = limits.max_connections, "listening");
        let server = axum_server::from_tcp(l).with_context(|| format!("cannot serve on {addr}"))?;
        let timeout = limits.read_header_timeout;
        let on_error = |_: Option<&SocketAddr>, e: &std::io::Error| {
            tracing::debug!(error = %e, "connection not accepted");
        };
        match &tls {
            Some(rc) => {
                let acceptor = RustlsAcceptor::new(rc.clone()).acceptor(limit.clone());
                let mut server = server
                    .acceptor(acceptor)
                    .first_request_timeout(timeout)
                    .accept_error_handler(on_error);
                header_timeouts(server.http_builder(), timeout);
                tasks
                    .spawn(async move { server.handle(h).serve(svc).await.map_err(|e| (addr, e)) });
            }
            None => {
                let mut server = server
                    .acceptor(limit.clone())
                    .first_request_timeout(timeout)
                    .accept_error_handler(on_error);
                header_timeouts(server.http_builder(), timeout);
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

/// hyper only enforces a header-read timeout with a timer; it also starts that timer when
/// a kept-alive HTTP/1.1 connection goes idle, which makes it the idle timeout too.
fn header_timeouts(
    b: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    timeout: Duration,
) {
    b.http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
    b.http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
}

/// Protections of the listeners against slow and idle clients.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// See `--web.read-header-timeout`.
    pub read_header_timeout: Duration,
    /// See `--web.max-connections` (0: no limit).
    pub max_connections: usize,
    /// Counts connections closed at the cap.
    pub rejected: prometheus_client::metrics::counter::Counter,
}

impl Default for ConnLimits {
    fn default() -> Self {
        let web = WebArgs::default();
        Self {
            read_header_timeout: web.read_header_timeout,
            max_connections: web.max_connections,
            rejected: Default::default(),
        }
    }
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
