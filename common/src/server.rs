//! The HTTP server: `/metrics` (configurable), `/-/healthy`, `/-/ready` and a landing
//! page, GET and HEAD only, optional TLS and basic auth, graceful shutdown on
//! SIGTERM/SIGINT with a bounded drain time.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;

use crate::ExporterInfo;
use crate::cli::WebArgs;
use crate::negotiate::{Format, negotiate, openmetrics_to_text004};
use crate::runner::{Runner, timeout_from_header};
use crate::webconfig::{BasicAuth, WebConfig};

#[derive(Clone)]
struct AppState {
    info: ExporterInfo,
    runner: Arc<Runner>,
    telemetry_path: String,
    extra_links: Vec<(String, String)>,
}

/// Builds the router for one exporter. `extra` is merged in (for example `/probe`);
/// `extra_links` are `(path, label)` pairs shown on the landing page.
pub fn app(
    info: ExporterInfo,
    runner: Arc<Runner>,
    telemetry_path: &str,
    extra: Router,
    extra_links: Vec<(String, String)>,
    auth: Option<Arc<BasicAuth>>,
) -> Router {
    let state = AppState {
        info,
        runner,
        telemetry_path: telemetry_path.to_string(),
        extra_links,
    };
    let protected = Router::new()
        .route(telemetry_path, get(metrics_handler))
        .route("/", get(landing_handler))
        .with_state(state.clone())
        .merge(extra)
        .layer(CompressionLayer::new().gzip(true));
    let protected = match auth {
        Some(a) => protected.layer(middleware::from_fn_with_state(a, auth_middleware)),
        None => protected,
    };
    // Health endpoints stay open even with basic auth: kubelet probes carry no credentials
    // and the answers reveal nothing.
    Router::new()
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(ready_handler))
        .with_state(state)
        .merge(protected)
}

async fn auth_middleware(State(auth): State<Arc<BasicAuth>>, req: Request, next: Next) -> Response {
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
    if st.runner.is_ready() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: first collection not finished\n",
        )
            .into_response()
    }
}

async fn metrics_handler(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let timeout = timeout_from_header(
        headers
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok()),
    );
    let format = negotiate(accept);
    let om = st.runner.scrape(timeout).await;
    let body = match format {
        Format::OpenMetrics => om,
        Format::Text004 => openmetrics_to_text004(&om),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
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
    for (path, label) in &st.extra_links {
        links.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>",
            esc(path),
            esc(label)
        ));
    }
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

/// Loads the web config (if any), binds the listeners and serves until SIGTERM/SIGINT.
pub async fn serve(
    info: ExporterInfo,
    web: &WebArgs,
    runner: Arc<Runner>,
    extra: Router,
    extra_links: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let mut cfg = match &web.config_file {
        Some(p) => crate::webconfig::load(p)?,
        None => WebConfig::default(),
    };
    let listeners = bind_all(&web.listen_addresses)?;
    let router = app(
        info,
        runner,
        &web.telemetry_path,
        extra,
        extra_links,
        cfg.basic_auth.take().map(Arc::new),
    );
    // `http_server_config.headers` go on every response, 401s and health checks included.
    let router = cfg.apply_headers(router);
    serve_listeners(
        listeners,
        router,
        cfg.tls,
        shutdown_signal(),
        web.shutdown_timeout,
    )
    .await
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
    let handle = axum_server::Handle::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (addr, l) in listeners {
        let svc = router.clone().into_make_service();
        let h = handle.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %addr, scheme, "listening");
        match &tls {
            Some(cfg) => {
                let rc = axum_server::tls_rustls::RustlsConfig::from_config(Arc::clone(cfg));
                let server = axum_server::from_tcp_rustls(l, rc)
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
