//! The IMAP, POP3 and LMTP probers against a real Dovecot 2.3 (plain and STARTTLS/STLS,
//! right and wrong password, message counts), and end-to-end delivery through a real
//! Postfix 3.7 into Dovecot over LMTP, found by IMAP, by POP3 and in the Maildir, both
//! within one probe and as background routes (delivered, lost, late, send failure).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e_tests::dovecot::TEST_USERS;
use e2e_tests::expo::{ExpoSample, value};
use e2e_tests::pki::Pki;
use e2e_tests::probe::Prober;
use e2e_tests::{Dovecot, DovecotOptions, Postfix, PostfixOptions, net, wait_for};

fn maildir_count(dir: &std::path::Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|s| {
            std::fs::read_dir(dir.join(s))
                .map(|d| d.count())
                .unwrap_or(0)
        })
        .sum()
}

fn self_value(p: &Prober, name: &str, labels: &[(&str, &str)]) -> f64 {
    let s: Vec<ExpoSample> = p.self_metrics().unwrap();
    value(&s, name, labels).unwrap_or(0.0)
}

#[test]
fn imap_pop3_lmtp_and_delivery_against_real_dovecot_and_postfix() {
    let pki = Pki::new().unwrap();
    let dovecot = Dovecot::start(DovecotOptions::new().imap().pop3().lmtp().config(&format!(
        "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
        pki.path("server.crt").display(),
        pki.path("server.key").display()
    )))
    .unwrap();
    let imap = dovecot.addr("imap").unwrap().to_string();
    let pop3 = dovecot.addr("pop3").unwrap().to_string();
    let lmtp = dovecot.addr("lmtp").unwrap();
    // Postfix hands test.local to Dovecot's LMTP; a second smtpd puts every message on hold.
    let hold_port = net::free_port();
    let pf = Postfix::start(
        PostfixOptions::new()
            .param("virtual_mailbox_domains = test.local")
            .param(&format!("virtual_transport = lmtp:inet:{lmtp}"))
            .master_line(&format!(
                "127.0.0.1:{hold_port} inet n - n - - smtpd\n  -o syslog_name=postfix/hold\n  -o smtpd_client_restrictions=check_client_access,static:HOLD"
            )),
    )
    .unwrap();
    wait_for("hold smtpd", Duration::from_secs(30), || {
        net::tcp_listening(hold_port)
    });
    let (alice, alice_pw) = TEST_USERS[0];
    let maildir = dovecot.dir().join("mail").join(alice).join("Maildir");
    let closed = net::free_port();
    let modules = format!(
        r#"
modules:
  imap_login:
    prober: imap
    imap: {{ auth: {{ username: "{alice}", password_file: "@dir@/alice" }}, mailbox: INBOX }}
  imap_plain:
    prober: imap
    imap: {{ auth: {{ mechanism: plain, username: "{alice}", password_env: ALICE_PW }} }}
  imap_wrong:
    prober: imap
    imap: {{ auth: {{ username: "{alice}", password_file: "@dir@/wrong" }} }}
  imap_starttls:
    prober: imap
    imap: {{ tls: starttls, tls_config: {{ ca_file: "{ca}" }}, auth: {{ username: "{alice}", password_file: "@dir@/alice" }}, mailbox: INBOX }}
  pop3_login:
    prober: pop3
    pop3: {{ auth: {{ username: "{alice}", password_file: "@dir@/alice" }}, retr: true }}
  pop3_wrong:
    prober: pop3
    pop3: {{ auth: {{ username: "{alice}", password_file: "@dir@/wrong" }} }}
  pop3_stls:
    prober: pop3
    pop3: {{ tls: starttls, tls_config: {{ ca_file: "{ca}" }}, auth: {{ username: "{alice}", password_file: "@dir@/alice" }} }}
  lmtp_direct:
    prober: lmtp
    lmtp: {{ mail_from: probe@example.org, rcpt_to: ["{alice}"], data: true }}
  to_alice:
    prober: smtp
    smtp: {{ mail_from: probe@example.org, rcpt_to: ["{alice}"] }}
  to_bob:
    prober: smtp
    smtp: {{ mail_from: probe@example.org, rcpt_to: ["bob@test.local"] }}
  e2e_imap:
    prober: delivery
    timeout: 20s
    delivery: {{ send: to_alice, receive: {{ imap: {{ module: imap_login, target: "{imap}" }} }}, poll_interval: 200ms }}
  e2e_pop3:
    prober: delivery
    timeout: 20s
    delivery: {{ send: to_alice, receive: {{ pop3: {{ module: pop3_login, target: "{pop3}" }} }}, poll_interval: 200ms }}
  e2e_maildir:
    prober: delivery
    timeout: 20s
    delivery: {{ send: to_alice, receive: {{ maildir: "{maildir}" }}, poll_interval: 200ms }}
  e2e_wrong_box:
    prober: delivery
    timeout: 3s
    delivery: {{ send: to_bob, receive: {{ imap: {{ module: imap_login, target: "{imap}" }} }}, poll_interval: 200ms }}
routes:
  - {{ name: local, module: e2e_imap, target: "{smtp}", interval: 1s, lost_after: 20s }}
  - {{ name: lost, module: e2e_wrong_box, target: "{smtp}", interval: 1s, lost_after: 2s }}
  - {{ name: held, module: e2e_imap, target: "127.0.0.1:{hold_port}", interval: 1s, lost_after: 2s }}
  - {{ name: down, module: e2e_imap, target: "127.0.0.1:{closed}", interval: 1s, lost_after: 2s }}
"#,
        ca = pki.path("ca.crt").display(),
        smtp = pf.smtp_addr(),
        maildir = maildir.display(),
    );
    let p = Prober::start_with_env(&modules, &["--log.level=debug"], &[("ALICE_PW", alice_pw)])
        .unwrap();
    Prober::secret(p.dir.path(), "alice", alice_pw).unwrap();
    Prober::secret(p.dir.path(), "wrong", "wrong-password-1").unwrap();

    // Two messages straight into Dovecot over LMTP.
    for _ in 0..2 {
        let r = p.probe("lmtp_direct", &lmtp.to_string()).unwrap();
        assert!(
            r.success(),
            "{}",
            p.debug("lmtp_direct", &lmtp.to_string()).unwrap()
        );
        assert_eq!(
            r.phases(),
            [
                "resolve", "connect", "banner", "ehlo", "mail", "rcpt", "data", "quit"
            ]
        );
    }
    wait_for(
        "two messages in the maildir",
        Duration::from_secs(10),
        || maildir_count(&maildir) >= 2,
    );
    // Background routes deliver and delete on their own; count what is there now.
    let r = p.probe("imap_login", &imap).unwrap();
    assert!(r.success(), "{}", p.debug("imap_login", &imap).unwrap());
    assert_eq!(
        r.phases(),
        ["resolve", "connect", "banner", "login", "select", "quit"]
    );
    let n = r.value("probe_imap_mailbox_messages", &[]).unwrap();
    assert!(n >= 2.0, "{n}");
    assert!(p.probe("imap_plain", &imap).unwrap().success());
    let r = p.probe("imap_wrong", &imap).unwrap();
    assert_eq!(r.failure(), Some(("login".into(), "auth".into())));
    let r = p.probe("imap_starttls", &imap).unwrap();
    assert!(r.success(), "{}", p.debug("imap_starttls", &imap).unwrap());
    assert_eq!(
        r.phases(),
        [
            "resolve",
            "connect",
            "banner",
            "starttls",
            "tls",
            "capability",
            "login",
            "select",
            "quit"
        ]
    );
    assert_eq!(
        r.value("probe_tls_version_info", &[("version", "TLS 1.3")]),
        Some(1.0)
    );

    let r = p.probe("pop3_login", &pop3).unwrap();
    assert!(r.success(), "{}", p.debug("pop3_login", &pop3).unwrap());
    assert!(r.value("probe_pop3_messages", &[]).unwrap() >= 2.0);
    assert!(r.value("probe_pop3_size_bytes", &[]).unwrap() > 200.0);
    assert!(r.value("probe_pop3_retr_bytes", &[]).unwrap() > 100.0);
    assert_eq!(
        r.phases(),
        [
            "resolve",
            "connect",
            "banner",
            "capability",
            "login",
            "stat",
            "retr",
            "quit"
        ]
    );
    let r = p.probe("pop3_wrong", &pop3).unwrap();
    assert_eq!(r.failure(), Some(("login".into(), "auth".into())));
    let r = p.probe("pop3_stls", &pop3).unwrap();
    assert!(r.success(), "{}", p.debug("pop3_stls", &pop3).unwrap());
    assert_eq!(
        r.value("probe_tls_version_info", &[("version", "TLS 1.3")]),
        Some(1.0)
    );

    // One probe: through Postfix, over LMTP, found by IMAP, POP3 and in the Maildir.
    let smtp = pf.smtp_addr().to_string();
    for module in ["e2e_imap", "e2e_pop3", "e2e_maildir"] {
        let dbg = p.debug(module, &smtp).unwrap();
        assert!(dbg.contains("probe_success 1"), "{dbg}");
        let latency: f64 = dbg
            .lines()
            .find_map(|l| l.strip_prefix("probe_delivery_latency_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(latency > 0.0 && latency < 20.0, "{latency}");
        let id = dbg
            .lines()
            .find_map(|l| l.split("X-Mailprobe-Id: ").nth(1))
            .unwrap()
            .trim()
            .to_string();
        // Deleted once found: no file of the maildir carries the id any more.
        let left = ["new", "cur"]
            .iter()
            .flat_map(|s| std::fs::read_dir(maildir.join(s)).unwrap())
            .filter(|e| {
                std::fs::read_to_string(e.as_ref().unwrap().path()).is_ok_and(|t| t.contains(&id))
            });
        assert_eq!(left.count(), 0, "{module}: message {id} left behind");
    }
    let r = p.probe("e2e_wrong_box", &smtp).unwrap();
    assert_eq!(
        r.failure(),
        Some(("deliver".into(), "not_delivered".into()))
    );

    // Background routes.
    let local = [("route", "local")];
    wait_for("route local delivered", Duration::from_secs(30), || {
        self_value(&p, "mailprobe_delivery_success", &local) == 1.0
    });
    assert!(self_value(&p, "mailprobe_delivery_latency_seconds_count", &local) >= 1.0);
    assert!(
        self_value(
            &p,
            "mailprobe_delivery_last_success_timestamp_seconds",
            &local
        ) > 1.7e9
    );
    assert_eq!(self_value(&p, "mailprobe_delivery_lost_total", &local), 0.0);
    assert_eq!(
        self_value(&p, "mailprobe_delivery_send_success", &local),
        1.0
    );
    let lost = [("route", "lost")];
    wait_for("route lost counts a loss", Duration::from_secs(30), || {
        self_value(&p, "mailprobe_delivery_lost_total", &lost) >= 1.0
    });
    assert_eq!(self_value(&p, "mailprobe_delivery_success", &lost), 0.0);
    assert_eq!(
        self_value(&p, "mailprobe_delivery_send_success", &lost),
        1.0
    );
    let down = [("route", "down")];
    wait_for("route down fails to send", Duration::from_secs(30), || {
        self_value(
            &p,
            "mailprobe_delivery_send_failures_total",
            &[("route", "down"), ("reason", "refused")],
        ) >= 1.0
    });
    assert_eq!(
        self_value(&p, "mailprobe_delivery_send_success", &down),
        0.0
    );
    // Sending failed, so nothing was lost: the two are separate.
    assert_eq!(self_value(&p, "mailprobe_delivery_lost_total", &down), 0.0);
    // Held messages are lost after 2 s; released, they arrive and count as late.
    let held = [("route", "held")];
    wait_for("route held loses one", Duration::from_secs(30), || {
        self_value(&p, "mailprobe_delivery_lost_total", &held) >= 1.0
    });
    // Released messages go to the deferred queue; the flush delivers them now.
    pf.postsuper(&["-H", "ALL"]).unwrap();
    pf.flush().unwrap();
    wait_for(
        "a held message counted late",
        Duration::from_secs(30),
        || {
            if self_value(&p, "mailprobe_delivery_late_total", &held) >= 1.0 {
                return true;
            }
            // Messages held since are released too.
            let _ = pf.postsuper(&["-H", "ALL"]);
            let _ = pf.flush();
            std::thread::sleep(Duration::from_millis(200));
            false
        },
    );
}
