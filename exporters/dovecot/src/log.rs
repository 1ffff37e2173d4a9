//! Counters from Dovecot's log (all named `dovecot_log_*`, apart from the names a `metric`
//! definition can take): logins and logouts per protocol, login failures and auth
//! failures by reason, LMTP/LDA deliveries, quota refusals, warnings and errors. It works
//! on installs that define no statistics at all.
//!
//! A Dovecot line is `<service>[(<user or pid>)][<pid>][<session>]: [<Level>: ]<text>`:
//! - in its own `log_path` file after a `log_timestamp` (`Dec 02 16:12:47 imap-login:
//!   Info: Login: …`), or without one (`log_timestamp = ""`, stderr in containers);
//! - through syslog as the message of program `dovecot` (`… host dovecot: imap-login:
//!   Login: …`, the level only for warnings and worse);
//! - behind daemontools' TAI64N stamp (`@4000… imap-login: …`).
//!
//! Lines of other programs in a shared mail log are left alone; Dovecot lines no rule
//! knows are counted as unsupported under their service.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use common::follow::{LineHandler, LineOutcome};

/// Services kept as label values (here and in process titles); others are `other`.
pub const SERVICES: [&str; 28] = [
    "master",
    "auth",
    "auth-worker",
    "anvil",
    "log",
    "config",
    "stats",
    "old-stats",
    "dict",
    "dict-async",
    "director",
    "doveadm",
    "imap",
    "imap-login",
    "imap-hibernate",
    "imap-urlauth",
    "imap-urlauth-login",
    "pop3",
    "pop3-login",
    "submission",
    "submission-login",
    "managesieve",
    "managesieve-login",
    "lmtp",
    "lda",
    "indexer",
    "indexer-worker",
    "quota-status",
];

/// Protocols of login and mail processes kept as label values (here and in process titles).
pub const PROTOCOLS: [&str; 4] = ["imap", "pop3", "submission", "managesieve"];

