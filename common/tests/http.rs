//! The real server over real HTTP: negotiation, compression, methods, health and readiness,
//! scrape timeouts, several listeners, TLS (server and client certificates), basic auth and
//! graceful shutdown. Everything listens on 127.0.0.1 with ports picked by the kernel.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use common::runner::{Background, BackgroundOptions, CollectContext};
use common::server::{bind_all, serve_listeners};
use common::{Collector, ExporterInfo, MetricSet, Runner, webconfig};
use e2e_tests::pki::Pki;
use e2e_tests::{ACCEPT_OPENMETRICS, ACCEPT_TEXT};
use reqwest::StatusCode;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

const INFO: ExporterInfo = ExporterInfo {
    name: "test-exporter",
    namespace: "t",
    description: "An exporter under test",
    default_listen: "127.0.0.1:0",
    env_prefix: "TEST_EXPORTER_HTTP",
};

const TEXT_CT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OM_CT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Returns a fixed gauge after an optional delay.
struct Fixed {
    name: &'static str,
    value: f64,
    delay: Duration,
}

#[async_trait]
impl Collector for Fixed {
    async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        tokio::time::sleep(self.delay).await;
        let mut s = MetricSet::new();
        s.gauge(
            &format!("t_{}_value", self.name),
            "A test value.",
            vec![],
            self.value,
        );
        Ok(s)
    }
}

/// Blocks its first collection until released.
struct Gated(Arc<Notify>);

#[async_trait]
impl Collector for Gated {
    async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        self.0.notified().await;
        let mut s = MetricSet::new();
        s.gauge("t_gated_value", "A test value.", vec![], 1.0);
        Ok(s)
    }
}

fn runner(slow: Duration) -> Arc<Runner> {
    let mut r = Runner::new("t");
    r.add(
        "good",
        Arc::new(Fixed {
            name: "good",
            value: 4.0,
            delay: Duration::ZERO,
        }),
    );
    r.add(
        "slow",
        Arc::new(Fixed {
            name: "slow",
            value: 7.0,
            delay: slow,
        }),
    );
    Arc::new(r)
}

fn router(r: Arc<Runner>, path: &str, auth: Option<webconfig::BasicAuth>) -> Router {
    common::server::Server::new(INFO, r)
        .telemetry_path(path)
        .link("/probe", "Probe <target>")
        .basic_auth(auth)
        .router()
}

