//! Postfix mail-log messages: the part after `program[pid]: `.
//!
//! This is the hot path of the log collector (every mail line goes through it), so it
//! dispatches on the daemon name and then uses `strip_prefix`/`find`/`split_once` only:
//! no regex, no allocation. Everything borrows from the input line.
//!
//! Line shapes are the ones Postfix 3.x writes (`src/global/log_adhoc.c`, `src/smtpd/`,
//! `src/postscreen/`, `src/qmgr/`, `src/cleanup/`, `src/postsuper/`); examples captured
//! from a real Postfix 3.7 are in `tests/fixtures/maillog/postfix-3.7.log`.
//! Anything else is [`Event::Unsupported`]; nothing here panics on any input.
//!
//! One file per daemon family, as in the Postfix source tree, so a new line shape lands
//! next to its siblings. This file holds what every family shares: the program tag,
//! severity, [`Event`], the dispatch on the daemon name and the queue-ID/field helpers.
//! The `action` form (restrictions, checks, milters) and `tls` are shared by several
//! daemons and have their own files.

use common::text::{rsplit1, split_pat, split1};

mod action;
mod bounce;
mod cleanup;
mod delivery;
mod postscreen;
mod postsuper;
mod qmgr;
mod smtpd;
mod tls;

pub use action::{ActionKind, ActionLine};
pub use bounce::NotificationKind;
pub use delivery::{ConnectError, Delivery, DeliveryStatus};
pub use postscreen::{AccessListAction, PostscreenEvent, Violation};
pub use postsuper::PostsuperAction;
pub use smtpd::CommandStats;
pub use tls::{TlsConnection, TlsDirection, parse_tls};

/// A program tag split into its parts: `syslog_name[/service]/daemon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program<'a> {
    /// Everything before the first `/` (`postfix`, `postfix-out`, or a foreign program).
    pub instance: &'a str,
    /// Everything between the first and the last `/` (`submission`, `content-filter`).
    pub service: Option<&'a str>,
    /// The last segment (`smtpd`, `postfix-script`); empty when the tag has no `/`.
    pub daemon: &'a str,
}

/// Splits `postfix-out/submission/smtpd` into instance `postfix-out`, service
/// `submission` and daemon `smtpd`. A tag without `/` (rsyslog's RFC 5424 APP-NAME
/// drops everything from the slash on) has an empty daemon.
pub fn split_program(program: &str) -> Program<'_> {
    match (split1(program, b'/'), rsplit1(program, b'/')) {
        (Some((instance, after_first)), Some((_, daemon))) => {
            let service = rsplit1(after_first, b'/')
                .map(|(service, _)| service)
                .filter(|s| !s.is_empty());
            Program {
                instance,
                service,
                daemon,
            }
        }
        _ => Program {
            instance: program,
            service: None,
            daemon: "",
        },
    }
}

/// Severity prefix of a message (`warning: ` …); plain informational lines have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `warning: `
    Warning,
    /// `error: `
    Error,
    /// `fatal: `
    Fatal,
    /// `panic: `
    Panic,
}

impl Severity {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
            Severity::Panic => "panic",
        }
    }
}

