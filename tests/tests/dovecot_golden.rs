//! The whole `/metrics` output of the real `dovecot-exporter` binary for checked-in captures
//! of a real Dovecot 2.3.19 (see `capture_fixtures` in dovecot_exporter.rs), compared with
//! `tests/golden/dovecot-exporter.txt` (text 0.0.4) and `.openmetrics.txt` (OpenMetrics 1.0),
//! both also checked by promtool and a strict OpenMetrics parser; and every family in them
//! is documented in docs/metrics.md.
//!
//! Sources: the stats collector reads `doveadm stats dump` output from a file with the
//! recommended `conf/metrics.conf`; the sessions and service collectors run `cat` on
//! captured `doveadm who` and `doveadm service status` output; the log collector reads the
//! captured traffic log from its beginning. No live daemon: the old-stats, director and
//! process-title collectors (sockets and procfs) are tested against real daemons elsewhere.
//!
//! Regenerate after an intended change (review the diff before committing):
//! `UPDATE_GOLDEN=1 cargo test -p e2e-tests --test dovecot_golden`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e_tests::expo::{samples, sum};
use e2e_tests::golden::{canonicalise, compare_both, undocumented_families, updating};
use e2e_tests::tools::{promtool_check_metrics, validate_openmetrics};
use e2e_tests::{ACCEPT_OPENMETRICS, ACCEPT_TEXT, Exporter, temp_dir, workspace_root};

const BIN: &str = "dovecot-exporter";

fn fixture(rel: &str) -> PathBuf {
    workspace_root()
        .join("exporters/dovecot/tests/fixtures")
        .join(rel)
}

#[test]
fn whole_output_matches_the_golden_files() {
    let log = std::fs::read_to_string(fixture("dovecot-2.3.19-traffic.log")).unwrap();
    let lines = log.lines().filter(|l| !l.trim().is_empty()).count() as f64;
    let dir = temp_dir("dovecot-golden-").unwrap();
    let copy = dir.path().join("dovecot.log");
    std::fs::write(&copy, &log).unwrap();
    let conf = workspace_root().join("exporters/dovecot/conf/metrics.conf");
    let args = [
        "--collector.stats.source=file".to_string(),
        format!(
            "--collector.stats.file={}",
            fixture("doveadm-stats-dump-2.3.19.txt").display()
        ),
        format!("--dovecot.config={}", conf.display()),
        "--collector.sessions.source=command".to_string(),
        format!(
            "--collector.sessions.command=cat {}",
            fixture("doveadm-who-2.3.19.txt").display()
        ),
        "--collector.service".to_string(),
        format!(
            "--collector.service.command=cat {}",
            fixture("doveadm-service-status-2.3.19.txt").display()
        ),
        format!("--collector.log.source=file:{}", copy.display()),
        "--collector.log.from-beginning".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = Exporter::start(BIN, &args).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sum(
        &samples(&e.scrape(ACCEPT_TEXT).unwrap().text()),
        "dovecot_log_lines_total",
        &[],
    ) < lines
    {
        assert!(Instant::now() < deadline, "log not read within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmp = dir.path().display().to_string();
    let stable = |body: String| body.replace(&tmp, "<tmpdir>");
    let raw_text = e.scrape(ACCEPT_TEXT).unwrap().text();
    let raw_om = e.scrape(ACCEPT_OPENMETRICS).unwrap().text();
    let report = promtool_check_metrics(&raw_text).unwrap();
    assert!(report.code == 0 || report.code == 3, "{}", report.output);
    validate_openmetrics(&raw_om).unwrap_or_else(|e| panic!("{e:#}"));
    let s = samples(&raw_text);
    for c in ["stats", "sessions", "service", "log"] {
        assert_eq!(
            e2e_tests::expo::value(&s, "dovecot_scrape_collector_success", &[("collector", c)]),
            Some(1.0),
            "{c}"
        );
    }
    compare_both(
        "dovecot-exporter",
        &canonicalise(&stable(raw_text)),
        &canonicalise(&stable(raw_om)),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn every_golden_family_is_documented() {
    if updating() {
        return;
    }
    let (missing, families) = undocumented_families("dovecot-exporter", "dovecot").unwrap();
    assert!(
        missing.is_empty(),
        "families in tests/golden/dovecot-exporter.txt missing from docs/metrics.md: {missing:?}"
    );
    assert!(families > 50, "golden file looks truncated");
}
