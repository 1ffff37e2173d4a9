//! `--collector.log.tee=stdout`: each exporter copies every log line it reads, unchanged, to
//! its stdout, so one syslog or FIFO path feeds both the metrics and the container log
//! pipeline. The exporters run as binaries with stdout and stderr kept apart: stdout must
//! hold exactly the lines written (bytes as they were: invalid UTF-8, a CR, an over-long
//! line in full), nothing of the exporter's own log, while the metrics still count them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use e2e_tests::expo::sum;
use e2e_tests::{Exporter, net, temp_dir, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

/// The sum of `metric` over its series, or -1 when the scrape fails.
fn total(e: &Exporter, metric: &str) -> f64 {
    e.samples().map_or(-1.0, |s| sum(&s, metric, &[]))
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Splits `out` into lines, terminators removed.
fn split(out: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = out.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(v.pop(), Some(Vec::new()), "stdout ends with a newline");
    v
}

#[test]
fn postfix_exporter_tees_file_and_syslog_lines_unchanged() {
    let dir = temp_dir("tee-postfix-").unwrap();
    let log = dir.path().join("maillog");
    std::fs::write(&log, b"").unwrap();
    let udp_port = net::free_port();
    let long = format!(
        "Dec  3 08:00:03 mx postfix/smtpd[1203]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 {}",
        "x".repeat(300)
    );
    let file_lines: Vec<Vec<u8>> = vec![
        b"Dec  3 08:00:01 mx postfix/smtpd[1201]: connect from unknown[192.0.2.7]".to_vec(),
        b"Dec  3 08:00:02 mx postfix/smtp[1202]: 3F1A2B: to=<a@example.com>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=4.4.1, status=deferred (connect refused)\r".to_vec(),
        b"Dec  3 08:00:02 mx postfix/cleanup[1204]: 3F1A2C: message-id=<\xff\xfe@bad>".to_vec(),
        long.clone().into_bytes(),
    ];
    let datagrams: Vec<&[u8]> = vec![
        b"<22>Dec  3 08:00:04 mx postfix/qmgr[99]: 3F1A2B: removed",
        b"<22>1 2026-12-03T08:00:05Z mx postfix/smtpd 1205 - - disconnect from unknown[192.0.2.7] ehlo=1 commands=1\0",
    ];
    let file_arg = format!("--collector.log.source=file:{}", log.display());
    let udp_arg = format!("--collector.log.source=udp://127.0.0.1:{udp_port}");
    let mut r = Exporter::start_stdout_apart(
        "postfix-exporter",
        &[
            "--no-collector.queue",
            &file_arg,
            &udp_arg,
            "--collector.log.tee=stdout",
            // Shorter than the long line: the metrics see it cut, the tee passes it whole.
            "--collector.log.max-line-bytes=256",
        ],
    )
    .unwrap();
    // The file follower starts at the end: wait until it is following.
    wait_for("both sources up", LIMIT, || {
        total(&r, "postfix_log_source_up") >= 2.0
    });
    let mut all = Vec::new();
    for l in &file_lines {
        all.extend_from_slice(l);
        all.push(b'\n');
    }
    // In two writes, cut inside a line: the tee must not split it.
    let cut = all.len() / 3;
    append(&log, &all[..cut]);
    std::thread::sleep(Duration::from_millis(400));
    append(&log, &all[cut..]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in &datagrams {
        sock.send_to(d, ("127.0.0.1", udp_port)).unwrap();
    }
    let want = (file_lines.len() + datagrams.len()) as f64;
    wait_for("every line counted", LIMIT, || {
        total(&r, "postfix_log_lines_total") >= want
    });
    // The counters move after the tee has written (same read, tee first).
    let out = split(&r.stdout());
    let from_file: Vec<&Vec<u8>> = out.iter().filter(|l| !l.starts_with(b"<22>")).collect();
    assert_eq!(from_file, file_lines.iter().collect::<Vec<_>>());
    let mut from_udp: Vec<Vec<u8>> = out
        .iter()
        .filter(|l| l.starts_with(b"<22>"))
        .cloned()
        .collect();
    from_udp.sort();
    let mut sent: Vec<Vec<u8>> = datagrams
        .iter()
        .map(|d| d.strip_suffix(b"\0").unwrap_or(d).to_vec())
        .collect();
    sent.sort();
    assert_eq!(from_udp, sent);
    // The exporter's own log is on stderr, none of it on stdout.
    let err = r.daemon().log();
    assert!(err.contains("following log source"), "{err}");
    assert_eq!(out.len(), file_lines.len() + datagrams.len());
    assert_eq!(total(&r, "postfix_log_lines_truncated_total"), 1.0);
}

#[test]
fn proftpd_and_dovecot_exporters_tee_their_logs() {
    let xfer =
        b"Thu Dec  3 08:00:01 2026 0 127.0.0.1 1024 /srv/ftp/a.bin b _ o r alice ftp 0 * c\n";
    let dovecot = b"Dec 03 08:00:02 imap-login: Info: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=1201, secured, session=<abc>\n";
    for (bin, flag, line, metric) in [
        (
            "proftpd-exporter",
            "--proftpd.transferlog",
            &xfer[..],
            "proftpd_log_lines_total",
        ),
        (
            "dovecot-exporter",
            "--collector.log.source",
            &dovecot[..],
            "dovecot_log_lines_total",
        ),
    ] {
        let dir = temp_dir("tee-").unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, b"").unwrap();
        let mut args = vec![
            format!("{flag}={}", log.display()),
            "--collector.log.tee=stdout".to_string(),
        ];
        if bin == "dovecot-exporter" {
            for c in [
                "stats",
                "sessions",
                "oldstats",
                "service",
                "director",
                "proctitle",
            ] {
                args.push(format!("--no-collector.{c}"));
            }
            args.push("--collector.log".into());
        } else {
            args.push("--no-collector.scoreboard".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = Exporter::start_stdout_apart(bin, &args).unwrap();
        let up = metric.replace("lines_total", "source_up");
        wait_for("source up", LIMIT, || total(&r, &up) >= 1.0);
        append(&log, line);
        wait_for("line counted", LIMIT, || total(&r, metric) >= 1.0);
        assert_eq!(r.stdout(), line, "{bin}");
    }
}
