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
    match (program.split_once('/'), program.rsplit_once('/')) {
        (Some((instance, after_first)), Some((_, daemon))) => {
            let service = after_first
                .rsplit_once('/')
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
}

/// `status=` of a delivery line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// `sent`
    Sent,
    /// `deferred` (repeats on every retry).
    Deferred,
    /// `bounced`
    Bounced,
    /// `SOFTBOUNCE` (`soft_bounce = yes`: would have bounced, stays queued).
    SoftBounce,
    /// `deliverable` (address verification probe).
    Deliverable,
    /// `undeliverable` and `undeliverable-but-not-cached` (address verification probe).
    Undeliverable,
}

impl DeliveryStatus {
    /// Label value (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Deferred => "deferred",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::SoftBounce => "softbounce",
            DeliveryStatus::Deliverable => "deliverable",
            DeliveryStatus::Undeliverable => "undeliverable",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sent" => DeliveryStatus::Sent,
            "deferred" => DeliveryStatus::Deferred,
            "bounced" => DeliveryStatus::Bounced,
            "SOFTBOUNCE" => DeliveryStatus::SoftBounce,
            "deliverable" => DeliveryStatus::Deliverable,
            "undeliverable" | "undeliverable-but-not-cached" => DeliveryStatus::Undeliverable,
            _ => return None,
        })
    }
}

/// A delivery attempt by smtp/lmtp/local/virtual/pipe/error/discard.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    /// Queue ID.
    pub queue_id: &'a str,
    /// `to=<…>` (without brackets).
    pub to: &'a str,
    /// `orig_to=<…>`, when present.
    pub orig_to: Option<&'a str>,
    /// `relay=` value (`host[ip]:port`, `none`, `local`, a transport name).
    pub relay: &'a str,
    /// `conn_use=`, when a cached connection was reused.
    pub conn_use: Option<u32>,
    /// `delay=` seconds.
    pub delay: Option<f64>,
    /// `delays=a/b/c/d`: before qmgr, in qmgr, connection setup, transmission.
    pub delays: Option<[f64; 4]>,
    /// `dsn=X.Y.Z`.
    pub dsn: &'a str,
    /// `status=`.
    pub status: DeliveryStatus,
    /// The text in parentheses after the status (may be empty).
    pub text: &'a str,
}

impl Delivery<'_> {
    /// DSN class label: `"2"`, `"4"` or `"5"`.
    pub fn dsn_class(&self) -> &'static str {
        match self.dsn.as_bytes().first() {
            Some(b'2') => "2",
            Some(b'4') => "4",
            _ => "5",
        }
    }
}

/// What a restriction, header/body check or milter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// `reject`
    Reject,
    /// `reject_warning` (`warn_if_reject`)
    RejectWarning,
    /// `hold`
    Hold,
    /// `discard`
    Discard,
    /// `filter`
    Filter,
    /// `redirect`
    Redirect,
    /// `milter-reject`
    MilterReject,
    /// `milter-discard`
    MilterDiscard,
    /// `milter-hold`
    MilterHold,
    /// cleanup header/body check `warning`
    Warning,
    /// cleanup header/body check `info`
    Info,
    /// cleanup header/body check `replace`
    Replace,
    /// cleanup header/body check `prepend`
    Prepend,
    /// cleanup header/body check `strip`
    Strip,
}

impl ActionKind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Reject => "reject",
            ActionKind::RejectWarning => "reject_warning",
            ActionKind::Hold => "hold",
            ActionKind::Discard => "discard",
            ActionKind::Filter => "filter",
            ActionKind::Redirect => "redirect",
            ActionKind::MilterReject => "milter_reject",
            ActionKind::MilterDiscard => "milter_discard",
            ActionKind::MilterHold => "milter_hold",
            ActionKind::Warning => "warning",
            ActionKind::Info => "info",
            ActionKind::Replace => "replace",
            ActionKind::Prepend => "prepend",
            ActionKind::Strip => "strip",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reject" => ActionKind::Reject,
            "reject_warning" => ActionKind::RejectWarning,
            "hold" => ActionKind::Hold,
            "discard" => ActionKind::Discard,
            "filter" => ActionKind::Filter,
            "redirect" => ActionKind::Redirect,
            "milter-reject" => ActionKind::MilterReject,
            "milter-discard" => ActionKind::MilterDiscard,
            "milter-hold" => ActionKind::MilterHold,
            "warning" => ActionKind::Warning,
            "info" => ActionKind::Info,
            "replace" => ActionKind::Replace,
            "prepend" => ActionKind::Prepend,
            "strip" => ActionKind::Strip,
            _ => return None,
        })
    }

    /// Whether this is one of the milter actions.
    pub fn is_milter(self) -> bool {
        matches!(
            self,
            ActionKind::MilterReject | ActionKind::MilterDiscard | ActionKind::MilterHold
        )
    }
}

/// `QUEUEID|NOQUEUE: ACTION: WHERE from CLIENT: [CODE] [X.Y.Z] TEXT; from=<…> …` (smtpd,
/// postscreen) or `QUEUEID: ACTION: header|body TEXT from CLIENT; from=<…> …: [X.Y.Z] TEXT`
/// (cleanup).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLine<'a> {
    /// Queue ID; `None` for `NOQUEUE`.
    pub queue_id: Option<&'a str>,
    /// The action.
    pub action: ActionKind,
    /// Where: `CONNECT`, `RCPT`, `END-OF-MESSAGE`, … (smtpd) or `header`/`body` (cleanup).
    pub stage: &'a str,
    /// SMTP reply code (`550`), when the line has one.
    pub code: Option<u16>,
    /// Enhanced status code (`5.1.1`), when the line has one.
    pub enhanced_code: Option<&'a str>,
    /// Reply text without codes and without the `; from=<…> to=<…>` tail.
    pub text: &'a str,
}

