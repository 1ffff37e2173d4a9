//! `proftpd-exporter`'s log collector against a real ProFTPd 1.3.8: after known traffic from
//! Python's ftplib (uploads, one with spaces in its name, a download, an aborted download, a
//! delete, a missing file, a second user, a wrong password, an unknown user), every
//! transfer counter (TransferLog) and every session and login counter (SystemLog) equals
//! what the traffic did, and the TransferLog's own lines agree; the same counts come from an
//! ExtendedLog when it is the only log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e_tests::expo::{sum, value};
use e2e_tests::proftpd::{FTP_USERS, ProFtpd, ProFtpdOptions};
use e2e_tests::{Exporter, wait_for};

const BIN: &str = "proftpd-exporter";

/// The transfer counters of `python_traffic`, whichever log counted them: 5 uploads, 2
/// downloads (one aborted after `aborted` bytes), 1 delete; the missing file is none.
fn assert_traffic_transfers(s: &[e2e_tests::expo::ExpoSample], aborted: f64) {
    let v = |name: &str, l: &[(&str, &str)]| value(s, name, l).unwrap_or(0.0);
    let t = |d: &str, st: &str| {
        v(
            "proftpd_transfers_total",
            &[("direction", d), ("status", st), ("protocol", "ftp")],
        )
    };
    assert_eq!(t("upload", "complete"), 5.0);
    assert_eq!(t("upload", "incomplete"), 0.0);
    assert_eq!(t("download", "complete"), 1.0);
    assert_eq!(t("download", "incomplete"), 1.0, "the aborted download");
    assert_eq!(t("delete", "complete"), 1.0);
    assert_eq!(sum(s, "proftpd_transfers_total", &[]), 8.0, "not the 550");
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
    assert_eq!(bytes("delete"), 12.0, "the deleted file's size");
    assert!(
        aborted >= (128 << 10) as f64 && aborted < (5 << 20) as f64,
        "{aborted}"
    );
    assert_eq!(bytes("download"), 12345.0 + aborted);
    let count = |d: &str| {
        v(
            "proftpd_transfer_duration_seconds_count",
            &[("direction", d)],
        )
    };
    assert_eq!((count("upload"), count("download")), (5.0, 2.0));
}

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
    // The aborted download: what the server sent before the client closed, as its line says.
    let aborted: f64 = text
        .lines()
        .find(|l| l.ends_with(" i") && l.contains(" o r "))
        .map(|l| l.split_whitespace().nth(7).unwrap().parse().unwrap())
        .expect("the aborted download's line");
    assert_traffic_transfers(&s, aborted);
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

