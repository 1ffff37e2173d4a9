#![allow(clippy::unwrap_used)]
use super::*;

fn render(m: &LogMetrics) -> String {
    let mut r = Registry::default();
    m.register(&mut r);
    let mut s = String::new();
    prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
    s
}

/// The value of the sample `series` (`name{labels}` as encoded) or 0.
fn get(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn feed(lines: &str) -> (LogMetrics, Vec<LineOutcome>) {
    let m = LogMetrics::new();
    let out = lines.lines().map(|l| m.handle_line(l)).collect();
    (m, out)
}

#[test]
fn prefixes_of_file_syslog_stderr_and_daemontools() {
    for line in [
        "Dec 02 16:12:48 imap-login: Info: Login: user=<a>, method=PLAIN",
        "Dec  2 16:12:48 mx1 dovecot[7508]: imap-login: Login: user=<a>, method=PLAIN",
        "2026-12-02T16:12:48.123456+00:00 mx1 dovecot: imap-login: Login: user=<a>",
        "imap-login: Info: Login: user=<a>, method=PLAIN",
        "@400000004c91b044077a9e94 imap-login: Info: Login: user=<a>",
    ] {
        let (m, out) = feed(line);
        assert_eq!(out, [LineOutcome::Recognised], "{line}");
        assert_eq!(
            get(&render(&m), "dovecot_log_logins_total{protocol=\"imap\"}"),
            1.0,
            "{line}"
        );
    }
    // Another program's line in a shared mail log is none of ours.
    let (_, out) = feed("Dec  2 16:12:48 mx1 postfix/smtpd[1]: connect from x[1.2.3.4]");
    assert_eq!(out, [LineOutcome::Handled]);
    let m = split_message(
        "imap(alice@x)<32183><m3j+6ahhXKR/AAAB>: Info: Disconnected: Logged out in=32",
    )
    .unwrap();
    assert_eq!(
        (m.service, m.level, m.text),
        ("imap", Some("Info"), "Disconnected: Logged out in=32")
    );
    let m = split_message("Fatal: auth(default): Support not compiled in").unwrap();
    assert_eq!((m.service, m.level), ("auth", Some("Fatal")));
    let m = split_message("Dovecot v1.2.rc3 starting up (core dumps disabled)").unwrap();
    assert_eq!(m.service, "master");
    assert!(split_message("no service here").is_none());
}

#[test]
fn the_real_daemons_traffic_log_counts_what_the_traffic_did() {
    // Captured from Dovecot 2.3.19 on loopback after known traffic (LMTP deliveries, IMAP
    // and POP3 logins that succeed and fail for each reason, dropped connections).
    let text = include_str!("../../tests/fixtures/dovecot-2.3.19-traffic.log");
    let (m, out) = feed(text);
    let unsupported: Vec<(&str, &LineOutcome)> = text
        .lines()
        .zip(&out)
        .filter(|(_, o)| matches!(o, LineOutcome::Unsupported(_)))
        .collect();
    assert!(unsupported.is_empty(), "{unsupported:#?}");
    let t = render(&m);
    let want = [
        ("dovecot_log_logins_total{protocol=\"imap\"}", 2.0),
        ("dovecot_log_logins_total{protocol=\"pop3\"}", 2.0),
        (
            "dovecot_log_login_failures_total{protocol=\"imap\",reason=\"auth_failed\"}",
            3.0,
        ),
        (
            "dovecot_log_login_failures_total{protocol=\"pop3\",reason=\"auth_failed\"}",
            2.0,
        ),
        (
            "dovecot_log_login_failures_total{protocol=\"imap\",reason=\"internal_failure\"}",
            2.0,
        ),
        (
            "dovecot_log_login_failures_total{protocol=\"imap\",reason=\"no_auth_attempts\"}",
            1.0,
        ),
        (
            "dovecot_log_login_failures_total{protocol=\"pop3\",reason=\"no_auth_attempts\"}",
            1.0,
        ),
        (
            "dovecot_log_login_failures_total{protocol=\"imap\",reason=\"sasl_aborted\"}",
            1.0,
        ),
        (
            "dovecot_log_login_failures_total{protocol=\"pop3\",reason=\"plaintext_disallowed\"}",
            1.0,
        ),
        (
            "dovecot_log_login_failed_auth_attempts_total{protocol=\"imap\"}",
            3.0,
        ),
        (
            "dovecot_log_login_failed_auth_attempts_total{protocol=\"pop3\"}",
            2.0,
        ),
        (
            "dovecot_log_auth_failures_total{reason=\"password_mismatch\"}",
            3.0,
        ),
        (
            "dovecot_log_auth_failures_total{reason=\"unknown_user\"}",
            2.0,
        ),
        (
            "dovecot_log_logouts_total{protocol=\"imap\",reason=\"logged_out\"}",
            1.0,
        ),
        (
            "dovecot_log_logouts_total{protocol=\"imap\",reason=\"connection_closed\"}",
            1.0,
        ),
        (
            "dovecot_log_logouts_total{protocol=\"pop3\",reason=\"logged_out\"}",
            1.0,
        ),
        (
            "dovecot_log_logouts_total{protocol=\"pop3\",reason=\"connection_closed\"}",
            1.0,
        ),
        (
            "dovecot_log_deliveries_total{service=\"lmtp\",result=\"delivered\"}",
            2.0,
        ),
        (
            "dovecot_log_deliveries_total{service=\"lmtp\",result=\"quota_exceeded\"}",
            1.0,
        ),
        ("dovecot_log_quota_exceeded_total{service=\"lmtp\"}", 1.0),
        ("dovecot_log_master_starts_total", 1.0),
    ];
    for (series, v) in want {
        assert_eq!(get(&t, series), v, "{series}\n{t}");
    }
}

#[test]
fn older_versions_and_other_projects_shapes() {
    let text = "\
Sep 8 07:46:30 canyon dovecot: auth-worker(24544): pam(toto,1.1.1.1): unknown user
Sep 8 07:16:29 canyon dovecot: auth-worker(24058): pam(toto,1.1.1.1,<youpi>): pam_authenticate() failed: Authentication failure (password mismatch?)
Sep 8 07:16:27 canyon dovecot[7508]: imap-login: Disconnected (auth failed, 4 attempts in 6 secs): user=<t@t.com>, method=PLAIN, rip=1.1.1.1, lip=7.7.7.7, TLS, session=<azda>
Dec 12 11:19:11 dunnart dovecot: pop3-login: Aborted login (tried to use disabled plaintext auth): rip=190.210.136.21, lip=113.212.99.193
Nov 16 11:00:20 server dovecot: lmtp(user@test.com): z5FOLrRhDVpddgAABvoInA: sieve: msgid=<x@y>: stored mail into mailbox 'notifications'
Nov 16 11:00:20 server dovecot: lmtp(30301): Disconnect from local: Successful quit
Nov 16 11:04:01 server dovecot: imap(anomalie@test2.com): Logged out in=86 out=892
Jan 11 03:42:09 hostname dovecot: auth(default): pam(user@example.com,1.2.3.4): pam_authenticate() failed: User not known to the underlying authentication module
Jun 17 10:15:24 hostname dovecot: Fatal: auth(default): Support not compiled in for passdb driver 'ldap'
Jun 17 10:15:24 hostname dovecot: Dovecot v1.2.rc3 starting up (core dumps disabled)
@400000004c91b044077a9e94 dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=web rhost=176.61.140.224
Nov 16 11:00:20 server dovecot: imap(u): Error: Something nobody has seen
Nov 16 11:00:20 server dovecot: imap(u): Info: Something nobody has seen
";
    let (m, out) = feed(text);
    let t = render(&m);
    assert_eq!(
        get(
            &t,
            "dovecot_log_auth_failures_total{reason=\"unknown_user\"}"
        ),
        2.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_auth_failures_total{reason=\"password_mismatch\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_login_failed_auth_attempts_total{protocol=\"imap\"}"
        ),
        4.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_login_failures_total{protocol=\"pop3\",reason=\"plaintext_disallowed\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_deliveries_total{service=\"lmtp\",result=\"delivered\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_logouts_total{protocol=\"imap\",reason=\"logged_out\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_problems_total{service=\"auth\",level=\"fatal\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &t,
            "dovecot_log_problems_total{service=\"imap\",level=\"error\"}"
        ),
        1.0
    );
    assert_eq!(get(&t, "dovecot_log_master_starts_total"), 1.0);
    let unsupported: Vec<&LineOutcome> = out
        .iter()
        .filter(|o| matches!(o, LineOutcome::Unsupported(_)))
        .collect();
    assert_eq!(unsupported, [&LineOutcome::Unsupported("imap".into())]);
}

#[test]
fn login_failure_reasons_from_the_source_list() {
    for (text, want) in [
        (
            "Disconnected (auth failed, 1 attempts in 2 secs)",
            "auth_failed",
        ),
        (
            "Disconnected: Connection closed (no auth attempts in 0 secs)",
            "no_auth_attempts",
        ),
        (
            "Disconnected (tried to use disallowed plaintext auth)",
            "plaintext_disallowed",
        ),
        ("Disconnected (user disabled)", "user_disabled"),
        ("Disconnected (password expired)", "password_expired"),
        (
            "Disconnected (auth service reported temporary failure)",
            "temporary_failure",
        ),
        (
            "Disconnected (authorization failed, 1 attempts in 0 secs)",
            "authorization_failed",
        ),
        (
            "Disconnected (disconnected before auth was ready, waited 3 secs)",
            "auth_not_ready",
        ),
        (
            "Disconnected: Aborted login by logging out (client didn't finish SASL auth, waited 0 secs)",
            "sasl_aborted",
        ),
        (
            "Disconnected for inactivity during authentication.",
            "inactivity",
        ),
        (
            "Disconnected: Inactivity during authentication (disconnected while authenticating)",
            "inactivity",
        ),
        (
            "Disconnected: Connection closed: SSL_accept() failed",
            "other",
        ),
    ] {
        assert_eq!(login_failure_reason(text), want, "{text}");
        assert!(LOGIN_FAILURE_REASONS.contains(&want));
    }
}

#[test]
fn a_directors_proxy_lines() {
    let text = "\
Dec 02 16:10:36 imap-login: Info: proxy(alice@example.test,127.0.0.3:21243): Started proxying to <127.0.0.3> (0.020 secs): user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<5Gkj4qhhhq9/AAAB>
Dec 02 16:10:36 imap-login: Info: proxy(alice@example.test,127.0.0.3:21243): Disconnected by server (0s idle, in=264, out=1081): user=<alice@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<5Gkj4qhhhq9/AAAB>
Dec 02 16:11:02 imap-login: Info: proxy(ivan@example.test,127.0.0.3:21243): Login failed: [AUTHENTICATIONFAILED] Authentication failed.: user=<ivan@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<KlTj7KhhJqp/AAAB>
Dec 02 16:11:02 imap-login: Info: Disconnected: Connection closed (proxy dest auth failed): user=<ivan@example.test>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured, session=<KlTj7KhhJqp/AAAB>
";
    let (m, out) = feed(text);
    assert!(out.iter().all(|o| *o == LineOutcome::Recognised), "{out:?}");
    let t = render(&m);
    let p = |r: &str| {
        get(
            &t,
            &format!("dovecot_log_proxy_sessions_total{{protocol=\"imap\",result=\"{r}\"}}"),
        )
    };
    assert_eq!((p("started"), p("failed")), (1.0, 1.0));
    assert_eq!(
        get(
            &t,
            "dovecot_log_login_failures_total{protocol=\"imap\",reason=\"proxy_failed\"}"
        ),
        1.0
    );
}