/// A parsed message: optional severity plus what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    /// Severity prefix, if any.
    pub severity: Option<Severity>,
    /// The event.
    pub event: Event<'a>,
    /// Whether the text after the severity has a known shape. A `warning:` line of an
    /// unknown shape is still [`Event::Info`] (it is counted by severity), but kumina's
    /// unsupported counter counts it.
    pub shape_known: bool,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A delivery attempt.
    Delivery(Delivery<'a>),
    /// qmgr `QID: from=<…>, size=N, nrcpt=M (queue active)`.
    QmgrActive {
        /// Queue ID.
        queue_id: &'a str,
        /// Message size in bytes.
        size: u64,
        /// Number of recipients.
        nrcpt: u32,
    },
    /// qmgr `QID: removed`.
    QmgrRemoved {
        /// Queue ID.
        queue_id: &'a str,
    },
    /// qmgr `QID: from=<…>, status=expired|force-expired, returned to sender`.
    QmgrExpired {
        /// Queue ID.
        queue_id: &'a str,
        /// `force-expired` (postsuper -e) rather than `expired`.
        forced: bool,
    },
    /// smtpd `connect from CLIENT`.
    SmtpdConnect,
    /// smtpd `disconnect from CLIENT ehlo=1 … commands=N[/M]`.
    SmtpdDisconnect(CommandStats<'a>),
    /// smtpd `lost connection after STAGE [(N bytes)] from CLIENT`.
    SmtpdLostConnection {
        /// SMTP stage (`EHLO`, `DATA`, …).
        stage: &'a str,
    },
    /// smtpd `timeout after STAGE from CLIENT`.
    SmtpdTimeout {
        /// SMTP stage.
        stage: &'a str,
    },
    /// smtpd `too many errors after STAGE from CLIENT`.
    SmtpdTooManyErrors {
        /// SMTP stage.
        stage: &'a str,
    },
    /// smtpd `bare <LF> received after STAGE from CLIENT`.
    SmtpdBareLf {
        /// SMTP stage.
        stage: &'a str,
    },
    /// smtpd `NOQUEUE: client=NAME[ADDR]`: a transaction handed to a before-queue
    /// content filter (`smtpd_proxy_filter`).
    SmtpdProxyClient,
    /// smtp/lmtp `QID: SASL authentication failed; …`: the client's login to a relay failed.
    SmtpSaslAuthFailed,
    /// smtp/lmtp `connect to PEER: REASON`.
    SmtpConnectError(ConnectError),
    /// `table TYPE:NAME(…) has changed -- restarting`: a daemon exits to reload a map.
    TableChanged,
    /// smtpd `QID: client=NAME[ADDR][, sasl_method=M, …]`: a message was received.
    SmtpdClient {
        /// Queue ID.
        queue_id: &'a str,
        /// `sasl_method=`, when the client authenticated.
        sasl_method: Option<&'a str>,
    },
    /// smtpd `warning: NAME[ADDR]: SASL METHOD authentication failed: …`.
    SaslAuthFailed {
        /// SASL mechanism (`LOGIN`, `PLAIN`, …).
        method: &'a str,
    },
    /// smtpd `warning: hostname H does not resolve to address A`.
    ReverseDnsMismatch,
    /// TLS session established.
    Tls(TlsConnection<'a>),
    /// A restriction / header check / milter action.
    Action(ActionLine<'a>),
    /// cleanup `QID: message-id=<…>`.
    CleanupMessageId {
        /// Queue ID.
        queue_id: &'a str,
    },
    /// bounce `QID: sender non-delivery notification: NEWQID` and friends.
    BounceNotification(NotificationKind),
    /// postscreen.
    Postscreen(PostscreenEvent),
    /// postsuper per-message action.
    Postsuper(PostsuperAction),
    /// pickup `QID: uid=N from=<…>`.
    Pickup {
        /// Queue ID.
        queue_id: &'a str,
    },
    /// A known line that no metric counts beyond its severity (master, statistics, …).
    Info,
    /// Not a known shape.
    Unsupported,
}

/// The parser family of a daemon name: which file of this module reads its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonKind {
    /// smtp, lmtp: deliveries and their connection chatter.
    Client,
    /// local, virtual, pipe, error, retry, discard: deliveries only.
    Agent,
    /// qmgr, oqmgr.
    Qmgr,
    /// smtpd.
    Smtpd,
    /// cleanup.
    Cleanup,
    /// bounce, defer, trace.
    Bounce,
    /// postscreen.
    Postscreen,
    /// postsuper.
    Postsuper,
    /// pickup.
    Pickup,
    /// tlsproxy.
    Tlsproxy,
    /// Daemons whose lines no metric counts: every shape is recognised.
    Quiet,
    /// Not a Postfix daemon name.
    Unknown,
}

impl DaemonKind {
    /// The family of a daemon name (the last segment of the program tag).
    pub fn of(daemon: &str) -> Self {
        match daemon {
            "smtp" | "lmtp" => DaemonKind::Client,
            "local" | "virtual" | "pipe" | "error" | "retry" | "discard" => DaemonKind::Agent,
            "qmgr" | "oqmgr" => DaemonKind::Qmgr,
            "smtpd" => DaemonKind::Smtpd,
            "cleanup" => DaemonKind::Cleanup,
            "bounce" | "defer" | "trace" => DaemonKind::Bounce,
            "postscreen" => DaemonKind::Postscreen,
            "postsuper" => DaemonKind::Postsuper,
            "pickup" => DaemonKind::Pickup,
            "tlsproxy" => DaemonKind::Tlsproxy,
            "master" | "postfix" | "postfix-script" | "anvil" | "scache" | "tlsmgr" | "dnsblog"
            | "verify" | "proxymap" | "trivial-rewrite" | "flush" | "showq" | "postlogd"
            | "postdrop" | "sendmail" | "postqueue" | "postmap" | "postalias" | "postlog"
            | "postconf" | "postmulti" | "spawn" | "smtp-sink" | "qmqpd" | "oqmgr-info" => {
                DaemonKind::Quiet
            }
            _ => DaemonKind::Unknown,
        }
    }
}

/// Parses one message from `daemon` (the last segment of the program tag). With an empty
/// daemon (RFC 5424 APP-NAME `postfix` without the slash part) the daemon is inferred
/// from the message first, see [`infer_daemon`].
pub fn parse_message<'a>(daemon: &str, message: &'a str) -> Message<'a> {
    let daemon = if daemon.is_empty() {
        infer_daemon(message)
    } else {
        daemon
    };
    parse_message_of(DaemonKind::of(daemon), message)
}

