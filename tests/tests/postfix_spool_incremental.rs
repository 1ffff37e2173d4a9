//! The incremental spool walker against a real Postfix 3.7, through every kind of change a
//! queue sees: adds, an in-place rewrite, defers (qmgr retries and rewrites the defer logs
//! and mtimes), deliveries (some recipients leave, some messages go), holds, releases,
//! requeues, force-expire and deletes. After each change:
//!
//! * in-process, one long-lived `SpoolWalker` must report message by message what
//!   `postqueue -j` lists (queue, ID, arrival, size, recipients, reason classes, domains,
//!   forced expiry) and exactly what a fresh full read reports, with byte-identical metrics,
//!   and once the queue is still, re-read nothing;
//! * the exporter process with `--collector.queue.source=spool` (one long-lived walker,
//!   walking every second) must serve the `postqueue -j` totals, every `qshape` cell, and the
//!   same queue series as an exporter reading showq.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use e2e_tests::expo::series_map;
use e2e_tests::exporter::{ACCEPT_TEXT, Exporter};
use e2e_tests::postfix::{
    Postfix, PostfixOptions, QUEUES, SmtpSink, age_queue_files, parse_qshape,
};
use postfix_exporter::collector::queue::walk_spool;
use postfix_exporter::collector::spool::{self, RACY_WINDOW, SpoolWalker};
use postfix_exporter::parse::postqueue_json;
use postfix_exporter::queue::{MessageDigest, QueueAggregator, REASONS, ShapeOptions};

/// Routed to a closed port until the deliveries step points it at an smtp-sink.
const SINK_DOMAIN: &str = "sink.test";
const WAIT: Duration = Duration::from_secs(60);
/// The qshape queues and top-domain count of both exporters and the in-process walks.
const SHAPE_FLAGS: [&str; 2] = [
    "--collector.queue.qshape-queues=deferred,hold",
    "--collector.queue.qshape-top-domains=100",
];

fn shape() -> ShapeOptions {
    ShapeOptions {
        queues: vec!["deferred".into(), "hold".into()],
        top_domains: 100,
        ..Default::default()
    }
}

/// Every message `postqueue -j` lists, as digests sorted by queue ID.
fn truth(pf: &Postfix) -> Vec<MessageDigest> {
    let text = pf.postqueue_j().unwrap();
    let mut out = Vec::new();
    let s = postqueue_json::read_stream(text.as_bytes(), |m| {
        out.push(MessageDigest::of(&m.queue_id, &m));
    })
    .unwrap();
    assert_eq!(s.bad_lines, 0, "postqueue -j: {text}");
    out.sort();
    out
}

/// A fresh full read of the spool (no cache at all), as digests sorted by queue ID.
fn full_read(pf: &Postfix) -> Vec<MessageDigest> {
    let mut out = Vec::new();
    spool::walk(pf.queue_dir(), &mut |m| {
        out.push(MessageDigest::of(&m.queue_id, &m))
    })
    .unwrap();
    out.sort();
    out
}

/// One walk of the long-lived walker: digests (sorted), metrics text at `now`, counts.
fn incremental(
    pf: &Postfix,
    w: &mut SpoolWalker,
    now: SystemTime,
) -> (Vec<MessageDigest>, String, spool::SpoolSummary) {
    let mut out = Vec::new();
    let mut agg = QueueAggregator::new(common_secs(now), shape());
    let s = w
        .walk(pf.queue_dir(), false, &mut |m| {
            out.push(MessageDigest::of(m.queue_id(), m));
            agg.add(m);
        })
        .unwrap();
    out.sort();
    (
        out,
        postfix_exporter::cli::render_text(agg.into_metrics()),
        s,
    )
}

fn common_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The in-process checks of one step (see the module documentation); returns the truth.
fn check_in_process(pf: &Postfix, w: &mut SpoolWalker, step: &str) -> Vec<MessageDigest> {
    let want = truth(pf);
    // Right after the change (its files are fresh, so they are read again next time too),
    // then once every stamp is old enough to be trusted.
    for round in ["right after", "settled"] {
        let now = SystemTime::now();
        let (got, text, _) = incremental(pf, w, now);
        assert_eq!(
            got, want,
            "{step} ({round}): incremental walk vs postqueue -j"
        );
        assert_eq!(
            full_read(pf),
            want,
            "{step} ({round}): full read vs postqueue -j"
        );
        let fresh =
            walk_spool(&mut SpoolWalker::new(), pf.queue_dir(), true, now, &shape()).unwrap();
        assert_eq!(
            text,
            postfix_exporter::cli::render_text(fresh.aggregator.into_metrics()),
            "{step} ({round}): metrics of the incremental walk vs a full walk"
        );
        std::thread::sleep(RACY_WINDOW + Duration::from_millis(300));
    }
    // The queue is still: nothing is read again.
    let (got, _, s) = incremental(pf, w, SystemTime::now());
    assert_eq!(got, want, "{step}: still queue");
    assert_eq!(
        (s.files_read, s.files_reused, s.messages),
        (0, want.len() as u64, want.len() as u64),
        "{step}: a still queue is served from the cache"
    );
    assert_eq!(
        w.cached_files(),
        want.len(),
        "{step}: vanished files dropped"
    );
    want
}

