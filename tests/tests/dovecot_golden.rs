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

use e2e_tests::expo::samples;
use e2e_tests::golden::{check_documented, check_golden};
use e2e_tests::{Exporter, temp_dir, workspace_root};

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
    let raw_text = check_golden(&e, "dovecot", lines, dir.path(), "dovecot-exporter")
        .unwrap_or_else(|e| panic!("{e:#}"));
    let s = samples(&raw_text);
    for c in ["stats", "sessions", "service", "log"] {
        assert_eq!(
            e2e_tests::expo::value(&s, "dovecot_scrape_collector_success", &[("collector", c)]),
            Some(1.0),
            "{c}"
        );
    }
}

#[test]
fn every_golden_family_is_documented() {
    check_documented("dovecot-exporter", "dovecot", 50).unwrap_or_else(|e| panic!("{e:#}"));
}
