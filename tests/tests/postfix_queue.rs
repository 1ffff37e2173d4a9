//! The queue collector against a real Postfix 3.7: exact agreement with `postqueue -j`
//! (messages, recipients, bytes per queue) and with `qshape` (every cell), over the showq
//! unix socket, the showq inet service, the `postqueue -j` command and the spool itself;
//! and the failure modes (socket missing, connection refused, Postfix stopped mid-life).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e_tests::expo::series_map;
use e2e_tests::exporter::Exporter;
use e2e_tests::postfix::{Postfix, PostfixOptions, age_queue_files, parse_qshape};

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| {
        panic!(
            "missing series {key}; have:\n{}",
            m.keys().cloned().collect::<Vec<_>>().join("\n")
        )
    })
}

fn scrape(e: &Exporter) -> BTreeMap<String, f64> {
    let r = e
        .scrape("text/plain;version=0.0.4;q=1,*/*;q=0.1")
        .expect("scrape");
    series_map(&r.text())
}

/// Ground truth per queue from `postqueue -j`: (messages, recipients, bytes).
fn postqueue_truth(pf: &Postfix) -> BTreeMap<String, (u64, u64, u64)> {
    let mut t: BTreeMap<String, (u64, u64, u64)> = e2e_tests::postfix::QUEUES
        .iter()
        .map(|q| (q.to_string(), (0, 0, 0)))
        .collect();
    for line in pf
        .postqueue_j()
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let e = t
            .entry(v["queue_name"].as_str().unwrap().to_string())
            .or_default();
        e.0 += 1;
        e.1 += v["recipients"].as_array().unwrap().len() as u64;
        e.2 += v["message_size"].as_u64().unwrap();
    }
    t
}

