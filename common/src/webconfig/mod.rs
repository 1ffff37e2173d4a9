//! `--web.config.file` in the Prometheus exporter-toolkit format: TLS and basic auth.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # or `cert:` with inline PEM
//!   key_file: server.key           # or `key:` with inline PEM
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt         # or `client_ca:` with inline PEM
//!   min_version: TLS12             # TLS12 | TLS13 (TLS10/TLS11 mean TLS12 here)
//!   max_version: TLS13
//! http_server_config:
//!   http2: true
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   prometheus: $2y$10$...        # bcrypt hash
//! ```
//!
//! Relative file names are resolved against the directory of the config file, as the
//! exporter-toolkit does. Unknown keys are errors, so a typo never silently disables TLS or
//! authentication. Accepted but ignored (with a warning): `cipher_suites`,
//! `prefer_server_cipher_suites`, `curve_preferences` (rustls picks safe suites and curves
//! itself). Rejected: `client_allowed_sans` (not implemented; accepting it would silently
//! widen access). `rate_limit` (`interval`, `burst`) limits requests as the toolkit does: a
//! token bucket of `burst` requests refilled one per `interval`, 429 past it (health
//! endpoints excepted). The file is re-read on reload (SIGHUP, `POST /-/reload`).
//!
//! Errors never quote a value from the file: a value in the wrong place may be a password
//! or a key (`invalid type: string "prom:S3cret"` is what a YAML library says), so quoted
//! values are replaced by `"…"` and every message is capped. A user named twice is an
//! error, not "the last one wins".

mod access;
mod tls;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

#[cfg(test)]
use access::ct_eq;
pub use access::{BasicAuth, Limiter, RateLimit, basic_user};
use tls::{RawTls, build_tls};

/// A loaded web configuration.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// TLS server configuration, when `tls_server_config` is present.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic-auth users, when `basic_auth_users` is present and not empty.
    pub basic_auth: Option<BasicAuth>,
    /// Response headers from `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `rate_limit`, when `burst` is above 0.
    pub rate_limit: Option<RateLimit>,
}

/// Longest error message about the file: a 100 MB value must not become 100 MB of log.
const MAX_MESSAGE: usize = 300;

/// Removes quoted values from a YAML library's message and caps its length.
fn redact(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(MAX_MESSAGE + 8));
    let mut in_quote = false;
    for c in msg.chars() {
        if c == '"' {
            if !in_quote {
                out.push_str("\"…");
            } else {
                out.push('"');
            }
            in_quote = !in_quote;
            continue;
        }
        if !in_quote {
            out.push(c);
        }
        if out.len() >= MAX_MESSAGE {
            out.push_str(" …");
            break;
        }
    }
    out
}

/// Caps text taken from the file (a user name, a header name) before it goes in a message.
fn shown(s: &str) -> String {
    let mut t: String = s.chars().take(64).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    format!("{t:?}")
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: Option<serde_norway::Value>,
    burst: Option<u64>,
}

/// The toolkit's semantics: no limit unless `burst` is above 0; `interval` is a Go
/// duration (`1s`, `250ms`) or a number of seconds.
fn rate_limit(r: RawRateLimit) -> anyhow::Result<Option<RateLimit>> {
    let burst = r.burst.unwrap_or(0);
    if burst == 0 {
        return Ok(None);
    }
    let burst = u32::try_from(burst).map_err(|_| anyhow!("burst: {burst} is too large"))?;
    let interval = match r.interval {
        None => bail!("interval: missing (e.g. interval: 1s)"),
        Some(serde_norway::Value::String(s)) => crate::cli::parse_duration(&s)
            .map_err(|_| anyhow!("interval: {} is not a duration like 1s or 250ms", shown(&s)))?,
        Some(serde_norway::Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| anyhow!("interval: not a usable number of seconds"))?,
        Some(_) => bail!("interval: expected a duration like 1s"),
    };
    Ok(Some(RateLimit { interval, burst }))
}

/// Deserializing into a struct keeps the last of two equal keys; two entries for one user
/// would leave a password working that the operator believes is gone. The generic YAML
/// value refuses duplicates, so the text is read as one first.
fn reject_duplicate_keys(text: &str) -> anyhow::Result<()> {
    match serde_norway::from_str::<serde_norway::Value>(text) {
        // Keys are names (of users, of settings), not secrets: the message keeps the
        // key, capped like every quoted name.
        Err(e) if e.to_string().contains("duplicate entry") => {
            let msg = e.to_string();
            let key = msg.split('"').nth(1).unwrap_or("");
            let before = msg.split('"').next().unwrap_or("");
            let after = msg.rsplit('"').next().unwrap_or("");
            bail!(
                "{}{}{} (each user, and each key, once)",
                redact(before),
                shown(key),
                redact(after)
            )
        }
        _ => Ok(()),
    }
}

