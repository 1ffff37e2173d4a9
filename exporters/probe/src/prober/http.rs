//! HTTP and HTTPS (webmail, autoconfig, admin UIs): one request with redirects followed
//! (each hop checked against the module's allowed targets), status and body checks, and
//! blackbox_exporter's phases (connect, tls, processing, transfer).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::config::TlsMode;
use crate::config::defaults::{HTTP_BODY_LIMIT, MAX_REDIRECTS};
use crate::session::{Fail, Reason, Session, Step};
use crate::target::{Host, Target};

/// Splits an `http://` or `https://` URL into TLS or not, the target and the path.
pub fn parse_url(url: &str) -> Result<(bool, Target, String), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the URL scheme must be http or https".into()),
    };
    let auth = uri.authority().ok_or("the URL has no host")?;
    if auth.as_str().contains('@') {
        return Err("credentials in the URL are not allowed (use auth: with password_file)".into());
    }
    let default_port = if https { 443 } else { 80 };
    let target = Target::parse(auth.as_str(), default_port).map_err(|e| e.to_string())?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    Ok((https, target, path))
}

/// Aborts a spawned task when dropped (a timed-out probe takes its connection with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The `http` prober.
pub async fn run(s: &mut Session) -> Step {
    let module = std::sync::Arc::clone(&s.module);
    let cfg = &module.http;
    let (mut https, mut path) = match &s.url {
        Some((h, p)) => (*h, p.clone()),
        None => (cfg.tls == TlsMode::Implicit, cfg.path.clone()),
    };
    let mut redirects = 0u32;
    let password = match &cfg.auth {
        Some(a) => Some((a.username.clone(), super::password(s, a)?)),
        None => None,
    };
    let (status, body) = loop {
        s.connect().await?;
        if https {
            s.start_tls(&cfg.tls_config, &[b"http/1.1"]).await?;
        }
        s.phase("processing");
        let conn = s
            .conn
            .take()
            .ok_or_else(|| Fail::new(Reason::Network, "not connected"))?;
        let io = TokioIo::new(conn.into_stream());
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| Fail::new(Reason::Protocol, format!("HTTP: {e}")))?;
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let host = s.hostname.clone().unwrap_or_else(|| {
            let default = if https { 443 } else { 80 };
            if s.target.port == default {
                s.target.host.to_string()
            } else {
                s.target.to_string()
            }
        });
        let mut req = http::Request::builder()
            .method(cfg.method.as_str())
            .uri(path.as_str())
            .header(http::header::HOST, host)
            .header(
                http::header::USER_AGENT,
                concat!("mailprobe-exporter/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in &cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some((u, p)) = &password {
            let v = format!("Basic {}", super::b64(format!("{u}:{p}").as_bytes()));
            req = req.header(http::header::AUTHORIZATION, v);
        }
        let body = Full::new(Bytes::from(cfg.body.clone().unwrap_or_default()));
        let req = req
            .body(body)
            .map_err(|e| Fail::new(Reason::Config, format!("HTTP request: {e}")))?;
        s.note(&format!("C: {} {path} (HTTP/1.1)", cfg.method));
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Fail::new(http_reason(&e), format!("HTTP: {e}")))?;
        let status = resp.status().as_u16();
        s.note(&format!("S: HTTP {status}"));
        s.phase("transfer");
        if let Some(len) = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
        {
            s.gauge(
                "probe_http_content_length",
                "Length of http content response",
                len,
            );
        }
        let location = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_body(resp.into_body()).await?;
        if (300..400).contains(&status)
            && cfg.follow_redirects
            && let Some(loc) = location
        {
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(Fail::new(
                    Reason::HttpStatus,
                    format!("more than {MAX_REDIRECTS} redirects"),
                ));
            }
            s.note(&format!("redirect to {}", crate::reply::excerpt(&loc)));
            if loc.starts_with('/') {
                path = loc;
            } else {
                let (h, t, p) = parse_url(&loc)
                    .map_err(|e| Fail::new(Reason::Protocol, format!("redirect: {e}")))?;
                https = h;
                path = p;
                resolve_hop(s, t).await?;
            }
            continue;
        }
        break (status, body);
    };
    s.gauge(
        "probe_http_status_code",
        "Response HTTP status code",
        f64::from(status),
    );
    s.gauge(
        "probe_http_redirects",
        "The number of redirects",
        f64::from(redirects),
    );
    s.gauge(
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
        if https { 1.0 } else { 0.0 },
    );
    s.gauge(
        "probe_http_version",
        "Returns the version of HTTP of the probe response",
        1.1,
    );
    s.gauge(
        "probe_http_uncompressed_body_length",
        "Length of uncompressed response body",
        body.len() as f64,
    );
    let status_ok = if cfg.valid_status_codes.is_empty() {
        (200..300).contains(&status)
    } else {
        cfg.valid_status_codes.contains(&status)
    };
    if !status_ok {
        return Err(Fail::new(
            Reason::HttpStatus,
            format!("status {status} is not accepted"),
        ));
    }
    let regex_failed = cfg
        .fail_if_body_matches_regexp
        .iter()
        .any(|r| r.0.is_match(&body))
        || cfg
            .fail_if_body_not_matches_regexp
            .iter()
            .any(|r| !r.0.is_match(&body));
    s.gauge(
        "probe_failed_due_to_regex",
        "Indicates if probe failed due to regex",
        if regex_failed { 1.0 } else { 0.0 },
    );
    if regex_failed {
        return Err(Fail::new(
            Reason::BodyMismatch,
            "the body failed a regular-expression check",
        ));
    }
    s.end_phase();
    Ok(())
}

