//! `--collector.log.tee=stdout`: each exporter copies every log line it reads, unchanged, to
//! its stdout, so one syslog or FIFO path feeds both the metrics and the container log
//! pipeline. The exporters run as binaries with stdout and stderr kept apart: stdout must
//! hold exactly the lines written (bytes as they were: invalid UTF-8, a CR, an over-long
//! line in full), nothing of the exporter's own log, while the metrics still count them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::expo::{samples, sum};
use e2e_tests::{exporter_binary, net, temp_dir};

/// The exporter, killed on drop; its stdout and stderr in files of their own.
struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, args: &[String], dir: &Path) -> Running {
    let port = net::free_port();
    let child = Command::new(exporter_binary(bin).unwrap())
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let r = Running { child, port };
    wait("healthy", dir, || {
        e2e_tests::http::get(&format!("http://127.0.0.1:{port}/-/healthy"), &[])
            .is_ok_and(|r| r.status == 200)
    });
    r
}

fn wait(what: &str, dir: &Path, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what}: not within 20 s; stderr:\n{}",
        std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
    );
}

fn lines_read(r: &Running, metric: &str) -> f64 {
    e2e_tests::http::get(&format!("http://127.0.0.1:{}/metrics", r.port), &[])
        .map(|resp| sum(&samples(&resp.text()), metric, &[]))
        .unwrap_or(-1.0)
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
    let args = vec![
        "--no-collector.queue".to_string(),
        format!("--collector.log.source=file:{}", log.display()),
        format!("--collector.log.source=udp://127.0.0.1:{udp_port}"),
        "--collector.log.tee=stdout".to_string(),
        // Shorter than the long line: the metrics see it cut, the tee passes it whole.
        "--collector.log.max-line-bytes=256".to_string(),
    ];
    let r = start("postfix-exporter", &args, dir.path());
    // The file follower starts at the end: wait until it is following.
    wait("file source up", dir.path(), || {
        lines_read(&r, "postfix_log_source_up") >= 2.0
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
    wait("every line counted", dir.path(), || {
        lines_read(&r, "postfix_log_lines_total") >= want
    });
    // The counters move after the tee has written (same read, tee first).
    let out = split(&std::fs::read(dir.path().join("stdout")).unwrap());
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
    let err = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert!(err.contains("following log source"), "{err}");
    assert_eq!(out.len(), file_lines.len() + datagrams.len());
    let m = e2e_tests::http::get(&format!("http://127.0.0.1:{}/metrics", r.port), &[]).unwrap();
    assert_eq!(
        sum(
            &samples(&m.text()),
            "postfix_log_lines_truncated_total",
            &[]
        ),
        1.0
    );
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
        let r = start(bin, &args, dir.path());
        wait("source up", dir.path(), || {
            lines_read(&r, &metric.replace("lines_total", "source_up")) >= 1.0
        });
        append(&log, line);
        wait("line counted", dir.path(), || lines_read(&r, metric) >= 1.0);
        let out = std::fs::read(dir.path().join("stdout")).unwrap();
        assert_eq!(out, line, "{bin}");
    }
}
