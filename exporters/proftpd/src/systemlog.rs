//! ProFTPd's SystemLog (its own file, or syslog): sessions, logins and why they failed,
//! refused connections, timeouts, daemon starts.
//!
//! File form: `2026-11-22 23:02:37,103 host proftpd[20868] 127.0.0.1 (127.0.0.1[127.0.0.1]):
//! FTP session opened.`; syslog form: `Sep 11 20:53:00 host proftpd[117894]: 192.168.0.5
//! (client[ip]) - USER luca (Login failed): Incorrect password`. Daemon lines have only the
//! server address (`127.0.0.1: ProFTPD 1.3.8 … STARTUP`). Successful logins are logged at
//! INFO, so they appear only with `SyslogLevel info` (the default since 1.3.6 is NOTICE).
//! mod_tls and other modules may continue an entry on lines starting with white space.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use common::follow::{LineHandler, LineOutcome};

type L1 = [(&'static str, &'static str); 1];
type L2 = [(&'static str, &'static str); 2];

/// Why a login failed (`proftpd_login_failures_total{reason}`).
pub const LOGIN_FAILURE_REASONS: [&str; 10] = [
    "incorrect_password",
    "no_such_user",
    "password_expired",
    "account_disabled",
    "invalid_shell",
    "denied_by_limit",
    "insufficient_credentials",
    "root_login",
    "denied_by_ftpusers",
    "other",
];

/// Why a connection was refused (`proftpd_connections_refused_total{reason}`).
pub const REFUSAL_REASONS: [&str; 8] = [
    "max_clients",
    "max_clients_per_host",
    "max_clients_per_user",
    "max_connections_per_host",
    "max_instances",
    "max_login_attempts",
    "access_denied",
    "other",
];

/// Which timeout ended a session (`proftpd_timeouts_total{reason}`).
pub const TIMEOUT_REASONS: [&str; 5] = ["login", "idle", "no_transfer", "stalled", "session"];