fn wait_for(
    e: &Exporter,
    what: &str,
    pred: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(e);
        if pred(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {m:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A frozen queue: everything remote defers on the closed relayhost and is never retried
/// during the test.
fn frozen_postfix() -> Postfix {
    Postfix::start(
        PostfixOptions::new()
            .showq_inet()
            .param("queue_run_delay = 4000s")
            .param("minimal_backoff_time = 4000s")
            .param("maximal_backoff_time = 4000s"),
    )
    .expect("start postfix")
}

fn fill(pf: &Postfix) {
    // 12 messages, 1-4 recipients each, over 5 domains; a null sender; mixed case domains.
    let domains = [
        "example.com",
        "example.org",
        "Example.NET",
        "bulk.example.com",
        "x.test",
    ];
    for i in 0..12usize {
        let n = 1 + i % 4;
        let rcpts: Vec<String> = (0..n)
            .map(|k| format!("user{i}_{k}@{}", domains[(i + k * 2) % domains.len()]))
            .collect();
        let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
        let from = if i == 5 { "" } else { "alice@mx.test.local" };
        let body = format!("Subject: test {i}\n\n{}\n", "x".repeat(100 * i));
        pf.sendmail(from, &refs, &body).expect("sendmail");
    }
    pf.wait_deferred(12, Duration::from_secs(60))
        .expect("12 deferred");
}

/// Queue IDs in `queue`, youngest first, so a test that moves some of them
/// elsewhere never takes the oldest (directory order is hash order).
fn ids_in(pf: &Postfix, queue: &str) -> Vec<String> {
    let mut msgs: Vec<(i64, String)> = pf
        .postqueue_j()
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["queue_name"] == queue)
        .map(|v| {
            (
                v["arrival_time"].as_i64().unwrap_or(0),
                v["queue_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    msgs.sort_by(|a, b| b.cmp(a));
    msgs.into_iter().map(|(_, id)| id).collect()
}

fn check_against_truth(
    pf: &Postfix,
    m: &BTreeMap<String, f64>,
    qshape_queues: &[&str],
    qshape_args: &[&str],
) {
    let truth = postqueue_truth(pf);
    for (q, (msgs, rcpts, bytes)) in &truth {
        assert_eq!(
            get(m, &format!("postfix_queue_messages{{queue=\"{q}\"}}")),
            *msgs as f64,
            "{q} messages"
        );
        assert_eq!(
            get(m, &format!("postfix_queue_recipients{{queue=\"{q}\"}}")),
            *rcpts as f64,
            "{q} recipients"
        );
        assert_eq!(
            get(m, &format!("postfix_queue_size_bytes{{queue=\"{q}\"}}")),
            *bytes as f64,
            "{q} bytes"
        );
        assert_eq!(
            get(
                m,
                &format!("postfix_showq_message_size_bytes_count{{queue=\"{q}\"}}")
            ),
            *msgs as f64
        );
    }
    for q in qshape_queues {
        let mut args: Vec<&str> = qshape_args.to_vec();
        args.push(q);
        let (header, rows) = parse_qshape(&pf.qshape(&args).unwrap()).unwrap();
        let mut cells = 0;
        for (domain, counts) in &rows {
            if domain == "TOTAL" {
                continue;
            }
            for (b, label) in header.iter().enumerate() {
                let key = format!(
                    "postfix_qshape_recipients{{age=\"{label}\",domain=\"{domain}\",queue=\"{q}\"}}"
                );
                assert_eq!(
                    get(m, &key),
                    counts[b + 1] as f64,
                    "qshape {args:?} cell {key}"
                );
                cells += 1;
            }
        }
        // Nothing beyond qshape's rows: the exporter's cells sum to qshape's TOTAL.
        let ours: f64 = m
            .iter()
            .filter(|(k, _)| {
                k.starts_with("postfix_qshape_recipients{") && k.contains(&format!("queue=\"{q}\""))
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(ours, rows["TOTAL"][0] as f64, "qshape {args:?} TOTAL");
        assert!(cells > 0 || rows["TOTAL"][0] == 0);
    }
}

#[test]
fn queue_matches_postqueue_and_qshape_over_unix_tcp_and_command() {
    let pf = frozen_postfix();
    fill(&pf);
    // Spread real messages over qshape's age buckets: 0, 7 min, 30 min, 3 h, 2 days, 30 days.
    let ages = [0u64, 7 * 60, 30 * 60, 3 * 3600, 2 * 86400, 30 * 86400];
    let n = age_queue_files(pf.queue_dir(), "deferred", |i| ages[i % ages.len()]).unwrap();
    assert_eq!(n, 12);
    // Two messages on hold, one of them force-expired (qshape skips it).
    let ids = ids_in(&pf, "deferred");
    pf.postsuper(&["-h", &ids[0]]).unwrap();
    pf.postsuper(&["-h", &ids[1]]).unwrap();
    pf.postsuper(&["-e", &ids[1]]).unwrap();
    pf.wait_queue(
        |c| c["hold"] == 2 && c["deferred"] == 10,
        Duration::from_secs(20),
    )
    .unwrap();

    let showq_tcp = pf.showq_addr().unwrap().to_string();
    let socket = pf.showq_socket_path();
    let cfg = pf.config_dir().display().to_string();
    let common = [
        "--no-collector.log",
        "--collector.queue.qshape-queues=deferred,hold",
        "--collector.queue.qshape-top-domains=100",
        "--collector.queue.interval=1s",
    ];
    let mut variants: Vec<Vec<String>> = vec![
        vec![format!("--postfix.showq_path={}", socket.display())],
        vec![
            "--postfix.showq_network=tcp".into(),
            format!("--postfix.showq_address={showq_tcp}"),
        ],
        vec![
            "--collector.queue.source=command".into(),
            format!("--collector.queue.command=postqueue -c {cfg} -j"),
        ],
        vec![
            "--collector.queue.source=spool".into(),
            format!("--postfix.queue_directory={}", pf.queue_dir().display()),
        ],
    ];
    for v in &mut variants {
        v.extend(common.iter().map(|s| s.to_string()));
        let args: Vec<&str> = v.iter().map(String::as_str).collect();
        let e = Exporter::start("postfix-exporter", &args).unwrap();
        let m = wait_for(&e, "first queue walk", |m| {
            m.get("postfix_up") == Some(&1.0)
        });
        check_against_truth(&pf, &m, &["deferred", "hold"], &[]);
        assert_eq!(
            get(&m, "postfix_queue_forced_expire_messages{queue=\"hold\"}"),
            1.0
        );
        // The oldest deferred message is 30 days old, measured from its arrival time.
        let oldest = get(
            &m,
            "postfix_queue_oldest_message_age_seconds{queue=\"deferred\"}",
        );
        assert!((oldest - 30.0 * 86400.0).abs() < 120.0, "oldest {oldest}");
        assert_eq!(
            get(
                &m,
                "postfix_queue_oldest_message_age_seconds{queue=\"active\"}"
            ),
            0.0
        );
        // Every deferred recipient has the closed-relayhost reason.
        let truth = postqueue_truth(&pf);
        assert_eq!(
            get(
                &m,
                "postfix_queue_delay_reasons{queue=\"deferred\",reason=\"connection_refused\"}"
            ),
            truth["deferred"].1 as f64
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let ts = get(&m, "postfix_queue_last_collection_timestamp_seconds");
        assert!(now - ts < 30.0 && ts <= now + 1.0);
    }

    // Other shapes: sender domains, linear buckets of 20 minutes, first bucket 1 minute with 6 buckets.
    for (flags, qargs) in [
        (vec!["--collector.queue.qshape-senders"], vec!["-s"]),
        (
            vec![
                "--collector.queue.qshape-linear",
                "--collector.queue.qshape-bucket-minutes=20",
                "--collector.queue.qshape-buckets=8",
            ],
            vec!["-l", "-t", "20", "-b", "8"],
        ),
        (
            vec![
                "--collector.queue.qshape-bucket-minutes=1",
                "--collector.queue.qshape-buckets=6",
            ],
            vec!["-t", "1", "-b", "6"],
        ),
    ] {
        let mut args = vec![format!("--postfix.showq_path={}", socket.display())];
        args.extend(common.iter().map(|s| s.to_string()));
        args.extend(flags.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = Exporter::start("postfix-exporter", &args).unwrap();
        let m = wait_for(&e, "first queue walk", |m| {
            m.get("postfix_up") == Some(&1.0)
        });
        check_against_truth(&pf, &m, &["deferred", "hold"], &qargs);
    }
}

#[test]
fn top_domains_fold_into_other_and_empty_queue_reports_zeros() {
    let pf = frozen_postfix();
    let e = Exporter::start(
        "postfix-exporter",
        &[
            &format!("--postfix.showq_path={}", pf.showq_socket_path().display()),
            "--no-collector.log",
            "--collector.queue.qshape-top-domains=2",
            "--collector.queue.interval=1s",
        ],
    )
    .unwrap();
    let m = wait_for(&e, "empty queue", |m| m.get("postfix_up") == Some(&1.0));
    for q in e2e_tests::postfix::QUEUES {
        for name in [
            "postfix_queue_messages",
            "postfix_queue_recipients",
            "postfix_queue_size_bytes",
            "postfix_queue_oldest_message_age_seconds",
        ] {
            assert_eq!(
                get(&m, &format!("{name}{{queue=\"{q}\"}}")),
                0.0,
                "{name} {q}"
            );
        }
    }
    fill(&pf);
    let (_, rows) = parse_qshape(&pf.qshape(&["deferred"]).unwrap()).unwrap();
    let m = wait_for(&e, "12 deferred", |m| {
        m.get("postfix_queue_messages{queue=\"deferred\"}") == Some(&12.0)
    });
    let domains: std::collections::BTreeSet<String> = m
        .keys()
        .filter(|k| k.starts_with("postfix_qshape_recipients{"))
        .map(|k| {
            k.split("domain=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(domains.len(), 3, "top 2 plus other: {domains:?}");
    assert!(domains.contains("other"));
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("postfix_qshape_recipients{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, rows["TOTAL"][0] as f64);
}

#[test]
fn source_failures_give_up_zero_and_keep_the_last_snapshot() {
    // A socket that does not exist and a TCP port nobody listens on.
    let missing = Exporter::start(
        "postfix-exporter",
        &[
            "--postfix.showq_path=/nonexistent/public/showq",
            "--no-collector.log",
        ],
    )
    .unwrap();
    let m = wait_for(&missing, "first attempt", |m| m.contains_key("postfix_up"));
    assert_eq!(get(&m, "postfix_up"), 0.0);
    assert!(!m.contains_key("postfix_queue_messages{queue=\"deferred\"}"));
    assert_eq!(get(&m, "postfix_queue_snapshot_stale"), 0.0);
    let port = e2e_tests::net::free_port();
    let refused = Exporter::start(
        "postfix-exporter",
        &[
            "--postfix.showq_network=tcp",
            &format!("--postfix.showq_port={port}"),
            "--no-collector.log",
        ],
    )
    .unwrap();
    let m = wait_for(&refused, "first attempt", |m| m.contains_key("postfix_up"));
    assert_eq!(get(&m, "postfix_up"), 0.0);

    let no_spool = Exporter::start(
        "postfix-exporter",
        &[
            "--collector.queue.source=spool",
            "--postfix.queue_directory=/nonexistent/spool",
            "--no-collector.log",
        ],
    )
    .unwrap();
    let m = wait_for(&no_spool, "first attempt", |m| m.contains_key("postfix_up"));
    assert_eq!(get(&m, "postfix_up"), 0.0);

    // A good snapshot, then Postfix goes away: the snapshot stays, marked stale.
    let mut pf = frozen_postfix();
    fill(&pf);
    let e = Exporter::start(
        "postfix-exporter",
        &[
            "--postfix.showq_network=tcp",
            &format!("--postfix.showq_address={}", pf.showq_addr().unwrap()),
            "--no-collector.log",
            "--collector.queue.interval=1s",
        ],
    )
    .unwrap();
    wait_for(&e, "12 deferred", |m| {
        m.get("postfix_queue_messages{queue=\"deferred\"}") == Some(&12.0)
    });
    pf.stop().unwrap();
    let m = wait_for(&e, "stale", |m| m.get("postfix_up") == Some(&0.0));
    assert_eq!(get(&m, "postfix_queue_snapshot_stale"), 1.0);
    assert_eq!(get(&m, "postfix_queue_messages{queue=\"deferred\"}"), 12.0);
    assert_eq!(
        get(&m, "postfix_scrape_collector_success{collector=\"queue\"}"),
        0.0
    );
}