/// [`parse_message`] for a daemon whose [`DaemonKind`] is known (the log collector keeps
/// it per program tag).
pub fn parse_message_of(kind: DaemonKind, message: &str) -> Message<'_> {
    let (severity, body) = split_severity(message);
    if let Some(event) = parse_any_daemon(body) {
        return Message {
            severity,
            event,
            shape_known: true,
        };
    }
    let event = match kind {
        DaemonKind::Client => delivery::parse_smtp(body),
        DaemonKind::Agent => delivery::parse_delivery_agent(body),
        DaemonKind::Qmgr => qmgr::parse_qmgr(body),
        DaemonKind::Smtpd => smtpd::parse_smtpd(body, severity),
        DaemonKind::Cleanup => cleanup::parse_cleanup(body),
        DaemonKind::Bounce => bounce::parse_bounce(body),
        DaemonKind::Postscreen => postscreen::parse_postscreen(body),
        DaemonKind::Postsuper => postsuper::parse_postsuper(body),
        DaemonKind::Pickup => parse_pickup(body),
        DaemonKind::Tlsproxy => match parse_tls(body) {
            Some(tls) => Event::Tls(tls),
            None => Event::Info,
        },
        DaemonKind::Quiet => Event::Info,
        DaemonKind::Unknown => Event::Unsupported,
    };
    // A severity line is a known shape even when its text is not: it is counted by severity.
    let shape_known = event != Event::Unsupported;
    let event = match (event, severity) {
        (Event::Unsupported, Some(_)) => Event::Info,
        (event, _) => event,
    };
    Message {
        severity,
        event,
        shape_known,
    }
}

/// Lines any daemon may write, whatever its name.
fn parse_any_daemon(body: &str) -> Option<Event<'_>> {
    // The first byte keeps this off the path of every other line.
    match body.as_bytes().first()? {
        b't' if body.starts_with("table ") && body.ends_with(" has changed -- restarting") => {
            Some(Event::TableChanged)
        }
        b'P' | b'u' | b'S' | b'T' if is_compatibility_notice(body) => Some(Event::Info),
        _ => None,
    }
}

