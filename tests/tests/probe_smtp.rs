//! The SMTP prober against a real Postfix 3.7: plain, STARTTLS with a throwaway CA,
//! relaying denied (554 expected), a full DATA transaction, submission with SASL through a
//! real Dovecot 2.3 auth (right and wrong password, the secret never shown), and hostile
//! peers: a closed port, a black hole, a server replying 421, a server sending data after
//! its STARTTLS reply, and an endless line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use e2e_tests::dovecot::{PasswordScheme, TEST_USERS};
use e2e_tests::pki::Pki;
use e2e_tests::probe::Prober;
use e2e_tests::{Dovecot, DovecotOptions, Postfix, PostfixOptions, net, wait_for};

fn modules(pki: &Pki, user: &str) -> String {
    format!(
        r#"
modules:
  smtp_plain:
    prober: smtp
    smtp: {{ ehlo: probe.test.local }}
  smtp_starttls:
    prober: smtp
    smtp:
      tls: starttls
      tls_config: {{ ca_file: {ca} }}
  smtp_starttls_untrusted:
    prober: smtp
    smtp:
      tls: starttls
  relay_denied:
    prober: smtp
    smtp:
      mail_from: probe@example.org
      rcpt_to: [someone@elsewhere.example]
      expect_rcpt_code: 554
  relay_expected_ok:
    prober: smtp
    smtp:
      mail_from: probe@example.org
      rcpt_to: [someone@elsewhere.example]
  smtp_data:
    prober: smtp
    smtp:
      mail_from: probe@example.org
      rcpt_to: [root@mx.test.local]
      data: true
  submission:
    prober: smtp
    smtp:
      auth: {{ mechanism: plain, username: "{user}", password_file: "@dir@/right" }}
  submission_login:
    prober: smtp
    smtp:
      auth: {{ mechanism: login, username: "{user}", password_file: "@dir@/right" }}
  submission_wrong:
    prober: smtp
    smtp:
      auth: {{ mechanism: plain, username: "{user}", password_file: "@dir@/wrong" }}
  submission_no_secret:
    prober: smtp
    smtp:
      auth: {{ username: "{user}", password_file: "@dir@/missing" }}
"#,
        ca = pki.path("ca.crt").display()
    )
}

const WRONG: &str = "not-the-password-77";

#[test]
fn smtp_probes_against_real_postfix_and_dovecot() {
    let pki = Pki::new().unwrap();
    let dovecot =
        Dovecot::start(DovecotOptions::new().password_scheme(PasswordScheme::Sha512Crypt)).unwrap();
    let sub_port = net::free_port();
    let submission = format!(
        "127.0.0.1:{sub_port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path={}
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
        dovecot.auth_socket_path().display()
    );
    // An MX-like smtpd for which loopback is not a trusted network: relaying is refused.
    let mx_port = net::free_port();
    let mx = format!(
        "127.0.0.1:{mx_port} inet n - n - - smtpd
  -o syslog_name=postfix/mx
  -o mynetworks=192.0.2.0/24
  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination"
    );
    let pf = Postfix::start(
        PostfixOptions::new()
            .master_line(&mx)
            .tls(&pki)
            .master_line(&submission),
    )
    .unwrap();
    wait_for("submission listening", Duration::from_secs(30), || {
        net::tcp_listening(sub_port) && net::tcp_listening(mx_port)
    });
    let (user, password) = TEST_USERS[0];
    let mut p = Prober::start(&modules(&pki, user), &["--log.level=debug"]).unwrap();
    Prober::secret(p.dir.path(), "right", password).unwrap();
    Prober::secret(p.dir.path(), "wrong", WRONG).unwrap();
    let smtp = pf.smtp_addr().to_string();
    let sub = format!("127.0.0.1:{sub_port}");
    let mx = format!("127.0.0.1:{mx_port}");

    let r = p.probe("smtp_plain", &smtp).unwrap();
    assert!(r.success(), "{}", p.debug("smtp_plain", &smtp).unwrap());
    assert_eq!(r.phases(), ["resolve", "connect", "banner", "ehlo", "quit"]);
    assert_eq!(r.value("probe_last_reply_code", &[]), Some(221.0));
    assert_eq!(r.value("probe_ip_protocol", &[]), Some(4.0));
    assert!(
        r.value("probe_tls_version_info", &[("version", "TLS 1.3")])
            .is_none()
    );

    let r = p.probe("smtp_starttls", &smtp).unwrap();
    assert!(r.success(), "{}", p.debug("smtp_starttls", &smtp).unwrap());
    assert_eq!(
        r.phases(),
        [
            "resolve", "connect", "banner", "ehlo", "starttls", "tls", "quit"
        ]
    );
    assert_eq!(
        r.value("probe_tls_version_info", &[("version", "TLS 1.3")]),
        Some(1.0)
    );
    // rcgen's default validity ends at 4096-01-01T00:00:00Z: the certificate's notAfter.
    assert_eq!(
        r.value("probe_ssl_earliest_cert_expiry", &[]),
        Some(67_090_118_400.0)
    );

    // Without the test CA the certificate is untrusted: the TLS phase fails.
    let r = p.probe("smtp_starttls_untrusted", &smtp).unwrap();
    assert!(!r.success());
    assert_eq!(r.failure(), Some(("tls".into(), "tls".into())));

    let r = p.probe("relay_denied", &mx).unwrap();
    assert!(r.success(), "{}", p.debug("relay_denied", &mx).unwrap());
    assert_eq!(
        r.phases(),
        [
            "resolve", "connect", "banner", "ehlo", "mail", "rcpt", "quit"
        ]
    );
    let r = p.probe("relay_expected_ok", &mx).unwrap();
    assert!(!r.success());
    assert_eq!(
        r.failure(),
        Some(("rcpt".into(), "unexpected_reply".into()))
    );
    assert_eq!(r.value("probe_last_reply_code", &[]), Some(554.0));

    let before = pf.queue_counts().unwrap().values().sum::<usize>();
    let dbg = p.debug("smtp_data", &smtp).unwrap();
    assert!(dbg.contains("probe_success 1"), "{dbg}");
    // The queue id from the 250 reply, in the debug output and in Postfix's log.
    let id = dbg
        .lines()
        .find_map(|l| l.split("queued as ").nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no queue id in {dbg}"));
    pf.wait_log(
        &format!("{id}: from=<probe@example.org>"),
        1,
        Duration::from_secs(20),
    )
    .unwrap();
    assert!(before <= pf.queue_counts().unwrap().values().sum::<usize>() + 1);

    for module in ["submission", "submission_login"] {
        let r = p.probe(module, &sub).unwrap();
        assert!(r.success(), "{}", p.debug(module, &sub).unwrap());
        assert_eq!(
            r.phases(),
            ["resolve", "connect", "banner", "ehlo", "auth", "quit"]
        );
    }
    let r = p.probe("submission_wrong", &sub).unwrap();
    assert!(!r.success());
    assert_eq!(r.failure(), Some(("auth".into(), "auth".into())));
    assert_eq!(r.value("probe_last_reply_code", &[]), Some(535.0));
    let r = p.probe("submission_no_secret", &sub).unwrap();
    assert_eq!(r.failure(), Some(("auth".into(), "config".into())));

    // The secrets appear nowhere: debug output, metrics, the exporter's log.
    let mut shown = String::new();
    for m in ["submission", "submission_login", "submission_wrong"] {
        shown.push_str(&p.debug(m, &sub).unwrap());
        shown.push_str(&p.probe(m, &sub).unwrap().body);
    }
    assert!(shown.contains("AUTH PLAIN <masked>"), "{shown}");
    shown.push_str(&p.exporter.daemon().log());
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    for secret in [
        password.to_string(),
        WRONG.to_string(),
        b64(password),
        b64(WRONG),
    ] {
        assert!(!shown.contains(&secret), "secret {secret:?} shown");
    }
    let selfm = p.self_metrics().unwrap();
    let count = e2e_tests::expo::value(
        &selfm,
        "mailprobe_probes_total",
        &[("module", "submission_wrong"), ("result", "failure")],
    );
    assert!(count.unwrap() >= 2.0);
}

/// A one-connection server: accepts, writes `greeting`, then reads until closed.
fn fake(greeting: &'static [u8]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let _ = s.write_all(greeting);
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {
                    // After EHLO, offer STARTTLS; after STARTTLS, inject plain text.
                    let text = String::from_utf8_lossy(&buf);
                    if text.starts_with("EHLO") {
                        let _ = s.write_all(b"250-fake\r\n250 STARTTLS\r\n");
                    } else if text.starts_with("STARTTLS") {
                        let _ = s.write_all(b"220 go ahead\r\n250 injected\r\n");
                    }
                }
            });
        }
    });
    port
}

