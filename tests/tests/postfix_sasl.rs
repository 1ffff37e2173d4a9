//! SASL in the log collector against a real Postfix 3.7 smtpd authenticating through a real
//! Dovecot 2.3 auth server (`smtpd_sasl_type = dovecot`, SHA512-CRYPT passwords): AUTH
//! PLAIN and AUTH LOGIN sessions that succeed and send a message, ones that fail with a
//! wrong password, and one that authenticates and quits. Every counter is compared with
//! what the test sent, once with Postfix's default client logging (`host[addr]`) and once
//! with `smtpd_client_port_logging = yes` (`host[addr]:port`), which changes the shape of
//! every smtpd line that names the client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e_tests::dovecot::{PasswordScheme, TEST_USERS};
use e2e_tests::expo::{ExpoSample, samples, sum};
use e2e_tests::smtp::{SaslMechanism, SmtpClient};
use e2e_tests::{
    ACCEPT_TEXT, Dovecot, DovecotOptions, Exporter, Postfix, PostfixOptions, net, wait_for,
};

/// Successful AUTH PLAIN sessions, each sending one message.
const PLAIN_OK: usize = 4;
/// Successful AUTH LOGIN sessions, each sending one message.
const LOGIN_OK: usize = 3;
/// AUTH PLAIN with a wrong password, then QUIT.
const PLAIN_FAILED: usize = 2;
/// AUTH LOGIN with a wrong password, then QUIT.
const LOGIN_FAILED: usize = 1;
/// Sessions that authenticate (PLAIN) and quit without mail.
const AUTH_ONLY: usize = 1;
const SESSIONS: usize = PLAIN_OK + LOGIN_OK + PLAIN_FAILED + LOGIN_FAILED + AUTH_ONLY;

/// The labels of the submission service's smtpd lines (`syslog_name = postfix/submission`).
const SUBMISSION: [(&str, &str); 2] = [("postfix_instance", "postfix"), ("service", "submission")];

fn scrape(e: &Exporter) -> Vec<ExpoSample> {
    samples(&e.scrape(ACCEPT_TEXT).expect("scrape").text())
}

/// A submission-like smtpd on `127.0.0.1:port` that offers AUTH through Dovecot's socket
/// and relays only for authenticated clients.
fn submission_service(port: u16, dovecot: &Dovecot) -> String {
    let socket = dovecot.auth_socket_path();
    assert!(socket.is_absolute());
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path={}
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
        socket.display()
    )
}

/// One session: EHLO, AUTH, one message when `mail` and the AUTH succeeded, QUIT.
fn session(port: u16, mech: SaslMechanism, user: &str, password: &str, mail: bool) -> bool {
    let mut c = SmtpClient::connect(net::loopback(port)).unwrap();
    assert_eq!(c.ehlo().unwrap(), 250, "{:?}", c.transcript());
    let ok = c.auth(mech, user, password).unwrap();
    if ok && mail {
        let body = format!("Subject: sasl {}\n\nhello\n", mech.name());
        let queued = c.send_mail(user, &["root@mx.test.local"], &body).unwrap();
        assert!(queued, "{:?}", c.transcript());
    }
    assert_eq!(c.quit().unwrap(), 221, "{:?}", c.transcript());
    ok
}