/// The compatibility_level notices that `postfix` and the daemons write until the level
/// is raised (`Postfix is running with backwards-compatible default settings`, `using
/// backwards-compatible default setting relay_domains=…`, and the two lines of advice).
fn is_compatibility_notice(body: &str) -> bool {
    body.starts_with("Postfix is running with backwards-compatible default setting")
        || body.starts_with("Postfix is using backwards-compatible default setting")
        || body.starts_with("using backwards-compatible default setting ")
        || body.starts_with("See http://www.postfix.org/COMPATIBILITY_README.html")
        || body.starts_with("To disable backwards compatibility use ")
}

/// Splits the `warning: ` / `error: ` / `fatal: ` / `panic: ` prefix off.
pub fn split_severity(message: &str) -> (Option<Severity>, &str) {
    let bytes = message.as_bytes();
    let sev = match bytes.first() {
        Some(b'w') => ("warning: ", Severity::Warning),
        Some(b'e') => ("error: ", Severity::Error),
        Some(b'f') => ("fatal: ", Severity::Fatal),
        Some(b'p') => ("panic: ", Severity::Panic),
        _ => return (None, message),
    };
    match message.strip_prefix(sev.0) {
        Some(rest) => (Some(sev.1), rest),
        None => (None, message),
    }
}

/// Guesses the daemon from a message when the program tag lost it (RFC 5424 without
/// `permitSlashInProgramName`). Exact for most shapes; delivery lines are attributed by
/// their relay (`local`, `virtual`, `error` for `relay=none` without a connect error,
/// otherwise `smtp`), and `QID: removed` is attributed to qmgr (postsuper `-d` writes the
/// same text). Returns `""` when nothing fits.
pub fn infer_daemon(message: &str) -> &'static str {
    let (_, body) = split_severity(message);
    if is_compatibility_notice(body) {
        return "postfix";
    }
    if let Some((_, rest)) = split_queue_id(body) {
        if rest.starts_with("to=<") {
            return match field(rest, ", relay=") {
                Some("local") => "local",
                Some("virtual") => "virtual",
                Some("none") if !rest.contains("status=deferred (connect to ") => "error",
                _ => "smtp",
            };
        }
        if rest.starts_with("from=<") || rest == "removed" || rest.starts_with("skipped,") {
            return "qmgr";
        }
        if rest.starts_with("message-id=")
            || rest.starts_with("resent-message-id=")
            || rest.starts_with("milter-")
            || cleanup::cleanup_check(rest)
        {
            return "cleanup";
        }
        if rest.starts_with("client=") || action::starts_with_action(rest, true) {
            return "smtpd";
        }
        if rest.starts_with("uid=") {
            return "pickup";
        }
        if rest.starts_with("sender ") || rest.starts_with("postmaster ") {
            return "bounce";
        }
        if postsuper::postsuper_action(rest).is_some() {
            return "postsuper";
        }
        return "";
    }
    if let Some(rest) = body.strip_prefix("NOQUEUE: ") {
        return if rest.contains(" from [") {
            "postscreen"
        } else {
            "smtpd"
        };
    }
    let first = body.split(' ').next().unwrap_or("");
    match first {
        "connect" if body.starts_with("connect from ") => "smtpd",
        "connect" if body.starts_with("connect to ") => "smtp",
        "disconnect" | "lost" | "timeout" | "too" | "improper" => "smtpd",
        "CONNECT" | "cache" | "PASS" | "DNSBL" | "PREGREET" | "HANGUP" | "DENYLISTED"
        | "BLACKLISTED" | "ALLOWLISTED" | "WHITELISTED" | "COMMAND" | "BARE" | "NON-SMTP"
        | "DISCONNECT" => "postscreen",
        "Anonymous" | "Untrusted" | "Trusted" | "Verified" => {
            if body.contains(" TLS connection established to ") {
                "smtp"
            } else {
                "smtpd"
            }
        }
        "daemon" | "reload" | "terminating" => "master",
        "starting" | "stopping" | "refreshing" => "postfix-script",
        "statistics:" => "anvil",
        "Placed" | "Released" | "Deleted:" | "Requeued:" | "Force-expired:" => "postsuper",
        _ => "",
    }
}

