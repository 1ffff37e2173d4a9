//! `GET /probe?module=M&target=T[&hostname=H][&debug=true]`: blackbox_exporter's
//! contract. A fresh set of metrics per request; 400 for a missing target or an unknown
//! module, 403 for a target the module may not reach.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::config::{Config, ProberKind};
use crate::dns::Resolver;
use crate::session::{Fail, Reason, Session};
use crate::target::{AllowList, Host, Target};

/// The `module` label (names come from the module file, so they are bounded).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModuleLabel {
    /// Module name.
    pub module: String,
}

/// `module` and `result` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// Module name.
    pub module: String,
    /// `success` or `failure`.
    pub result: String,
}

/// The prober's own metrics on `/metrics`.
#[derive(Clone, Default)]
pub struct ProbeMetrics {
    probes: Family<ResultLabel, Counter>,
    refused: Family<ModuleLabel, Counter>,
    unknown: Counter,
}

impl ProbeMetrics {
    /// Registers the families.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "mailprobe_probes",
            "Probes run through /probe, by module and result",
            self.probes.clone(),
        );
        r.register(
            "mailprobe_probes_refused",
            "Probe requests refused because the module may not reach the target",
            self.refused.clone(),
        );
        r.register(
            "mailprobe_module_unknown",
            "Probe requests naming a module the file does not have",
            self.unknown.clone(),
        );
    }
}

/// What the handler needs: the current module file, the resolver, the flags.
#[derive(Clone)]
pub struct App {
    /// The module file in use (swapped on reload).
    pub config: Arc<RwLock<Arc<Config>>>,
    /// The shared resolver.
    pub resolver: Resolver,
    /// `--timeout-offset`.
    pub timeout_offset: Duration,
    /// `--probe.allow-any-target`.
    pub allow_any: bool,
    /// Self metrics.
    pub metrics: ProbeMetrics,
}

