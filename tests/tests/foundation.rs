//! The shared foundation, tried through the real `postfix-exporter` binary as a user would:
//! reload (SIGHUP and `POST /-/reload`) of the web config and of the reject rules, the log
//! collector as a collector (flags, landing page, success), two log sources in one
//! process, readiness that waits for a real collection, and the rough edges a new user
//! hit (a directory as log file, every collector off, `--version`, `print` on empty or
//! mismatched input).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e_tests::expo::{ExpoSample, samples, value};
use e2e_tests::exporter::run_binary;
use e2e_tests::http::{HttpResponse, basic_auth, request};
use e2e_tests::{ACCEPT_TEXT, Exporter, exporter_binary, free_port, temp_dir, wait_for};

const BIN: &str = "postfix-exporter";
const LIMIT: Duration = Duration::from_secs(15);

fn get_as(e: &Exporter, path: &str, auth: Option<(&str, &str)>) -> HttpResponse {
    let header = auth.map(|(u, p)| basic_auth(u, p));
    let mut h = vec![("Accept", ACCEPT_TEXT)];
    if let Some(v) = &header {
        h.push(("Authorization", v.as_str()));
    }
    request("GET", &format!("{}{path}", e.url()), &h, &[]).unwrap()
}

fn post_as(e: &Exporter, path: &str, auth: (&str, &str)) -> HttpResponse {
    let v = basic_auth(auth.0, auth.1);
    request(
        "POST",
        &format!("{}{path}", e.url()),
        &[("Authorization", v.as_str())],
        &[],
    )
    .unwrap()
}

fn scrape(e: &Exporter, auth: Option<(&str, &str)>) -> Vec<ExpoSample> {
    let r = get_as(e, "/metrics", auth);
    assert_eq!(r.status, 200, "{}", r.text());
    samples(&r.text())
}

fn web_config(users: &[(&str, &str)]) -> String {
    let mut s = String::from("basic_auth_users:\n");
    for (u, p) in users {
        // Cost 4 keeps the test fast; the exporter accepts any bcrypt cost.
        let h = bcrypt::hash(p, 4).unwrap();
        s.push_str(&format!("  {u}: '{h}'\n"));
    }
    s
}