/// The series both exporters must agree on and that `postqueue -j` determines: per-queue
/// totals, forced expiry, reason classes and size-histogram counts.
fn expected_series(want: &[MessageDigest]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for q in QUEUES {
        let msgs: Vec<&MessageDigest> = want.iter().filter(|d| d.queue == q).collect();
        let sum = |f: &dyn Fn(&MessageDigest) -> u64| msgs.iter().map(|d| f(d)).sum::<u64>() as f64;
        m.insert(
            format!("postfix_queue_messages{{queue=\"{q}\"}}"),
            msgs.len() as f64,
        );
        m.insert(
            format!("postfix_queue_recipients{{queue=\"{q}\"}}"),
            sum(&|d| d.recipients),
        );
        m.insert(
            format!("postfix_queue_size_bytes{{queue=\"{q}\"}}"),
            sum(&|d| d.size.unwrap_or(0)),
        );
        m.insert(
            format!("postfix_queue_forced_expire_messages{{queue=\"{q}\"}}"),
            sum(&|d| u64::from(d.forced_expire)),
        );
        m.insert(
            format!("postfix_showq_message_size_bytes_count{{queue=\"{q}\"}}"),
            msgs.len() as f64,
        );
        for (i, r) in REASONS.iter().enumerate() {
            m.insert(
                format!("postfix_queue_delay_reasons{{queue=\"{q}\",reason=\"{r}\"}}"),
                sum(&|d| d.reasons[i]),
            );
        }
    }
    m
}

/// What differs between an exporter's series and `want` (empty when they agree).
fn differences(got: &BTreeMap<String, f64>, want: &BTreeMap<String, f64>) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: want {v}, got {:?}", got.get(k)))
        .collect()
}

