//! The one exposition path: encode registries as OpenMetrics, then render or respond in
//! the negotiated format. Used by `/metrics`, by `/probe` (a fresh registry per request),
//! by the exporters' `print` subcommands and by the tests, so every body comes out of the
//! same code. gzip is added by the server's compression layer for every route.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::registry::Registry;

use crate::negotiate::{Format, negotiate, openmetrics_to_text004};

/// Encodes `registries`, in order, as one OpenMetrics body ending in `# EOF`.
pub fn encode(registries: &[&Registry]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    for r in registries {
        // Writing to a String cannot fail; an error here is an encoder bug, and the
        // families written so far are still worth serving.
        if encode_registry(&mut out, r).is_err() {
            tracing::error!("encoding metrics failed");
        }
    }
    let _ = encode_eof(&mut out);
    // prometheus-client writes infinities as `inf`; the OpenMetrics grammar (and the
    // text format) spell them `+Inf` / `-Inf`.
    // One scan in the common case of no infinity at all.
    if out.contains("inf\n") {
        out = out
            .replace(" inf\n", " +Inf\n")
            .replace(" -inf\n", " -Inf\n");
    }
    out
}

/// The OpenMetrics body `om` in `format`.
pub fn render(om: String, format: Format) -> String {
    match format {
        Format::OpenMetrics => om,
        Format::Text004 => openmetrics_to_text004(&om),
    }
}

/// The format a request's `Accept` header asks for.
pub fn format_for(headers: &HeaderMap) -> Format {
    negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

/// A 200 response with the OpenMetrics body `om` rendered in the format the request's
/// headers negotiate, with the matching `Content-Type`.
pub fn respond(om: String, headers: &HeaderMap) -> Response {
    let format = format_for(headers);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        render(om, format),
    )
        .into_response()
}

/// `registry` in text format 0.0.4, as a one-shot subcommand (`print`) writes it.
pub fn render_text(registry: &prometheus_client::registry::Registry) -> String {
    render(encode(&[registry]), Format::Text004)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn one_path_for_both_formats() {
        let mut r = Registry::default();
        let c: Counter = Counter::default();
        c.inc();
        r.register("t_events", "Events", c);
        let om = encode(&[&r]);
        assert!(
            om.contains("# TYPE t_events counter\nt_events_total 1\n"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
        let mut g = Registry::default();
        let inf: prometheus_client::metrics::gauge::Gauge<f64, std::sync::atomic::AtomicU64> =
            Default::default();
        inf.set(f64::INFINITY);
        g.register("t_age_seconds", "Age", inf);
        assert!(encode(&[&g]).contains("t_age_seconds +Inf\n"));
        let text = render(om.clone(), Format::Text004);
        assert!(text.contains("# TYPE t_events_total counter\n"), "{text}");
        assert!(!text.contains("# EOF"));
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/openmetrics-text;version=1.0.0"),
        );
        let resp = respond(om, &h);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            crate::negotiate::OPENMETRICS_CONTENT_TYPE
        );
    }
}