fn hup(pid: u32) {
    let st = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn reload_swaps_the_web_config_and_refuses_a_broken_one() {
    let dir = temp_dir("reload-web-").unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, web_config(&[("prom", "first-secret")])).unwrap();
    let web_flag = format!("--web.config.file={}", web.display());
    let e = Exporter::start(
        BIN,
        &["--no-collector.queue", "--no-collector.log", &web_flag],
    )
    .unwrap();
    let one = ("prom", "first-secret");
    let two = ("prom", "second-secret");
    assert_eq!(get_as(&e, "/metrics", Some(one)).status, 200);
    assert_eq!(get_as(&e, "/metrics", Some(two)).status, 401);
    let s = scrape(&e, Some(one));
    assert_eq!(
        value(&s, "postfix_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let start_ts = value(
        &s,
        "postfix_config_last_reload_success_timestamp_seconds",
        &[],
    )
    .unwrap();
    assert!(start_ts > 1.7e9, "{start_ts}");

    // A new password by SIGHUP: takes effect without a restart, the old one stops working.
    std::fs::write(&web, web_config(&[("prom", "second-secret")])).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    hup(e.pid());
    wait_for("the new password", LIMIT, || {
        get_as(&e, "/metrics", Some(two)).status == 200
    });
    assert_eq!(get_as(&e, "/metrics", Some(one)).status, 401);
    let s = scrape(&e, Some(two));
    assert_eq!(
        value(&s, "postfix_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let hup_ts = value(
        &s,
        "postfix_config_last_reload_success_timestamp_seconds",
        &[],
    )
    .unwrap();
    assert!(hup_ts > start_ts, "{hup_ts} <= {start_ts}");

    // A broken file by POST /-/reload: refused with the file and the reason, the running
    // config stays, the metric says so.
    std::fs::write(&web, "basic_auth_users:\n  prom: [\n").unwrap();
    let r = post_as(&e, "/-/reload", two);
    assert_eq!(r.status, 500, "{}", r.text());
    let body = r.text();
    assert!(
        body.contains(&web.display().to_string()) && body.contains("previous configuration stays"),
        "{body}"
    );
    assert_eq!(get_as(&e, "/metrics", Some(two)).status, 200);
    let s = scrape(&e, Some(two));
    assert_eq!(
        value(&s, "postfix_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &s,
            "postfix_config_last_reload_success_timestamp_seconds",
            &[]
        ),
        Some(hup_ts)
    );
    // The same through SIGHUP: logged, still refused.
    hup(e.pid());
    let mut e = e;
    let log_has = |e: &mut Exporter, what: &str| e.daemon().log().contains(what);
    wait_for("the SIGHUP reload error in the log", LIMIT, || {
        log_has(&mut e, "configuration reload failed")
    });
    // Reload is POST only; without credentials it is refused like every protected path.
    let r = get_as(&e, "/-/reload", Some(two));
    assert_eq!(r.status, 405);
    let r = request("POST", &format!("{}/-/reload", e.url()), &[], &[]).unwrap();
    assert_eq!(r.status, 401);
    // Fixed again: reload succeeds.
    std::fs::write(&web, web_config(&[("prom", "first-secret")])).unwrap();
    let r = post_as(&e, "/-/reload", two);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_as(&e, "/metrics", Some(one)).status, 200);
    let s = scrape(&e, Some(one));
    assert_eq!(
        value(&s, "postfix_config_last_reload_successful", &[]),
        Some(1.0)
    );
    // No secret from the file ever reaches the log.
    let log = e.daemon().log();
    assert!(
        !log.contains("second-secret") && !log.contains("$2b$"),
        "{log}"
    );
}

/// A reject line of real Postfix 3.7 shape; `{reply}` is the free text.
fn reject_line(reply: &str) -> String {
    format!(
        "Nov 23 15:06:21 mx postfix/smtpd[18113]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <x@rejectme.test>: Recipient address rejected: {reply}; from=<alice@sink.test> to=<x@rejectme.test> proto=ESMTP helo=<client.test>\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn reload_swaps_the_reject_rules() {
    let dir = temp_dir("reload-rules-").unwrap();
    let rules = dir.path().join("rules.yml");
    let log = dir.path().join("mail.log");
    std::fs::write(
        &rules,
        "rules:\n  - reason: house_rule\n    match: 'house rule one'\n",
    )
    .unwrap();
    std::fs::write(&log, "").unwrap();
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            &format!("--collector.log.source=file:{}", log.display()),
            &format!("--collector.log.reject-rules={}", rules.display()),
            "--collector.log.poll-interval=20ms",
        ],
    )
    .unwrap();
    let rejects = |reason: &str| {
        let s = scrape(&e, None);
        e2e_tests::expo::sum(&s, "postfix_smtpd_rejects_total", &[("reason", reason)])
    };
    append(&log, &reject_line("house rule one"));
    wait_for("the first reject", LIMIT, || rejects("house_rule") == 1.0);
    // New rules by POST /-/reload: lines read from then on get the new class.
    std::fs::write(
        &rules,
        "rules:\n  - reason: new_house_rule\n    match: 'house rule two'\n",
    )
    .unwrap();
    let r = request("POST", &format!("{}/-/reload", e.url()), &[], &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    append(&log, &reject_line("house rule two"));
    wait_for("the second reject", LIMIT, || {
        rejects("new_house_rule") == 1.0
    });
    assert_eq!(rejects("house_rule"), 1.0, "counted lines are kept");
    // A rules file with a bad regex is refused with file, line and key; the rules stay.
    std::fs::write(
        &rules,
        "rules:\n  - reason: broken\n    match: '(unclosed'\n",
    )
    .unwrap();
    let r = request("POST", &format!("{}/-/reload", e.url()), &[], &[]).unwrap();
    assert_eq!(r.status, 500);
    let body = r.text();
    assert!(body.contains("rules.yml:3: rules[0].match"), "{body}");
    append(&log, &reject_line("house rule two"));
    wait_for("the third reject", LIMIT, || {
        rejects("new_house_rule") == 2.0
    });
    let s = scrape(&e, None);
    assert_eq!(
        value(&s, "postfix_config_last_reload_successful", &[]),
        Some(0.0)
    );
}

#[test]
fn two_log_sources_feed_one_exporter() {
    let dir = temp_dir("two-sources-").unwrap();
    let log = dir.path().join("mail.log");
    std::fs::write(&log, "").unwrap();
    let port = free_port();
    let file_src = format!("file:{}", log.display());
    let udp_src = format!("udp://127.0.0.1:{port}");
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            &format!("--collector.log.source={file_src}"),
            &format!("--collector.log.source={udp_src}"),
            "--collector.log.poll-interval=20ms",
        ],
    )
    .unwrap();
    let s = scrape(&e, None);
    assert_eq!(
        value(
            &s,
            "postfix_scrape_collector_success",
            &[("collector", "log")]
        ),
        Some(1.0)
    );
    let connect = "Nov 23 15:04:52 mx postfix/smtpd[1234]: connect from unknown[192.0.2.1]";
    for _ in 0..3 {
        append(&log, &format!("{connect}\n"));
    }
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2 {
        sock.send_to(format!("<22>{connect}").as_bytes(), ("127.0.0.1", port))
            .unwrap();
    }
    wait_for("five lines from two sources", LIMIT, || {
        let s = scrape(&e, None);
        value(&s, "postfix_smtpd_connects_total", &[]) == Some(5.0)
    });
    let s = scrape(&e, None);
    assert_eq!(
        value(&s, "postfix_log_lines_total", &[("source", &file_src)]),
        Some(3.0)
    );
    assert_eq!(
        value(&s, "postfix_log_lines_total", &[("source", &udp_src)]),
        Some(2.0)
    );
    assert_eq!(
        value(&s, "postfix_log_source_up", &[("source", &file_src)]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "postfix_log_source_up", &[("source", &udp_src)]),
        Some(1.0)
    );
    // One family each, whatever the number of sources (a second registration would
    // repeat the TYPE line, which scrapers reject).
    let body = get_as(&e, "/metrics", None).text();
    assert_eq!(
        body.matches("# TYPE postfix_log_lines_total counter")
            .count(),
        1
    );
    // The log collector is a collector like the others: on the landing page too.
    let landing = get_as(&e, "/", None).text();
    assert!(landing.contains("<li>log</li>"), "{landing}");
}

