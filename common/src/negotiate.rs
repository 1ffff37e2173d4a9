//! Content negotiation between OpenMetrics 1.0.0 and the Prometheus text format 0.0.4.
//!
//! `prometheus-client` only writes OpenMetrics. vmagent asks for text 0.0.4, so the
//! OpenMetrics body is rewritten line by line into a valid 0.0.4 body: counter and
//! info families are renamed to their sample names, `_created` samples, `# UNIT`,
//! exemplars and `# EOF` are dropped.

/// Content type of an OpenMetrics 1.0.0 body.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of a Prometheus text 0.0.4 body.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition format chosen for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
    /// `text/plain; version=0.0.4`.
    Text004,
}

impl Format {
    /// The `Content-Type` header value for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text004 => TEXT_CONTENT_TYPE,
        }
    }
}

/// Picks the format from an `Accept` header.
///
/// OpenMetrics wins only when the client gives it a strictly higher quality than
/// anything that means text (`text/plain`, `text/*`, `*/*`); ties and absent or
/// unparsable headers get text 0.0.4, which every scraper understands.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text004;
    };
    let mut best_om = 0.0f64;
    let mut best_text = 0.0f64;
    for part in accept.split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f64;
        let mut version: Option<String> = None;
        for p in params {
            if let Some((k, v)) = p.split_once('=') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim().trim_matches('"');
                if k == "q" {
                    q = v.parse::<f64>().unwrap_or(0.0).clamp(0.0, 1.0);
                } else if k == "version" {
                    version = Some(v.to_string());
                }
            }
        }
        match media.as_str() {
            "application/openmetrics-text" => {
                // We only speak 1.0.0; 0.0.1 is a strict subset in practice for what we emit.
                let ok = version
                    .as_deref()
                    .is_none_or(|v| v == "1.0.0" || v == "0.0.1");
                if ok {
                    best_om = best_om.max(q);
                }
            }
            "text/plain" | "text/*" | "*/*" => best_text = best_text.max(q),
            _ => {}
        }
    }
    if best_om > 0.0 && best_om > best_text {
        Format::OpenMetrics
    } else {
        Format::Text004
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Counter,
    Info,
    GaugeHistogram,
    Summary,
    Histogram,
    Other,
}

/// Rewrites an OpenMetrics body (as written by `prometheus-client`) into text 0.0.4.
pub fn openmetrics_to_text004(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut pending_help: Option<(&str, &str)> = None;
    let mut ty = Ty::Other;
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            pending_help = Some((name, text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (new_name, new_type, kind): (String, &str, Ty) = match t {
                "counter" => (format!("{name}_total"), "counter", Ty::Counter),
                "info" => (format!("{name}_info"), "gauge", Ty::Info),
                "gaugehistogram" => (name.to_string(), "histogram", Ty::GaugeHistogram),
                "histogram" => (name.to_string(), "histogram", Ty::Histogram),
                "summary" => (name.to_string(), "summary", Ty::Summary),
                "gauge" => (name.to_string(), "gauge", Ty::Other),
                "stateset" => (name.to_string(), "gauge", Ty::Other),
                _ => (name.to_string(), "untyped", Ty::Other),
            };
            ty = kind;
            if let Some((hname, text)) = pending_help.take()
                && hname == name
            {
                out.push_str("# HELP ");
                out.push_str(&new_name);
                out.push(' ');
                out.push_str(&escape_help_004(text));
                out.push('\n');
            }
            out.push_str("# TYPE ");
            out.push_str(&new_name);
            out.push(' ');
            out.push_str(new_type);
            out.push('\n');
            continue;
        }
        if line.starts_with('#') {
            // `# UNIT`, `# EOF` and anything else OpenMetrics-only.
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let sample = strip_exemplar(line);
        let name_end = sample.find(['{', ' ']).unwrap_or(sample.len());
        let name = &sample[..name_end];
        if name.ends_with("_created") && matches!(ty, Ty::Counter | Ty::Histogram | Ty::Summary) {
            continue;
        }
        if ty == Ty::GaugeHistogram {
            if let Some(base) = name.strip_suffix("_gcount") {
                out.push_str(base);
                out.push_str("_count");
                out.push_str(&sample[name_end..]);
                out.push('\n');
                continue;
            }
            if let Some(base) = name.strip_suffix("_gsum") {
                out.push_str(base);
                out.push_str("_sum");
                out.push_str(&sample[name_end..]);
                out.push('\n');
                continue;
            }
        }
        out.push_str(sample);
        out.push('\n');
    }
    out
}

/// OpenMetrics escapes `"` in HELP; text 0.0.4 only escapes `\` and newline.
fn escape_help_004(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\\\"") {
        std::borrow::Cow::Owned(text.replace("\\\"", "\""))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Removes a trailing ` # {...} value [ts]` exemplar, respecting quoted label values.
fn strip_exemplar(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b'#' if !in_quotes && i > 0 && bytes[i - 1] == b' ' => {
                return line[..i - 1].trim_end();
            }
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmagent_gets_text() {
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4;q=1,*/*;q=0.1")),
            Format::Text004
        );
        assert_eq!(negotiate(None), Format::Text004);
        assert_eq!(negotiate(Some("*/*")), Format::Text004);
        assert_eq!(negotiate(Some("garbage;;;q=x")), Format::Text004);
    }

    #[test]
    fn prometheus_gets_openmetrics() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(
            negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        // Equal preference: text wins.
        assert_eq!(
            negotiate(Some("application/openmetrics-text, text/plain")),
            Format::Text004
        );
        // An OpenMetrics version we do not speak is ignored.
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=2.0.0")),
            Format::Text004
        );
    }

    #[test]
    fn rewrites_counters_info_and_drops_om_only_lines() {
        let om = "# HELP a_lines Lines read.\n# TYPE a_lines counter\na_lines_total 3\na_lines_created 1.7e9\n\
# HELP a_build Build.\n# TYPE a_build info\na_build_info{version=\"1\"} 1\n\
# HELP a_age_seconds Age.\n# TYPE a_age_seconds gauge\n# UNIT a_age_seconds seconds\na_age_seconds{q=\"a # b\"} 5 # {trace=\"x\"} 1\n\
# EOF\n";
        let t = openmetrics_to_text004(om);
        assert_eq!(
            t,
            "# HELP a_lines_total Lines read.\n# TYPE a_lines_total counter\na_lines_total 3\n\
# HELP a_build_info Build.\n# TYPE a_build_info gauge\na_build_info{version=\"1\"} 1\n\
# HELP a_age_seconds Age.\n# TYPE a_age_seconds gauge\na_age_seconds{q=\"a # b\"} 5\n"
        );
    }

    #[test]
    fn gauge_histogram_becomes_histogram() {
        let om = "# TYPE q gaugehistogram\nq_bucket{le=\"+Inf\"} 2\nq_gcount 2\nq_gsum 4\n# EOF\n";
        assert_eq!(
            openmetrics_to_text004(om),
            "# TYPE q histogram\nq_bucket{le=\"+Inf\"} 2\nq_count 2\nq_sum 4\n"
        );
    }
}