impl App {
    fn config(&self) -> Arc<Config> {
        Arc::clone(
            &self
                .config
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The probe's time budget: the scraper's timeout minus the offset, capped by the module
/// (blackbox_exporter's rule; without the header the module's timeout alone).
pub fn budget(header_value: Option<&str>, offset: Duration, module: Duration) -> Duration {
    let scrape = header_value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| Duration::from_secs_f64(v.min(3600.0)));
    let t = match scrape {
        Some(s) => s.saturating_sub(offset).min(module),
        None => module,
    };
    // A budget of nothing would fail every probe at once; keep a little.
    t.max(Duration::from_millis(100))
}

/// The `/probe` handler.
pub async fn probe(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let cfg = app.config();
    let Some(target_s) = q.get("target").filter(|t| !t.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "Target parameter is missing\n".into(),
        );
    };
    let module_name = q.get("module").map(String::as_str).unwrap_or("");
    let Some(module) = cfg.modules.get(module_name) else {
        app.metrics.unknown.inc();
        let shown: String = module_name.chars().take(64).collect();
        return text(
            StatusCode::BAD_REQUEST,
            format!("Unknown module {shown:?}\n"),
        );
    };
    let module = Arc::new(module.clone());
    let debug = q.get("debug").is_some_and(|v| v == "true" || v == "1");
    let timeout = budget(
        headers
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok()),
        app.timeout_offset,
        module.timeout,
    );
    let deadline = Instant::now() + timeout;
    let (mut target, url) = match parse_target(module.prober, target_s) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("Invalid target: {e}\n")),
    };
    let allow = match (&module.allowed_targets, app.allow_any) {
        (Some(l), _) => Some(l.clone()),
        (None, true) => None,
        (None, false) => Some(AllowList::loopback()),
    };
    let dns_start = Instant::now();
    // A mail domain: the exchanger is the target. Allowed by the domain's name or, like any
    // target, by the exchanger's name or addresses.
    let mut domain_allowed = false;
    let mut mx_failure = None;
    if module.smtp.mx_lookup
        && matches!(module.prober, ProberKind::Smtp | ProberKind::Lmtp)
        && let Host::Name(domain) = &target.host
    {
        domain_allowed = allow
            .as_ref()
            .is_none_or(|l| l.allows_name(domain, target.port));
        match tokio::time::timeout(timeout, app.resolver.mx(domain)).await {
            Ok(Ok(mx)) => {
                let port = target.port;
                target = Target {
                    host: Host::Name(mx),
                    port,
                };
            }
            Ok(Err(e)) => mx_failure = Some(Fail::new(Reason::Dns, e.to_string())),
            Err(_) => mx_failure = Some(Fail::new(Reason::Timeout, "MX lookup timed out")),
        }
    }
    let mut s = Session::new(module_name, Arc::clone(&module), target.clone());
    s.url = url;
    s.deadline = Some(deadline);
    s.resolver = Some(app.resolver.clone());
    s.hostname = q
        .get("hostname")
        .filter(|h| !h.is_empty() && h.len() <= 253)
        .cloned();
    s.allow = allow.clone();
    // Resolve first: the allow check judges the addresses that will be connected to.
    s.phase("resolve");
    let resolved = match mx_failure {
        Some(f) => Ok(Err(f)),
        None => {
            tokio::time::timeout(timeout, async {
                app.resolver
                    .addresses(
                        &target.host,
                        module.preferred_ip_protocol,
                        module.ip_protocol_fallback,
                    )
                    .await
                    .map_err(|e| Fail::new(Reason::Dns, e.to_string()))
            })
            .await
        }
    };
    let dns = dns_start.elapsed();
    let mut result = match resolved {
        Ok(Ok(addrs)) => {
            if let Some(l) = &allow
                && !domain_allowed
                && !l.allows(&target, &addrs)
            {
                app.metrics
                    .refused
                    .get_or_create(&ModuleLabel {
                        module: module_name.to_string(),
                    })
                    .inc();
                tracing::info!(module = module_name, target = %target, "probe refused: target not allowed by the module");
                return text(
                    StatusCode::FORBIDDEN,
                    format!(
                        "Target {target} is not allowed for module {module_name:?} (allowed_targets)\n"
                    ),
                );
            }
            s.addrs = addrs;
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, crate::prober::run(&mut s)).await {
                Ok(r) => r,
                Err(_) => Err(Fail::new(
                    Reason::Timeout,
                    format!(
                        "no answer within the probe's {:.1} s",
                        timeout.as_secs_f64()
                    ),
                )),
            }
        }
        Ok(Err(f)) => Err(f),
        Err(_) => Err(Fail::new(Reason::Timeout, "name resolution timed out")),
    };
    if result.is_err() && s.conn.is_some() {
        // Close politely (TLS close_notify, FIN) but briefly: the budget is spent.
        let _ = tokio::time::timeout(Duration::from_millis(100), s.close()).await;
    }
    let success = result.is_ok();
    if let Err(f) = result.as_mut() {
        let f = std::mem::replace(f, Fail::new(Reason::Network, ""));
        s.record_failure(f);
        if let Some((phase, f)) = s.failure() {
            tracing::debug!(module = module_name, target = %target, phase, reason = f.reason.as_str(), error = %f.detail, "probe failed");
        }
    } else {
        s.end_phase();
        s.note("probe succeeded");
    }
    app.metrics
        .probes
        .get_or_create(&ResultLabel {
            module: module_name.to_string(),
            result: if success { "success" } else { "failure" }.into(),
        })
        .inc();
    let mut m = s.metrics(success, timeout, Some(dns));
    if module.prober == ProberKind::Http {
        let help = "Duration of http request by phase, summed over all redirects";
        for (phase, d) in s.phases() {
            if matches!(
                *phase,
                "resolve" | "connect" | "tls" | "processing" | "transfer"
            ) {
                m.gauge(
                    "probe_http_duration_seconds",
                    help,
                    common::metricset::labels(&[("phase", phase)]),
                    d.as_secs_f64(),
                );
            }
        }
    }
    let mut reg = Registry::default();
    reg.register_collector(Box::new(m.into_collector()));
    let om = common::expose::encode(&[&reg]);
    if debug {
        let body = format!(
            "Logs for the probe:\n{}\n\nMetrics that would have been returned:\n{}\n\nModule configuration:\n{}\n",
            s.transcript().join("\n"),
            common::expose::render(om, common::negotiate::Format::Text004),
            s.scrub(&format!("{:#?}", module)),
        );
        return text(StatusCode::OK, body);
    }
    common::expose::respond(om, &headers)
}

/// The target of a request: `host:port` with the prober's default port, or for HTTP a URL.
fn parse_target(kind: ProberKind, t: &str) -> Result<(Target, Option<(bool, String)>), String> {
    if kind == ProberKind::Http && (t.starts_with("http://") || t.starts_with("https://")) {
        let (https, target, path) = crate::prober::http::parse_url(t)?;
        return Ok((target, Some((https, path))));
    }
    let port = match kind {
        ProberKind::Smtp | ProberKind::Delivery => 25,
        ProberKind::Lmtp => 24,
        ProberKind::Imap => 143,
        ProberKind::Pop3 => 110,
        ProberKind::Ftp => 21,
        ProberKind::Http => 80,
    };
    Target::parse(t, port)
        .map(|t| (t, None))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_blackbox() {
        let m = Duration::from_secs(10);
        let off = Duration::from_millis(500);
        assert_eq!(budget(Some("5"), off, m), Duration::from_millis(4500));
        assert_eq!(budget(Some("30"), off, m), m);
        assert_eq!(budget(None, off, m), m);
        assert_eq!(budget(Some("junk"), off, m), m);
        assert_eq!(budget(Some("0.2"), off, m), Duration::from_millis(100));
    }

    #[test]
    fn targets_per_prober() {
        assert_eq!(
            parse_target(ProberKind::Imap, "127.0.0.1").unwrap().0.port,
            143
        );
        assert_eq!(
            parse_target(ProberKind::Ftp, "127.0.0.1").unwrap().0.port,
            21
        );
        let (t, url) = parse_target(ProberKind::Http, "https://127.0.0.1:8443/x").unwrap();
        assert_eq!((t.port, url), (8443, Some((true, "/x".to_string()))));
        assert!(parse_target(ProberKind::Smtp, "http://x/").is_err());
    }
}