/// What one SystemLog message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A session started (`ftp` also for FTPS; `ssh2` for SFTP and SCP).
    SessionOpened(&'static str),
    /// A session ended.
    SessionClosed(&'static str),
    /// A login succeeded (`anonymous` for ANON logins).
    LoginOk {
        /// An anonymous login.
        anonymous: bool,
    },
    /// A login failed, for this reason.
    LoginFailed(&'static str),
    /// A connection was refused.
    Refused(&'static str),
    /// A timeout ended a session or a transfer.
    Timeout(&'static str),
    /// The daemon started.
    Startup,
    /// The daemon stopped.
    Shutdown,
    /// A known message that counts nothing (transfers aborted, notes).
    Known,
}

/// The message of a SystemLog line (split by [`common::logline::parse`]) after the server
/// (and client) address, or `None` for a line of another program.
pub fn message<'a>(l: &common::logline::LogLine<'a>) -> Option<&'a str> {
    if l.program != "proftpd" {
        return None;
    }
    let msg = l.message;
    // `<vhost> (<client>[<ip>]): msg`, syslog's `<vhost> (<client>[<ip>]) - msg`, or a
    // daemon line `<vhost>: msg`.
    let (_, rest) = msg.split_once(' ').unwrap_or(("", msg));
    if rest.starts_with('(') {
        if let Some(i) = rest.find("]): ") {
            return rest.get(i + 4..);
        }
        if let Some(i) = rest.find("]) - ") {
            return rest.get(i + 5..);
        }
    }
    match msg.split_once(": ") {
        Some((addr, m)) if !addr.contains(' ') => Some(m),
        _ => Some(msg),
    }
}

fn login_failure_reason(why: &str) -> &'static str {
    let w = why.to_ascii_lowercase();
    const RULES: [(&str, &str); 9] = [
        ("incorrect password", "incorrect_password"),
        ("no such user", "no_such_user"),
        ("password expired", "password_expired"),
        ("account disabled", "account_disabled"),
        ("invalid shell", "invalid_shell"),
        ("limit access denies", "denied_by_limit"),
        ("insufficient credentials", "insufficient_credentials"),
        ("root login", "root_login"),
        ("user in /etc/ftpusers", "denied_by_ftpusers"),
    ];
    RULES
        .iter()
        .find(|(n, _)| w.contains(n))
        .map_or("other", |(_, r)| r)
}

/// Reads one SystemLog message.
pub fn classify(msg: &str) -> Option<Event> {
    let m = msg.trim_end();
    // Module lines carry a level prefix (`notice: user alice: aborting transfer: …`).
    let body = [
        "notice: ",
        "warning: ",
        "error: ",
        "info: ",
        "fatal: ",
        "Fatal: ",
    ]
    .iter()
    .find_map(|p| m.strip_prefix(p))
    .unwrap_or(m);
    let proto = |s: &str| if s.starts_with("SSH2") { "ssh2" } else { "ftp" };
    if body.ends_with(" session opened.") {
        return Some(Event::SessionOpened(proto(body)));
    }
    if body.ends_with(" session closed.") {
        return Some(Event::SessionClosed(proto(body)));
    }
    if let Some(rest) = body
        .strip_prefix("USER ")
        .or_else(|| body.strip_prefix("ANON "))
    {
        let anonymous = body.starts_with("ANON ");
        if rest.ends_with(": Login successful.") {
            return Some(Event::LoginOk { anonymous });
        }
        if let Some((_, why)) = rest.split_once(" (Login failed): ") {
            return Some(Event::LoginFailed(login_failure_reason(why)));
        }
        if rest.contains(": no such user found from ") {
            return Some(Event::LoginFailed("no_such_user"));
        }
        return Some(Event::Known);
    }
    if body
        .to_ascii_lowercase()
        .starts_with("security violation: root login attempted")
    {
        return Some(Event::LoginFailed("root_login"));
    }
    if body.starts_with("Maximum login attempts") {
        return Some(Event::Refused("max_login_attempts"));
    }
    if let Some(rest) = body.strip_prefix("Connection refused (") {
        let r = match rest.split([' ', ')']).next().unwrap_or("") {
            "MaxClients" => "max_clients",
            "MaxClientsPerHost" => "max_clients_per_host",
            "MaxClientsPerUser" => "max_clients_per_user",
            "MaxConnectionsPerHost" => "max_connections_per_host",
            _ => "other",
        };
        return Some(Event::Refused(r));
    }
    if body.starts_with("MaxInstances") {
        return Some(Event::Refused("max_instances"));
    }
    // <Limit LOGIN> / Allow / Deny rules and tcp_wrappers (mod_wrap).
    if (body.starts_with("Connection from ") && body.ends_with(" denied."))
        || body.starts_with("refused connect from ")
    {
        return Some(Event::Refused("access_denied"));
    }
    let timeout =
        if body.starts_with("Login timeout exceeded") || body.starts_with("FTP login timed out") {
            Some("login")
        } else if body.starts_with("Client session idle timeout")
            || body.starts_with("FTP session idle timeout")
        {
            Some("idle")
        } else if body.contains("no transfer timeout") {
            Some("no_transfer")
        } else if body.starts_with("Data transfer stall timeout") {
            Some("stalled")
        } else if body.starts_with("FTP session timed out") {
            Some("session")
        } else {
            None
        };
    if let Some(t) = timeout {
        return Some(Event::Timeout(t));
    }
    if body.starts_with("ProFTPD ") && body.ends_with(" STARTUP") {
        return Some(Event::Startup);
    }
    if body.starts_with("ProFTPD ") && body.ends_with(" SHUTDOWN") {
        return Some(Event::Shutdown);
    }
    let known = [
        // 1.2 wrote this before the `USER x: no such user found` line that counts.
        "no such user '",
        // PAM's own line about a failure the USER line reports.
        "(pam_unix) ",
        // tcp_wrappers' note of an accepted connection; DNS checks; data-channel notes.
        "connect from ",
        "host name/",
        "can't verify hostname",
        "Refused PORT ",
        "unable to find open port in PassivePorts",
        "Reallocating sreaddir buffer",
        "listen() failed",
        "unable to open incoming connection",
        "ProFTPD terminating",
        "ProFTPD killed",
        "SocketBindTight in effect",
        "user ",
        "Preparing to chroot",
        "FTP no transfer",
        "Failed binding",
        "Passive mode",
    ];
    known
        .iter()
        .any(|k| body.starts_with(k))
        .then_some(Event::Known)
}

/// `proftpd_logins_total`, shared with the ExtendedLogs that count logins when no SystemLog
/// is read.
#[derive(Debug, Clone, Default)]
pub struct Logins(Family<L2, Counter>);

impl Logins {
    /// Registers `proftpd_logins_total`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "proftpd_logins",
            "Logins by protocol and result (success needs SyslogLevel info)",
            self.0.clone(),
        );
    }

    /// Counts one login of a session of `protocol` (`ftp` or `ssh2`).
    pub fn record(&self, protocol: &'static str, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.0
            .get_or_create(&[("protocol", protocol), ("result", result)])
            .inc();
    }
}

/// The SystemLog counters.
#[derive(Debug, Default)]
pub struct SystemLog {
    sessions_opened: Family<L1, Counter>,
    sessions_closed: Family<L1, Counter>,
    logins: Logins,
    failures: Family<L1, Counter>,
    refused: Family<L1, Counter>,
    timeouts: Family<L1, Counter>,
    anonymous: Counter,
    starts: Counter,
    /// Session pid → protocol, from `… session opened`, so a login is counted under the
    /// protocol of its session. Bounded: cleared when it would outgrow a busy server.
    sessions: Mutex<HashMap<u32, &'static str>>,
}