/// TLS session direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsDirection {
    /// `… established from CLIENT` (smtpd, tlsproxy).
    Inbound,
    /// `… established to SERVER` (smtp, lmtp).
    Outbound,
}

/// `Anonymous TLS connection established from x[ip]: TLSv1.3 with cipher C (256/256 bits)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConnection<'a> {
    /// Direction.
    pub direction: TlsDirection,
    /// `Anonymous`, `Untrusted`, `Trusted` or `Verified`.
    pub trust: &'static str,
    /// `TLSv1.3` …
    pub protocol: &'a str,
    /// Cipher name.
    pub cipher: &'a str,
}

/// bounce(8) notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// `sender non-delivery notification`
    NonDelivery,
    /// `sender delay notification`
    Delay,
    /// `sender delivery status notification` (success DSN)
    Success,
    /// `postmaster non-delivery notification`
    PostmasterNonDelivery,
    /// `postmaster delay notification`
    PostmasterDelay,
    /// `postmaster delivery status notification`
    PostmasterSuccess,
}

impl NotificationKind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::NonDelivery => "non_delivery",
            NotificationKind::Delay => "delay",
            NotificationKind::Success => "success",
            NotificationKind::PostmasterNonDelivery => "postmaster_non_delivery",
            NotificationKind::PostmasterDelay => "postmaster_delay",
            NotificationKind::PostmasterSuccess => "postmaster_success",
        }
    }
}

/// postsuper(1) per-message actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostsuperAction {
    /// `placed on hold` (`-h`)
    Hold,
    /// `released from hold` (`-H`)
    Release,
    /// `removed` (`-d`)
    Delete,
    /// `expired` (`-e`/`-f`)
    Expire,
    /// `requeued` (`-r`)
    Requeue,
}

impl PostsuperAction {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PostsuperAction::Hold => "hold",
            PostsuperAction::Release => "release",
            PostsuperAction::Delete => "delete",
            PostsuperAction::Expire => "expire",
            PostsuperAction::Requeue => "requeue",
        }
    }
}

/// postscreen access-list outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessListAction {
    /// `DENYLISTED` / `BLACKLISTED` (before 3.6)
    Denylisted,
    /// `ALLOWLISTED` / `WHITELISTED` (before 3.6)
    Allowlisted,
}

impl AccessListAction {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessListAction::Denylisted => "denylisted",
            AccessListAction::Allowlisted => "allowlisted",
        }
    }
}

/// postscreen protocol-test violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Violation {
    /// `COMMAND PIPELINING`
    Pipelining,
    /// `COMMAND TIME LIMIT`
    TimeLimit,
    /// `COMMAND COUNT LIMIT`
    CountLimit,
    /// `COMMAND LENGTH LIMIT`
    LengthLimit,
    /// `BARE NEWLINE`
    BareNewline,
    /// `NON-SMTP COMMAND`
    NonSmtpCommand,
}

impl Violation {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Pipelining => "pipelining",
            Violation::TimeLimit => "time_limit",
            Violation::CountLimit => "count_limit",
            Violation::LengthLimit => "length_limit",
            Violation::BareNewline => "bare_newline",
            Violation::NonSmtpCommand => "non_smtp_command",
        }
    }
}

/// postscreen events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostscreenEvent {
    /// `CONNECT from [ip]:port to [ip]:port`
    Connect,
    /// `PASS NEW [ip]:port`
    PassNew,
    /// `PASS OLD [ip]:port`
    PassOld,
    /// `DNSBL rank N for [ip]:port`
    DnsblRank(u32),
    /// `PREGREET N after S from [ip]:port: …`
    Pregreet,
    /// `HANGUP after S from [ip]:port in …`
    Hangup,
    /// `DENYLISTED|ALLOWLISTED [ip]:port`
    AccessList(AccessListAction),
    /// A protocol-test violation.
    Violation(Violation),
}

/// The `name=success[/total]` list of an smtpd `disconnect from` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandStats<'a>(&'a str);

impl<'a> CommandStats<'a> {
    /// Iterates `(command, success, total)`; `commands=` (the sum) is included as written.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u32, u32)> + 'a {
        self.0.split(' ').filter_map(parse_command_stat)
    }
}

