//! TLS lines from a real Postfix 3.7 smtpd with a throwaway certificate ([`Pki`]): STARTTLS and
//! plain sessions, counted exactly by the log collector. (SASL is in `postfix_sasl.rs`, with
//! Dovecot's auth server as the backend: Debian's Postfix ignores `cyrus_sasl_config_path`
//! for sasldb here.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use e2e_tests::expo::{samples, sum};
use e2e_tests::pki::Pki;
use e2e_tests::postfix::{Postfix, PostfixOptions};
use e2e_tests::{ACCEPT_TEXT, Exporter};

/// One swaks session to the instance; returns its transcript (failures are not errors).
fn swaks(pf: &Postfix, extra: &[&str]) -> String {
    let mut args = vec!["--from", "alice@sink.test", "--to", "root@mx.test.local"];
    args.extend_from_slice(extra);
    e2e_tests::smtp::swaks(pf.smtp_addr(), &args).unwrap()
}

#[test]
fn tls_sessions_are_counted_exactly() {
    let pki = Pki::new().unwrap();

    let pf = Postfix::start(
        PostfixOptions::new()
            .tls(&pki)
            .param("smtpd_tls_loglevel = 1"),
    )
    .unwrap();
    let e = Exporter::start(
        "postfix-exporter",
        &[
            "--no-collector.queue",
            &format!("--postfix.logfile_path={}", pf.log_path().display()),
        ],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sum(
        &samples(&e.scrape(ACCEPT_TEXT).unwrap().text()),
        "postfix_log_source_up",
        &[],
    ) != 1.0
    {
        assert!(Instant::now() < deadline, "log source never up");
        std::thread::sleep(Duration::from_millis(100));
    }

    // 3 sessions over STARTTLS and 1 in clear, each delivering one message locally.
    for _ in 0..3 {
        let t = swaks(&pf, &["--tls"]);
        assert!(t.contains("TLS started"), "{t}");
        assert!(t.contains("250 2.0.0 Ok: queued"), "{t}");
    }
    let t = swaks(&pf, &[]);
    assert!(
        !t.contains("TLS started") && t.contains("250 2.0.0 Ok: queued"),
        "{t}"
    );
    pf.wait_log("disconnect from", 4, Duration::from_secs(30))
        .unwrap();
    pf.wait_log("status=sent", 4, Duration::from_secs(30))
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let m = loop {
        let m = samples(&e.scrape(ACCEPT_TEXT).unwrap().text());
        if sum(&m, "postfix_smtpd_disconnects_total", &[]) == 4.0
            && sum(&m, "postfix_deliveries_total", &[("status", "sent")]) == 4.0
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "counters never settled: {:?}",
            m.iter()
                .filter(|s| s.name.starts_with("postfix_smtpd"))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = pf.log();
    assert_eq!(
        log.matches("TLS connection established from").count(),
        3,
        "{log}"
    );
    assert_eq!(sum(&m, "postfix_smtpd_tls_connections_total", &[]), 3.0);
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_tls_connections_total",
            &[("trust", "Anonymous")]
        ),
        3.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_tls_connections_total",
            &[("protocol", "TLSv1.3")]
        ),
        3.0
    );
    assert_eq!(sum(&m, "postfix_smtpd_connects_total", &[]), 4.0);
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_messages_processed_total",
            &[("sasl_method", "")]
        ),
        4.0
    );
    // The disconnect lines' STARTTLS counts: 3 accepted, none rejected.
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_commands_total",
            &[("command", "starttls"), ("result", "accepted")]
        ),
        3.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_smtpd_commands_total",
            &[("command", "starttls"), ("result", "rejected")]
        ),
        0.0
    );
    assert_eq!(
        sum(
            &m,
            "postfix_deliveries_total",
            &[("daemon", "local"), ("status", "sent")]
        ),
        4.0
    );
}
