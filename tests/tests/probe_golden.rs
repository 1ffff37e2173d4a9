//! The whole output of `mailprobe-exporter` for three probes (SMTP with STARTTLS against a
//! real Postfix, a refused connection, HTTP against a local server) and of its own
//! `/metrics`, in both exposition formats, checked by promtool and a strict OpenMetrics
//! parser and compared with `tests/golden/mailprobe-*.txt`; every family is documented in
//! docs/metrics.md. The exporter's own output includes a delivery route that sent one
//! message through Postfix into a Maildir. Durations, latencies, the DNS time and process
//! metrics are masked.
//!
//! Regenerate after an intended change (review the diff before committing):
//! `UPDATE_GOLDEN=1 cargo test -p e2e-tests --test probe_golden`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use e2e_tests::expo::sum;
use e2e_tests::golden::{canonicalise, check_documented, compare_both};
use e2e_tests::http::{get, urlencode};
use e2e_tests::pki::Pki;
use e2e_tests::probe::{HttpTargets, Prober};
use e2e_tests::{ACCEPT_OPENMETRICS, ACCEPT_TEXT, Postfix, PostfixOptions, net, tools};

/// nobody's uid and gid on Debian: the owner of the virtual mailboxes.
const NOBODY: u32 = 65534;

/// Masks what changes between runs beyond `canonicalise`'s rules: the DNS lookup time, the
/// ports of the targets and the delivery route's latencies.
fn stable(body: &str, ports: &[u16]) -> String {
    let mut out = String::new();
    for line in body.lines() {
        let latency = line.starts_with("mailprobe_delivery_last_latency_seconds")
            || line.starts_with("mailprobe_delivery_latency_seconds_sum")
            || (line.starts_with("mailprobe_delivery_latency_seconds_bucket")
                && !line.contains("le=\"+Inf\""));
        if line.starts_with("probe_dns_lookup_time_seconds ") {
            out.push_str("probe_dns_lookup_time_seconds <masked>\n");
        } else if latency {
            // How long a delivery took: only the count of deliveries repeats.
            let (series, _) = line.rsplit_once(' ').unwrap_or((line, ""));
            out.push_str(&format!("{series} <masked>\n"));
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
    // A delivery route's families: Postfix's virtual agent writes probe@probe.test's mail
    // into a Maildir the route reads (as nobody, which owns the mailbox tree).
    let vmail = e2e_tests::temp_dir("vmail-").unwrap();
    let base = vmail.path().join("base");
    std::fs::create_dir(&base).unwrap();
    std::fs::set_permissions(vmail.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&base, Some(NOBODY), Some(NOBODY)).unwrap();
    let map = vmail.path().join("vmailbox");
    std::fs::write(&map, "probe@probe.test probe.test/probe/Maildir/\n").unwrap();
    let maildir = base.join("probe.test/probe/Maildir");
    let pf = Postfix::start(
        PostfixOptions::new()
            .tls(&pki)
            .param("virtual_mailbox_domains = probe.test")
            .param(&format!("virtual_mailbox_base = {}", base.display()))
            .param(&format!(
                "virtual_mailbox_maps = texthash:{}",
                map.display()
            ))
            .param(&format!("virtual_uid_maps = static:{NOBODY}"))
            .param(&format!("virtual_gid_maps = static:{NOBODY}")),
    )
    .unwrap();
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
  to_probe:
    prober: smtp
    smtp: {{ ehlo: probe.test.local, mail_from: probe@test.local, rcpt_to: [probe@probe.test], data: true }}
  e2e:
    prober: delivery
    timeout: 20s
    delivery: {{ send: to_probe, receive: {{ maildir: \"{maildir}\" }}, poll_interval: 200ms }}
routes:
  - {{ name: golden, module: e2e, target: \"{smtp}\", interval: 1h, lost_after: 30s }}
",
            pki.path("ca.crt").display(),
            maildir = maildir.display(),
            smtp = pf.smtp_addr(),
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

    // The route's one attempt (its interval is an hour) has delivered before the scrape.
    e2e_tests::wait_for(
        "the route's message delivered",
        Duration::from_secs(30),
        || {
            sum(
                &p.self_metrics().unwrap(),
                "mailprobe_delivery_success",
                &[("route", "golden")],
            ) == 1.0
        },
    );
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