fn parse_command_stat(token: &str) -> Option<(&str, u32, u32)> {
    let (name, counts) = token.split_once('=')?;
    match counts.split_once('/') {
        Some((ok, total)) => Some((name, ok.parse().ok()?, total.parse().ok()?)),
        None => {
            let n = counts.parse().ok()?;
            Some((name, n, n))
        }
    }
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

/// Parses one message from `daemon` (the last segment of the program tag). With an empty
/// daemon (RFC 5424 APP-NAME `postfix` without the slash part) the daemon is inferred
/// from the message first, see [`infer_daemon`].
pub fn parse_message<'a>(daemon: &str, message: &'a str) -> Message<'a> {
    let (severity, body) = split_severity(message);
    let daemon = if daemon.is_empty() {
        infer_daemon(message)
    } else {
        daemon
    };
    let event = match daemon {
        "smtp" | "lmtp" => parse_smtp(body, severity),
        "local" | "virtual" | "pipe" | "error" | "retry" | "discard" => parse_delivery_agent(body),
        "qmgr" | "oqmgr" => parse_qmgr(body),
        "smtpd" => parse_smtpd(body, severity),
        "cleanup" => parse_cleanup(body),
        "bounce" | "defer" | "trace" => parse_bounce(body),
        "postscreen" => parse_postscreen(body),
        "postsuper" => parse_postsuper(body),
        "pickup" => parse_pickup(body),
        "tlsproxy" => match parse_tls(body) {
            Some(tls) => Event::Tls(tls),
            None => Event::Info,
        },
        // Daemons whose lines no metric counts: every shape is recognised.
        "master" | "postfix-script" | "anvil" | "scache" | "tlsmgr" | "dnsblog" | "verify"
        | "proxymap" | "trivial-rewrite" | "flush" | "showq" | "postlogd" | "postdrop"
        | "sendmail" | "postqueue" | "postmap" | "postalias" | "postlog" | "postconf"
        | "postmulti" | "spawn" | "smtp-sink" | "qmqpd" | "oqmgr-info" => Event::Info,
        _ => Event::Unsupported,
    };
    // A severity line is a known shape even when its text is not: it is counted by severity.
    let event = match (event, severity) {
        (Event::Unsupported, Some(_)) => Event::Info,
        (event, _) => event,
    };
    Message { severity, event }
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
            || cleanup_check(rest)
        {
            return "cleanup";
        }
        if rest.starts_with("client=") || starts_with_action(rest, true) {
            return "smtpd";
        }
        if rest.starts_with("uid=") {
            return "pickup";
        }
        if rest.starts_with("sender ") || rest.starts_with("postmaster ") {
            return "bounce";
        }
        if postsuper_action(rest).is_some() {
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

/// `QUEUEID: rest` with a syntactically valid queue ID.
fn split_queue_id(s: &str) -> Option<(&str, &str)> {
    let (qid, rest) = s.split_once(": ")?;
    is_queue_id(qid).then_some((qid, rest))
}

/// Short form (upper-case hex) or long form (vowel-free base 52, `z`, base 51) queue ID
/// (`src/global/mail_queue.h`). Being strict keeps `Deleted: 3 messages` or `NOQUEUE`
/// from passing for one.
pub fn is_queue_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 4 || b.len() > 32 {
        return false;
    }
    let short = b.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'));
    short
        || (b.contains(&b'z')
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() && !b"AEIOUaeiou".contains(c)))
}

/// The value after `key` up to the next `, ` (or the end).
fn field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let start = s.find(key)? + key.len();
    let rest = s.get(start..)?;
    Some(rest.split_once(", ").map_or(rest, |(v, _)| v))
}

fn parse_delay(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

fn parse_delays(s: &str) -> Option<[f64; 4]> {
    let mut it = s.split('/');
    let out = [
        parse_delay(it.next()?)?,
        parse_delay(it.next()?)?,
        parse_delay(it.next()?)?,
        parse_delay(it.next()?)?,
    ];
    it.next().is_none().then_some(out)
}

fn is_dsn(s: &str) -> bool {
    let mut parts = s.split('.');
    let class_ok = matches!(parts.next(), Some("2" | "4" | "5"));
    let sub = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    class_ok && sub(parts.next()) && sub(parts.next()) && parts.next().is_none()
}

/// `QID: to=<…>, [orig_to=<…>, ]relay=…, [conn_use=N, ]delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=S (TEXT)`.
fn delivery<'a>(queue_id: &'a str, rest: &'a str) -> Option<Delivery<'a>> {
    let after_to = rest.strip_prefix("to=<")?;
    let (to, mut tail) = after_to.split_once(">, ")?;
    let mut d = Delivery {
        queue_id,
        to,
        orig_to: None,
        relay: "",
        conn_use: None,
        delay: None,
        delays: None,
        dsn: "",
        status: DeliveryStatus::Sent,
        text: "",
    };
    if let Some(after) = tail.strip_prefix("orig_to=<") {
        let (orig, t) = after.split_once(">, ")?;
        d.orig_to = Some(orig);
        tail = t;
    }
    let mut have_relay = false;
    loop {
        let (key, value_and_rest) = tail.split_once('=')?;
        if key == "status" {
            let (status, text) = match value_and_rest.split_once(' ') {
                Some((s, t)) => (s, t),
                None => (value_and_rest, ""),
            };
            d.status = DeliveryStatus::parse(status)?;
            d.text = text
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(text);
            break;
        }
        let (value, next) = match value_and_rest.split_once(", ") {
            Some((v, n)) => (v, Some(n)),
            None => (value_and_rest, None),
        };
        match key {
            "relay" => {
                d.relay = value;
                have_relay = true;
            }
            "conn_use" => d.conn_use = Some(value.parse().ok()?),
            "delay" => d.delay = Some(parse_delay(value)?),
            "delays" => d.delays = Some(parse_delays(value)?),
            "dsn" => {
                if !is_dsn(value) {
                    return None;
                }
                d.dsn = value;
            }
            // Future fields are skipped, not fatal.
            _ => {}
        }
        tail = next?;
    }
    (have_relay && !d.dsn.is_empty()).then_some(d)
}

fn parse_smtp<'a>(body: &'a str, severity: Option<Severity>) -> Event<'a> {
    if let Some((qid, rest)) = split_queue_id(body) {
        if rest.starts_with("to=<") {
            return delivery(qid, rest).map_or(Event::Unsupported, Event::Delivery);
        }
        const INFO: [&str; 8] = [
            "host ",
            "lost connection with ",
            "conversation with ",
            "enabling PIX workarounds",
            "Cannot start TLS",
            "breaking line",
            "TLS is required",
            "sender delivery status notification",
        ];
        if INFO.iter().any(|p| rest.starts_with(p)) {
            return Event::Info;
        }
        return Event::Unsupported;
    }
    if let Some(tls) = parse_tls(body) {
        return Event::Tls(tls);
    }
    const INFO: [&str; 6] = [
        "connect to ",
        "SSL_connect error to ",
        "Host offered STARTTLS",
        "server certificate verification failed",
        "certificate verification failed",
        "setting up TLS connection to ",
    ];
    if severity.is_some() || INFO.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

