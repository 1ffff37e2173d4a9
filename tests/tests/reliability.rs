//! The real `postfix-exporter` against a hostile environment: a showq that hangs after a
//! good walk or drips its stream, many scrapes at once, SIGTERM while a walk is stuck,
//! clients that open connections and never finish a request, a FIFO replaced under the
//! follower, a copytruncate rotation, and a web config holding secrets in the wrong place.
//! Each test reproduces a fault that once held; the figures they print are recorded in
//! docs/reliability.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::expo::{ExpoSample, samples, value};
use e2e_tests::fake::{Behaviour, FakeShowq, mkfifo, write_fifo};
use e2e_tests::http::{basic_auth, request};
use e2e_tests::{ACCEPT_TEXT, Exporter, exporter_binary, temp_dir, wait_for, workspace_root};

const BIN: &str = "postfix-exporter";

fn good_stream() -> Vec<u8> {
    std::fs::read(
        workspace_root()
            .join("exporters/postfix/tests/fixtures/postfix-3.7/short-ids/showq-tcp.bin"),
    )
    .unwrap()
}

fn scrape(e: &Exporter) -> Vec<ExpoSample> {
    samples(&e.scrape(ACCEPT_TEXT).unwrap().text())
}

fn queue_exporter(showq: &FakeShowq, extra: &[&str]) -> Exporter {
    let mut args = vec![
        "--postfix.showq_network=tcp".to_string(),
        format!("--postfix.showq_address={}", showq.address()),
        "--no-collector.log".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Exporter::start(BIN, &args).unwrap()
}

#[test]
fn a_showq_that_hangs_after_a_good_walk_neither_slows_scrapes_nor_hides() {
    let showq = FakeShowq::start(Behaviour::Serve(good_stream())).unwrap();
    let e = queue_exporter(&showq, &["--collector.queue.interval=1s"]);
    wait_for("a good walk", Duration::from_secs(10), || {
        value(&scrape(&e), "postfix_up", &[]) == Some(1.0)
    });
    showq.set(Behaviour::Hang);
    let hung_at = Instant::now();
    let mut slowest = Duration::ZERO;
    let detected = wait_for("postfix_up 0", Duration::from_secs(6), || {
        let t = Instant::now();
        let s = scrape(&e);
        slowest = slowest.max(t.elapsed());
        value(&s, "postfix_up", &[]) == Some(0.0)
    });
    // Scrapes keep being served from the snapshot while the walk hangs.
    for _ in 0..5 {
        let t = Instant::now();
        let s = scrape(&e);
        slowest = slowest.max(t.elapsed());
        assert_eq!(value(&s, "postfix_queue_snapshot_stale", &[]), Some(1.0));
        assert!(value(&s, "postfix_queue_messages", &[("queue", "deferred")]).is_some());
    }
    println!(
        "hung showq: detected {:.2} s after the hang started, slowest scrape {:.0} ms",
        hung_at.elapsed().min(detected).as_secs_f64(),
        slowest.as_secs_f64() * 1000.0
    );
    assert!(slowest < Duration::from_millis(1500), "{slowest:?}");
    let s = scrape(&e);
    assert_eq!(
        value(
            &s,
            "postfix_scrape_collector_success",
            &[("collector", "queue")]
        ),
        Some(0.0)
    );
}

#[test]
fn sigterm_finishes_within_the_drain_while_a_walk_is_stuck() {
    // One byte every 20 s: without a bound the process never exits.
    let showq = FakeShowq::start(Behaviour::Drip(good_stream(), Duration::from_secs(20))).unwrap();
    let mut e = queue_exporter(
        &showq,
        &["--web.shutdown-timeout=2s", "--collector.queue.timeout=10m"],
    );
    wait_for("the walk to start", Duration::from_secs(10), || {
        showq.connections() >= 1
    });
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let status = e.daemon().stop_with_grace(Duration::from_secs(15)).unwrap();
    let took = t.elapsed();
    println!(
        "shutdown with a hung showq walk: {:.2} s",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_millis(3500), "{took:?}");
    assert!(
        status.code().is_some(),
        "exited by itself, not killed: {status:?}"
    );
}

#[test]
fn a_dripping_showq_is_cut_by_the_walk_deadline() {
    // One byte every 100 ms: each read succeeds, so only a whole-walk deadline ends it.
    let showq =
        FakeShowq::start(Behaviour::Drip(good_stream(), Duration::from_millis(100))).unwrap();
    let mut e = queue_exporter(
        &showq,
        &[
            "--collector.queue.timeout=1s",
            "--collector.queue.interval=200ms",
        ],
    );
    let took = wait_for("the deadline", Duration::from_secs(8), || {
        e.daemon().log().contains("did not finish within 1.0 s")
    });
    println!(
        "dripping showq: walk failed after {:.2} s",
        took.as_secs_f64()
    );
    // The walk (and its lock) is released: the next walks start.
    wait_for("later walks", Duration::from_secs(8), || {
        showq.connections() >= 3
    });
    assert_eq!(value(&scrape(&e), "postfix_up", &[]), Some(0.0));
}

#[test]
fn concurrent_scrapes_share_one_walk() {
    let showq = FakeShowq::start(Behaviour::Serve(good_stream())).unwrap();
    let e = queue_exporter(&showq, &["--collector.queue.interval=1h"]);
    wait_for("the first walk", Duration::from_secs(10), || {
        value(&scrape(&e), "postfix_up", &[]) == Some(1.0)
    });
    // Old enough for a scrape to ask for a fresh walk (a cheap source is walked on demand).
    std::thread::sleep(Duration::from_millis(5200));
    let before = showq.connections();
    let url = e.metrics_url();
    let scrapers: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let r = request("GET", &url, &[("Accept", ACCEPT_TEXT)], &[]).unwrap();
                assert_eq!(r.status, 200);
            })
        })
        .collect();
    for s in scrapers {
        s.join().unwrap();
    }
    let walks = showq.connections() - before;
    println!("20 concurrent scrapes: {walks} queue walks");
    assert!((1..=2).contains(&walks), "{walks} walks for 20 scrapes");
}

