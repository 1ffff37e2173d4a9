//! Syslog reception on loopback UDP and unix datagram sockets, fed both by
//! util-linux `logger` (a real syslog client, RFC 3164 and RFC 5424) and by
//! hand-made datagrams for the edge cases (several lines, trailing NUL).

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::follow::{FollowHandle, FollowMetrics, FollowOptions, Source, SourceMetrics, spawn};
use common::logline::{self, PrefixFormat};
use common::testing::CollectLines;

fn wait_until(cond: impl FnMut() -> bool) -> bool {
    common::testing::wait_until(Duration::from_secs(20), cond)
}

fn start(source: Source) -> (Arc<CollectLines>, SourceMetrics, FollowHandle) {
    let c = Arc::new(CollectLines::default());
    let m = FollowMetrics::new("test", "service").source("test");
    let o = FollowOptions {
        poll_interval: Duration::from_millis(20),
        ..FollowOptions::default()
    };
    let h = spawn(source, c.clone(), m.clone(), o).unwrap();
    assert!(h.started());
    assert_eq!(m.source_up(), 1);
    (c, m, h)
}

fn logger(args: &[&str]) {
    let st = Command::new("logger").args(args).status().unwrap();
    assert!(st.success(), "logger {args:?}");
}

fn hostname() -> String {
    let out = Command::new("hostname").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn udp_datagrams() {
    let (c, m, h) = start("udp://127.0.0.1:0".parse().unwrap());
    let addr = h.local_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in [
        &b"<22>Nov 22 23:02:10 mx postfix/smtp[20564]: 4A1B2C3D: to=<a@b.example>, status=sent\n"[..],
        b"<22>1 2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd 4242 - -  connect from localhost[127.0.0.1]\0",
        b"<22>Nov 22 23:02:11 postfix/smtpd[123]: first\n<22>Nov 22 23:02:11 postfix/smtpd[123]: second\n",
    ] {
        client.send_to(d, addr).unwrap();
    }
    assert!(wait_until(|| c.len() == 4));
    assert_eq!(
        c.lines(),
        [
            "<22>Nov 22 23:02:10 mx postfix/smtp[20564]: 4A1B2C3D: to=<a@b.example>, status=sent",
            "<22>1 2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd 4242 - -  connect from localhost[127.0.0.1]",
            "<22>Nov 22 23:02:11 postfix/smtpd[123]: first",
            "<22>Nov 22 23:02:11 postfix/smtpd[123]: second",
        ]
    );
    assert_eq!(m.lines_total(), 4);
    // The port is taken now: a second follower must fail to start.
    let err = spawn(
        Source::SyslogUdp(addr),
        Arc::new(CollectLines::default()),
        FollowMetrics::new("test", "service").source("test"),
        FollowOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(h.stop());
    assert_eq!(m.source_up(), 0);
}

#[test]
fn udp_from_logger_rfc3164_and_rfc5424() {
    let (c, _m, h) = start("udp://127.0.0.1:0".parse().unwrap());
    let port = h.local_addr().unwrap().port().to_string();
    let base = ["-d", "-n", "127.0.0.1", "-P", &port, "-p", "mail.info"];
    let mut a = base.to_vec();
    a.extend([
        "--rfc3164",
        "-t",
        "postfix/smtpd",
        "connect from localhost[127.0.0.1]",
    ]);
    logger(&a);
    let mut a = base.to_vec();
    a.extend([
        "--rfc5424",
        "-t",
        "postfix/qmgr",
        "--msgid",
        "-",
        "4A1B2C3D: removed",
    ]);
    logger(&a);
    assert!(wait_until(|| c.len() == 2));
    let lines = c.lines();
    let l = logline::parse(&lines[0]).unwrap();
    assert!(lines[0].starts_with("<22>"), "{}", lines[0]);
    assert_eq!(l.format, PrefixFormat::Bsd);
    assert_eq!(l.program, "postfix/smtpd");
    assert_eq!(l.message, "connect from localhost[127.0.0.1]");
    let l = logline::parse(&lines[1]).unwrap();
    assert!(lines[1].starts_with("<22>1 "), "{}", lines[1]);
    assert_eq!(l.format, PrefixFormat::Rfc5424);
    assert_eq!(l.program, "postfix/qmgr");
    assert_eq!(l.message, "4A1B2C3D: removed");
    assert!(
        logline::parse_timestamp(l.timestamp, l.format, std::time::SystemTime::now()).is_some()
    );
    assert!(h.stop());
}

#[test]
fn unixgram_socket_like_dev_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    // A stale socket file from an earlier run is replaced.
    drop(UnixDatagram::bind(&path).unwrap());
    let (c, m, h) = start(Source::SyslogUnix(path.clone()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666);
    let client = UnixDatagram::unbound().unwrap();
    client
        .send_to(
            b"<22>Nov 22 23:02:10 postfix/smtpd[123]: connect from x[1.2.3.4]",
            &path,
        )
        .unwrap();
    logger(&[
        "-u",
        path.to_str().unwrap(),
        "--rfc3164",
        "-p",
        "mail.info",
        "-t",
        "postfix/cleanup",
        "--id=4242",
        "4A1B2C3D: message-id=<x@y>",
    ]);
    logger(&[
        "-u",
        path.to_str().unwrap(),
        "--rfc5424",
        "-p",
        "mail.info",
        "-t",
        "postfix/smtp",
        "--id=77",
        "4A1B2C3D: to=<a@b>, status=sent",
    ]);
    assert!(wait_until(|| c.len() == 3));
    let lines = c.lines();
    assert_eq!(
        lines[0],
        "<22>Nov 22 23:02:10 postfix/smtpd[123]: connect from x[1.2.3.4]"
    );
    let l = logline::parse(&lines[1]).unwrap();
    assert_eq!(l.host, Some(hostname().as_str()));
    assert_eq!(
        (l.format, l.program, l.pid, l.message),
        (
            PrefixFormat::Bsd,
            "postfix/cleanup",
            Some("4242"),
            "4A1B2C3D: message-id=<x@y>"
        ),
        "{}",
        lines[1]
    );
    let l = logline::parse(&lines[2]).unwrap();
    assert_eq!(
        (l.format, l.program, l.pid, l.message),
        (
            PrefixFormat::Rfc5424,
            "postfix/smtp",
            Some("77"),
            "4A1B2C3D: to=<a@b>, status=sent"
        ),
        "{}",
        lines[2]
    );
    // logger sends the host name and, in RFC 5424, a `[timeQuality ...]` element.
    assert_eq!(l.host, Some(hostname().as_str()));
    assert!(lines[2].contains("[timeQuality "), "{}", lines[2]);
    assert_eq!(m.lines_total(), 3);
    assert!(h.stop());
    assert!(!path.exists());
}

#[test]
fn unixgram_path_that_is_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-socket");
    std::fs::write(&path, "keep me").unwrap();
    let err = spawn(
        Source::SyslogUnix(path.clone()),
        Arc::new(CollectLines::default()),
        FollowMetrics::new("test", "service").source("test"),
        FollowOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}