/// `s` when `set` has it, else `other`: label values stay bounded.
pub fn bounded<'a>(s: &'a str, set: &[&'static str]) -> &'a str {
    if set.contains(&s) { s } else { "other" }
}

/// Label sets.
type L1 = [(&'static str, String); 1];
type L2 = [(&'static str, String); 2];

/// The log counters.
#[derive(Debug, Clone, Default)]
pub struct LogMetrics {
    logins: Family<L1, Counter>,
    login_failures: Family<L2, Counter>,
    failed_attempts: Family<L1, Counter>,
    logouts: Family<L2, Counter>,
    auth_failures: Family<L1, Counter>,
    deliveries: Family<L2, Counter>,
    quota: Family<L1, Counter>,
    problems: Family<L2, Counter>,
    proxy: Family<L2, Counter>,
    starts: Counter,
}

/// Why a login process gave up on a client before it logged in.
pub const LOGIN_FAILURE_REASONS: [&str; 13] = [
    "auth_failed",
    "no_auth_attempts",
    "sasl_aborted",
    "plaintext_disallowed",
    "user_disabled",
    "password_expired",
    "internal_failure",
    "temporary_failure",
    "authorization_failed",
    "auth_not_ready",
    "inactivity",
    "proxy_failed",
    "other",
];

/// Classifies the text of a login process's `Disconnected` line.
pub fn login_failure_reason(text: &str) -> &'static str {
    const RULES: [(&str, &str); 13] = [
        ("(auth failed", "auth_failed"),
        ("(no auth attempts", "no_auth_attempts"),
        ("(client didn't finish sasl auth", "sasl_aborted"),
        (
            "(tried to use disallowed plaintext auth",
            "plaintext_disallowed",
        ),
        (
            "(tried to use disabled plaintext auth",
            "plaintext_disallowed",
        ),
        ("(user disabled", "user_disabled"),
        ("(password expired", "password_expired"),
        ("(internal failure", "internal_failure"),
        (
            "(auth service reported temporary failure",
            "temporary_failure",
        ),
        ("(authorization failed", "authorization_failed"),
        ("(disconnected before auth was ready", "auth_not_ready"),
        ("inactivity", "inactivity"),
        ("(proxy dest", "proxy_failed"),
    ];
    let lower = text.to_ascii_lowercase();
    RULES
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map_or("other", |(_, r)| r)
}

/// A Dovecot message split into its service prefix, level and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The service (`imap-login`, `imap`, `auth-worker`, `lmtp`, `master`).
    pub service: &'a str,
    /// `Info`, `Warning`, `Error`, `Fatal`, `Panic`, `Debug`; `None` when absent (syslog
    /// info lines).
    pub level: Option<&'a str>,
    /// What follows.
    pub text: &'a str,
}

const LEVELS: [&str; 6] = ["Info", "Warning", "Error", "Fatal", "Panic", "Debug"];

fn strip_level(s: &str) -> (Option<&str>, &str) {
    for l in LEVELS {
        if let Some(rest) = s.strip_prefix(l).and_then(|r| r.strip_prefix(": ")) {
            return (Some(l), rest);
        }
    }
    (None, s)
}

/// The length of a service prefix at the start of `s` (`imap(user)<pid><session>`), up
/// to but not including its `: `, when `s` starts with one.
fn service_prefix(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let name_end = b
        .iter()
        .position(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-'))
        .unwrap_or(b.len());
    if name_end == 0 {
        return None;
    }
    let mut i = name_end;
    while let Some(&c) = b.get(i) {
        let close = match c {
            b'(' => b')',
            b'<' => b'>',
            _ => break,
        };
        i += b.get(i..)?.iter().position(|x| *x == close)? + 1;
    }
    (b.get(i..i + 2) == Some(b": ")).then_some((name_end, i))
}

/// Splits a Dovecot message (the part after any timestamp or syslog prefix).
pub fn split_message(msg: &str) -> Option<Message<'_>> {
    // `Fatal: auth(default): …`: a level before the service (older versions).
    let (early, msg) = strip_level(msg);
    let (name_end, end) = match service_prefix(msg) {
        Some(p) => p,
        // The master's own lines through syslog have no service (`Dovecot v2.3 starting up`).
        None => {
            return msg.starts_with("Dovecot v").then_some(Message {
                service: "master",
                level: early,
                text: msg,
            });
        }
    };
    let service = msg.get(..name_end)?;
    let (level, text) = strip_level(msg.get(end + 2..)?);
    // 1.x named the auth process `dovecot-auth`.
    let service = match service {
        "dovecot-auth" => "auth",
        "dovecot-lda" => "lda",
        s => s,
    };
    Some(Message {
        service,
        level: early.or(level),
        text,
    })
}

/// Where the Dovecot message of a log line starts, or `None` for another program's line.
pub fn dovecot_message(line: &str) -> Option<&str> {
    let line = match line.strip_prefix('@') {
        // daemontools' TAI64N label: `@` and 24 hex digits.
        Some(rest) if rest.len() > 25 && rest.as_bytes().get(24) == Some(&b' ') => {
            rest.get(25..)?
        }
        _ => line,
    };
    match common::logline::parse(line) {
        Some(l) if l.program == "dovecot" => Some(l.message),
        Some(l) => {
            // The file form: the "program" token is the service prefix itself; the message
            // starts where it does.
            let start = (l.program.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
            let msg = line.get(start..)?;
            let (name_end, _) = service_prefix(msg)?;
            let name = msg.get(..name_end)?;
            (SERVICES.contains(&name) || name.ends_with("-login") || name.starts_with("dovecot-"))
                .then_some(msg)
        }
        // No timestamp at all (`log_timestamp = ""`, stderr).
        None => service_prefix(line).map(|_| line),
    }
}

impl LogMetrics {
    /// Counters with the series dashboards and alerts expect present from the start.
    pub fn new() -> Self {
        let m = Self::default();
        for p in ["imap", "pop3"] {
            m.logins.get_or_create(&[("protocol", p.into())]).get();
            m.failed_attempts
                .get_or_create(&[("protocol", p.into())])
                .get();
            m.login_failures
                .get_or_create(&[("protocol", p.into()), ("reason", "auth_failed".into())])
                .get();
        }
        for r in ["password_mismatch", "unknown_user"] {
            m.auth_failures.get_or_create(&[("reason", r.into())]).get();
        }
        for r in ["delivered", "failed", "quota_exceeded"] {
            m.deliveries
                .get_or_create(&[("service", "lmtp".into()), ("result", r.into())])
                .get();
        }
        m
    }

    /// Registers the families under `dovecot_`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "dovecot_log_logins",
            "Successful logins by protocol (login process `Login:` lines)",
            self.logins.clone(),
        );
        r.register(
            "dovecot_log_login_failures",
            "Clients a login process disconnected before they logged in, by protocol and reason",
            self.login_failures.clone(),
        );
        r.register(
            "dovecot_log_login_failed_auth_attempts",
            "Failed authentication attempts of clients that never logged in (the N of `auth failed, N attempts`)",
            self.failed_attempts.clone(),
        );
        r.register(
            "dovecot_log_logouts",
            "Ends of logged-in sessions by protocol and reason (logged_out, connection_closed, inactivity, shutdown, other)",
            self.logouts.clone(),
        );
        r.register(
            "dovecot_log_auth_failures",
            "Authentication failures the auth process logged (auth_verbose), by reason",
            self.auth_failures.clone(),
        );
        r.register(
            "dovecot_log_deliveries",
            "LMTP and LDA deliveries by service and result (delivered, forwarded, discarded, rejected, quota_exceeded, failed)",
            self.deliveries.clone(),
        );
        r.register(
            "dovecot_log_quota_exceeded",
            "Lines reporting a quota refusal, by service",
            self.quota.clone(),
        );
        r.register(
            "dovecot_log_problems",
            "Warning, error, fatal and panic lines by service and level",
            self.problems.clone(),
        );
        r.register(
            "dovecot_log_proxy_sessions",
            "Proxied logins (director or proxy passdb) by protocol and result (started, failed)",
            self.proxy.clone(),
        );
        r.register(
            "dovecot_log_master_starts",
            "Times the master logged that it started",
            self.starts.clone(),
        );
    }

    fn inc2(f: &Family<L2, Counter>, k1: &'static str, v1: &str, k2: &'static str, v2: &str) {
        f.get_or_create(&[(k1, v1.to_string()), (k2, v2.to_string())])
            .inc();
    }

    /// Counts one Dovecot message.
    pub fn message(&self, m: &Message<'_>) -> LineOutcome {
        let service = bounded(m.service, &SERVICES);
        let mut known = false;
        if let Some(level @ ("Warning" | "Error" | "Fatal" | "Panic")) = m.level {
            Self::inc2(
                &self.problems,
                "service",
                service,
                "level",
                &level.to_ascii_lowercase(),
            );
            known = true;
        }
        if m.text.contains("Quota exceeded") {
            self.quota
                .get_or_create(&[("service", service.to_string())])
                .inc();
        }
        let handled = if let Some(proto) = m.service.strip_suffix("-login") {
            self.login_line(bounded(proto, &PROTOCOLS), m.text)
        } else {
            match m.service {
                "imap" | "pop3" | "submission" | "managesieve" => self.mail_line(m.service, m.text),
                "lmtp" | "lda" => self.delivery_line(m.service, m.text),
                "auth" | "auth-worker" => self.auth_line(m.text),
                "master" => {
                    if m.text.starts_with("Dovecot v") && m.text.contains(" starting up") {
                        self.starts.inc();
                    }
                    true
                }
                _ => false,
            }
        };
        if handled || known || m.level == Some("Debug") {
            LineOutcome::Recognised
        } else {
            LineOutcome::Unsupported(service.to_string())
        }
    }

    fn login_line(&self, proto: &str, text: &str) -> bool {
        if text.starts_with("Login: ") {
            self.logins
                .get_or_create(&[("protocol", proto.to_string())])
                .inc();
            return true;
        }
        if text.starts_with("Disconnected") || text.starts_with("Aborted login") {
            let reason = login_failure_reason(text);
            Self::inc2(&self.login_failures, "protocol", proto, "reason", reason);
            if reason == "auth_failed"
                && let Some(n) = attempts(text)
            {
                self.failed_attempts
                    .get_or_create(&[("protocol", proto.to_string())])
                    .inc_by(n);
            }
            return true;
        }
        if let Some(rest) = text.strip_prefix("proxy(") {
            let rest = rest.to_ascii_lowercase();
            let result = if rest.contains("started proxying") {
                Some("started")
            } else if rest.contains("failed") {
                Some("failed")
            } else {
                None
            };
            if let Some(r) = result {
                Self::inc2(&self.proxy, "protocol", proto, "result", r);
            }
            return true;
        }
        // Per-attempt notes; the disconnect line that follows counts the client.
        text.starts_with("Login failed") || text.contains(" failed: ")
    }

    fn mail_line(&self, proto: &str, text: &str) -> bool {
        // 2.2 wrote `Logged out …` and `Connection closed …` without `Disconnected: `.
        let t = text.strip_prefix("Disconnected: ").unwrap_or(text);
        let reason = if t.starts_with("Logged out") {
            "logged_out"
        } else if t.starts_with("Connection closed") {
            "connection_closed"
        } else if t.starts_with("Disconnected for inactivity")
            || t.starts_with("Inactivity")
            || text.starts_with("Disconnected for inactivity")
        {
            "inactivity"
        } else if t.starts_with("Server shutting down") {
            "shutdown"
        } else if text.starts_with("Disconnected") || t.starts_with("Killed") {
            "other"
        } else {
            return false;
        };
        Self::inc2(&self.logouts, "protocol", proto, "reason", reason);
        true
    }

    fn delivery_line(&self, service: &str, text: &str) -> bool {
        if text.starts_with("Connect from") || text.starts_with("Disconnect from") {
            return true;
        }
        // 2.2 put the session id first (`lmtp(user): <id>: sieve: msgid=…`).
        let result = if text.contains(": saved mail to ") || text.contains(": stored mail into ") {
            "delivered"
        } else if text.contains("Quota exceeded") {
            "quota_exceeded"
        } else if text.contains(": forwarded to ") {
            "forwarded"
        } else if text.contains("discard") {
            "discarded"
        } else if text.contains("reject") {
            "rejected"
        } else if text.contains("save failed") || text.contains("failed to store") {
            "failed"
        } else {
            return false;
        };
        Self::inc2(&self.deliveries, "service", service, "result", result);
        true
    }

    fn auth_line(&self, text: &str) -> bool {
        // PAM's own line about a failure the pam() driver line reports too.
        if text.starts_with("pam_unix(") {
            return true;
        }
        // `<driver>(user,ip[,<session>]): <what>`, written with auth_verbose.
        let Some((_, what)) = text.split_once("): ") else {
            return false;
        };
        let w = what.to_ascii_lowercase();
        let reason = if w.starts_with("password mismatch") || w.contains("(password mismatch?)") {
            "password_mismatch"
        } else if w.starts_with("unknown user") || w.contains("user not known") {
            "unknown_user"
        } else if w.contains("expired") {
            "expired"
        } else if w.contains("disabled") {
            "disabled"
        } else {
            "other"
        };
        self.auth_failures
            .get_or_create(&[("reason", reason.to_string())])
            .inc();
        true
    }
}

/// The N of `auth failed, N attempts`.
fn attempts(text: &str) -> Option<u64> {
    let rest = text.split_once("(auth failed, ")?.1;
    rest.split(' ').next()?.parse().ok()
}

impl LineHandler for LogMetrics {
    fn handle_line(&self, line: &str) -> LineOutcome {
        let Some(msg) = dovecot_message(line) else {
            // Another program's line in a shared mail log.
            return LineOutcome::Handled;
        };
        match split_message(msg) {
            Some(m) => self.message(&m),
            None => LineOutcome::Unsupported("unparsed".into()),
        }
    }
}

#[cfg(test)]
mod tests;