fn parse_delivery_agent(body: &str) -> Event<'_> {
    match split_queue_id(body) {
        Some((qid, rest)) if rest.starts_with("to=<") => {
            delivery(qid, rest).map_or(Event::Unsupported, Event::Delivery)
        }
        _ => Event::Unsupported,
    }
}

fn parse_qmgr(body: &str) -> Event<'_> {
    let Some((queue_id, rest)) = split_queue_id(body) else {
        return Event::Unsupported;
    };
    if rest == "removed" {
        return Event::QmgrRemoved { queue_id };
    }
    if rest.starts_with("skipped, still being delivered") {
        return Event::Info;
    }
    let Some(after) = rest.strip_prefix("from=<") else {
        return Event::Unsupported;
    };
    let Some((_, tail)) = after.rsplit_once(">, ") else {
        return Event::Unsupported;
    };
    if let Some(status) = tail.strip_prefix("status=") {
        return match status {
            "expired, returned to sender" => Event::QmgrExpired {
                queue_id,
                forced: false,
            },
            "force-expired, returned to sender" => Event::QmgrExpired {
                queue_id,
                forced: true,
            },
            _ => Event::Unsupported,
        };
    }
    let parsed = (|| {
        let size_rest = tail.strip_prefix("size=")?;
        let (size, rest) = size_rest.split_once(", nrcpt=")?;
        let (nrcpt, _) = rest.split_once(' ').unwrap_or((rest, ""));
        Some(Event::QmgrActive {
            queue_id,
            size: size.parse().ok()?,
            nrcpt: nrcpt.parse().ok()?,
        })
    })();
    parsed.unwrap_or(Event::Unsupported)
}

/// `WORD after STAGE[ (N bytes)] from CLIENT` → STAGE.
fn stage_after(rest: &str) -> Option<&str> {
    let (stage, _) = rest.split_once(" from ")?;
    let stage = stage.split_once(" (").map_or(stage, |(s, _)| s);
    (!stage.is_empty() && !stage.contains(' ')).then_some(stage)
}

fn parse_smtpd<'a>(body: &'a str, severity: Option<Severity>) -> Event<'a> {
    if let Some(sev) = severity {
        if sev == Severity::Warning {
            if let Some(method) = sasl_failure(body) {
                return Event::SaslAuthFailed { method };
            }
            if body.starts_with("hostname ") && body.contains(" does not resolve to address ") {
                return Event::ReverseDnsMismatch;
            }
        }
        return Event::Info;
    }
    match body.as_bytes().first() {
        Some(b'c') if body.starts_with("connect from ") => return Event::SmtpdConnect,
        Some(b'd') => {
            if let Some(rest) = body.strip_prefix("disconnect from ") {
                let stats = rest.split_once(' ').map_or("", |(_, s)| s);
                if stats.split(' ').all(|t| parse_command_stat(t).is_some()) {
                    return Event::SmtpdDisconnect(CommandStats(stats));
                }
                return Event::Unsupported;
            }
        }
        Some(b'l') => {
            if let Some(stage) = body
                .strip_prefix("lost connection after ")
                .and_then(stage_after)
            {
                return Event::SmtpdLostConnection { stage };
            }
        }
        Some(b't') => {
            if let Some(stage) = body.strip_prefix("timeout after ").and_then(stage_after) {
                return Event::SmtpdTimeout { stage };
            }
            if let Some(stage) = body
                .strip_prefix("too many errors after ")
                .and_then(stage_after)
            {
                return Event::SmtpdTooManyErrors { stage };
            }
        }
        Some(b'N') => {
            if let Some(rest) = body.strip_prefix("NOQUEUE: ") {
                return parse_action(None, rest).map_or(Event::Unsupported, Event::Action);
            }
        }
        _ => {}
    }
    if let Some((queue_id, rest)) = split_queue_id(body) {
        if let Some(client) = rest.strip_prefix("client=") {
            let sasl_method = client
                .split_once(", sasl_method=")
                .map(|(_, m)| m.split_once(", ").map_or(m, |(m, _)| m));
            return Event::SmtpdClient {
                queue_id,
                sasl_method,
            };
        }
        return parse_action(Some(queue_id), rest).map_or(Event::Unsupported, Event::Action);
    }
    if let Some(tls) = parse_tls(body) {
        return Event::Tls(tls);
    }
    const INFO: [&str; 6] = [
        "improper command pipelining after ",
        "SSL_accept error from ",
        "setting up TLS connection from ",
        "NOQUEUE: lost connection after ",
        "discarding EHLO keywords",
        "proxy-",
    ];
    if INFO.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

/// `NAME[ADDR]: SASL METHOD authentication failed: …` → METHOD.
fn sasl_failure(body: &str) -> Option<&str> {
    let (_, rest) = body.split_once("]: SASL ")?;
    let (method, _) = rest.split_once(" authentication failed")?;
    (!method.is_empty() && !method.contains(' ')).then_some(method)
}

fn starts_with_action(rest: &str, smtpd: bool) -> bool {
    rest.split_once(": ").is_some_and(|(word, tail)| {
        ActionKind::parse(word).is_some() && (!smtpd || tail.contains(" from "))
    })
}

