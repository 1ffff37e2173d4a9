//! `proftpd-exporter`'s log collector against a real ProFTPd 1.3.8: after known traffic from
//! Python's ftplib (uploads, one with spaces in its name, a download, an aborted download, a
//! delete, a missing file, a second user, a wrong password, an unknown user), every
//! transfer counter (TransferLog) and every session and login counter (SystemLog) equals
//! what the traffic did, and the TransferLog's own lines agree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e_tests::expo::{sum, value};
use e2e_tests::proftpd::{FTP_USERS, ProFtpd, ProFtpdOptions};
use e2e_tests::{Exporter, wait_for};

const BIN: &str = "proftpd-exporter";

#[test]
fn transfers_sessions_and_logins_equal_the_traffic() {
    let ftp = ProFtpd::start(ProFtpdOptions::new()).expect("start proftpd");
    let log = ftp.transfer_log();
    let e = Exporter::start(
        BIN,
        &[
            &format!("--proftpd.transferlog={}", log.display()),
            &format!("--proftpd.systemlog={}", ftp.system_log().display()),
            "--collector.log.from-beginning",
        ],
    )
    .unwrap();
    let pw = serde_json::json!({"alice": FTP_USERS[0].1, "bob": FTP_USERS[1].1});
    let replies = ftp.python_traffic(&pw).unwrap();
    let want = serde_json::json!({
        "stor report.txt": "226", "stor my file with spaces.bin": "226", "stor notes.txt": "226",
        "retr report.txt": "226", "retr bytes": 12345, "dele notes.txt": "250",
        "stor big.bin": "226", "retr big.bin aborted": "426", "retr missing.txt": "550",
        "bob stor b.bin": "226", "wrong password": "530", "unknown user": "530",
    });
    assert_eq!(replies, want);
    // 5 uploads, 2 downloads (one aborted), 1 delete: 8 lines; the missing file writes none.
    wait_for("8 TransferLog lines read", Duration::from_secs(15), || {
        let s = e.samples().unwrap();
        value(&s, "proftpd_log_lines_total", &[("source", "transferlog")]) == Some(8.0)
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 8, "{text}");
    let s = e.samples().unwrap();
    let v = |name: &str, l: &[(&str, &str)]| value(&s, name, l).unwrap_or(0.0);
    let t = |d: &str, st: &str| {
        v(
            "proftpd_transfers_total",
            &[("direction", d), ("status", st), ("protocol", "ftp")],
        )
    };
    assert_eq!(t("upload", "complete"), 5.0);
    assert_eq!(t("upload", "incomplete"), 0.0);
    assert_eq!(t("download", "complete"), 1.0);
    assert_eq!(t("download", "incomplete"), 1.0);
    assert_eq!(t("delete", "complete"), 1.0);
    let bytes = |d: &str| {
        v(
            "proftpd_transfer_bytes_total",
            &[("direction", d), ("protocol", "ftp")],
        )
    };
    assert_eq!(
        bytes("upload"),
        (12345 + 2048 + 12 + (5 << 20) + 1000) as f64
    );
    assert_eq!(bytes("delete"), 12.0);
    // The aborted download: what the server sent before the client closed, as its line says.
    let aborted: f64 = text
        .lines()
        .find(|l| l.ends_with(" i") && l.contains(" o r "))
        .map(|l| l.split_whitespace().nth(7).unwrap().parse().unwrap())
        .expect("the aborted download's line");
    assert!(
        aborted >= (128 << 10) as f64 && aborted < (5 << 20) as f64,
        "{aborted}"
    );
    assert_eq!(bytes("download"), 12345.0 + aborted);
    assert_eq!(
        v(
            "proftpd_transfer_duration_seconds_count",
            &[("direction", "upload")]
        ),
        5.0
    );
    assert_eq!(
        v(
            "proftpd_transfer_duration_seconds_count",
            &[("direction", "download")]
        ),
        2.0
    );
    assert_eq!(sum(&s, "proftpd_log_lines_unsupported_total", &[]), 0.0);
    assert_eq!(
        v("proftpd_scrape_collector_success", &[("collector", "log")]),
        1.0
    );
    // The SystemLog: four sessions (alice, bob, the wrong password, the unknown user), two
    // logins, two failures with their reasons. The last session's close may lag its QUIT.
    wait_for("4 sessions closed", Duration::from_secs(15), || {
        let s = e.samples().unwrap();
        value(&s, "proftpd_sessions_closed_total", &[("protocol", "ftp")]) == Some(4.0)
    });
    let s = e.samples().unwrap();
    let v = |name: &str, l: &[(&str, &str)]| value(&s, name, l).unwrap_or(0.0);
    assert_eq!(
        v("proftpd_sessions_opened_total", &[("protocol", "ftp")]),
        4.0
    );
    let login = |r: &str| {
        v(
            "proftpd_logins_total",
            &[("protocol", "ftp"), ("result", r)],
        )
    };
    assert_eq!((login("success"), login("failure")), (2.0, 2.0));
    let fail = |r: &str| v("proftpd_login_failures_total", &[("reason", r)]);
    assert_eq!(fail("incorrect_password"), 1.0);
    assert_eq!(fail("no_such_user"), 1.0);
    assert_eq!(v("proftpd_daemon_starts_total", &[]), 1.0);
    let unsupported = sum(&s, "proftpd_log_lines_unsupported_total", &[]);
    assert_eq!(
        unsupported,
        0.0,
        "{}",
        std::fs::read_to_string(ftp.system_log()).unwrap()
    );
    // The path with spaces is one line, not two.
    assert!(text.contains("my_file_with_spaces.bin"), "{text}");
}
