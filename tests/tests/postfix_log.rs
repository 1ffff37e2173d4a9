//! The log collector against a real Postfix 3.7: deliveries to an accepting and a
//! rejecting smtp-sink, deferrals on a closed relayhost, local delivery, bounce
//! notifications and smtpd rejects (unknown user, relay denied through XCLIENT), with a
//! `postfix logrotate` in the middle of the traffic. Every counter is compared with what
//! the test sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use e2e_tests::expo::{ExpoSample, samples, sum};
use e2e_tests::postfix::{Postfix, PostfixOptions, SmtpSink};
use e2e_tests::smtp::{smtp_session, swaks};
use e2e_tests::{ACCEPT_TEXT, Exporter};

fn scrape(e: &Exporter) -> Vec<ExpoSample> {
    samples(&e.scrape(ACCEPT_TEXT).expect("scrape").text())
}

fn wait_metric(e: &Exporter, name: &str, want: &[(&str, &str)], value: f64) -> Vec<ExpoSample> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape(e);
        if sum(&s, name, want) == value {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{want:?} is {} not {value}; exporter log:\n{}",
            sum(&s, name, want),
            e.dir().display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn counters_equal_the_traffic_sent_across_logrotate() {
    let sink = SmtpSink::start(false).unwrap();
    let bouncer = SmtpSink::start(true).unwrap();
    let pf = Postfix::start(
        PostfixOptions::new()
            .transport("sink.test", &sink.nexthop())
            .transport("bounce.test", &bouncer.nexthop())
            .param("queue_run_delay = 4000s")
            .param("minimal_backoff_time = 4000s")
            .param("maximal_backoff_time = 4000s"),
    )
    .unwrap();
    let log = pf.log_path().display().to_string();
    let e = Exporter::start(
        "postfix-exporter",
        &[
            "--no-collector.queue",
            &format!("--postfix.logfile_path={log}"),
        ],
    )
    .unwrap();
    // The follower starts at the end of the existing log: Postfix's start-up lines are not counted.
    wait_metric(&e, "postfix_log_source_up", &[], 1.0);
    let body = "Subject: t\n\nhello\n";

    // Before the rotation: 5 sent over SMTP, 3 bounced by the rejecting sink (each bounce
    // notifies root, delivered locally), 2 local deliveries.
    for i in 0..5 {
        pf.sendmail("root@mx.test.local", &[&format!("u{i}@sink.test")], body)
            .unwrap();
    }
    for i in 0..3 {
        pf.sendmail("root@mx.test.local", &[&format!("b{i}@bounce.test")], body)
            .unwrap();
    }
    for _ in 0..2 {
        pf.sendmail("alice@mx.test.local", &["root@mx.test.local"], body)
            .unwrap();
    }
    pf.wait_log("status=sent", 5 + 3 + 2, Duration::from_secs(60))
        .unwrap();
    pf.wait_log("status=bounced", 3, Duration::from_secs(60))
        .unwrap();
    pf.wait_queue_settled(Duration::from_secs(60)).unwrap();
    wait_metric(&e, "postfix_deliveries_total", &[("status", "sent")], 10.0);

    pf.logrotate().unwrap();

    // After the rotation: 4 deferred on the closed relayhost, 2 unknown local users and 1
    // relay attempt from a "remote" client, each in its own SMTP session.
    for i in 0..4 {
        pf.sendmail("alice@mx.test.local", &[&format!("x{i}@example.com")], body)
            .unwrap();
    }
    for i in 0..2 {
        let t = smtp_session(
            pf.smtp_addr(),
            "alice@sink.test",
            &[&format!("nosuchuser{i}@mx.test.local")],
            body,
        )
        .unwrap();
        assert!(t.iter().any(|l| l.contains("-> 550")), "{t:?}");
    }
    let t = swaks(
        pf.smtp_addr(),
        &[
            "--xclient",
            "ADDR=192.0.2.10 NAME=client.example.net",
            "--from",
            "spammer@example.net",
            "--to",
            "victim@example.org",
            "--quit-after",
            "RCPT",
        ],
    )
    .unwrap();
    assert!(t.contains("454 4.7.1"), "{t}");
    pf.wait_deferred(4, Duration::from_secs(60)).unwrap();
    pf.wait_log("Relay access denied", 1, Duration::from_secs(30))
        .unwrap();

    let m = wait_metric(
        &e,
        "postfix_deliveries_total",
        &[("status", "deferred")],
        4.0,
    );
    let m = {
        // smtpd's disconnect line for the last session may come a moment after the reject.
        let _ = m;
        wait_metric(&e, "postfix_smtpd_disconnects_total", &[], 3.0)
    };

    let d = "postfix_deliveries_total";
    assert_eq!(
        sum(
            &m,
            d,
            &[("daemon", "smtp"), ("status", "sent"), ("dsn_class", "2")]
        ),
        5.0
    );
    assert_eq!(
        sum(
            &m,
            d,
            &[
                ("daemon", "smtp"),
                ("status", "bounced"),
                ("dsn_class", "5")
            ]
        ),
        3.0
    );
    assert_eq!(
        sum(&m, d, &[("daemon", "local"), ("status", "sent")]),
        2.0 + 3.0
    );
    assert_eq!(
        sum(&m, d, &[("status", "deferred"), ("dsn_class", "4")]),
        4.0
    );
    assert_eq!(
        sum(&m, d, &[("postfix_instance", "postfix")]),
        5.0 + 3.0 + 5.0 + 4.0
    );
    // kumina-compatible views of the same events.
    assert_eq!(
        sum(
            &m,
            "postfix_smtp_messages_processed_total",
            &[("status", "sent")]
        ),
        5.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtp_messages_processed_total",
            &[("status", "bounced")]
        ),
        3.0
    );
    assert_eq!(
        sum(&m, "postfix_bounce_non_delivery_notification_total", &[]),
        3.0
    );
    // Removed: 5 sent + 3 bounced originals + 3 notifications + 2 local; deferred stay.
    assert_eq!(sum(&m, "postfix_qmgr_messages_removed_total", &[]), 13.0);
    // cleanup saw every submitted message plus the 3 notifications.
    assert_eq!(
        sum(&m, "postfix_cleanup_messages_processed_total", &[]),
        5.0 + 3.0 + 2.0 + 4.0 + 3.0
    );
    // Delays are observed for final outcomes only: 8 by smtp, 5 by local, never for deferrals.
    assert_eq!(
        sum(
            &m,
            "postfix_delivery_delay_seconds_count",
            &[("daemon", "smtp"), ("stage", "total")]
        ),
        8.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_delivery_delay_seconds_count",
            &[("daemon", "local"), ("stage", "total")]
        ),
        5.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtp_delivery_delay_seconds_count",
            &[("stage", "transmission")]
        ),
        8.0
    );
    // smtpd: 3 sessions, 2 unknown users (550) and 1 relay denial (454).
    assert_eq!(sum(&m, "postfix_smtpd_connects_total", &[]), 3.0);
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_messages_rejected_total",
            &[("code", "550")]
        ),
        2.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_messages_rejected_total",
            &[("code", "454")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_rejects_total",
            &[("reason", "unknown_user"), ("stage", "RCPT")]
        ),
        2.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_rejects_total",
            &[("reason", "relay_denied"), ("enhanced_code", "4.7.1")]
        ),
        1.0
    );
    // The rotation was followed, and nothing was lost or read twice (the exact counts above).
    assert_eq!(
        sum(&m, "postfix_log_rotations_total", &[("kind", "rename")]),
        1.0
    );
    assert_eq!(sum(&m, "postfix_log_source_up", &[]), 1.0);
}
