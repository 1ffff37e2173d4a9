//! The whole `/metrics` output of the real `postfix-exporter` binary for checked-in inputs,
//! compared with golden files (after node_exporter's `collector/fixtures/e2e-output.txt`):
//! `tests/golden/postfix-exporter.txt` (text 0.0.4) and
//! `tests/golden/postfix-exporter.openmetrics.txt` (OpenMetrics 1.0). Also checks that every
//! family in them is documented in docs/metrics.md.
//!
//! Regenerate both files after an intended change (review the diff before committing):
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p e2e-tests --test golden_output
//! ```
//!
//! No live daemon: the queue collector reads a real showq capture
//! (`exporters/postfix/tests/fixtures/postfix-3.7/short-ids/showq-unix.bin`), the log
//! collector reads a copy of the real Postfix 3.7 mail log
//! (`exporters/postfix/tests/fixtures/maillog/postfix-3.7.log`) from its beginning, and the
//! qshape collector reads real `qshape hold` output (`short-ids/qshape-hold.txt`, exported as
//! `queue="hold"` so its series do not collide with the queue collector's own `deferred`
//! matrix).
//!
//! What is masked, and why (the rules are [`e2e_tests::golden::canonicalise`], shared by
//! every exporter's golden test): `process_*` values (the test process' machine),
//! build-info `version`/`revision`/`rustc` labels, clock readings and measured times
//! (`*_timestamp_seconds`, `*_duration_seconds`, `*_start_time_seconds`; this includes the
//! log's year-less BSD timestamp, whose year is today's), and ages computed against "now"
//! (`*_age_seconds`: the oldest-message gauge and the showq age histogram's sum and finite
//! buckets of the non-empty queues; the `_count`s, `+Inf` buckets and empty queues' values
//! are kept, as they only count messages). Ages are masked rather than computed against a faked clock so the
//! test needs no LD_PRELOAD and keeps working as the capture grows older. The queue
//! collector's qshape matrix is kept: its age columns depend on "now" too, but the capture
//! is more than the last column's 1280 minutes old, so every message stays in `1280+`.
//! Series are ordered within each family because the exporter keeps them in hash maps.
//!
//! Known and recorded as served: with `--collector.qshape` on next to the queue collector,
//! `postfix_qshape_recipients` appears as two families (two HELP/TYPE blocks, one per
//! collector), which strict parsers reject (prometheus_client: "Clashing name"); fixing that
//! changes this file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e_tests::expo::{samples, sum};
use e2e_tests::golden::{canonicalise, check_documented, compare_both};
use e2e_tests::tools::{promtool_check_metrics, validate_openmetrics};
use e2e_tests::{ACCEPT_OPENMETRICS, ACCEPT_TEXT, Exporter, temp_dir, workspace_root};

const BIN: &str = "postfix-exporter";

fn fixture(rel: &str) -> PathBuf {
    workspace_root()
        .join("exporters/postfix/tests/fixtures")
        .join(rel)
}

#[test]
fn whole_output_matches_the_golden_files() {
    let log = std::fs::read_to_string(fixture("maillog/postfix-3.7.log")).unwrap();
    let lines = log.lines().filter(|l| !l.trim().is_empty()).count() as f64;
    // A copy: the follower must never touch the checked-in fixture.
    let dir = temp_dir("golden-").unwrap();
    let maillog = dir.path().join("maillog");
    std::fs::write(&maillog, &log).unwrap();

    let showq = fixture("postfix-3.7/short-ids/showq-unix.bin");
    let qshape = fixture("postfix-3.7/short-ids/qshape-hold.txt");
    let args = [
        "--collector.queue.source=file".to_string(),
        format!("--collector.queue.file={}", showq.display()),
        format!("--collector.log.source=file:{}", maillog.display()),
        "--collector.log.from-beginning".to_string(),
        "--collector.qshape".to_string(),
        format!("--collector.qshape.file={}", qshape.display()),
        "--collector.qshape.queue=hold".to_string(),
        // The watched-process families of a pattern no process matches: 0 processes, and
        // no oldest start time (it comes only with a process, which a machine may not have).
        "--process.watch=master=^/nonexistent/postfix/master$".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = Exporter::start(BIN, &args).unwrap();

    // The log is read in the background and the queue walked in the background: wait for
    // the last line and the first snapshot.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = samples(&e.scrape(ACCEPT_TEXT).unwrap().text());
        let read = sum(&s, "postfix_log_lines_total", &[]);
        let up = sum(&s, "postfix_up", &[]);
        if read == lines && up == 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 30 s: {read} of {lines} log lines read, postfix_up {up}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The log source's name is its path, which is a fresh temp dir on every run.
    let tmp = dir.path().display().to_string();
    let stable = |body: String| body.replace(&tmp, "<tmpdir>");
    let raw_text = e.scrape(ACCEPT_TEXT).unwrap().text();
    let raw_om = e.scrape(ACCEPT_OPENMETRICS).unwrap().text();
    // With every collector on, both bodies must still be valid for real parsers (two
    // collectors exporting one family once produced a repeated family here).
    let report = promtool_check_metrics(&raw_text).unwrap();
    assert!(report.code == 0 || report.code == 3, "{}", report.output);
    let families = validate_openmetrics(&raw_om).unwrap();
    let qshape = families
        .iter()
        .filter(|f| *f == "postfix_qshape_recipients")
        .count();
    assert_eq!(qshape, 1, "{families:?}");
    let text = canonicalise(&stable(raw_text));
    let om = canonicalise(&stable(raw_om));
    compare_both("postfix-exporter", &text, &om).unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn every_golden_family_is_documented() {
    check_documented("postfix-exporter", "postfix", 50).unwrap_or_else(|e| panic!("{e:#}"));
}