/// `QUEUEID: rest` with a plausible queue ID.
fn split_queue_id(s: &str) -> Option<(&str, &str)> {
    // A queue ID is at most 32 bytes: look for its `: ` no further.
    let head = s.get(..s.len().min(34)).unwrap_or(s);
    let (qid, _) = split_pat(head, b": ")?;
    if !is_queue_id(qid) {
        return None;
    }
    Some((qid, s.get(qid.len() + 2..)?))
}

/// Like [`split_queue_id`], and also accepts a message whose queue ID is missing when
/// it starts with `field`: some log shippers and parser test suites trim the ID, and the
/// rest of the line still says what happened. The queue ID is then empty.
fn split_queue_id_or_field<'a>(s: &'a str, field: &str) -> Option<(&'a str, &'a str)> {
    split_queue_id(s).or_else(|| s.starts_with(field).then_some(("", s)))
}

/// Whether `s` can be a queue ID. Postfix writes the short form (upper-case hex) or the
/// long form (`enable_long_queue_ids`: base 52 without vowels, `z`, base 51), see
/// `src/global/mail_queue.h`; other MTAs' logs, old patches and test fixtures hold other
/// alphanumeric IDs, and a delivery line with an odd ID is still a delivery. So any run of
/// 5 to 32 ASCII letters and digits with at least one digit passes too: the digit keeps
/// the words that precede `: ` in Postfix's other messages (`NOQUEUE`, `Deleted`,
/// `statistics`, `warning`) from passing for an ID.
pub fn is_queue_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 4 || b.len() > 32 {
        return false;
    }
    // One pass: this runs several times per line.
    let (mut hex, mut z, mut vowel, mut digit) = (true, false, false, false);
    for &c in b {
        match c {
            b'0'..=b'9' => digit = true,
            b'A'..=b'F' => vowel |= c == b'A' || c == b'E',
            b'a'..=b'z' | b'G'..=b'Z' => {
                hex = false;
                z |= c == b'z';
                vowel |= matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'I' | b'O' | b'U');
            }
            _ => return false,
        }
    }
    let long = z && !vowel;
    let lenient = b.len() >= 5 && digit;
    hex || long || lenient
}

/// The value after `key` up to the next `, ` (or the end).
fn field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let start = s.find(key)? + key.len();
    let rest = s.get(start..)?;
    Some(split_pat(rest, b", ").map_or(rest, |(v, _)| v))
}

/// `X.Y.Z` with one digit, then up to three, then up to three (RFC 3463). The class is
/// not checked: templated fixtures and broken servers write `1.2.3`, and the delivery's
/// status still says what happened (see [`Delivery::dsn_class`]).
fn is_dsn(s: &str) -> bool {
    // Byte splitting: this runs on every delivery line.
    let mut parts = s.as_bytes().split(|&c| c == b'.');
    let digits = |p: Option<&[u8]>, max: usize| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= max && p.iter().all(u8::is_ascii_digit))
    };
    digits(parts.next(), 1)
        && digits(parts.next(), 3)
        && digits(parts.next(), 3)
        && parts.next().is_none()
}

fn parse_pickup(body: &str) -> Event<'_> {
    match split_queue_id_or_field(body, "uid=") {
        Some((queue_id, rest)) if rest.starts_with("uid=") => Event::Pickup { queue_id },
        _ => Event::Unsupported,
    }
}