#[test]
fn a_zero_interval_is_refused_at_start() {
    let out = Command::new(exporter_binary(BIN).unwrap())
        .args([
            "--web.listen-address=127.0.0.1:0",
            "--collector.queue.interval=0s",
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--collector.queue.interval must be more than 0s"),
        "{err}"
    );
}

/// Opens a connection and sends half a request.
fn half_request(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    c
}

/// True once the server has closed `c` (a read returns 0 or fails).
fn closed_by_server(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut b = [0u8; 4096];
    loop {
        match c.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_and_half_sent_connections_are_closed_and_capped() {
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            "--no-collector.log",
            "--web.read-header-timeout=1s",
            "--web.max-connections=40",
        ],
    )
    .unwrap();
    let addr = e.target();
    let mut held: Vec<TcpStream> = (0..60).map(|_| half_request(&addr)).collect();
    let opened = Instant::now();
    // Over the cap: closed at once, so the kernel queue never fills with them.
    std::thread::sleep(Duration::from_millis(300));
    let closed_now = held.iter_mut().map(closed_by_server).filter(|&c| c).count();
    assert!(closed_now >= 20, "{closed_now} of 60 closed at the cap");
    // The rest are closed by the header-read timeout.
    wait_for(
        "half-sent requests to be closed",
        Duration::from_secs(5),
        || held.iter_mut().all(closed_by_server),
    );
    println!(
        "60 half-sent connections, cap 40, header timeout 1 s: {closed_now} closed at once, all closed after {:.2} s",
        opened.elapsed().as_secs_f64()
    );
    // A kept-alive connection that goes idle is closed too.
    let mut ka = TcpStream::connect(&addr).unwrap();
    ka.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    ka.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(ka.read(&mut buf).unwrap() > 0);
    wait_for(
        "the idle keep-alive connection to be closed",
        Duration::from_secs(5),
        || closed_by_server(&mut ka),
    );
    // Real scrapes work again, and the refusals were counted.
    let s = scrape(&e);
    let rejected = value(&s, "postfix_http_connections_rejected_total", &[]).unwrap();
    assert!(rejected >= 20.0, "{rejected}");
    // The soft open-files limit was raised to the hard one.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", e.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[3], f[4], "soft == hard: {line}");
}

const CONNECT: &str = "Nov 23 15:04:52 mx postfix/smtpd[1234]: connect from unknown[192.0.2.1]\n";

#[test]
fn a_fifo_deleted_and_created_again_keeps_feeding_the_counters() {
    let dir = temp_dir("fifo-").unwrap();
    let fifo = dir.path().join("postfix.pipe");
    mkfifo(&fifo).unwrap();
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            &format!("--collector.log.source=fifo:{}", fifo.display()),
            "--collector.log.poll-interval=20ms",
        ],
    )
    .unwrap();
    let connects = || value(&scrape(&e), "postfix_smtpd_connects_total", &[]);
    write_fifo(&fifo, CONNECT, Duration::from_secs(10)).unwrap();
    wait_for("the first line", Duration::from_secs(10), || {
        connects() == Some(1.0)
    });
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo).unwrap();
    write_fifo(&fifo, &CONNECT.repeat(2), Duration::from_secs(10)).unwrap();
    wait_for(
        "lines through the new FIFO",
        Duration::from_secs(10),
        || connects() == Some(3.0),
    );
}