struct Server {
    addrs: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start(
        router: Router,
        tls: Option<Arc<rustls::ServerConfig>>,
        listeners: usize,
        drain: Duration,
    ) -> Self {
        let l = bind_all(&vec!["127.0.0.1:0".to_string(); listeners]).unwrap();
        let addrs = l.iter().map(|(_, l)| l.local_addr().unwrap()).collect();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_listeners(
            l,
            router,
            tls,
            async {
                let _ = rx.await;
            },
            drain,
        ));
        Server {
            addrs,
            stop: Some(tx),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs[0])
    }

    async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve_listeners returns")
            .expect("task not panicked")
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn ct(r: &reqwest::Response) -> String {
    r.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn negotiation_compression_methods_and_pages() {
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        None,
        1,
        Duration::from_secs(2),
    )
    .await;
    let c = client();

    // No Accept header: text 0.0.4, no EOF marker.
    let r = c.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(ct(&r), TEXT_CT);
    let body = r.text().await.unwrap();
    assert!(body.contains("\nt_good_value 4.0\n"), "{body}");
    assert!(body.contains("# TYPE t_good_value gauge\n"), "{body}");
    assert!(
        body.contains("t_scrape_collector_success{collector=\"good\"} 1.0\n"),
        "{body}"
    );
    assert!(!body.contains("# EOF"), "{body}");

    // Prometheus 2.42's Accept header: OpenMetrics, EOF last.
    let r = c
        .get(s.url("/metrics"))
        .header("Accept", ACCEPT_OPENMETRICS)
        .send()
        .await
        .unwrap();
    assert_eq!(ct(&r), OM_CT);
    let body = r.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert_eq!(body.matches("# EOF").count(), 1);
    assert!(body.contains("\nt_good_value 4.0\n"), "{body}");

    // vmagent's Accept header: text 0.0.4.
    let r = c
        .get(s.url("/metrics"))
        .header("Accept", ACCEPT_TEXT)
        .send()
        .await
        .unwrap();
    assert_eq!(ct(&r), TEXT_CT);
    assert!(!r.text().await.unwrap().contains("# EOF"));

    // gzip on request, checked on the raw bytes.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(s.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .header("Accept", ACCEPT_OPENMETRICS)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(ct(&r), OM_CT);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.starts_with("# HELP "), "{text}");
    assert!(text.contains("\nt_good_value 4.0\n"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    // Without Accept-Encoding the body is plain.
    let r = raw.get(s.url("/metrics")).send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert!(r.text().await.unwrap().contains("t_good_value 4.0"));

    // HEAD: 200 and no body.
    let r = c.head(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(ct(&r), TEXT_CT);
    assert!(r.bytes().await.unwrap().is_empty());

    for m in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        for path in ["/metrics", "/", "/-/healthy"] {
            let r = c.request(m.clone(), s.url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
        }
    }
    let r = c.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = c.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(ct(&r).starts_with("text/html"), "{}", ct(&r));
    let page = r.text().await.unwrap();
    for want in [
        "<h1>test-exporter</h1>",
        "An exporter under test",
        "<a href=\"/metrics\">/metrics</a>",
        "<a href=\"/-/healthy\">",
        "<a href=\"/-/ready\">",
        "<a href=\"/probe\">Probe &lt;target&gt;</a>",
        "<li>good</li>",
        "<li>slow</li>",
    ] {
        assert!(page.contains(want), "missing {want:?} in {page}");
    }

    let r = c.get(s.url("/-/healthy")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "Healthy\n");
    let r = c.get(s.url("/-/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn ready_waits_for_the_first_background_collection() {
    let gate = Arc::new(Notify::new());
    let bg = Background::spawn(
        "gated",
        Arc::new(Gated(Arc::clone(&gate))),
        BackgroundOptions {
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
            ..Default::default()
        },
    );
    let mut r = Runner::new("t");
    r.add_background(bg);
    let s = Server::start(
        router(Arc::new(r), "/metrics", None),
        None,
        1,
        Duration::from_secs(2),
    )
    .await;
    let c = client();
    let r = c.get(s.url("/-/ready")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Liveness does not depend on collection.
    assert_eq!(
        c.get(s.url("/-/healthy")).send().await.unwrap().status(),
        StatusCode::OK
    );
    gate.notify_one();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let st = c.get(s.url("/-/ready")).send().await.unwrap().status();
        if st == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "still {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\nt_gated_value 1.0\n"), "{body}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn custom_telemetry_path() {
    let s = Server::start(
        router(runner(Duration::ZERO), "/internal/metrics", None),
        None,
        1,
        Duration::from_secs(2),
    )
    .await;
    let c = client();
    let r = c.get(s.url("/internal/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("t_good_value 4.0"));
    assert_eq!(
        c.get(s.url("/metrics")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let page = c
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<a href=\"/internal/metrics\">"), "{page}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn scrape_timeout_header_cuts_a_slow_collector() {
    let s = Server::start(
        router(runner(Duration::from_secs(30)), "/metrics", None),
        None,
        1,
        Duration::from_secs(2),
    )
    .await;
    let c = client();
    let t0 = Instant::now();
    let r = c
        .get(s.url("/metrics"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "1")
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    let took = t0.elapsed();
    // 1 s minus the 0.5 s margin: the answer arrives before the scraper gives up.
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1000),
        "{took:?}"
    );
    assert!(
        body.contains("t_scrape_collector_success{collector=\"slow\"} 0.0\n"),
        "{body}"
    );
    assert!(
        body.contains("t_scrape_collector_success{collector=\"good\"} 1.0\n"),
        "{body}"
    );
    assert!(body.contains("\nt_good_value 4.0\n"), "{body}");
    assert!(!body.contains("t_slow_value"), "{body}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_listeners_both_serve() {
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        None,
        2,
        Duration::from_secs(2),
    )
    .await;
    assert_ne!(s.addrs[0], s.addrs[1]);
    let c = client();
    for a in &s.addrs {
        let r = c.get(format!("http://{a}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{a}");
        assert!(r.text().await.unwrap().contains("t_good_value 4.0"));
    }
    s.shutdown().await.unwrap();
}

#[test]
fn occupied_port_is_a_startup_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = bind_all(&["127.0.0.1:0".to_string(), addr.clone()]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains(&format!("cannot listen on {addr}")), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
    let err = bind_all(&["not-an-address".to_string()]).unwrap_err();
    assert!(format!("{err:#}").contains("not-an-address"), "{err:#}");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_and_stops_accepting() {
    let s = Server::start(
        router(runner(Duration::from_millis(800)), "/metrics", None),
        None,
        1,
        Duration::from_secs(5),
    )
    .await;
    let addr = s.addrs[0];
    let c = client();
    let url = s.url("/metrics");
    let inflight =
        tokio::spawn(async move { c.get(url).send().await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    s.shutdown().await.unwrap();
    let took = t0.elapsed();
    // The in-flight scrape (about 0.6 s left) completes and the server returns soon after.
    assert!(took < Duration::from_secs(3), "{took:?}");
    let body = inflight.await.unwrap();
    assert!(body.contains("\nt_slow_value 7.0\n"), "{body}");
    // New connections are refused once serve_listeners has returned.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_drain_time_bounds_a_stuck_request() {
    // The collector would take 30 s; the drain allows 1 s.
    let s = Server::start(
        router(runner(Duration::from_secs(30)), "/metrics", None),
        None,
        1,
        Duration::from_secs(1),
    )
    .await;
    let c = client();
    let url = s.url("/metrics");
    let inflight = tokio::spawn(async move { c.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    s.shutdown().await.unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // The stuck request was cut off rather than answered.
    assert!(inflight.await.unwrap().is_err());
}

/// Writes `yaml` as `web.yml` next to the certificates it names and loads it.
fn load_web_config(pki: &Pki, yaml: &str) -> webconfig::WebConfig {
    webconfig::load(&pki.write("web.yml", yaml).unwrap()).unwrap()
}

/// A client trusting only the test CA.
fn tls_client(pki: &Pki) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn tls_with_a_web_config_file() {
    let pki = Pki::new().unwrap();
    let cfg = load_web_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        cfg.tls,
        1,
        Duration::from_secs(2),
    )
    .await;
    let port = s.addrs[0].port();
    let https = format!("https://127.0.0.1:{port}/metrics");

    let r = tls_client(&pki)
        .build()
        .unwrap()
        .get(&https)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("t_good_value 4.0"));
    // TLS 1.2 is allowed by default.
    let r = tls_client(&pki)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap()
        .get(&https)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Without trusting the CA the handshake fails.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting.get(&https).send().await.is_err());
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls13_minimum_refuses_a_tls12_client() {
    let pki = Pki::new().unwrap();
    let cfg = load_web_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
    );
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        cfg.tls,
        1,
        Duration::from_secs(2),
    )
    .await;
    let https = format!("https://127.0.0.1:{}/metrics", s.addrs[0].port());
    let old = tls_client(&pki)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(old.get(&https).send().await.is_err());
    let new = tls_client(&pki)
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .build()
        .unwrap();
    assert_eq!(
        new.get(&https).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_certificate_required() {
    let pki = Pki::new().unwrap();
    let cfg = load_web_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    );
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        cfg.tls,
        1,
        Duration::from_secs(2),
    )
    .await;
    let https = format!("https://127.0.0.1:{}/metrics", s.addrs[0].port());

    let anonymous = tls_client(&pki).build().unwrap();
    assert!(anonymous.get(&https).send().await.is_err());
    let stranger = tls_client(&pki)
        .identity(reqwest::Identity::from_pem(pki.stranger_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(stranger.get(&https).send().await.is_err());
    let trusted = tls_client(&pki)
        .identity(reqwest::Identity::from_pem(pki.client_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = trusted.get(&https).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("t_good_value 4.0"));
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_certificate_verified_if_given() {
    let pki = Pki::new().unwrap();
    let cfg = load_web_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n",
    );
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        cfg.tls,
        1,
        Duration::from_secs(2),
    )
    .await;
    let https = format!("https://127.0.0.1:{}/metrics", s.addrs[0].port());
    let anonymous = tls_client(&pki).build().unwrap();
    assert_eq!(
        anonymous.get(&https).send().await.unwrap().status(),
        StatusCode::OK
    );
    let stranger = tls_client(&pki)
        .identity(reqwest::Identity::from_pem(pki.stranger_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(stranger.get(&https).send().await.is_err());
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn require_any_client_cert_accepts_an_unverified_one() {
    let pki = Pki::new().unwrap();
    let cfg = load_web_config(
        &pki,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n",
    );
    let s = Server::start(
        router(runner(Duration::ZERO), "/metrics", None),
        cfg.tls,
        1,
        Duration::from_secs(2),
    )
    .await;
    let https = format!("https://127.0.0.1:{}/metrics", s.addrs[0].port());
    assert!(
        tls_client(&pki)
            .build()
            .unwrap()
            .get(&https)
            .send()
            .await
            .is_err()
    );
    let stranger = tls_client(&pki)
        .identity(reqwest::Identity::from_pem(pki.stranger_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        stranger.get(&https).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn basic_auth_and_configured_headers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("web.yml");
    let hash = bcrypt::hash("scrape-me", 4).unwrap();
    std::fs::write(
        &p,
        format!(
            "basic_auth_users:\n  vmagent: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n"
        ),
    )
    .unwrap();
    let cfg = webconfig::load(&p).unwrap();
    let r = common::server::Server::new(INFO, runner(Duration::ZERO))
        .web_config(cfg)
        .router();
    let s = Server::start(r, None, 1, Duration::from_secs(2)).await;
    let c = client();

    let r = c.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"mail-exporters\""
    );
    assert_eq!(r.headers()["x-frame-options"], "deny");
    let r = c
        .get(s.url("/metrics"))
        .basic_auth("vmagent", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(s.url("/metrics"))
        .basic_auth("nobody", Some("scrape-me"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c.get(s.url("/")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "landing page is protected too"
    );

    let t0 = Instant::now();
    for _ in 0..20 {
        let r = c
            .get(s.url("/metrics"))
            .basic_auth("vmagent", Some("scrape-me"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert!(r.text().await.unwrap().contains("t_good_value 4.0"));
    }
    eprintln!("20 authenticated scrapes: {:?}", t0.elapsed());

    // Probes carry no credentials and must still work.
    let r = c.get(s.url("/-/healthy")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-frame-options"], "deny");
    assert_eq!(
        c.get(s.url("/-/ready")).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.shutdown().await.unwrap();
}