/// Resolves and checks the target of a redirect (phase `resolve`).
async fn resolve_hop(s: &mut Session, t: Target) -> Step {
    s.phase("resolve");
    let resolver = s
        .resolver
        .clone()
        .ok_or_else(|| Fail::new(Reason::Config, "no resolver"))?;
    let m = std::sync::Arc::clone(&s.module);
    let addrs = resolver
        .addresses(&t.host, m.preferred_ip_protocol, m.ip_protocol_fallback)
        .await
        .map_err(|e| Fail::new(Reason::Dns, e.to_string()))?;
    if let Some(allow) = &s.allow
        && !allow.allows(&t, &addrs)
    {
        return Err(Fail::new(
            Reason::NotAllowed,
            format!("redirect to {t}, which the module's allowed_targets do not include"),
        ));
    }
    if let Host::Name(_) = &t.host {
        s.hostname = None;
    }
    s.target = t;
    s.addrs = addrs;
    Ok(())
}

fn http_reason(e: &hyper::Error) -> Reason {
    if e.is_parse() || e.is_parse_status() {
        Reason::Protocol
    } else if e.is_incomplete_message() || e.is_closed() {
        Reason::Closed
    } else if e.is_timeout() {
        Reason::Timeout
    } else {
        Reason::Network
    }
}

async fn read_body(mut body: hyper::body::Incoming) -> Step<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Fail::new(http_reason(&e), format!("HTTP body: {e}")))?;
        if let Some(data) = frame.data_ref() {
            if (out.len() + data.len()) as u64 > HTTP_BODY_LIMIT {
                return Err(Fail::new(
                    Reason::TooLarge,
                    format!("body longer than {HTTP_BODY_LIMIT} bytes"),
                ));
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (h, t, p) = parse_url("https://mail.example.net/.well-known/autoconfig?x=1").unwrap();
        assert!(h);
        assert_eq!(t.to_string(), "mail.example.net:443");
        assert_eq!(p, "/.well-known/autoconfig?x=1");
        let (h, t, p) = parse_url("http://127.0.0.1:8080").unwrap();
        assert!(!h);
        assert_eq!((t.port, p.as_str()), (8080, "/"));
        assert_eq!(
            parse_url("http://[::1]:81/x").unwrap().1.to_string(),
            "[::1]:81"
        );
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://user:pw@x/").is_err());
    }
}
