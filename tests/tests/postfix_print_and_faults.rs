//! The `print` subcommand on real captured Postfix 3.7 output, and the queue collector
//! fed broken showq streams by a fake showq service (a protocol edge case: the real
//! daemon never cuts its stream on purpose): `postfix_up 0`, the last good snapshot kept
//! and marked stale, recovery when the stream is good again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::expo::{ExpoSample, samples, value};
use e2e_tests::exporter::run_binary;
use e2e_tests::fake::{Behaviour, FakeShowq};
use e2e_tests::{ACCEPT_TEXT, Exporter, exporter_binary, workspace_root};

fn fixture(rel: &str) -> PathBuf {
    workspace_root()
        .join("exporters/postfix/tests/fixtures")
        .join(rel)
}

fn print(args: &[&str], stdin: Option<&[u8]>) -> Vec<ExpoSample> {
    let mut all = vec!["print"];
    all.extend_from_slice(args);
    let out = run_binary("postfix-exporter", &all, stdin.unwrap_or_default()).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    samples(&String::from_utf8_lossy(&out.stdout))
}

/// Messages per queue from the captured `postqueue -j`.
fn json_counts() -> std::collections::BTreeMap<String, f64> {
    let text = std::fs::read_to_string(fixture("postfix-3.7/short-ids/postqueue-j.jsonl")).unwrap();
    let mut m = std::collections::BTreeMap::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        *m.entry(v["queue_name"].as_str().unwrap().to_string())
            .or_insert(0.0) += 1.0;
    }
    m
}

#[test]
fn print_reads_every_format() {
    let counts = json_counts();
    assert!(counts.len() >= 2, "{counts:?}");
    let showq = print(
        &[fixture("postfix-3.7/short-ids/showq-unix.bin")
            .to_str()
            .unwrap()],
        None,
    );
    let json_bytes = std::fs::read(fixture("postfix-3.7/short-ids/postqueue-j.jsonl")).unwrap();
    let json = print(&[], Some(&json_bytes));
    for (q, n) in &counts {
        assert_eq!(
            value(&showq, "postfix_queue_messages", &[("queue", q)]),
            Some(*n),
            "showq {q}"
        );
        assert_eq!(
            value(&json, "postfix_queue_messages", &[("queue", q)]),
            Some(*n),
            "json {q}"
        );
    }
    // mailq cannot tell incoming from deferred; totals still agree.
    let mailq = print(
        &[
            "--format",
            "mailq",
            fixture("postfix-3.7/short-ids/mailq.txt").to_str().unwrap(),
        ],
        None,
    );
    let total = |s: &[ExpoSample]| -> f64 {
        s.iter()
            .filter(|x| x.name == "postfix_queue_messages")
            .map(|x| x.value)
            .sum()
    };
    assert_eq!(total(&mailq), counts.values().sum::<f64>());
    // qshape text, from stdin, detected by its header.
    let qshape = std::fs::read(fixture("postfix-3.7/short-ids/qshape-deferred.txt")).unwrap();
    let q = print(&["--queue", "deferred"], Some(&qshape));
    assert_eq!(
        value(
            &q,
            "postfix_qshape_recipients",
            &[("domain", "bulk.example.com"), ("age", "5")]
        ),
        Some(9.0)
    );
    assert_eq!(
        value(
            &q,
            "postfix_qshape_recipients",
            &[("domain", "example.org"), ("age", "10")]
        ),
        Some(0.0)
    );
    // Garbage is an error, not a panic.
    let bin = exporter_binary("postfix-exporter").unwrap();
    let out = Command::new(bin)
        .args([
            "print",
            "--format",
            "showq",
            fixture("synthetic/showq-garbage-time.bin")
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("postfix-exporter print:"));
}

fn wait(e: &Exporter, what: &str, pred: impl Fn(&[ExpoSample]) -> bool) -> Vec<ExpoSample> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = samples(&e.scrape(ACCEPT_TEXT).unwrap().text());
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn broken_showq_streams_keep_the_last_good_snapshot() {
    let good = std::fs::read(fixture("postfix-3.7/short-ids/showq-tcp.bin")).unwrap();
    let showq = FakeShowq::start(Behaviour::Serve(good.clone())).unwrap();
    let port = showq.port();
    let e = Exporter::start(
        "postfix-exporter",
        &[
            "--postfix.showq_network=tcp",
            &format!("--postfix.showq_address=127.0.0.1:{port}"),
            "--collector.queue.interval=200ms",
            "--no-collector.log",
        ],
    )
    .unwrap();
    let deferred = json_counts()["deferred"];
    let up = |v: f64| move |s: &[ExpoSample]| value(s, "postfix_up", &[]) == Some(v);
    wait(&e, "good snapshot", up(1.0));
    for bad in [
        "synthetic/showq-cut-mid-record.bin",
        "synthetic/showq-garbage-bytes.bin",
        "synthetic/showq-garbage-time.bin",
    ] {
        showq.set(Behaviour::Serve(std::fs::read(fixture(bad)).unwrap()));
        let s = wait(&e, bad, up(0.0));
        assert_eq!(
            value(&s, "postfix_queue_snapshot_stale", &[]),
            Some(1.0),
            "{bad}"
        );
        assert_eq!(
            value(&s, "postfix_queue_messages", &[("queue", "deferred")]),
            Some(deferred),
            "{bad}"
        );
        assert_eq!(
            value(
                &s,
                "postfix_scrape_collector_success",
                &[("collector", "queue")]
            ),
            Some(0.0)
        );
        showq.set(Behaviour::Serve(good.clone()));
        let s = wait(&e, "recovery", up(1.0));
        assert_eq!(value(&s, "postfix_queue_snapshot_stale", &[]), Some(0.0));
    }
    // A 10 MB attribute value is cut, counted and survived.
    let mut big = b"protocol\0mail_queue_list_protocol\0\0queue_name\0deferred\0queue_id\0ABCDEF123\0time\x001795446913\0size\x00100\0sender\0".to_vec();
    big.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    big.extend_from_slice(b"\0recipient\0a@example.com\0reason\0x\0\0\0");
    showq.set(Behaviour::Serve(big));
    let s = wait(&e, "huge value", |s| {
        value(s, "postfix_queue_messages", &[("queue", "deferred")]) == Some(1.0)
    });
    assert_eq!(value(&s, "postfix_up", &[]), Some(1.0));
    assert_eq!(
        value(&s, "postfix_queue_recipients", &[("queue", "deferred")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "postfix_queue_walk_truncated_values", &[]),
        Some(1.0)
    );
}