#[test]
fn a_copytruncate_rotation_loses_no_line() {
    let dir = temp_dir("copytruncate-").unwrap();
    let log = dir.path().join("mail.log");
    std::fs::write(&log, "").unwrap();
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            &format!("--collector.log.source=file:{}", log.display()),
            // A long poll: the rotation surely falls between two reads.
            "--collector.log.poll-interval=2s",
        ],
    )
    .unwrap();
    let s = scrape(&e);
    assert_eq!(value(&s, "postfix_smtpd_connects_total", &[]), Some(0.0));
    std::fs::write(&log, CONNECT.repeat(100)).unwrap();
    std::thread::sleep(Duration::from_millis(2300));
    // 50 lines the follower has not seen, then logrotate's copy and truncate at once.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(CONNECT.repeat(50).as_bytes()).unwrap();
    drop(f);
    std::fs::copy(&log, dir.path().join("mail.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    wait_for("150 connects", Duration::from_secs(10), || {
        value(&scrape(&e), "postfix_smtpd_connects_total", &[]) == Some(150.0)
    });
    let s = scrape(&e);
    let src = format!("file:{}", log.display());
    assert_eq!(
        value(
            &s,
            "postfix_log_rotations_total",
            &[("source", &src), ("kind", "truncate")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "postfix_log_truncations_unrecovered_total",
            &[("source", &src)]
        ),
        Some(0.0)
    );
}

