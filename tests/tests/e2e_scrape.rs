//! The postfix-exporter scraped by real scrapers: vmagent (text 0.0.4) into VictoriaMetrics,
//! and Prometheus 2.42 (OpenMetrics). What the databases store must be what the exporter
//! served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e_tests::expo::{self, ExpoSample};
use e2e_tests::{
    Exporter, NotifierSink, Prometheus, Sample, VictoriaMetrics, VmAgent, all_collectors_off,
    scrape_config_jobs,
};

const BIN: &str = "postfix-exporter";
const WAIT: Duration = Duration::from_secs(30);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The exporter with every collector off: it still serves build info and process metrics.
/// Returns it with the wall-clock time just before and after it was spawned.
fn start_exporter() -> (Exporter, f64, f64) {
    let off = all_collectors_off(BIN).unwrap();
    let args: Vec<&str> = off.iter().map(String::as_str).collect();
    let before = now();
    let exporter = Exporter::start(BIN, &args).unwrap();
    (exporter, before, now())
}

fn one(samples: &[ExpoSample], name: &str) -> ExpoSample {
    let found: Vec<&ExpoSample> = samples.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0].clone()
}

/// Checks what a scraper stored against the body the exporter serves for the scraper's own
/// `Accept` header (recorded by a sink target in the same scrape config).
fn check_stored(
    exporter: &Exporter,
    started: (f64, f64),
    accept: &str,
    want_content_type: &str,
    query: &dyn Fn(&str) -> Vec<Sample>,
) {
    let resp = exporter.scrape(accept).unwrap();
    assert_eq!(resp.header("content-type"), Some(want_content_type));
    let body = resp.text();
    let served = expo::samples(&body);

    let info = one(&served, "postfix_exporter_build_info");
    assert_eq!(info.value, 1.0);
    assert_eq!(info.label("version"), env!("CARGO_PKG_VERSION"));
    let stored = query("postfix_exporter_build_info");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].value, 1.0);
    for label in ["version", "revision", "rustc"] {
        assert_eq!(stored[0].label(label), info.label(label), "label {label}");
    }
    assert_eq!(stored[0].label("instance"), exporter.target());
    assert_eq!(stored[0].label("job"), "postfix");

    let up = query(r#"up{job="postfix"}"#);
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].value, 1.0);

    // The process start time is a real value: between just before and just after the spawn
    // (procfs has clock-tick resolution), and stored exactly as served.
    let start = one(&served, "process_start_time_seconds").value;
    let (before, after) = started;
    assert!(
        start >= before.floor() - 1.0 && start <= after + 1.0,
        "start {start} not in [{before}, {after}]"
    );
    let stored = query(r#"process_start_time_seconds{job="postfix"}"#);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        (stored[0].value - start).abs() < 1e-3,
        "stored {} served {start}",
        stored[0].value
    );
}

#[test]
fn vmagent_scrapes_text_format_into_victoriametrics() {
    let (exporter, before, after) = start_exporter();
    let recorder = NotifierSink::start().unwrap();
    let vm = VictoriaMetrics::start().unwrap();
    let config = scrape_config_jobs(&[
        ("postfix", &exporter.target(), exporter.telemetry_path()),
        ("recorder", &recorder.target(), "/metrics"),
    ]);
    let _agent = VmAgent::start(&config, &vm).unwrap();
    vm.wait_for_query(
        r#"up{job=~"postfix|recorder"} == 1"#,
        |s| s.len() == 2,
        WAIT,
    )
    .unwrap();
    vm.wait_for_query(
        r#"process_start_time_seconds{job="postfix"}"#,
        |s| s.len() == 1,
        WAIT,
    )
    .unwrap();

    // vmagent only ever asks for text 0.0.4.
    let seen = recorder.received();
    let accept = seen[0].header("accept").unwrap().to_string();
    assert!(accept.starts_with("text/plain"), "{accept}");
    check_stored(
        &exporter,
        (before, after),
        &accept,
        "text/plain; version=0.0.4; charset=utf-8",
        &|q| vm.query(q).unwrap(),
    );

    // Every series of the body arrived: vmagent's own count of scraped samples matches.
    let body = exporter.scrape(&accept).unwrap().text();
    let lines = expo::samples(&body).len();
    let scraped = vm
        .wait_for_query(
            r#"scrape_samples_scraped{job="postfix"}"#,
            |s| s.len() == 1,
            WAIT,
        )
        .unwrap();
    assert_eq!(scraped[0].value, lines as f64, "body:\n{body}");
}

#[test]
fn prometheus_scrapes_openmetrics() {
    let (exporter, before, after) = start_exporter();
    let recorder = NotifierSink::start().unwrap();
    let config = scrape_config_jobs(&[
        ("postfix", &exporter.target(), exporter.telemetry_path()),
        ("recorder", &recorder.target(), "/metrics"),
    ]);
    let prom = Prometheus::start(&config).unwrap();
    prom.wait_for_query(
        r#"up{job=~"postfix|recorder"} == 1"#,
        |s| s.len() == 2,
        WAIT,
    )
    .unwrap();
    prom.wait_for_query(
        r#"process_start_time_seconds{job="postfix"}"#,
        |s| s.len() == 1,
        WAIT,
    )
    .unwrap();

    // Prometheus prefers OpenMetrics, and the exporter answers its Accept header with it.
    let seen = recorder.received();
    let accept = seen[0].header("accept").unwrap().to_string();
    assert!(
        accept.starts_with("application/openmetrics-text"),
        "{accept}"
    );
    check_stored(
        &exporter,
        (before, after),
        &accept,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        &|q| prom.query(q).unwrap(),
    );
}

#[test]
fn vmagent_scrapes_openmetrics_into_victoriametrics() {
    // vmagent asks for text 0.0.4 by default; its per-job `headers` option makes it ask for
    // OpenMetrics, so the same database is fed an OpenMetrics body.
    let (exporter, before, after) = start_exporter();
    let recorder = NotifierSink::start().unwrap();
    let vm = VictoriaMetrics::start().unwrap();
    let om = "application/openmetrics-text; version=1.0.0";
    let config = scrape_config_jobs(&[
        ("postfix", &exporter.target(), exporter.telemetry_path()),
        ("recorder", &recorder.target(), "/metrics"),
    ])
    .replace(
        "    static_configs:",
        &format!("    headers: [\"Accept: {om}\"]\n    static_configs:"),
    );
    let _agent = VmAgent::start(&config, &vm).unwrap();
    vm.wait_for_query(
        r#"process_start_time_seconds{job="postfix"}"#,
        |s| s.len() == 1,
        WAIT,
    )
    .unwrap();
    let seen = recorder.received();
    let accept = seen[0].header("accept").unwrap().to_string();
    assert!(
        accept.starts_with("application/openmetrics-text"),
        "{accept}"
    );
    check_stored(
        &exporter,
        (before, after),
        &accept,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        &|q| vm.query(q).unwrap(),
    );
}