#[test]
fn hostile_and_broken_smtp_peers() {
    let p = Prober::start(
        "modules:\n  smtp:\n    prober: smtp\n    timeout: 3s\n  tls:\n    prober: smtp\n    smtp: { tls: starttls, tls_config: { insecure_skip_verify: true } }\n",
        &[],
    )
    .unwrap();
    let closed = net::free_port();
    let r = p.probe("smtp", &format!("127.0.0.1:{closed}")).unwrap();
    assert_eq!(r.failure(), Some(("connect".into(), "refused".into())));

    // A black hole: the kernel accepts (backlog), nobody ever answers.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let t = Instant::now();
    let r = p
        .probe_with("smtp", &hole.local_addr().unwrap().to_string(), "", 2.0)
        .unwrap();
    assert_eq!(r.failure(), Some(("banner".into(), "timeout".into())));
    // The scrape timeout (2 s) minus the offset bounds it, below the module's 3 s.
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.value("probe_timeout_seconds", &[]), Some(1.5));

    let port = fake(b"421 4.3.2 Service shutting down\r\n");
    let r = p.probe("smtp", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(
        r.failure(),
        Some(("banner".into(), "unexpected_reply".into()))
    );
    assert_eq!(r.value("probe_last_reply_code", &[]), Some(421.0));

    let port = fake(b"220 fake ESMTP\r\n");
    let r = p.probe("tls", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(
        r.failure(),
        Some(("tls".into(), "protocol".into())),
        "{}",
        r.body
    );

    // An endless line and a reply of millions of continuation lines: bounded.
    let port = fake(Box::leak(vec![b'2'; 200_000].into_boxed_slice()));
    let r = p.probe("smtp", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(r.failure(), Some(("banner".into(), "too_large".into())));
    let many: Vec<u8> = b"220-x\r\n".repeat(300_000);
    let port = fake(Box::leak(many.into_boxed_slice()));
    let r = p.probe("smtp", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(r.failure(), Some(("banner".into(), "too_large".into())));
    // Garbage instead of a reply.
    let port = fake(b"SSH-2.0-OpenSSH_9.2\r\n");
    let r = p.probe("smtp", &format!("127.0.0.1:{port}")).unwrap();
    assert_eq!(r.failure(), Some(("banner".into(), "protocol".into())));
}