fn start_with_web_config(yaml: &str) -> (bool, String) {
    let dir = temp_dir("web-secret-").unwrap();
    let p: PathBuf = dir.path().join("web.yml");
    std::fs::write(&p, yaml).unwrap();
    let out = Command::new(exporter_binary(BIN).unwrap())
        .args([
            "--web.listen-address=127.0.0.1:0",
            "--no-collector.queue",
            "--no-collector.log",
            &format!("--web.config.file={}", p.display()),
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn web_config_errors_never_echo_secrets() {
    let (ok, err) = start_with_web_config("basic_auth_users: \"prom:S3cretPassw0rd!\"\n");
    assert!(!ok);
    assert!(err.contains("web.yml") && !err.contains("S3cret"), "{err}");
    let huge = "P".repeat(100 * 1024 * 1024);
    let (ok, err) = start_with_web_config(&format!("basic_auth_users: {huge}\n"));
    assert!(!ok);
    assert!(
        err.len() < 4096,
        "{} bytes of stderr for a 100 MB value",
        err.len()
    );
    let (ok, err) = start_with_web_config("basic_auth_users:\n  prom: S3cretPassw0rd!\n");
    assert!(!ok);
    assert!(err.contains("\"prom\"") && !err.contains("S3cret"), "{err}");
}

#[test]
fn failed_logins_are_counted_and_logged_without_the_password_and_rate_limit_holds() {
    let dir = temp_dir("web-auth-").unwrap();
    let p = dir.path().join("web.yml");
    let hash = bcrypt::hash("right-password", 4).unwrap();
    std::fs::write(
        &p,
        format!("basic_auth_users:\n  prom: '{hash}'\nrate_limit:\n  interval: 1m\n  burst: 3\n"),
    )
    .unwrap();
    let mut e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            "--no-collector.log",
            &format!("--web.config.file={}", p.display()),
        ],
    )
    .unwrap();
    let wrong = basic_auth("prom", "wrong-password-123");
    let right = basic_auth("prom", "right-password");
    let r = request("GET", &e.metrics_url(), &[("Authorization", &wrong)], &[]).unwrap();
    assert_eq!(r.status, 401);
    let r = request("GET", &e.metrics_url(), &[("Authorization", &right)], &[]).unwrap();
    assert_eq!(r.status, 200);
    let s = samples(&r.text());
    assert_eq!(
        value(&s, "postfix_http_auth_failures_total", &[]),
        Some(1.0)
    );
    let log = e.daemon().log();
    assert!(
        log.contains("basic auth failed") && log.contains("prom"),
        "{log}"
    );
    assert!(!log.contains("wrong-password-123"), "{log}");
    // The third request of the burst passes, the fourth is refused; health stays open.
    let r = request("GET", &e.metrics_url(), &[("Authorization", &right)], &[]).unwrap();
    assert_eq!(r.status, 200);
    let r = request("GET", &e.metrics_url(), &[("Authorization", &right)], &[]).unwrap();
    assert_eq!(r.status, 429);
    let r = request("GET", &format!("{}/-/healthy", e.url()), &[], &[]).unwrap();
    assert_eq!(r.status, 200);
}

/// After a completed TLS handshake, a client that sends nothing is closed by the
/// header-read timeout too (the TLS handshake itself is bounded at 10 s by the acceptor).
#[test]
fn a_silent_client_after_the_tls_handshake_is_closed() {
    let pki = e2e_tests::pki::Pki::new().unwrap();
    let web = pki
        .write(
            "web.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
        )
        .unwrap();
    let port = e2e_tests::free_port();
    let dir = temp_dir("tls-idle-").unwrap();
    let mut cmd = Command::new(exporter_binary(BIN).unwrap());
    cmd.args([
        &format!("--web.listen-address=127.0.0.1:{port}"),
        "--no-collector.queue",
        "--no-collector.log",
        "--web.read-header-timeout=1s",
        &format!("--web.config.file={}", web.display()),
    ]);
    let mut d = e2e_tests::Daemon::spawn(BIN, cmd, dir.path()).unwrap();
    d.wait_tcp(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    // Python's ssl module is the TLS client at hand; it prints how long the server kept
    // the silent connection.
    let script = r#"
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
t = time.time()
s.settimeout(10)
try:
    data = s.recv(100)
except (ssl.SSLError, OSError):
    data = b""
print(f"{time.time() - t:.2f} {len(data)}")
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &port.to_string(),
            &pki.path("ca.crt").display().to_string(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    println!("silent client after the TLS handshake closed after {secs:.2} s");
    assert!((0.5..3.0).contains(&secs), "{text}");
}