const MAX_TRACKED_SESSIONS: usize = 65_536;

impl SystemLog {
    /// The counters, with the series alerts expect present from the start.
    pub fn new() -> Self {
        let s = Self::default();
        for result in ["success", "failure"] {
            s.logins
                .0
                .get_or_create(&[("protocol", "ftp"), ("result", result)])
                .get();
        }
        for r in ["incorrect_password", "no_such_user"] {
            s.failures.get_or_create(&[("reason", r)]).get();
        }
        // Closed sets: every reason at 0, so `increase()` sees the first refusal or timeout.
        for r in REFUSAL_REASONS {
            s.refused.get_or_create(&[("reason", r)]).get();
        }
        for r in TIMEOUT_REASONS {
            s.timeouts.get_or_create(&[("reason", r)]).get();
        }
        s.sessions_opened
            .get_or_create(&[("protocol", "ftp")])
            .get();
        s.sessions_closed
            .get_or_create(&[("protocol", "ftp")])
            .get();
        s
    }

    /// Registers the families under `proftpd_`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "proftpd_sessions_opened",
            "Sessions opened, by protocol (ftp includes FTPS; ssh2 is SFTP and SCP)",
            self.sessions_opened.clone(),
        );
        r.register(
            "proftpd_sessions_closed",
            "Sessions closed, by protocol",
            self.sessions_closed.clone(),
        );
        self.logins.register(r);
        r.register(
            "proftpd_login_failures",
            "Failed logins by reason",
            self.failures.clone(),
        );
        r.register(
            "proftpd_connections_refused",
            "Connections refused by limit (MaxClients, MaxInstances, MaxLoginAttempts, ...)",
            self.refused.clone(),
        );
        r.register(
            "proftpd_timeouts",
            "Sessions or transfers ended by a timeout, by kind",
            self.timeouts.clone(),
        );
        r.register(
            "proftpd_anonymous_logins",
            "Successful anonymous (ANON) logins",
            self.anonymous.clone(),
        );
        r.register(
            "proftpd_daemon_starts",
            "Times the daemon logged its STARTUP",
            self.starts.clone(),
        );
    }

    /// The login counter, for ExtendedLogs to count into when no SystemLog is read (the
    /// series are registered here either way).
    pub fn logins(&self) -> Logins {
        self.logins.clone()
    }

    fn protocol_of(&self, pid: Option<u32>) -> &'static str {
        let map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        pid.and_then(|p| map.get(&p).copied()).unwrap_or("ftp")
    }

    fn count(&self, e: Event, pid: Option<u32>) {
        match e {
            Event::SessionOpened(p) => {
                self.sessions_opened.get_or_create(&[("protocol", p)]).inc();
                if let Some(pid) = pid {
                    let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                    if map.len() >= MAX_TRACKED_SESSIONS {
                        map.clear();
                    }
                    map.insert(pid, p);
                }
            }
            Event::SessionClosed(p) => {
                self.sessions_closed.get_or_create(&[("protocol", p)]).inc();
                if let Some(pid) = pid {
                    self.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&pid);
                }
            }
            Event::LoginOk { anonymous } => {
                self.logins.record(self.protocol_of(pid), true);
                if anonymous {
                    self.anonymous.inc();
                }
            }
            Event::LoginFailed(reason) => {
                self.logins.record(self.protocol_of(pid), false);
                self.failures.get_or_create(&[("reason", reason)]).inc();
            }
            Event::Refused(r) => {
                self.refused.get_or_create(&[("reason", r)]).inc();
            }
            Event::Timeout(t) => {
                self.timeouts.get_or_create(&[("reason", t)]).inc();
            }
            Event::Startup => {
                self.starts.inc();
            }
            Event::Shutdown | Event::Known => {}
        }
    }
}

impl LineHandler for SystemLog {
    fn handle_line(&self, line: &str) -> LineOutcome {
        // A continuation of a multi-line entry (mod_tls's error lists) or an empty line.
        if line.trim().is_empty() || line.starts_with([' ', '\t']) {
            return LineOutcome::Handled;
        }
        // One split of the prefix gives the message and the session's pid.
        let Some(l) = common::logline::parse(line) else {
            return LineOutcome::Handled;
        };
        let Some(msg) = message(&l) else {
            return LineOutcome::Handled;
        };
        let pid = l.pid.and_then(|p| p.parse().ok());
        match classify(msg) {
            Some(e) => {
                self.count(e, pid);
                LineOutcome::Recognised
            }
            None => LineOutcome::Unsupported("unknown_message".into()),
        }
    }
}

#[cfg(test)]
mod tests;
