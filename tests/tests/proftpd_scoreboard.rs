//! `proftpd-exporter`'s scoreboard collector against a real ProFTPd 1.3.8: two idle logged-in
//! sessions, one client at the login prompt and one upload in progress, held open, give
//! exactly those sessions by state, equal to what `ftpwho -o json` says; a stopped daemon is
//! `proftpd_up 0`. Without ftpwho the process titles give the same sessions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e_tests::expo::value;
use e2e_tests::proftpd::{FTP_USERS, ProFtpd, ProFtpdOptions};
use e2e_tests::{Exporter, wait_for};

const BIN: &str = "proftpd-exporter";

/// Two idle logged-in sessions, one at the login prompt and one upload in progress, held
/// open until the result is dropped; returns once `e` shows them by state.
fn hold_sessions(ftp: &ProFtpd, e: &Exporter) -> Vec<Box<dyn std::any::Any>> {
    let [(alice, apw), (bob, bpw)] = FTP_USERS;
    let held: Vec<Box<dyn std::any::Any>> = vec![
        Box::new(ftp.control(Some((alice, apw))).unwrap()),
        Box::new(ftp.control(Some((bob, bpw))).unwrap()),
        Box::new(ftp.control(None).unwrap()),
        Box::new(
            ftp.upload_in_progress(alice, apw, "slow.bin", &[b'x'; 4096])
                .unwrap(),
        ),
    ];
    wait_for(
        "the four sessions by state",
        Duration::from_secs(15),
        || {
            let s = e.samples().unwrap();
            (
                state(&s, "idle"),
                state(&s, "authenticating"),
                state(&s, "uploading"),
            ) == (2.0, 1.0, 1.0)
        },
    );
    held
}

/// The `proftpd_sessions` of ftp in `state` (-1 when absent).
fn state(s: &[e2e_tests::expo::ExpoSample], st: &str) -> f64 {
    value(s, "proftpd_sessions", &[("protocol", "ftp"), ("state", st)]).unwrap_or(-1.0)
}

#[test]
fn sessions_by_state_equal_ftpwho() {
    let mut ftp = ProFtpd::start(ProFtpdOptions::new()).expect("start proftpd");
    let board = format!("--proftpd.scoreboard={}", ftp.scoreboard().display());
    let e = Exporter::start(
        BIN,
        &[
            "--proftpd.transferlog=none",
            "--proftpd.systemlog=none",
            &board,
        ],
    )
    .unwrap();
    let _sessions = hold_sessions(&ftp, &e);
    let s = e.samples().unwrap();
    assert_eq!(value(&s, "proftpd_up", &[]), Some(1.0));
    assert_eq!(state(&s, "downloading"), 0.0);
    assert!(value(&s, "proftpd_server_start_time_seconds", &[]).unwrap() > 1.7e9);
    // ftpwho's own view of the same moment.
    let out = std::process::Command::new("ftpwho")
        .args(["-o", "json", "-f"])
        .arg(ftp.scoreboard())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let conns = json["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 4, "{json}");
    let flag = |k: &str| conns.iter().filter(|c| c[k] == true).count();
    assert_eq!(
        (flag("authenticating"), flag("uploading")),
        (1, 1),
        "{json}"
    );
    ftp.stop().unwrap();
    wait_for(
        "proftpd_up 0 after the stop",
        Duration::from_secs(15),
        || value(&e.samples().unwrap(), "proftpd_up", &[]) == Some(0.0),
    );
}

#[test]
fn sessions_by_state_from_the_process_titles() {
    let mut ftp = ProFtpd::start(ProFtpdOptions::new()).expect("start proftpd");
    // A copy of the PidFile outlives the daemon (ProFTPd removes its own at the stop), as a
    // stale one does after a crash.
    let dir = e2e_tests::temp_dir("proftpd-pid-").unwrap();
    let pidfile = dir.path().join("proftpd.pid");
    std::fs::copy(ftp.pid_file(), &pidfile).unwrap();
    let e = Exporter::start(
        BIN,
        &[
            "--proftpd.transferlog=none",
            "--proftpd.systemlog=none",
            // As in a sidecar image: no ftpwho to run.
            "--collector.scoreboard.ftpwho=/nonexistent/ftpwho",
            &format!("--proftpd.pidfile={}", pidfile.display()),
        ],
    )
    .unwrap();
    let _sessions = hold_sessions(&ftp, &e);
    let s = e.samples().unwrap();
    assert_eq!(value(&s, "proftpd_up", &[]), Some(1.0));
    assert_eq!((state(&s, "downloading"), state(&s, "other")), (0.0, 0.0));
    assert_eq!(
        value(
            &s,
            "proftpd_scrape_collector_success",
            &[("collector", "scoreboard")]
        ),
        Some(1.0)
    );
    ftp.stop().unwrap();
    wait_for(
        "proftpd_up 0 and no sessions after the stop",
        Duration::from_secs(15),
        || {
            let s = e.samples().unwrap();
            value(&s, "proftpd_up", &[]) == Some(0.0) && state(&s, "idle") == 0.0
        },
    );
}
