//! The whole output of `mailprobe-exporter` for three probes (SMTP with STARTTLS against a
//! real Postfix, a refused connection, HTTP against a local server) and of its own
//! `/metrics`, in both exposition formats, checked by promtool and a strict OpenMetrics
//! parser and compared with `tests/golden/mailprobe-*.txt`; every family is documented in
//! docs/metrics.md. Durations, the DNS time and process metrics are masked.
//!
//! Regenerate after an intended change (review the diff before committing):
//! `UPDATE_GOLDEN=1 cargo test -p e2e-tests --test probe_golden`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use e2e_tests::golden::{canonicalise, check_documented, compare_both};
use e2e_tests::http::{get, urlencode};
use e2e_tests::pki::Pki;
use e2e_tests::probe::{HttpTargets, Prober};
use e2e_tests::{ACCEPT_OPENMETRICS, ACCEPT_TEXT, Postfix, PostfixOptions, net, tools};

/// Masks what changes between runs beyond `canonicalise`'s rules: the DNS lookup time and
/// the ports of the targets.
fn stable(body: &str, ports: &[u16]) -> String {
    let mut out = String::new();
    for line in body.lines() {
        if line.starts_with("probe_dns_lookup_time_seconds ") {
            out.push_str("probe_dns_lookup_time_seconds <masked>\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    for p in ports {
        out = out.replace(&format!(":{p}"), ":<port>");
    }
    canonicalise(&out)
}

fn both(p: &Prober, module: &str, target: &str) -> (String, String) {
    let url = format!(
        "{}/probe?module={module}&target={}",
        p.exporter.url(),
        urlencode(target)
    );
    let h = |accept: &str| {
        get(
            &url,
            &[
                ("Accept", accept),
                ("X-Prometheus-Scrape-Timeout-Seconds", "10"),
            ],
        )
        .unwrap()
        .text()
    };
    (h(ACCEPT_TEXT), h(ACCEPT_OPENMETRICS))
}

fn check(stem: &str, text: &str, om: &str, ports: &[u16]) {
    let report = tools::promtool_check_metrics(text).unwrap();
    assert!(
        report.code == 0 || report.code == 3,
        "promtool: {}",
        report.output
    );
    tools::validate_openmetrics(om).unwrap();
    compare_both(stem, &stable(text, ports), &stable(om, ports)).unwrap();
    check_documented(stem, "mailprobe", 3).unwrap();
}

#[test]
fn probe_and_self_output_match_the_golden_files() {
    let pki = Pki::new().unwrap();
    let pf = Postfix::start(PostfixOptions::new().tls(&pki)).unwrap();
    let targets = HttpTargets::start(&pki).unwrap();
    let hp = targets.http_port;
    let p = Prober::start(
        &format!(
            "modules:
  smtp_starttls:
    prober: smtp
    smtp: {{ tls: starttls, ehlo: probe.test.local, tls_config: {{ ca_file: \"{}\" }} }}
  webmail:
    prober: http
    http: {{ fail_if_body_not_matches_regexp: [\"Webmail\"] }}
",
            pki.path("ca.crt").display()
        ),
        &[],
    )
    .unwrap();
    let smtp_port = pf.smtp_port();
    let (t, om) = both(&p, "smtp_starttls", &pf.smtp_addr().to_string());
    check("mailprobe-smtp-starttls", &t, &om, &[smtp_port]);
    let closed = net::free_port();
    let (t, om) = both(&p, "smtp_starttls", &format!("127.0.0.1:{closed}"));
    check("mailprobe-connect-refused", &t, &om, &[closed]);
    let (t, om) = both(&p, "webmail", &format!("http://127.0.0.1:{hp}/redirect"));
    check("mailprobe-http", &t, &om, &[hp]);

    let tmp = p.dir.path().display().to_string();
    let t = p
        .exporter
        .scrape(ACCEPT_TEXT)
        .unwrap()
        .text()
        .replace(&tmp, "<tmpdir>");
    let om = p
        .exporter
        .scrape(ACCEPT_OPENMETRICS)
        .unwrap()
        .text()
        .replace(&tmp, "<tmpdir>");
    check("mailprobe-exporter", &t, &om, &[]);
}