/// The queue series that do not depend on the moment of the walk (ages and timings do).
fn comparable(m: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    m.iter()
        .filter(|(k, _)| {
            (k.starts_with("postfix_queue_")
                || k.starts_with("postfix_qshape_")
                || k.starts_with("postfix_showq_message_size"))
                && !k.starts_with("postfix_queue_oldest_message_age")
                && !k.starts_with("postfix_queue_collection_duration")
                && !k.starts_with("postfix_queue_last_collection")
                && !k.starts_with("postfix_queue_spool_")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Scrapes `e` until its series agree with `want` and `extra` accepts them.
fn wait_agree(
    e: &Exporter,
    what: &str,
    want: &BTreeMap<String, f64>,
    extra: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = series_map(&e.scrape(ACCEPT_TEXT).unwrap().text());
        let diff = differences(&m, want);
        if diff.is_empty() && m.get("postfix_up") == Some(&1.0) && extra(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still differs after {WAIT:?}: {diff:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The exporter checks of one step: both exporters serve the truth, the spool one from its
/// cache once the queue is still, every qshape cell matches, and both agree on every series
/// that does not depend on the moment of the walk.
fn check_exporters(
    pf: &Postfix,
    spool_e: &Exporter,
    showq_e: &Exporter,
    want: &[MessageDigest],
    step: &str,
) {
    let expected = expected_series(want);
    let n = want.len() as f64;
    let ours = wait_agree(
        spool_e,
        &format!("{step}: spool exporter"),
        &expected,
        |m| {
            m.get("postfix_queue_spool_files_read") == Some(&0.0)
                && m.get("postfix_queue_spool_files_reused") == Some(&n)
        },
    );
    let theirs = wait_agree(
        showq_e,
        &format!("{step}: showq exporter"),
        &expected,
        |_| true,
    );
    for q in ["deferred", "hold"] {
        let (header, rows) = parse_qshape(&pf.qshape(&[q]).unwrap()).unwrap();
        let mut sum = 0.0;
        for (domain, counts) in rows.iter().filter(|(d, _)| *d != "TOTAL") {
            for (b, label) in header.iter().enumerate() {
                let key = format!(
                    "postfix_qshape_recipients{{age=\"{label}\",domain=\"{domain}\",queue=\"{q}\"}}"
                );
                assert_eq!(
                    ours.get(&key),
                    Some(&(counts[b + 1] as f64)),
                    "{step}: qshape {q} cell {key}"
                );
            }
            sum += counts[0] as f64;
        }
        let cells: f64 = ours
            .iter()
            .filter(|(k, _)| {
                k.starts_with("postfix_qshape_recipients{") && k.contains(&format!("queue=\"{q}\""))
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(
            cells, sum,
            "{step}: qshape {q}: nothing beyond qshape's rows"
        );
    }
    assert_eq!(
        comparable(&ours),
        comparable(&theirs),
        "{step}: spool and showq exporters"
    );
}

fn ids_in(want: &[MessageDigest], queue: &str) -> Vec<String> {
    // Youngest first, so a step never takes the messages aged on purpose.
    let mut v: Vec<&MessageDigest> = want.iter().filter(|d| d.queue == queue).collect();
    v.sort_by(|a, b| {
        b.arrival_time
            .cmp(&a.arrival_time)
            .then(a.queue_id.cmp(&b.queue_id))
    });
    v.into_iter().map(|d| d.queue_id.clone()).collect()
}

fn log_count(pf: &Postfix, needle: &str) -> usize {
    pf.log().matches(needle).count()
}

/// Runs `flush` and waits until qmgr has tried every recipient queued for delivery
/// (`attempts` more `status=deferred` or `status=sent` lines) and nothing is in flight.
fn flush_and_wait(
    pf: &Postfix,
    deferred_before: usize,
    sent_before: usize,
    deferred: usize,
    sent: usize,
) {
    pf.flush().unwrap();
    pf.wait_log("status=deferred", deferred_before + deferred, WAIT)
        .unwrap();
    pf.wait_log("status=sent", sent_before + sent, WAIT)
        .unwrap();
    pf.wait_queue_settled(WAIT).unwrap();
}

#[test]
fn incremental_spool_walks_equal_full_walks_through_every_queue_change() {
    let pf = Postfix::start(
        PostfixOptions::new()
            .param("queue_run_delay = 4000s")
            .param("minimal_backoff_time = 4000s")
            .param("maximal_backoff_time = 4000s")
            .transport(SINK_DOMAIN, "smtp:[127.0.0.1]:1"),
    )
    .unwrap();
    let queue_dir = pf.queue_dir().display().to_string();
    let mut spool_args = vec![
        "--no-collector.log".to_string(),
        "--collector.queue.source=spool".into(),
        format!("--postfix.queue_directory={queue_dir}"),
        "--collector.queue.interval=1s".into(),
    ];
    spool_args.extend(SHAPE_FLAGS.iter().map(|s| s.to_string()));
    let spool_args: Vec<&str> = spool_args.iter().map(String::as_str).collect();
    let spool_e = Exporter::start("postfix-exporter", &spool_args).unwrap();
    let mut showq_args = vec![
        "--no-collector.log".to_string(),
        format!("--postfix.showq_path={}", pf.showq_socket_path().display()),
        "--collector.queue.interval=1s".into(),
    ];
    showq_args.extend(SHAPE_FLAGS.iter().map(|s| s.to_string()));
    let showq_args: Vec<&str> = showq_args.iter().map(String::as_str).collect();
    let showq_e = Exporter::start("postfix-exporter", &showq_args).unwrap();
    let mut w = SpoolWalker::new();

    let step = |name: &str, w: &mut SpoolWalker| -> Vec<MessageDigest> {
        let want = check_in_process(&pf, w, name);
        check_exporters(&pf, &spool_e, &showq_e, &want, name);
        want
    };
    let want = step("empty", &mut w);
    assert!(want.is_empty());

    // Adds: 8 remote messages (1-3 recipients, a null sender, mixed-case domains), 2 only to
    // the sink domain, 2 to the sink domain and a remote one.
    let body = |i: usize| format!("Subject: spool {i}\n\n{}\n", "y".repeat(64 * i));
    let remote = ["example.com", "example.org", "Example.NET", "x.test"];
    for i in 0..8usize {
        let rcpts: Vec<String> = (0..1 + i % 3)
            .map(|k| format!("r{i}_{k}@{}", remote[(i + k) % 4]))
            .collect();
        let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
        let from = if i == 3 { "" } else { "alice@mx.test.local" };
        pf.sendmail(from, &refs, &body(i)).unwrap();
    }
    for i in 8..10usize {
        pf.sendmail(
            "bob@mx.test.local",
            &[&format!("s{i}@{SINK_DOMAIN}")],
            &body(i),
        )
        .unwrap();
    }
    for i in 10..12usize {
        pf.sendmail(
            "carol@mx.test.local",
            &[&format!("s{i}@{SINK_DOMAIN}"), &format!("m{i}@example.com")],
            &body(i),
        )
        .unwrap();
    }
    pf.wait_deferred(12, WAIT).unwrap();
    let want = step("adds", &mut w);
    let rcpts: u64 = want.iter().map(|d| d.recipients).sum();
    assert_eq!((want.len(), rcpts), (12, 15 + 2 + 4), "{want:#?}");

    // An in-place rewrite of every queue file (same sizes): arrival times 25 minutes back,
    // the middle of qshape's 20-40 minute bucket, so no message crosses a bucket boundary
    // between the exporters' walks and qshape's during the test.
    assert_eq!(
        age_queue_files(pf.queue_dir(), "deferred", |_| 25 * 60).unwrap(),
        12
    );
    step("in-place rewrite", &mut w);

    // Defers: every recipient is tried again and deferred again; qmgr rewrites the defer
    // logs and sets each queue file's mtime to the next retry.
    let (d0, s0) = (
        log_count(&pf, "status=deferred"),
        log_count(&pf, "status=sent"),
    );
    flush_and_wait(&pf, d0, s0, rcpts as usize, 0);
    step("defers", &mut w);

    // Deliveries: the sink domain gets a real next hop; the 2 messages only to it leave,
    // the 2 mixed ones lose their sink recipient in place, the rest defers again.
    let sink = SmtpSink::start(false).unwrap();
    std::fs::write(
        pf.config_dir().join("transport"),
        format!("{SINK_DOMAIN} {}\n", sink.nexthop()),
    )
    .unwrap();
    pf.reload().unwrap();
    let (d0, s0) = (
        log_count(&pf, "status=deferred"),
        log_count(&pf, "status=sent"),
    );
    flush_and_wait(&pf, d0, s0, rcpts as usize - 4, 4);
    let want = step("deliveries", &mut w);
    assert_eq!(want.len(), 10);
    assert!(
        want.iter().all(|d| !d.domains.contains_key(SINK_DOMAIN)),
        "{want:#?}"
    );

    // Holds and a release.
    let deferred = ids_in(&want, "deferred");
    pf.postsuper(&["-h", &deferred[0]]).unwrap();
    pf.postsuper(&["-h", &deferred[1]]).unwrap();
    pf.wait_queue(|c| c["hold"] == 2 && c["deferred"] == 8, WAIT)
        .unwrap();
    step("holds", &mut w);
    pf.postsuper(&["-H", &deferred[0]]).unwrap();
    pf.wait_queue(|c| c["hold"] == 1 && c["deferred"] == 9, WAIT)
        .unwrap();
    step("release", &mut w);

    // Requeue: every message goes through pickup and cleanup again (new queue files, new
    // IDs), is tried once more and deferred.
    let (d0, s0) = (
        log_count(&pf, "status=deferred"),
        log_count(&pf, "status=sent"),
    );
    let remaining: u64 = truth(&pf).iter().map(|d| d.recipients).sum();
    pf.postsuper(&["-r", "ALL"]).unwrap();
    pf.wait_log("status=deferred", d0 + remaining as usize, WAIT)
        .unwrap();
    pf.wait_queue_settled(WAIT).unwrap();
    assert_eq!(log_count(&pf, "status=sent"), s0);
    let want = step("requeue", &mut w);
    assert_eq!((want.len(), ids_in(&want, "deferred").len()), (10, 10));

    // Force-expire (the group execute bit), on a deferred message and a held one.
    let deferred = ids_in(&want, "deferred");
    pf.postsuper(&["-h", &deferred[0]]).unwrap();
    pf.postsuper(&["-e", &deferred[0]]).unwrap();
    pf.postsuper(&["-e", &deferred[1]]).unwrap();
    pf.wait_queue(|c| c["hold"] == 1 && c["deferred"] == 9, WAIT)
        .unwrap();
    let want = step("force-expire", &mut w);
    assert_eq!(
        want.iter().filter(|d| d.forced_expire).count(),
        2,
        "{want:#?}"
    );

    // Deletes: one message, then everything.
    pf.postsuper(&["-d", &deferred[2]]).unwrap();
    pf.wait_queue(|c| c["deferred"] == 8, WAIT).unwrap();
    step("delete one", &mut w);
    pf.postsuper(&["-d", "ALL"]).unwrap();
    pf.wait_queue(|c| c.values().all(|n| *n == 0), WAIT)
        .unwrap();
    let want = step("delete all", &mut w);
    assert!(want.is_empty());
    assert_eq!(
        w.cached_domains(),
        0,
        "every interned domain is freed with its messages"
    );
}
