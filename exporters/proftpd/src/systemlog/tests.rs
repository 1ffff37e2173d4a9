#![allow(clippy::unwrap_used)]
use super::*;

fn render(s: &SystemLog) -> String {
    let mut r = Registry::default();
    s.register(&mut r);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
    out
}

fn get(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn file_and_syslog_forms() {
    let s = SystemLog::new();
    let lines = "\
2026-12-02 10:00:00,001 ftp1 proftpd[100] 127.0.0.1: ProFTPD 1.3.8 (stable) (built Fri May 1 2026 20:02:15 UTC) standalone mode STARTUP
2026-12-02 10:00:01,103 ftp1 proftpd[201] 127.0.0.1 (127.0.0.1[127.0.0.1]): FTP session opened.
2026-12-02 10:00:01,108 ftp1 proftpd[201] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER alice: Login successful.
2026-12-02 10:00:01,125 ftp1 proftpd[201] 127.0.0.1 (127.0.0.1[127.0.0.1]): notice: user alice: aborting transfer: Data connection closed
2026-12-02 10:00:01,126 ftp1 proftpd[201] 127.0.0.1 (127.0.0.1[127.0.0.1]): FTP session closed.
2026-12-02 10:00:02,129 ftp1 proftpd[202] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER alice (Login failed): Incorrect password
2026-12-02 10:00:02,328 ftp1 proftpd[203] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER mallory: no such user found from 127.0.0.1 [127.0.0.1] to 127.0.0.1:2121
Dec  2 10:00:03 ftp1 proftpd[300]: 192.0.2.5 (2001:db8::5[2001:db8::5]) - USER luca (Login failed): Incorrect password
Dec  2 10:00:04 ftp1 proftpd[301]: 192.0.2.5 (h[192.0.2.9]) - Connection refused (MaxClientsPerHost 3)
2026-12-02 10:00:05,000 ftp1 proftpd[204] 127.0.0.1 (127.0.0.1[127.0.0.1]): SSH2 session opened.
2026-12-02 10:00:05,100 ftp1 proftpd[204] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER bob: Login successful.
2026-12-02 10:00:06,000 ftp1 proftpd[205] 127.0.0.1 (127.0.0.1[127.0.0.1]): Client session idle timeout, disconnected
2026-12-02 10:00:06,100 ftp1 proftpd[206] 127.0.0.1 (127.0.0.1[127.0.0.1]): Login timeout exceeded, disconnected
2026-12-02 10:00:06,200 ftp1 proftpd[207] 127.0.0.1 (127.0.0.1[127.0.0.1]): Maximum login attempts (3) exceeded, connection refused
2026-12-02 10:00:06,300 ftp1 proftpd[100] 127.0.0.1: MaxInstances (30) reached, new connection denied
2026-12-02 10:00:06,400 ftp1 proftpd[208] 127.0.0.1 (127.0.0.1[127.0.0.1]): ANON ftp: Login successful.
2026-12-02 10:00:06,500 ftp1 proftpd[209] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER carol (Login failed): Password expired
  (1) error:0A000126:SSL routines::unexpected eof while reading
2026-12-02 10:00:07,000 ftp1 proftpd[100] 127.0.0.1: ProFTPD 1.3.8 standalone mode SHUTDOWN
Dec  2 10:00:08 ftp1 sshd[1]: Accepted publickey for root
2026-12-02 10:00:09,000 ftp1 proftpd[210] 127.0.0.1 (127.0.0.1[127.0.0.1]): something nobody has written yet
";
    let outcomes: Vec<LineOutcome> = lines.lines().map(|l| s.handle_line(l)).collect();
    assert_eq!(
        outcomes.last(),
        Some(&LineOutcome::Unsupported("unknown_message".into()))
    );
    let unsupported = outcomes
        .iter()
        .filter(|o| matches!(o, LineOutcome::Unsupported(_)))
        .count();
    assert_eq!(unsupported, 1, "{outcomes:?}");
    let t = render(&s);
    for (series, v) in [
        ("proftpd_daemon_starts_total", 1.0),
        ("proftpd_sessions_opened_total{protocol=\"ftp\"}", 1.0),
        ("proftpd_sessions_opened_total{protocol=\"ssh2\"}", 1.0),
        ("proftpd_sessions_closed_total{protocol=\"ftp\"}", 1.0),
        (
            "proftpd_logins_total{protocol=\"ftp\",result=\"success\"}",
            2.0,
        ),
        (
            "proftpd_logins_total{protocol=\"ssh2\",result=\"success\"}",
            1.0,
        ),
        (
            "proftpd_logins_total{protocol=\"ftp\",result=\"failure\"}",
            4.0,
        ),
        (
            "proftpd_login_failures_total{reason=\"incorrect_password\"}",
            2.0,
        ),
        ("proftpd_login_failures_total{reason=\"no_such_user\"}", 1.0),
        (
            "proftpd_login_failures_total{reason=\"password_expired\"}",
            1.0,
        ),
        (
            "proftpd_connections_refused_total{reason=\"max_clients_per_host\"}",
            1.0,
        ),
        (
            "proftpd_connections_refused_total{reason=\"max_login_attempts\"}",
            1.0,
        ),
        (
            "proftpd_connections_refused_total{reason=\"max_instances\"}",
            1.0,
        ),
        ("proftpd_timeouts_total{reason=\"idle\"}", 1.0),
        ("proftpd_timeouts_total{reason=\"login\"}", 1.0),
        ("proftpd_anonymous_logins_total", 1.0),
    ] {
        assert_eq!(get(&t, series), v, "{series}\n{t}");
    }
}

#[test]
fn failure_reasons() {
    for (why, want) in [
        ("Incorrect password", "incorrect_password"),
        ("No such user found", "no_such_user"),
        ("Password expired", "password_expired"),
        ("Account disabled", "account_disabled"),
        ("Invalid shell: '/bin/false'", "invalid_shell"),
        ("Limit access denies login", "denied_by_limit"),
        ("Insufficient credentials", "insufficient_credentials"),
        ("Something else", "other"),
    ] {
        assert_eq!(login_failure_reason(why), want, "{why}");
        assert!(LOGIN_FAILURE_REASONS.contains(&want));
    }
    assert_eq!(
        classify("SECURITY VIOLATION: Root login attempted"),
        Some(Event::LoginFailed("root_login"))
    );
    assert_eq!(
        classify("Connection refused (MaxClients 10)"),
        Some(Event::Refused("max_clients"))
    );
    assert_eq!(
        classify("FTP no transfer timeout, disconnected"),
        Some(Event::Timeout("no_transfer"))
    );
    assert_eq!(
        classify("Data transfer stall timeout: 600 seconds"),
        Some(Event::Timeout("stalled"))
    );
    assert_eq!(
        classify("FTP session timed out, disconnected"),
        Some(Event::Timeout("session"))
    );
    // 1.2/1.3 wordings seen in other projects' logs.
    for (msg, want) in [
        ("FTP login timed out, disconnected", Event::Timeout("login")),
        (
            "FTP session idle timeout, disconnected.",
            Event::Timeout("idle"),
        ),
        (
            "Connection from crawl.example [66.249.66.80] denied.",
            Event::Refused("access_denied"),
        ),
        (
            "refused connect from 192.168.1.2 (192.168.1.2)",
            Event::Refused("access_denied"),
        ),
        (
            "SECURITY VIOLATION: root login attempted.",
            Event::LoginFailed("root_login"),
        ),
        (
            "USER u (Login failed): User in /etc/ftpusers",
            Event::LoginFailed("denied_by_ftpusers"),
        ),
        ("no such user 'a'", Event::Known),
        ("Fatal: unable to open incoming connection: x", Event::Known),
        ("ProFTPD terminating (signal 11)", Event::Known),
    ] {
        assert_eq!(classify(msg), Some(want), "{msg}");
    }
}