/// smtpd/postscreen form: `ACTION: WHERE from CLIENT: [CODE ][X.Y.Z ]TEXT[; from=<…> …]`.
fn parse_action<'a>(queue_id: Option<&'a str>, rest: &'a str) -> Option<ActionLine<'a>> {
    let (word, rest) = rest.split_once(": ")?;
    let action = ActionKind::parse(word)?;
    let (stage, rest) = rest.split_once(" from ")?;
    if stage.is_empty() || stage.contains(' ') {
        return None;
    }
    // CLIENT is `name[addr]` (smtpd) or `[addr]:port` (postscreen); both contain `]` then `: `.
    let bracket = rest.find(']')?;
    let after_client = rest.get(bracket..)?;
    let (_, reply) = after_client.split_once(": ")?;
    let (code, enhanced_code, text) = split_reply(reply);
    let text = reply_text_end(text);
    Some(ActionLine {
        queue_id,
        action,
        stage,
        code,
        enhanced_code,
        text,
    })
}

/// `550 5.1.1 text` → (Some(550), Some("5.1.1"), "text"); either code may be absent.
fn split_reply(reply: &str) -> (Option<u16>, Option<&str>, &str) {
    let mut text = reply;
    let mut code = None;
    if let Some((c, t)) = text.split_once(' ')
        && c.len() == 3
        && matches!(c.as_bytes().first(), Some(b'2'..=b'5'))
        && let Ok(n) = c.parse::<u16>()
    {
        code = Some(n);
        text = t;
    }
    let mut enhanced = None;
    if let Some((e, t)) = text.split_once(' ')
        && is_dsn(e)
    {
        enhanced = Some(e);
        text = t;
    }
    (code, enhanced, text)
}

/// Cuts the envelope tail `; from=<…> to=<…> proto=… helo=<…>` off a reply text.
fn reply_text_end(text: &str) -> &str {
    for tail in ["; from=<", "; to=<", "; proto=", "; helo=<"] {
        if let Some(i) = text.find(tail) {
            return text.get(..i).unwrap_or(text);
        }
    }
    text
}

/// cleanup header/body checks: `ACTION: header|body …`.
fn cleanup_check(rest: &str) -> bool {
    rest.split_once(": ").is_some_and(|(word, tail)| {
        ActionKind::parse(word).is_some()
            && (tail.starts_with("header ")
                || tail.starts_with("body ")
                || tail.starts_with("mime-header ")
                || tail.starts_with("nested-header "))
    })
}

fn parse_cleanup(body: &str) -> Event<'_> {
    let Some((queue_id, rest)) = split_queue_id(body) else {
        return Event::Unsupported;
    };
    if rest.starts_with("message-id=") {
        return Event::CleanupMessageId { queue_id };
    }
    if rest.starts_with("resent-message-id=") {
        return Event::Info;
    }
    if rest.starts_with("milter-") {
        return parse_action(Some(queue_id), rest).map_or(Event::Unsupported, Event::Action);
    }
    // `reject: header Subject: X from CLIENT; from=<…> to=<…> proto=P helo=<H>: 5.7.1 text`
    let parsed = (|| {
        let (word, tail) = rest.split_once(": ")?;
        let action = ActionKind::parse(word)?;
        let (stage, _) = tail.split_once(' ')?;
        if !matches!(stage, "header" | "body" | "mime-header" | "nested-header") {
            return None;
        }
        let reply = tail
            .rfind(">: ")
            .and_then(|i| tail.get(i + 3..))
            .filter(|_| tail.contains("; from=<"))
            .unwrap_or("");
        let (code, enhanced_code, text) = split_reply(reply);
        Some(ActionLine {
            queue_id: Some(queue_id),
            action,
            stage,
            code,
            enhanced_code,
            text,
        })
    })();
    parsed.map_or(Event::Unsupported, Event::Action)
}

fn parse_bounce(body: &str) -> Event<'_> {
    let Some((_, rest)) = split_queue_id(body) else {
        return Event::Unsupported;
    };
    let (who, rest) = match rest.split_once(' ') {
        Some(("sender", r)) => (false, r),
        Some(("postmaster", r)) => (true, r),
        _ => return Event::Unsupported,
    };
    let kind = if rest.starts_with("non-delivery notification: ") {
        if who {
            NotificationKind::PostmasterNonDelivery
        } else {
            NotificationKind::NonDelivery
        }
    } else if rest.starts_with("delay notification: ") {
        if who {
            NotificationKind::PostmasterDelay
        } else {
            NotificationKind::Delay
        }
    } else if rest.starts_with("delivery status notification: ") {
        if who {
            NotificationKind::PostmasterSuccess
        } else {
            NotificationKind::Success
        }
    } else {
        return Event::Unsupported;
    };
    Event::BounceNotification(kind)
}

fn parse_postscreen(body: &str) -> Event<'_> {
    use PostscreenEvent as P;
    let Some((first, rest)) = body.split_once(' ') else {
        return Event::Unsupported;
    };
    let ev = match first {
        "CONNECT" if rest.starts_with("from ") => P::Connect,
        "PASS" => match rest.split_once(' ') {
            Some(("NEW", _)) => P::PassNew,
            Some(("OLD", _)) => P::PassOld,
            _ => return Event::Unsupported,
        },
        "DNSBL" => {
            let rank = rest
                .strip_prefix("rank ")
                .and_then(|r| r.split_once(' '))
                .and_then(|(n, _)| n.parse::<u32>().ok());
            match rank {
                Some(n) => P::DnsblRank(n),
                None => return Event::Unsupported,
            }
        }
        "PREGREET" => P::Pregreet,
        "HANGUP" => P::Hangup,
        "DENYLISTED" | "BLACKLISTED" => P::AccessList(AccessListAction::Denylisted),
        "ALLOWLISTED" | "WHITELISTED" => P::AccessList(AccessListAction::Allowlisted),
        "COMMAND" => {
            if rest.starts_with("PIPELINING ") {
                P::Violation(Violation::Pipelining)
            } else if rest.starts_with("TIME LIMIT ") {
                P::Violation(Violation::TimeLimit)
            } else if rest.starts_with("COUNT LIMIT ") {
                P::Violation(Violation::CountLimit)
            } else if rest.starts_with("LENGTH LIMIT ") {
                P::Violation(Violation::LengthLimit)
            } else {
                return Event::Unsupported;
            }
        }
        "BARE" if rest.starts_with("NEWLINE ") => P::Violation(Violation::BareNewline),
        "NON-SMTP" if rest.starts_with("COMMAND ") => P::Violation(Violation::NonSmtpCommand),
        "NOQUEUE:" => return parse_action(None, rest).map_or(Event::Unsupported, Event::Action),
        "DISCONNECT" | "cache" | "ALLOWLIST" | "DENYLIST" | "WHITELIST" | "BLACKLIST"
        | "NOQUEUE" | "BDAT" | "PIPELINING" => return Event::Info,
        _ => return Event::Unsupported,
    };
    Event::Postscreen(ev)
}