#[test]
fn log_collector_success_follows_its_input() {
    let dir = temp_dir("log-success-").unwrap();
    let log = dir.path().join("later.log");
    let e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            &format!("--postfix.logfile_path={}", log.display()),
            "--collector.log.poll-interval=20ms",
        ],
    )
    .unwrap();
    let success = || {
        value(
            &scrape(&e, None),
            "postfix_scrape_collector_success",
            &[("collector", "log")],
        )
    };
    assert_eq!(success(), Some(0.0), "the file does not exist yet");
    std::fs::write(&log, "").unwrap();
    wait_for("the log collector to succeed", LIMIT, || {
        success() == Some(1.0)
    });
    // --no-collector.log really removes it.
    let off = Exporter::start(BIN, &["--no-collector.queue", "--no-collector.log"]).unwrap();
    let s = scrape(&off, None);
    assert_eq!(
        value(
            &s,
            "postfix_scrape_collector_success",
            &[("collector", "log")]
        ),
        None
    );
}

#[test]
fn a_directory_as_log_file_is_a_clear_error_not_a_flood() {
    let dir = temp_dir("log-dir-").unwrap();
    let shown = dir.path().display().to_string();
    let mut e = Exporter::start(
        BIN,
        &[
            "--no-collector.queue",
            &format!("--postfix.logfile_path={shown}"),
            "--collector.log.poll-interval=10ms",
        ],
    )
    .unwrap();
    // 150 polls' worth of time: the error is logged and counted once, with the path.
    std::thread::sleep(Duration::from_millis(1500));
    let log = e.daemon().log();
    let hits: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("is a directory"))
        .collect();
    assert_eq!(hits.len(), 1, "{log}");
    assert!(hits[0].contains(&shown), "{}", hits[0]);
    let s = scrape(&e, None);
    let src = format!("file:{shown}");
    assert_eq!(
        value(&s, "postfix_log_read_errors_total", &[("source", &src)]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "postfix_log_source_up", &[("source", &src)]),
        Some(0.0)
    );
}

#[test]
fn every_collector_off_is_a_startup_warning() {
    let mut e = Exporter::start(BIN, &["--no-collector.queue", "--no-collector.log"]).unwrap();
    wait_for("the warning", LIMIT, || {
        e.daemon().log().contains("every collector is disabled")
    });
    let s = scrape(&e, None);
    assert!(value(&s, "process_resident_memory_bytes", &[]).is_some());
}

#[test]
fn ready_waits_for_a_queue_collection_that_succeeded() {
    let dir = temp_dir("ready-").unwrap();
    let missing = dir.path().join("no-showq");
    let mut e = Exporter::start(
        BIN,
        &[
            "--no-collector.log",
            &format!("--postfix.showq_path={}", missing.display()),
        ],
    )
    .unwrap();
    wait_for("the first failed walk", LIMIT, || {
        e.daemon().log().contains("background collection failed")
    });
    let r = get_as(&e, "/-/ready", None);
    assert_eq!(r.status, 503);
    let body = r.text();
    assert!(
        body.contains("collector queue") && body.contains("showq socket"),
        "{body}"
    );
    let log = e.daemon().log();
    assert!(!log.contains("serving the previous snapshot"), "{log}");
    assert!(log.contains("no snapshot to serve yet"), "{log}");
    // Liveness never depends on Postfix.
    assert_eq!(get_as(&e, "/-/healthy", None).status, 200);
}

#[test]
fn version_names_revision_and_compiler() {
    let out = Command::new(exporter_binary(BIN).unwrap())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.contains("revision ") && v.contains("rustc "), "{v}");
}

fn print(args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let mut all = vec!["print"];
    all.extend_from_slice(args);
    let out = run_binary(BIN, &all, stdin).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn print_on_empty_and_mismatched_input() {
    // `postqueue -j` on an empty queue prints nothing at all.
    for format in ["auto", "json", "mailq", "showq"] {
        let (ok, out, err) = print(&[&format!("--format={format}")], b"");
        assert!(ok, "{format}: {err}");
        let s = samples(&out);
        assert_eq!(
            value(&s, "postfix_queue_messages", &[("queue", "active")]),
            Some(0.0),
            "{format}: {out}"
        );
    }
    let mailq = b"Mail queue is empty\n";
    let (ok, _, err) = print(&["--format=json"], mailq);
    assert!(!ok, "a forced format that does not match fails");
    assert!(err.contains("not postqueue -j JSON"), "{err}");
}
