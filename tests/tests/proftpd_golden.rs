//! The whole `/metrics` output of the real `proftpd-exporter` binary for checked-in captures
//! of a real ProFTPd 1.3.8 (refreshed by `capture_fixtures` below), compared with
//! `tests/golden/proftpd-exporter.txt` and `.openmetrics.txt`, both checked by promtool and
//! a strict OpenMetrics parser; every family is documented in docs/metrics.md.
//!
//! Sources: the TransferLog, SystemLog, TLSLog and an ExtendedLog in the metrics format of
//! docs/proftpd.md, as the Python ftplib traffic (plain and FTPS) left them. The scoreboard
//! collector reads the process titles of a real ProFTPd that no client talks to (sessions
//! under load are tests/tests/proftpd_scoreboard.rs's).
//!
//! Regenerate after an intended change (review the diff before committing):
//! `UPDATE_GOLDEN=1 cargo test -p e2e-tests --test proftpd_golden`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use e2e_tests::expo::{samples, sum};
use e2e_tests::golden::{check_documented, check_golden};
use e2e_tests::proftpd::{FTP_USERS, ProFtpd, ProFtpdOptions};
use e2e_tests::{Exporter, temp_dir, workspace_root};

const BIN: &str = "proftpd-exporter";

/// The logs captured, as (fixture file, log file of the instance).
const LOGS: [(&str, &str); 4] = [
    ("xferlog-1.3.8.log", "xferlog"),
    ("systemlog-1.3.8.log", "proftpd.log"),
    ("tlslog-1.3.8.log", "tls.log"),
    ("extendedlog-metrics-1.3.8.log", "metrics.log"),
];

/// The metrics LogFormat of docs/proftpd.md (also in the harness's `extended_logs`).
const METRICS_FORMAT: &str =
    "metrics=%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E";

fn fixture(rel: &str) -> PathBuf {
    workspace_root()
        .join("exporters/proftpd/tests/fixtures")
        .join(rel)
}

#[test]
fn whole_output_matches_the_golden_files() {
    let ftpd = ProFtpd::start(ProFtpdOptions::new()).unwrap();
    let dir = temp_dir("proftpd-golden-").unwrap();
    let mut lines = 0.0;
    let mut copies = Vec::new();
    for (f, _) in LOGS {
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        lines += text.lines().count() as f64;
        let copy = dir.path().join(f);
        std::fs::write(&copy, text).unwrap();
        copies.push(copy);
    }
    let args = [
        format!("--proftpd.transferlog=file:{}", copies[0].display()),
        format!("--proftpd.systemlog=file:{}", copies[1].display()),
        format!("--proftpd.tlslog=file:{}", copies[2].display()),
        format!("--proftpd.logformat={METRICS_FORMAT}"),
        format!("--proftpd.extendedlog=file:{}:metrics", copies[3].display()),
        "--collector.log.from-beginning".to_string(),
        // A real daemon without clients: proftpd_up 1 and every session state at 0.
        "--collector.scoreboard.source=proctitle".to_string(),
        format!("--proftpd.pidfile={}", ftpd.pid_file().display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = Exporter::start(BIN, &args).unwrap();
    let raw_text = check_golden(&e, "proftpd", lines, dir.path(), "proftpd-exporter")
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        sum(
            &samples(&raw_text),
            "proftpd_log_lines_unsupported_total",
            &[]
        ),
        0.0
    );
}

/// The transfer families from the TransferLog and from the metrics ExtendedLog of the same
/// traffic: equal, sample by sample, but for the durations' precision.
#[test]
fn the_transferlog_and_the_extendedlog_count_the_same_transfers() {
    let dir = temp_dir("proftpd-golden-").unwrap();
    let copy = |f: &str| {
        let p = dir.path().join(f);
        std::fs::copy(fixture(f), &p).unwrap();
        p
    };
    let (xfer, ext) = (copy(LOGS[0].0), copy(LOGS[3].0));
    let run = |from: &str| {
        let args = [
            format!("--proftpd.transferlog=file:{}", xfer.display()),
            "--proftpd.systemlog=none".to_string(),
            format!("--proftpd.logformat={METRICS_FORMAT}"),
            format!("--proftpd.extendedlog=file:{}:metrics", ext.display()),
            format!("--proftpd.transfers-from={from}"),
            "--collector.log.from-beginning".to_string(),
            "--no-collector.scoreboard".to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = Exporter::start(BIN, &args).unwrap();
        let lines = |s: &[e2e_tests::expo::ExpoSample]| sum(s, "proftpd_log_lines_total", &[]);
        let want = [xfer.as_path(), ext.as_path()]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap().lines().count() as f64)
            .sum::<f64>();
        e2e_tests::wait_for(
            "every line read",
            std::time::Duration::from_secs(15),
            || lines(&e.samples().unwrap()) == want,
        );
        e.samples().unwrap()
    };
    let (a, b) = (run("transferlog"), run("extendedlog"));
    let pick = |s: &[e2e_tests::expo::ExpoSample], name: &str| {
        let mut v: Vec<String> = s
            .iter()
            .filter(|x| x.name == name)
            .map(|x| format!("{:?} {}", x.labels, x.value))
            .collect();
        v.sort();
        v
    };
    for name in [
        "proftpd_transfers_total",
        "proftpd_transfer_bytes_total",
        "proftpd_transfer_duration_seconds_count",
    ] {
        assert!(!pick(&a, name).is_empty(), "{name}");
        assert_eq!(pick(&a, name), pick(&b, name), "{name}");
    }
    assert_eq!(sum(&b, "proftpd_transfers_total", &[]), 9.0);
}

#[test]
fn every_golden_family_is_documented() {
    check_documented("proftpd-exporter", "proftpd", 20).unwrap_or_else(|e| panic!("{e:#}"));
}

/// Refreshes the fixtures from a real ProFTPd with mod_tls and the three ExtendedLogs after
/// the plain and FTPS ftplib traffic; the temp dir in paths is written as `/srv/ftp`. Run
/// it on purpose: `cargo test -p e2e-tests --test proftpd_golden -- --ignored capture`.
#[test]
#[ignore = "writes fixtures; run on purpose after a ProFTPd upgrade"]
fn capture_fixtures() {
    let mut ftp = ProFtpd::start(ProFtpdOptions::new().tls().extended_logs()).unwrap();
    let pw = serde_json::json!({"alice": FTP_USERS[0].1, "bob": FTP_USERS[1].1});
    ftp.python_traffic(&pw).unwrap();
    ftp.python_tls_traffic(&pw).unwrap();
    // Let the last sessions' close and EXIT lines be written, then stop the daemon.
    std::thread::sleep(std::time::Duration::from_secs(2));
    ftp.stop().unwrap();
    let tmp = ftp.dir().display().to_string();
    for (f, log) in LOGS {
        let text = std::fs::read_to_string(ftp.log_file(log)).unwrap();
        std::fs::write(fixture(f), text.replace(&tmp, "/srv/ftp")).unwrap();
    }
}