#[test]
fn commands_from_the_extended_logs_of_the_config() {
    let ftp = ProFtpd::start(ProFtpdOptions::new().extended_logs()).expect("start proftpd");
    let conf = format!("--proftpd.config={}", ftp.config_path().display());
    let off = ["--proftpd.transferlog=none", "--proftpd.systemlog=none"];
    // From the config: metrics.log (ALL, EXIT) only; auth.log and write.log overlap it.
    let auto = Exporter::start(
        BIN,
        &[off[0], off[1], &conf, "--collector.log.from-beginning"],
    )
    .unwrap();
    // Given explicitly: auth.log, its format found by its path in the config.
    let auth_flag = format!(
        "--proftpd.extendedlog={}",
        ftp.log_file("auth.log").display()
    );
    let auth = Exporter::start(
        BIN,
        &[
            off[0],
            off[1],
            &conf,
            &auth_flag,
            "--collector.log.from-beginning",
        ],
    )
    .unwrap();
    let pw = serde_json::json!({"alice": FTP_USERS[0].1, "bob": FTP_USERS[1].1});
    ftp.python_traffic(&pw).unwrap();
    let cmd = |s: &[e2e_tests::expo::ExpoSample], c: &str, class: &str| {
        value(
            s,
            "proftpd_commands_total",
            &[("command", c), ("code_class", class)],
        )
        .unwrap_or(0.0)
    };
    // Four sessions end with an EXIT line each; the last ones come after the clients left.
    wait_for("4 EXIT lines", Duration::from_secs(15), || {
        cmd(&auto.samples().unwrap(), "EXIT", "none") == 4.0
    });
    let s = auto.samples().unwrap();
    let sources: Vec<&str> = s
        .iter()
        .filter(|x| x.name == "proftpd_log_lines_total")
        .map(|x| x.label("source"))
        .collect();
    assert_eq!(sources, ["extendedlog:metrics"]);
    for (c, class, n) in [
        ("USER", "3xx", 4.0),
        ("PASS", "2xx", 2.0),
        ("PASS", "5xx", 2.0),
        ("STOR", "2xx", 5.0),
        ("RETR", "2xx", 1.0),
        ("RETR", "4xx", 1.0),
        ("RETR", "5xx", 1.0),
        ("DELE", "2xx", 1.0),
        ("QUIT", "2xx", 2.0),
    ] {
        assert_eq!(cmd(&s, c, class), n, "{c} {class}");
    }
    assert_eq!(sum(&s, "proftpd_log_lines_unsupported_total", &[]), 0.0);
    // No TransferLog and no SystemLog: transfers and logins come from metrics.log, the same
    // counts as from those logs (see the first test), with durations in milliseconds.
    let v = |name: &str, l: &[(&str, &str)]| value(&s, name, l).unwrap_or(0.0);
    let metrics_log = std::fs::read_to_string(ftp.log_file("metrics.log")).unwrap();
    let aborted: f64 = metrics_log
        .lines()
        .find(|l| l.contains(" RETR 426 "))
        .map(|l| l.split(' ').nth(5).unwrap().parse().unwrap())
        .expect("the aborted download's line");
    assert_traffic_transfers(&s, aborted);
    let ms_sum: f64 = metrics_log
        .lines()
        .filter(|l| l.contains(" STOR "))
        .map(|l| l.split(' ').nth(6).unwrap().parse::<f64>().unwrap())
        .sum();
    let secs = v(
        "proftpd_transfer_duration_seconds_sum",
        &[("direction", "upload")],
    );
    assert!(
        (secs - ms_sum / 1000.0).abs() < 1e-9,
        "{secs} vs {ms_sum} ms"
    );
    let login = |s: &[e2e_tests::expo::ExpoSample], r: &str| {
        value(
            s,
            "proftpd_logins_total",
            &[("protocol", "ftp"), ("result", r)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!((login(&s, "success"), login(&s, "failure")), (2.0, 2.0));
    wait_for("auth.log read", Duration::from_secs(15), || {
        cmd(&auth.samples().unwrap(), "PASS", "5xx") == 2.0
    });
    let a = auth.samples().unwrap();
    assert_eq!(cmd(&a, "USER", "3xx"), 4.0);
    assert_eq!(cmd(&a, "PASS", "2xx"), 2.0);
    assert_eq!(cmd(&a, "STOR", "2xx"), 0.0, "AUTH class only");
    assert_eq!((login(&a, "success"), login(&a, "failure")), (2.0, 2.0));
    assert_eq!(sum(&a, "proftpd_transfers_total", &[]), 0.0, "no %b");
    assert_eq!(sum(&a, "proftpd_log_lines_unsupported_total", &[]), 0.0);
}

#[test]
fn an_unsupported_logformat_variable_stops_the_start() {
    let out = e2e_tests::exporter::run_binary(
        BIN,
        &[
            "--proftpd.transferlog=none",
            "--proftpd.systemlog=none",
            "--proftpd.logformat=odd=%h %Q %s",
            "--proftpd.extendedlog=/nonexistent/odd.log:odd",
        ],
        b"",
    )
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported LogFormat variable %Q") && err.contains("LogFormat odd"),
        "{err}"
    );
}

#[test]
fn ftps_handshakes_and_transfers() {
    let ftp = ProFtpd::start(ProFtpdOptions::new().tls()).expect("start proftpd with mod_tls");
    let e = Exporter::start(
        BIN,
        &[
            &format!("--proftpd.transferlog={}", ftp.transfer_log().display()),
            "--proftpd.systemlog=none",
            &format!("--proftpd.tlslog={}", ftp.log_file("tls.log").display()),
            "--collector.log.from-beginning",
        ],
    )
    .unwrap();
    let pw = serde_json::json!({"alice": FTP_USERS[0].1, "bob": FTP_USERS[1].1});
    let replies = ftp.python_tls_traffic(&pw).unwrap();
    assert_eq!(
        replies,
        serde_json::json!({"ftps stor tls.txt": "226", "garbage auth": "234", "tls 1.1": "refused"})
    );
    let tls = |s: &[e2e_tests::expo::ExpoSample], name: &str, r: &str| {
        value(s, name, &[("result", r)]).unwrap_or(0.0)
    };
    let ftps_uploads = |s: &[e2e_tests::expo::ExpoSample]| {
        value(
            s,
            "proftpd_transfers_total",
            &[
                ("direction", "upload"),
                ("status", "complete"),
                ("protocol", "ftps"),
            ],
        )
    };
    wait_for(
        "two failed handshakes and the upload",
        Duration::from_secs(15),
        || {
            let s = e.samples().unwrap();
            tls(&s, "proftpd_tls_handshakes_total", "failure") == 2.0
                && ftps_uploads(&s) == Some(1.0)
        },
    );
    let s = e.samples().unwrap();
    assert_eq!(tls(&s, "proftpd_tls_handshakes_total", "success"), 1.0);
    assert_eq!(tls(&s, "proftpd_tls_data_handshakes_total", "success"), 1.0);
    assert_eq!(
        sum(&s, "proftpd_tls_connections_total", &[]),
        1.0,
        "one accepted control connection, of some version"
    );
    assert_eq!(sum(&s, "proftpd_log_lines_unsupported_total", &[]), 0.0);
}