fn postsuper_action(rest: &str) -> Option<PostsuperAction> {
    Some(match rest {
        "placed on hold" => PostsuperAction::Hold,
        "released from hold" => PostsuperAction::Release,
        "removed" => PostsuperAction::Delete,
        "expired" => PostsuperAction::Expire,
        "requeued" => PostsuperAction::Requeue,
        _ => return None,
    })
}

fn parse_postsuper(body: &str) -> Event<'_> {
    if let Some((_, rest)) = split_queue_id(body) {
        return postsuper_action(rest).map_or(Event::Unsupported, Event::Postsuper);
    }
    // Summary lines (`Deleted: 3 messages`) repeat the per-message lines: recognised only.
    const SUMMARY: [&str; 5] = [
        "Placed on hold: ",
        "Released from hold: ",
        "Deleted: ",
        "Requeued: ",
        "Force-expired: ",
    ];
    if SUMMARY.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

fn parse_pickup(body: &str) -> Event<'_> {
    match split_queue_id(body) {
        Some((queue_id, rest)) if rest.starts_with("uid=") => Event::Pickup { queue_id },
        _ => Event::Unsupported,
    }
}

/// `TRUST TLS connection established (from|to) PEER: PROTO with cipher CIPHER (…)`.
pub fn parse_tls(body: &str) -> Option<TlsConnection<'_>> {
    let (trust_word, rest) = body.split_once(" TLS connection established ")?;
    let trust = match trust_word {
        "Anonymous" => "Anonymous",
        "Untrusted" => "Untrusted",
        "Trusted" => "Trusted",
        "Verified" => "Verified",
        _ => return None,
    };
    let (direction, rest) = if let Some(r) = rest.strip_prefix("from ") {
        (TlsDirection::Inbound, r)
    } else if let Some(r) = rest.strip_prefix("to ") {
        (TlsDirection::Outbound, r)
    } else {
        return None;
    };
    // The peer may contain `:` (`host[ip]:port`, IPv6): the protocol follows the last `: `
    // before ` with cipher `.
    let (before_cipher, cipher_rest) = rest.split_once(" with cipher ")?;
    let (_, protocol) = before_cipher.rsplit_once(": ")?;
    let cipher = cipher_rest.split_once(' ').map_or(cipher_rest, |(c, _)| c);
    if protocol.is_empty() || protocol.contains(' ') || cipher.is_empty() {
        return None;
    }
    Some(TlsConnection {
        direction,
        trust,
        protocol,
        cipher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(daemon: &str, msg: &str) -> Event<'static> {
        let msg: &'static str = Box::leak(msg.to_string().into_boxed_str());
        parse_message(daemon, msg).event
    }

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
    fn delivery_lines() {
        let e = ev(
            "smtp",
            "49DB7CE0A7: to=<bob@sink.test>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.03, delays=0/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.queue_id, "49DB7CE0A7");
        assert_eq!(d.to, "bob@sink.test");
        assert_eq!(d.relay, "127.0.0.1[127.0.0.1]:2526");
        assert_eq!(d.delay, Some(0.03));
        assert_eq!(d.delays, Some([0.0, 0.02, 0.0, 0.0]));
        assert_eq!(d.dsn, "2.0.0");
        assert_eq!(d.status, DeliveryStatus::Sent);
        assert_eq!(d.text, "250 2.0.0 Ok");
        assert_eq!(d.dsn_class(), "2");

        let e = ev(
            "local",
            "43E78CE0A6: to=<root@mx.test.local>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
        );
        let Event::Delivery(d) = e else { panic!() };
        assert_eq!(d.orig_to, Some("root"));
        assert_eq!(d.relay, "local");

        let e = ev(
            "error",
            "4jXlKH61vRzKHG4: to=<zed@example.net>, relay=none, delay=438, delays=438/0.04/0/0, dsn=4.3.2, status=deferred (deferred transport)",
        );
        let Event::Delivery(d) = e else { panic!() };
        assert_eq!(
            (d.status, d.dsn_class(), d.delay),
            (DeliveryStatus::Deferred, "4", Some(438.0))
        );

        let e = ev(
            "smtp",
            "ABC12: to=<a@b>, relay=x[1.2.3.4]:25, conn_use=2, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, status=SOFTBOUNCE (host said: 550 no)",
        );
        let Event::Delivery(d) = e else { panic!() };
        assert_eq!(
            (d.conn_use, d.status),
            (Some(2), DeliveryStatus::SoftBounce)
        );

        let e = ev(
            "smtp",
            "ABC12: to=<a@b>, relay=none, delay=0, delays=0/0/0/0, dsn=2.1.5, status=undeliverable-but-not-cached (x)",
        );
        assert!(matches!(
            e,
            Event::Delivery(Delivery {
                status: DeliveryStatus::Undeliverable,
                ..
            })
        ));
        // broken: no dsn, bad status, bad delays
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delay=0, status=sent (x)"
            ),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delay=0, dsn=2.0.0, status=weird (x)"
            ),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delays=1/2/x/4, dsn=2.0.0, status=sent"
            ),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delay=NaN, dsn=2.0.0, status=sent"
            ),
            Event::Unsupported
        );
    }

    #[test]
    fn qmgr_lines() {
        assert_eq!(
            ev(
                "qmgr",
                "43E78CE0A6: from=<alice@mx.test.local>, size=275, nrcpt=1 (queue active)"
            ),
            Event::QmgrActive {
                queue_id: "43E78CE0A6",
                size: 275,
                nrcpt: 1
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "43E78CE0A6: from=<>, size=2202, nrcpt=3 (queue active)"
            ),
            Event::QmgrActive {
                queue_id: "43E78CE0A6",
                size: 2202,
                nrcpt: 3
            }
        );
        assert_eq!(
            ev("qmgr", "43E78CE0A6: removed"),
            Event::QmgrRemoved {
                queue_id: "43E78CE0A6"
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "5D39CCE0B0: from=<alice@mx.test.local>, status=force-expired, returned to sender"
            ),
            Event::QmgrExpired {
                queue_id: "5D39CCE0B0",
                forced: true
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "5D39CCE0B0: from=<a, b>, status=expired, returned to sender"
            ),
            Event::QmgrExpired {
                queue_id: "5D39CCE0B0",
                forced: false
            }
        );
        let m = parse_message(
            "qmgr",
            "warning: mail for [1.2.3.4] is using up 4001 of 4001 active queue entries",
        );
        assert_eq!(
            (m.severity, m.event),
            (Some(Severity::Warning), Event::Info)
        );
    }

    #[test]
    fn smtpd_lines() {
        assert_eq!(
            ev("smtpd", "connect from localhost[127.0.0.1]"),
            Event::SmtpdConnect
        );
        let e = ev(
            "smtpd",
            "disconnect from x[192.0.2.10] ehlo=2 xclient=0/1 mail=1 rcpt=0/1 quit=1 commands=4/6",
        );
        let Event::SmtpdDisconnect(stats) = e else {
            panic!()
        };
        let v: Vec<_> = stats.iter().collect();
        assert_eq!(
            v,
            vec![
                ("ehlo", 2, 2),
                ("xclient", 0, 1),
                ("mail", 1, 1),
                ("rcpt", 0, 1),
                ("quit", 1, 1),
                ("commands", 4, 6)
            ]
        );
        assert_eq!(
            ev("smtpd", "disconnect from x[1.2.3.4] ehlo=x"),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtpd",
                "lost connection after DATA (0 bytes) from x[1.2.3.4]"
            ),
            Event::SmtpdLostConnection { stage: "DATA" }
        );
        assert_eq!(
            ev("smtpd", "timeout after END-OF-MESSAGE from x[1.2.3.4]"),
            Event::SmtpdTimeout {
                stage: "END-OF-MESSAGE"
            }
        );
        assert_eq!(
            ev("smtpd", "too many errors after RCPT from x[1.2.3.4]"),
            Event::SmtpdTooManyErrors { stage: "RCPT" }
        );
        assert_eq!(
            ev("smtpd", "AB6B7CE0A4: client=localhost[127.0.0.1]"),
            Event::SmtpdClient {
                queue_id: "AB6B7CE0A4",
                sasl_method: None
            }
        );
        assert_eq!(
            ev(
                "smtpd",
                "AB6B7CE0A4: client=x[1.2.3.4], sasl_method=PLAIN, sasl_username=u@example.com"
            ),
            Event::SmtpdClient {
                queue_id: "AB6B7CE0A4",
                sasl_method: Some("PLAIN")
            }
        );
        let m = parse_message(
            "smtpd",
            "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        );
        assert_eq!(
            (m.severity, m.event),
            (
                Some(Severity::Warning),
                Event::SaslAuthFailed { method: "LOGIN" }
            )
        );
        assert_eq!(
            ev(
                "smtpd",
                "warning: hostname mail.example.com does not resolve to address 192.0.2.1: Name or service not known"
            ),
            Event::ReverseDnsMismatch
        );
        let e = ev(
            "smtpd",
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519",
        );
        assert_eq!(
            e,
            Event::Tls(TlsConnection {
                direction: TlsDirection::Inbound,
                trust: "Anonymous",
                protocol: "TLSv1.3",
                cipher: "TLS_AES_256_GCM_SHA384"
            })
        );
        let e = ev(
            "smtp",
            "Verified TLS connection established to mx[2001:db8::1]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
        );
        assert!(matches!(
            e,
            Event::Tls(TlsConnection {
                direction: TlsDirection::Outbound,
                trust: "Verified",
                protocol: "TLSv1.2",
                ..
            })
        ));
    }

    #[test]
    fn action_lines() {
        let e = ev(
            "smtpd",
            "NOQUEUE: reject: RCPT from client.example.net[192.0.2.10]: 454 4.7.1 <victim@example.org>: Relay access denied; from=<spammer@example.net> to=<victim@example.org> proto=ESMTP helo=<vm>",
        );
        assert_eq!(
            e,
            Event::Action(ActionLine {
                queue_id: None,
                action: ActionKind::Reject,
                stage: "RCPT",
                code: Some(454),
                enhanced_code: Some("4.7.1"),
                text: "<victim@example.org>: Relay access denied",
            })
        );
        let e = ev(
            "smtpd",
            "NOQUEUE: hold: RCPT from localhost[127.0.0.1]: <h@hold.test>: Recipient address triggers HOLD action; from=<a@s> to=<h@hold.test> proto=ESMTP helo=<c>",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!(
            (a.action, a.code, a.enhanced_code),
            (ActionKind::Hold, None, None)
        );
        assert_eq!(
            a.text,
            "<h@hold.test>: Recipient address triggers HOLD action"
        );
        let e = ev(
            "smtpd",
            "NOQUEUE: reject: CONNECT from x[2001:db8::1]: 554 5.7.1 Service unavailable; Client host [2001:db8::1] blocked using zen.spamhaus.org; from=<> proto=SMTP",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!((a.stage, a.code), ("CONNECT", Some(554)));
        assert_eq!(
            a.text,
            "Service unavailable; Client host [2001:db8::1] blocked using zen.spamhaus.org"
        );

        let e = ev(
            "cleanup",
            "4jXlM143Kmz6LS4: reject: header Subject: REJECTME now from localhost[127.0.0.1]; from=<alice@sink.test> to=<root@mx.test.local> proto=ESMTP helo=<vm>: 5.7.1 spam subject",
        );
        assert_eq!(
            e,
            Event::Action(ActionLine {
                queue_id: Some("4jXlM143Kmz6LS4"),
                action: ActionKind::Reject,
                stage: "header",
                code: None,
                enhanced_code: Some("5.7.1"),
                text: "spam subject",
            })
        );
        let e = ev(
            "cleanup",
            "ABC123: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Command rejected; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!(
            (a.action, a.stage, a.enhanced_code, a.text),
            (
                ActionKind::MilterReject,
                "END-OF-MESSAGE",
                Some("5.7.1"),
                "Command rejected"
            )
        );
        assert_eq!(
            ev("cleanup", "ABC123: message-id=<x@y>"),
            Event::CleanupMessageId { queue_id: "ABC123" }
        );
        assert_eq!(
            ev("cleanup", "ABC123: message-id="),
            Event::CleanupMessageId { queue_id: "ABC123" }
        );
    }

    #[test]
    fn postscreen_lines() {
        use PostscreenEvent as P;
        let p = |m: &str| ev("postscreen", m);
        assert_eq!(
            p("CONNECT from [192.0.2.1]:5678 to [192.0.2.2]:25"),
            Event::Postscreen(P::Connect)
        );
        assert_eq!(
            p("PASS NEW [192.0.2.1]:5678"),
            Event::Postscreen(P::PassNew)
        );
        assert_eq!(
            p("PASS OLD [192.0.2.1]:5678"),
            Event::Postscreen(P::PassOld)
        );
        assert_eq!(
            p("DNSBL rank 3 for [192.0.2.1]:5678"),
            Event::Postscreen(P::DnsblRank(3))
        );
        assert_eq!(
            p("PREGREET 11 after 0.1 from [192.0.2.1]:5678: EHLO x\\r\\n"),
            Event::Postscreen(P::Pregreet)
        );
        assert_eq!(
            p("HANGUP after 0.5 from [192.0.2.1]:5678 in tests before SMTP handshake"),
            Event::Postscreen(P::Hangup)
        );
        assert_eq!(
            p("BLACKLISTED [192.0.2.1]:5678"),
            Event::Postscreen(P::AccessList(AccessListAction::Denylisted))
        );
        assert_eq!(
            p("WHITELISTED [192.0.2.1]:5678"),
            Event::Postscreen(P::AccessList(AccessListAction::Allowlisted))
        );
        assert_eq!(
            p("COMMAND TIME LIMIT from [192.0.2.1]:5678 after RCPT"),
            Event::Postscreen(P::Violation(Violation::TimeLimit))
        );
        assert_eq!(
            p("COMMAND COUNT LIMIT from [192.0.2.1]:5678 after RCPT"),
            Event::Postscreen(P::Violation(Violation::CountLimit))
        );
        assert_eq!(
            p("COMMAND LENGTH LIMIT from [192.0.2.1]:5678 after RCPT"),
            Event::Postscreen(P::Violation(Violation::LengthLimit))
        );
        let e = p(
            "NOQUEUE: reject: RCPT from [192.0.2.1]:5678: 550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org; from=<a@b>, to=<c@d>, proto=ESMTP, helo=<x>",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!(
            (a.code, a.text),
            (
                Some(550),
                "Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org"
            )
        );
        assert_eq!(p("DNSBL rank x for [192.0.2.1]:5678"), Event::Unsupported);
        assert_eq!(p("FUTURE THING"), Event::Unsupported);
    }

    #[test]
    fn other_daemons() {
        assert_eq!(
            ev(
                "bounce",
                "5125DCE0AC: sender non-delivery notification: 57D4ACE0B1"
            ),
            Event::BounceNotification(NotificationKind::NonDelivery)
        );
        assert_eq!(
            ev(
                "bounce",
                "5125DCE0AC: sender delay notification: 57D4ACE0B1"
            ),
            Event::BounceNotification(NotificationKind::Delay)
        );
        assert_eq!(
            ev(
                "bounce",
                "5125DCE0AC: postmaster non-delivery notification: 57D4ACE0B1"
            ),
            Event::BounceNotification(NotificationKind::PostmasterNonDelivery)
        );
        assert_eq!(
            ev("postsuper", "5D39CCE0B0: placed on hold"),
            Event::Postsuper(PostsuperAction::Hold)
        );
        assert_eq!(
            ev("postsuper", "5D39CCE0B0: released from hold"),
            Event::Postsuper(PostsuperAction::Release)
        );
        assert_eq!(
            ev("postsuper", "5D39CCE0B0: removed"),
            Event::Postsuper(PostsuperAction::Delete)
        );
        assert_eq!(ev("postsuper", "Deleted: 3 messages"), Event::Info);
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