/// Test helper: the event of one message, with the input leaked so the event can
/// outlive the call.
#[cfg(test)]
fn ev(daemon: &str, msg: &str) -> Event<'static> {
    let msg: &'static str = Box::leak(msg.to_string().into_boxed_str());
    parse_message(daemon, msg).event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_split() {
        assert_eq!(
            split_program("postfix-out/submission/smtpd"),
            Program {
                instance: "postfix-out",
                service: Some("submission"),
                daemon: "smtpd"
            }
        );
        assert_eq!(
            split_program("postfix-mx/content/filter/smtp"),
            Program {
                instance: "postfix-mx",
                service: Some("content/filter"),
                daemon: "smtp"
            }
        );
        assert_eq!(
            split_program("postfix/postfix-script"),
            Program {
                instance: "postfix",
                service: None,
                daemon: "postfix-script"
            }
        );
        assert_eq!(
            split_program("dovecot"),
            Program {
                instance: "dovecot",
                service: None,
                daemon: ""
            }
        );
        assert_eq!(
            split_program("a//b"),
            Program {
                instance: "a",
                service: None,
                daemon: "b"
            }
        );
        assert_eq!(
            split_program(""),
            Program {
                instance: "",
                service: None,
                daemon: ""
            }
        );
    }

    #[test]
    fn other_daemons() {
        assert_eq!(
            ev("pickup", "43E78CE0A6: uid=0 from=<alice@mx.test.local>"),
            Event::Pickup {
                queue_id: "43E78CE0A6"
            }
        );
        assert_eq!(
            ev(
                "master",
                "daemon started -- version 3.7.11, configuration /etc/postfix"
            ),
            Event::Info
        );
        assert_eq!(
            ev("postfix-script", "starting the Postfix mail system"),
            Event::Info
        );
        assert_eq!(ev("frobd", "hello"), Event::Unsupported);
        let m = parse_message("frobd", "fatal: no way");
        assert_eq!((m.severity, m.event), (Some(Severity::Fatal), Event::Info));
        let m = parse_message(
            "smtpd",
            "panic: myfree: corrupt or unallocated memory block",
        );
        assert_eq!((m.severity, m.event), (Some(Severity::Panic), Event::Info));
    }

    #[test]
    fn dsn_shapes() {
        for ok in ["2.0.0", "4.4.1", "5.7.1", "1.2.3", "5.100.999"] {
            assert!(is_dsn(ok), "{ok}");
        }
        for bad in [
            "", "2", "2.0", "2.0.0.0", "22.0.0", "2..0", "2.0.1000", "a.b.c", "2.0.0 ", "2.0.",
        ] {
            assert!(!is_dsn(bad), "{bad}");
        }
    }

    #[test]
    fn any_daemon_lines_and_queue_ids() {
        for d in ["smtpd", "trivial-rewrite", "cleanup", ""] {
            assert_eq!(
                ev(
                    d,
                    "table hash:/etc/postfix/virtual_mailbox_maps(0,lock|fold_fix) has changed -- restarting"
                ),
                Event::TableChanged,
                "{d}"
            );
        }
        for msg in [
            "Postfix is running with backwards-compatible default settings",
            "See http://www.postfix.org/COMPATIBILITY_README.html for details",
            "To disable backwards compatibility use \"postconf compatibility_level=3.6\" and \"postfix reload\"",
        ] {
            assert_eq!(infer_daemon(msg), "postfix", "{msg}");
            assert_eq!(ev("", msg), Event::Info, "{msg}");
        }
        assert_eq!(
            ev(
                "smtpd",
                "using backwards-compatible default setting smtputf8_enable=no"
            ),
            Event::Info
        );
        // Short, long and odd (but alphanumeric, with a digit) queue IDs.
        for id in [
            "4A1B2C3D4E",
            "ABCD",
            "3mPVKl0Mhjz7sXv",
            "4jXlKH61vRzKHG4",
            "FGHIJ67890",
            "ZZZZZ44444",
        ] {
            assert!(is_queue_id(id), "{id}");
        }
        // Words that end in `: ` in other messages are not IDs.
        for word in [
            "NOQUEUE",
            "Deleted",
            "Requeued",
            "statistics",
            "warning",
            "a1b2",
            "4A1B-2C3D",
            "",
        ] {
            assert!(!is_queue_id(word), "{word}");
        }
        assert_eq!(
            ev("qmgr", "FGHIJ67890: removed"),
            Event::QmgrRemoved {
                queue_id: "FGHIJ67890"
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "1234567890A: from=ops@example.org, size=1234, nrcpt=1 (queue active)"
            ),
            Event::QmgrActive {
                queue_id: "1234567890A",
                size: 1234,
                nrcpt: 1
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "from=<ops@example.org>, size=11445, nrcpt=1 (queue active)"
            ),
            Event::QmgrActive {
                queue_id: "",
                size: 11445,
                nrcpt: 1
            }
        );
        assert_eq!(
            ev("pickup", "uid=1206 from=<ops>"),
            Event::Pickup { queue_id: "" }
        );
        assert_eq!(
            ev("cleanup", "message-id=<20261201.x@example.org>"),
            Event::CleanupMessageId { queue_id: "" }
        );
        assert_eq!(
            ev(
                "bounce",
                "sender non-delivery notification: 3mKxYH0vl4z7sWS"
            ),
            Event::BounceNotification(NotificationKind::NonDelivery)
        );
    }

    #[test]
    fn inferred_daemons() {
        let cases = [
            (
                "ABC12: to=<a@b>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (x)",
                "local",
            ),
            (
                "ABC12: to=<a@b>, relay=none, delay=0, delays=0/0/0/0, dsn=4.3.2, status=deferred (deferred transport)",
                "error",
            ),
            (
                "ABC12: to=<a@b>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to x[1.2.3.4]:25: Connection refused)",
                "smtp",
            ),
            (
                "ABC12: to=<a@b>, relay=x[1.2.3.4]:25, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (x)",
                "smtp",
            ),
            ("ABC12: from=<a@b>, size=1, nrcpt=1 (queue active)", "qmgr"),
            ("ABC12: removed", "qmgr"),
            ("ABC12: client=x[1.2.3.4]", "smtpd"),
            ("ABC12: message-id=<x>", "cleanup"),
            (
                "ABC12: reject: header Subject: x from y[1.2.3.4]; from=<a> to=<b>: 5.7.1 no",
                "cleanup",
            ),
            ("ABC12: uid=0 from=<a>", "pickup"),
            ("ABC12: sender non-delivery notification: DEF", "bounce"),
            ("ABC12: placed on hold", "postsuper"),
            ("connect from x[1.2.3.4]", "smtpd"),
            (
                "NOQUEUE: reject: RCPT from x[1.2.3.4]: 550 no; from=<a>",
                "smtpd",
            ),
            (
                "NOQUEUE: reject: RCPT from [1.2.3.4]:5: 550 no; from=<a>",
                "postscreen",
            ),
            ("PASS NEW [1.2.3.4]:5", "postscreen"),
            (
                "Untrusted TLS connection established to x[1.2.3.4]:25: TLSv1.3 with cipher X (1/1 bits)",
                "smtp",
            ),
            (
                "warning: hostname x does not resolve to address 1.2.3.4",
                "",
            ),
            ("something else", ""),
        ];
        for (msg, want) in cases {
            assert_eq!(infer_daemon(msg), want, "{msg}");
        }
    }

    #[test]
    fn never_panics_on_prefixes() {
        let samples = [
            "49DB7CE0A7: to=<bob@sink.test>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.03, delays=0/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
            "NOQUEUE: reject: RCPT from client.example.net[192.0.2.10]: 454 4.7.1 <victim@example.org>: Relay access denied; from=<s> to=<v> proto=ESMTP helo=<vm>",
            "4jXlM143Kmz6LS4: reject: header Subject: REJECTME now from localhost[127.0.0.1]; from=<a> to=<b> proto=ESMTP helo=<vm>: 5.7.1 spam",
            "disconnect from x[192.0.2.10] ehlo=2 xclient=0/1 commands=4/6",
            "43E78CE0A6: from=<alice@mx.test.local>, size=275, nrcpt=1 (queue active)",
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher X (256/256 bits)",
            "PREGREET 11 after 0.1 from [192.0.2.1]:5678: EHLO x",
            "warning: x[1.2.3.4]: SASL LOGIN authentication failed: y",
        ];
        for s in samples {
            for (i, _) in s.char_indices() {
                for d in [
                    "smtp",
                    "smtpd",
                    "cleanup",
                    "qmgr",
                    "postscreen",
                    "",
                    "local",
                    "bounce",
                    "postsuper",
                ] {
                    let _ = parse_message(d, &s[..i]);
                    let _ = parse_message(d, &s[i..]);
                }
            }
        }
    }
}