fn sasl_sessions_are_counted_exactly(port_logging: bool) {
    let dovecot =
        Dovecot::start(DovecotOptions::new().password_scheme(PasswordScheme::Sha512Crypt)).unwrap();
    let port = net::free_port();
    let mut opts = PostfixOptions::new().master_line(&submission_service(port, &dovecot));
    if port_logging {
        opts = opts.param("smtpd_client_port_logging = yes");
    }
    let pf = Postfix::start(opts).unwrap();
    wait_for("submission listening", Duration::from_secs(30), || {
        net::tcp_listening(port)
    });
    let e = Exporter::start(
        "postfix-exporter",
        &[
            "--no-collector.queue",
            &format!("--postfix.logfile_path={}", pf.log_path().display()),
        ],
    )
    .unwrap();
    // The follower starts at the end of the log: Postfix's start-up lines are not counted.
    wait_for("log source up", Duration::from_secs(30), || {
        sum(&scrape(&e), "postfix_log_source_up", &[]) == 1.0
    });

    let [(alice, alice_pw), (bob, bob_pw)] = TEST_USERS;
    for _ in 0..PLAIN_OK {
        assert!(session(port, SaslMechanism::Plain, alice, alice_pw, true));
    }
    for _ in 0..LOGIN_OK {
        assert!(session(port, SaslMechanism::Login, bob, bob_pw, true));
    }
    for _ in 0..PLAIN_FAILED {
        assert!(!session(port, SaslMechanism::Plain, alice, "wrong", false));
    }
    for _ in 0..LOGIN_FAILED {
        assert!(!session(port, SaslMechanism::Login, bob, "wrong", false));
    }
    for _ in 0..AUTH_ONLY {
        assert!(session(port, SaslMechanism::Plain, bob, bob_pw, false));
    }

    // Each session ends with its disconnect line: once the exporter has counted them all,
    // it has read every line the sessions caused.
    let log = pf
        .wait_log("disconnect from", SESSIONS, Duration::from_secs(60))
        .unwrap();
    let client_lines = log.matches("sasl_method=").count();
    assert_eq!(client_lines, PLAIN_OK + LOGIN_OK, "{log}");
    wait_for("every disconnect counted", Duration::from_secs(30), || {
        sum(&scrape(&e), "postfix_smtpd_disconnects_total", &[]) == SESSIONS as f64
    });
    let m = scrape(&e);
    let n = |v: usize| v as f64;

    assert_eq!(sum(&m, "postfix_smtpd_connects_total", &[]), n(SESSIONS));
    let processed = "postfix_smtpd_messages_processed_total";
    assert_eq!(sum(&m, processed, &[("sasl_method", "PLAIN")]), n(PLAIN_OK));
    assert_eq!(sum(&m, processed, &[("sasl_method", "LOGIN")]), n(LOGIN_OK));
    assert_eq!(sum(&m, processed, &[]), n(PLAIN_OK + LOGIN_OK));

    // From the disconnect lines: auth=1 per good session, auth=0/1 per failed one.
    let commands = |command: &str, result: &str| {
        let mut want = SUBMISSION.to_vec();
        want.extend([("command", command), ("result", result)]);
        sum(&m, "postfix_smtpd_commands_total", &want)
    };
    let authenticated = PLAIN_OK + LOGIN_OK + AUTH_ONLY;
    assert_eq!(commands("auth", "accepted"), n(authenticated));
    assert_eq!(commands("auth", "rejected"), n(PLAIN_FAILED + LOGIN_FAILED));
    assert_eq!(commands("ehlo", "accepted"), n(SESSIONS));
    assert_eq!(commands("quit", "accepted"), n(SESSIONS));
    for cmd in ["mail", "rcpt", "data"] {
        assert_eq!(commands(cmd, "accepted"), n(PLAIN_OK + LOGIN_OK), "{cmd}");
        assert_eq!(commands(cmd, "rejected"), 0.0, "{cmd}");
    }

    // From the warning lines, which with Dovecot read (Postfix 3.7.11, Dovecot 2.3.19.1)
    //   warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=alice@test.local
    // and with port logging
    //   warning: localhost[127.0.0.1]:47894: SASL LOGIN authentication failed: (reason unavailable), sasl_username=bob@test.local
    // Both shapes must be counted.
    let failed_lines = log.matches("authentication failed").count();
    assert_eq!(failed_lines, PLAIN_FAILED + LOGIN_FAILED, "{log}");
    assert_eq!(
        sum(&m, "postfix_smtpd_sasl_authentication_failures_total", &[]),
        n(PLAIN_FAILED + LOGIN_FAILED),
        "port logging {port_logging}; maillog:\n{log}"
    );
    let by_method = |method: &str| {
        let mut want = SUBMISSION.to_vec();
        want.push(("sasl_method", method));
        sum(
            &m,
            "postfix_smtpd_sasl_authentication_failures_by_method_total",
            &want,
        )
    };
    assert_eq!(by_method("PLAIN"), n(PLAIN_FAILED));
    assert_eq!(by_method("LOGIN"), n(LOGIN_FAILED));
}

#[test]
fn sasl_counts_with_default_client_logging() {
    sasl_sessions_are_counted_exactly(false);
}

#[test]
fn sasl_counts_with_client_port_logging() {
    sasl_sessions_are_counted_exactly(true);
}