/// Headers the exporter-toolkit lets an operator set.
const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// Loads and validates the file; errors name the file and the problem.
pub fn load(path: &Path) -> anyhow::Result<WebConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("web config {}: cannot read", path.display()))?;
    parse(&text, path).map_err(|e| anyhow!("web config {}: {e:#}", path.display()))
}

/// Parses the YAML `text`; `path` locates relative file names (and is not read itself).
fn parse(text: &str, path: &Path) -> anyhow::Result<WebConfig> {
    // An empty file (or one of only comments) is a valid "no TLS, no auth" config.
    let raw: RawConfig = match serde_norway::from_str::<Option<RawConfig>>(text) {
        Ok(r) => r.unwrap_or_default(),
        Err(e) => bail!("{}", redact(&e.to_string())),
    };
    reject_duplicate_keys(text)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut cfg = WebConfig::default();
    let mut http2 = true;
    if let Some(h) = raw.http_server_config {
        http2 = h.http2.unwrap_or(true);
        for (name, value) in h.headers.unwrap_or_default() {
            let Some(canon) = ALLOWED_HEADERS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&name))
            else {
                bail!(
                    "http_server_config.headers: header {} cannot be configured (allowed: {})",
                    shown(&name),
                    ALLOWED_HEADERS.join(", ")
                );
            };
            if value.is_empty() {
                continue;
            }
            let hv = HeaderValue::from_str(&value).map_err(|_| {
                anyhow!(
                    "http_server_config.headers.{canon}: invalid value {}",
                    shown(&value)
                )
            })?;
            let hn = HeaderName::from_bytes(canon.as_bytes()).map_err(|_| {
                anyhow!("http_server_config.headers: invalid header name {canon:?}")
            })?;
            cfg.headers.push((hn, hv));
        }
    }
    if let Some(t) = raw.tls_server_config {
        cfg.tls = Some(Arc::new(
            build_tls(t, base, http2).context("tls_server_config")?,
        ));
    }
    if let Some(users) = raw.basic_auth_users
        && !users.is_empty()
    {
        cfg.basic_auth = Some(BasicAuth::new(users).context("basic_auth_users")?);
    }
    if let Some(r) = raw.rate_limit {
        cfg.rate_limit = rate_limit(r).context("rate_limit")?;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn header(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    fn auth() -> BasicAuth {
        let mut users = BTreeMap::new();
        users.insert(
            "alice".to_string(),
            bcrypt::hash("s3cret:with colon", 4).unwrap(),
        );
        users.insert("bob".to_string(), bcrypt::hash("hunter2", 4).unwrap());
        BasicAuth::new(users).unwrap()
    }

    #[test]
    fn basic_auth_accepts_only_the_right_pair() {
        let a = auth();
        assert!(a.check(Some(&header("alice", "s3cret:with colon"))));
        assert!(a.check(Some(&header("bob", "hunter2"))));
        // Cached now; still right and still rejecting the wrong ones.
        assert!(a.check(Some(&header("bob", "hunter2"))));
        assert!(!a.check(Some(&header("bob", "hunter3"))));
        assert!(!a.check(Some(&header("alice", "hunter2"))));
        assert!(!a.check(Some(&header("mallory", "hunter2"))));
        assert!(!a.check(Some(&header("bo", "hunter2"))));
        assert!(!a.check(Some(&header("", ""))));
        assert!(!a.check(None));
        assert!(!a.check(Some("Bearer abc")));
        assert!(!a.check(Some("Basic !!!notbase64")));
        // No colon in the decoded credentials.
        assert!(!a.check(Some("Basic Ym9i")));
        // Scheme is case-insensitive (RFC 7617).
        let lower = header("bob", "hunter2").replacen("Basic", "basic", 1);
        assert!(a.check(Some(&lower)));
        assert_eq!(a.users().collect::<Vec<_>>(), vec!["alice", "bob"]);
        assert!(
            !format!("{a:?}").contains("$2"),
            "hashes must not be printed"
        );
    }

    #[test]
    fn cache_makes_repeated_checks_cheap() {
        let mut users = BTreeMap::new();
        users.insert("u".to_string(), bcrypt::hash("p", 10).unwrap());
        let a = BasicAuth::new(users).unwrap();
        let h = header("u", "p");
        let t0 = std::time::Instant::now();
        assert!(a.check(Some(&h)));
        let first = t0.elapsed();
        let t1 = std::time::Instant::now();
        for _ in 0..100 {
            assert!(a.check(Some(&h)));
        }
        let hundred = t1.elapsed();
        assert!(
            hundred < first,
            "100 cached checks {hundred:?} vs one bcrypt {first:?}"
        );
    }

    #[test]
    fn bad_hash_is_rejected_at_load() {
        let mut users = BTreeMap::new();
        users.insert("eve".to_string(), "plaintext".to_string());
        let err = BasicAuth::new(users).unwrap_err().to_string();
        assert!(
            err.contains("\"eve\"") && err.contains("not a bcrypt hash"),
            "{err}"
        );
        // The value may be a password typed where the hash belongs: never echoed.
        assert!(!err.contains("plaintext"), "{err}");
    }

    #[test]
    fn errors_never_quote_values_and_stay_short() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        let huge = "S".repeat(1_000_000);
        for text in [
            "basic_auth_users: prom:S3cretPassw0rd!\n".to_string(),
            "basic_auth_users:\n  prom: [S3cretPassw0rd!]\n".to_string(),
            format!("basic_auth_users: {huge}\n"),
            format!("tls_server_config:\n  key: 12\n  cert: [{huge}]\n"),
        ] {
            std::fs::write(&p, &text).unwrap();
            let e = format!("{:#}", load(&p).unwrap_err());
            assert!(!e.contains("S3cret") && !e.contains("SSSS"), "{e}");
            assert!(e.len() < 600, "{} bytes", e.len());
            assert!(e.contains("web.yml"), "{e}");
        }
    }

    #[test]
    fn a_user_given_twice_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        let h = bcrypt::hash("x", 4).unwrap();
        std::fs::write(
            &p,
            format!("basic_auth_users:\n  prom: '{h}'\n  prom: '{h}'\n"),
        )
        .unwrap();
        let e = format!("{:#}", load(&p).unwrap_err());
        assert!(
            e.contains("duplicate entry with key \"prom\"") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn rate_limit_is_a_token_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("web.yml");
        std::fs::write(&p, "rate_limit:\n  interval: 1s\n  burst: 3\n").unwrap();
        let r = load(&p).unwrap().rate_limit.unwrap();
        assert_eq!(
            r,
            RateLimit {
                interval: std::time::Duration::from_secs(1),
                burst: 3
            }
        );
        let l = Limiter::new(r);
        assert!(l.allow() && l.allow() && l.allow());
        assert!(!l.allow(), "the fourth at once is refused");
        std::fs::write(&p, "rate_limit:\n  burst: 0\n").unwrap();
        assert_eq!(load(&p).unwrap().rate_limit, None, "burst 0 means no limit");
        std::fs::write(&p, "rate_limit:\n  burst: 2\n").unwrap();
        assert!(load(&p).is_err(), "a burst needs an interval");
    }

    #[test]
    fn ct_eq_matches_plain_equality() {
        for (a, b) in [
            ("", ""),
            ("a", ""),
            ("", "a"),
            ("abc", "abc"),
            ("abc", "abd"),
            ("ab", "abc"),
        ] {
            assert_eq!(ct_eq(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn empty_and_comment_only_files_mean_nothing_configured() {
        for text in ["", "# nothing\n", "---\n"] {
            let c = parse(text, Path::new("/x/web.yml")).unwrap();
            assert!(c.tls.is_none() && c.basic_auth.is_none() && c.headers.is_empty());
        }
        let c = parse("basic_auth_users: {}\n", Path::new("/x/web.yml")).unwrap();
        assert!(c.basic_auth.is_none());
    }

    #[test]
    fn unknown_keys_and_values_are_errors_with_location() {
        let err = parse("tls_server_config:\n  cert_fil: x\n", Path::new("w.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `cert_fil`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("tls_server_config"), "{err}");

        let err = parse(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n",
            Path::new("w.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown variant `Always`"), "{err}");
        assert!(err.contains("line 4"), "{err}");

        let err = parse("basic_auth_user:\n  a: b\n", Path::new("w.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `basic_auth_user`"), "{err}");
    }

    #[test]
    fn headers_are_validated_and_canonicalised() {
        let c = parse(
            "http_server_config:\n  http2: false\n  headers:\n    x-frame-options: deny\n    Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n",
            Path::new("w.yml"),
        )
        .unwrap();
        let names: Vec<_> = c
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![
                "strict-transport-security=max-age=31536000",
                "x-frame-options=deny"
            ]
        );
        let err = parse(
            "http_server_config:\n  headers:\n    Server: x\n",
            Path::new("w.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"Server\" cannot be configured"), "{err}");
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let err = parse(
            "tls_server_config:\n  key_file: k\n",
            Path::new("/nonexistent/w.yml"),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("missing cert_file (or cert)"),
            "{err:#}"
        );
        let err = parse(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
            Path::new("/nonexistent/w.yml"),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("cert_file: cannot read /nonexistent/c.pem"),
            "{msg}"
        );
    }
}
