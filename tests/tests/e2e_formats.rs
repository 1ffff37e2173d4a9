//! Both exposition bodies of the running postfix-exporter, checked by the real parsers:
//! `promtool check metrics` for text 0.0.4 and Python prometheus_client's strict OpenMetrics
//! parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::collections::BTreeSet;

use e2e_tests::tools::{promtool_check_metrics, validate_openmetrics};
use e2e_tests::{ACCEPT_OPENMETRICS, ACCEPT_TEXT, Exporter, all_collectors_off, expo};

const BIN: &str = "postfix-exporter";

fn start_exporter() -> Exporter {
    let off = all_collectors_off(BIN).unwrap();
    let args: Vec<&str> = off.iter().map(String::as_str).collect();
    Exporter::start(BIN, &args).unwrap()
}

#[test]
fn text_body_passes_promtool() {
    let exporter = start_exporter();
    let resp = exporter.scrape(ACCEPT_TEXT).unwrap();
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = resp.text();
    // promtool treats `# EOF` as a comment, so check its absence here.
    assert!(!body.contains("# EOF"), "{body}");
    assert!(body.ends_with('\n'));
    assert!(
        body.contains("# TYPE postfix_exporter_build_info gauge\n"),
        "{body}"
    );
    let report = promtool_check_metrics(&body).unwrap();
    // Exit 1 = the body does not parse; 3 = it parses but promtool has naming advice.
    println!("promtool exit {}:\n{}", report.code, report.output);
    assert!(
        report.code == 0 || report.code == 3,
        "{}\n{body}",
        report.output
    );
    assert!(
        !report.output.contains("error while linting"),
        "{}",
        report.output
    );
}

#[test]
fn openmetrics_body_parses_strictly() {
    let exporter = start_exporter();
    let resp = exporter.scrape(ACCEPT_OPENMETRICS).unwrap();
    assert_eq!(
        resp.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let body = resp.text();
    assert!(body.ends_with("# EOF\n"), "{body}");
    let families = validate_openmetrics(&body).unwrap();
    println!("{} OpenMetrics families: {families:?}", families.len());
    // An info metric is family `<name>` with samples `<name>_info` in OpenMetrics.
    for want in ["postfix_exporter_build", "process_start_time_seconds"] {
        assert!(
            families.iter().any(|f| f == want),
            "{want} not in {families:?}"
        );
    }
}

#[test]
fn both_bodies_carry_the_same_series() {
    let exporter = start_exporter();
    let text = exporter.scrape(ACCEPT_TEXT).unwrap().text();
    let om = exporter.scrape(ACCEPT_OPENMETRICS).unwrap().text();
    // `_created` samples are OpenMetrics-only by design.
    let keys = |body: &str| -> BTreeSet<String> {
        expo::samples(body)
            .iter()
            .filter(|s| !s.name.ends_with("_created"))
            .map(|s| s.series_key())
            .collect()
    };
    let (t, o) = (keys(&text), keys(&om));
    assert_eq!(
        t.symmetric_difference(&o).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "text:\n{text}\nopenmetrics:\n{om}"
    );
    assert!(t.contains(&format!(
        "postfix_exporter_build_info{{{}}}",
        expo::find(&text, "postfix_exporter_build_info")[0]
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(",")
    )));
}
