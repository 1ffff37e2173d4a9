//! Counters and histograms from the Postfix mail log, updated line by line by a
//! `common::follow` follower through [`LineHandler`].
//!
//! # Label rule
//!
//! * Metrics whose name kumina/postfix_exporter or Hsn723/postfix_exporter also export
//!   (`postfix_smtpd_connects_total`, `postfix_smtp_delivery_delay_seconds`,
//!   `postfix_postscreen_passes_total`, …) keep exactly their labels, so existing
//!   dashboards and alerts work; they sum over all Postfix instances and services.
//! * Metrics new in this exporter carry `postfix_instance` (the syslog_name before the
//!   first `/`: `postfix`, `postfix-out`) and `service` (the part between the first and
//!   the last `/`, e.g. `submission`; empty when the tag has none, which is the default).
//!   The label is `postfix_instance`, never `instance`, which belongs to the scraper.
//!
//! # Cardinality
//!
//! Every label value is either from a closed set (`daemon`, `status`, SMTP stages,
//! commands, TLS protocols, SASL methods, …; anything unexpected becomes `other`) or
//! bounded: `postfix_instance`, `service` (unless an allow-list from master.cf is given),
//! enhanced status codes, pipe relays, foreign program names and (optional) TLS ciphers
//! keep the first [`LogMetricsOptions::label_cap`] distinct values, then `other`.
//! Addresses, queue IDs and free text never become labels; reject texts are classified
//! by [`RejectRules`].
//!
//! # Delays
//!
//! Delay histograms are observed on final statuses only: `sent` and `bounced`. Not on
//! `deferred` (it repeats on every retry with a growing `a` component), not on
//! `SOFTBOUNCE` (the message stays queued and is retried like a deferral), not on
//! address-verification probes (`deliverable`/`undeliverable`: no mail moved).
//!
//! # Expired messages
//!
//! qmgr's `status=expired|force-expired, returned to sender` count as
//! `postfix_deliveries_total{daemon="qmgr",status="expired",dsn_class="4"}` (the last
//! attempt was a temporary failure), besides kumina's `postfix_qmgr_messages_expired_total`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use common::labels::BoundedLabel;
use std::time::SystemTime;

use common::follow::{LineHandler, LineOutcome};
use common::logline::{self, PrefixFormat};
use prometheus_client::encoding::{
    EncodeLabelKey, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::parse::log::{
    self as plog, ActionKind, ActionLine, DeliveryStatus, Event, PostscreenEvent, TlsDirection,
};
use crate::reject_rules::RejectRules;

/// kumina's delay buckets (seconds), kept for its `*_delivery_delay_seconds` names.
const KUMINA_DELAY_BUCKETS: [f64; 9] =
    [1e-3, 1e-2, 1e-1, 1.0, 10.0, 60.0, 3600.0, 86400.0, 172800.0];
/// Our delay buckets: sub-second local hops up to multi-day queue residence.
const DELAY_BUCKETS: [f64; 14] = [
    0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0, 432000.0,
];
/// kumina's `qmgr_messages_inserted_size_bytes` buckets.
const SIZE_BUCKETS: [f64; 7] = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/// kumina's `qmgr_messages_inserted_recipients` buckets.
const NRCPT_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
/// postscreen DNSBL rank (sum of `postscreen_dnsbl_sites` weights; threshold default 1).
const RANK_BUCKETS: [f64; 9] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0];

/// Delay stages, in `delays=a/b/c/d` order, then `delay=`.
const STAGES: [&str; 5] = [
    "before_queue_manager",
    "queue_manager",
    "connection_setup",
    "transmission",
    "total",
];

const DAEMONS: [&str; 42] = [
    "smtp",
    "lmtp",
    "local",
    "virtual",
    "pipe",
    "error",
    "retry",
    "discard",
    "qmgr",
    "oqmgr",
    "smtpd",
    "cleanup",
    "bounce",
    "defer",
    "trace",
    "postscreen",
    "postsuper",
    "pickup",
    "tlsproxy",
    "master",
    "postfix-script",
    "anvil",
    "scache",
    "tlsmgr",
    "dnsblog",
    "verify",
    "proxymap",
    "trivial-rewrite",
    "flush",
    "showq",
    "postlogd",
    "postdrop",
    "sendmail",
    "postqueue",
    "postmap",
    "postalias",
    "postlog",
    "postconf",
    "postmulti",
    "spawn",
    "qmqpd",
    "smtp-sink",
];

const SMTP_STAGES: [&str; 22] = [
    "CONNECT",
    "HELO",
    "EHLO",
    "STARTTLS",
    "AUTH",
    "MAIL",
    "RCPT",
    "DATA",
    "BDAT",
    "END-OF-MESSAGE",
    "RSET",
    "NOOP",
    "VRFY",
    "ETRN",
    "QUIT",
    "XCLIENT",
    "XFORWARD",
    "UNKNOWN",
    "CLIENT",
    "header",
    "body",
    "mime-header",
];

const COMMANDS: [&str; 18] = [
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
    "etrn", "quit", "xclient", "xforward", "unknown", "lhlo", "help",
];

const SASL_METHODS: [&str; 13] = [
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "DIGEST-MD5",
    "XOAUTH2",
    "OAUTHBEARER",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "GSSAPI",
    "NTLM",
    "EXTERNAL",
    "ANONYMOUS",
    "OTP",
];

const TLS_PROTOCOLS: [&str; 6] = ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3", "SSLv2"];

fn closed(value: &str, set: &[&'static str]) -> &'static str {
    set.iter()
        .find(|s| **s == value)
        .copied()
        .unwrap_or("other")
}

/// Options of the log metrics.
#[derive(Debug, Clone)]
pub struct LogMetricsOptions {
    /// Extra syslog_name values (instance part) that are Postfix besides `postfix` and
    /// `postfix-*`.
    pub syslog_names: Vec<String>,
    /// When set, the only `service` label values kept (others become `other`); typically
    /// the service names of master.cf ([`parse_master_cf`]).
    pub services: Option<Vec<String>>,
    /// Add a `cipher` label to the TLS connection counters (more series).
    pub tls_cipher_labels: bool,
    /// Distinct values kept per open-ended label before `other`.
    pub label_cap: usize,
    /// Reject reason classification.
    pub reject_rules: RejectRules,
}

impl Default for LogMetricsOptions {
    fn default() -> Self {
        Self {
            syslog_names: Vec::new(),
            services: None,
            tls_cipher_labels: false,
            label_cap: 32,
            reject_rules: RejectRules::defaults(),
        }
    }
}

impl LogMetricsOptions {
    /// Reads master.cf at `path` and uses its service names as the `service` allow-list.
    pub fn with_master_cf(mut self, path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        self.services = Some(parse_master_cf(&text));
        Ok(self)
    }
}

/// Service names from master.cf text: the first column of every entry (continuation lines
/// start with white space; `#` starts a comment), `name/type` reduced to `name`, distinct,
/// in file order.
pub fn parse_master_cf(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with(|c: char| c.is_whitespace() || c == '#') {
            continue;
        }
        let Some(first) = line.split_whitespace().next() else {
            continue;
        };
        let name = first.split_once('/').map_or(first, |(n, _)| n);
        if !name.is_empty() && !out.iter().any(|s| s == name) {
            out.push(name.to_string());
        }
    }
    out
}

type Str = &'static str;
type Shared = Arc<str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    postfix_instance: Shared,
    service: Shared,
    daemon: Str,
    status: Str,
    dsn_class: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DelayLabels {
    postfix_instance: Shared,
    service: Shared,
    daemon: Str,
    stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipeDelayLabels {
    relay: Shared,
    stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AfterStageLabel {
    after_stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SvcAfterStageLabels {
    postfix_instance: Shared,
    service: Shared,
    after_stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SaslMethodLabel {
    sasl_method: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SvcSaslMethodLabels {
    postfix_instance: Shared,
    service: Shared,
    sasl_method: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: Option<u16>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    postfix_instance: Shared,
    service: Shared,
    command: Str,
    result: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    postfix_instance: Shared,
    service: Shared,
    action: Str,
    stage: Str,
    code: Option<u16>,
    enhanced_code: Shared,
    reason: Shared,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct TlsLabels {
    trust: Str,
    protocol: Str,
    cipher: Option<Shared>,
}

// By hand because the `cipher` label must be absent, not empty, unless enabled.
impl EncodeLabelSet for TlsLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        fn label(
            encoder: &mut LabelSetEncoder<'_>,
            key: &str,
            value: &str,
        ) -> Result<(), std::fmt::Error> {
            let mut label = encoder.encode_label();
            let mut key_encoder = label.encode_label_key()?;
            EncodeLabelKey::encode(&key, &mut key_encoder)?;
            let mut value_encoder = key_encoder.encode_label_value()?;
            EncodeLabelValue::encode(&value, &mut value_encoder)?;
            value_encoder.finish()
        }
        label(encoder, "trust", self.trust)?;
        label(encoder, "protocol", self.protocol)?;
        if let Some(cipher) = &self.cipher {
            label(encoder, "cipher", cipher)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SvcActionLabels {
    postfix_instance: Shared,
    service: Shared,
    action: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SvcTypeLabels {
    postfix_instance: Shared,
    service: Shared,
    r#type: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SvcLabels {
    postfix_instance: Shared,
    service: Shared,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViolationLabels {
    postfix_instance: Shared,
    service: Shared,
    violation: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    postfix_instance: Shared,
    service: Shared,
    daemon: Str,
    severity: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProgramLabel {
    program: Shared,
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn kumina_delay_histogram() -> Histogram {
    Histogram::new(KUMINA_DELAY_BUCKETS)
}
fn delay_histogram() -> Histogram {
    Histogram::new(DELAY_BUCKETS)
}
fn rank_histogram() -> Histogram {
    Histogram::new(RANK_BUCKETS)
}

/// The metric families fed by the Postfix log, and the [`LineHandler`] that feeds them.
/// Share it behind an `Arc` between the follower thread and the registry.
#[derive(Debug)]
pub struct LogMetrics {
    options: LogMetricsOptions,
    /// Swapped whole on reload; read once per reject line.
    reject_rules: std::sync::RwLock<Arc<RejectRules>>,
    instances: BoundedLabel,
    services: BoundedLabel,
    programs: BoundedLabel,
    enhanced_codes: BoundedLabel,
    pipe_relays: BoundedLabel,
    ciphers: BoundedLabel,
    last_ts: Mutex<(String, Option<f64>)>,

    deliveries: Family<DeliveryLabels, Counter>,
    delivery_delay: HistFamily<DelayLabels>,
    smtp_processed: Family<StatusLabel, Counter>,
    smtp_delay: HistFamily<StageLabel>,
    lmtp_delay: HistFamily<StageLabel>,
    pipe_delay: HistFamily<PipeDelayLabels>,
    qmgr_removed: Counter,
    qmgr_expired: Counter,
    qmgr_size: Histogram,
    qmgr_nrcpt: Histogram,

    smtpd_connects: Counter,
    smtpd_disconnects: Counter,
    smtpd_lost: Family<AfterStageLabel, Counter>,
    smtpd_processed: Family<SaslMethodLabel, Counter>,
    smtpd_rejected: Family<CodeLabel, Counter>,
    smtpd_sasl_failures: Counter,
    smtpd_sasl_failures_by_method: Family<SvcSaslMethodLabels, Counter>,
    smtpd_fcrdns: Counter,
    smtpd_commands: Family<CommandLabels, Counter>,
    smtpd_timeouts: Family<SvcAfterStageLabels, Counter>,
    smtpd_too_many_errors: Family<SvcAfterStageLabels, Counter>,
    smtpd_rejects: Family<RejectLabels, Counter>,
    smtpd_tls: Family<TlsLabels, Counter>,
    smtp_tls: Family<TlsLabels, Counter>,

    cleanup_processed: Counter,
    cleanup_rejected: Counter,
    cleanup_milter: Family<SvcActionLabels, Counter>,
    bounce_notifications: Family<SvcTypeLabels, Counter>,
    bounce_non_delivery: Counter,

    postscreen_connects: Counter,
    postscreen_passes: Family<TypeLabel, Counter>,
    postscreen_rank: Histogram,
    postscreen_pregreets: Family<SvcLabels, Counter>,
    postscreen_hangups: Counter,
    postscreen_access: Family<ActionLabel, Counter>,
    postscreen_violations: Family<ViolationLabels, Counter>,
    postscreen_rejected: Family<CodeLabel, Counter>,

    postsuper_actions: Family<SvcActionLabels, Counter>,
    severity: Family<SeverityLabels, Counter>,
    foreign: Family<ProgramLabel, Counter>,
    last_line_timestamp: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl LogMetrics {
    /// Replaces the reject reason rules (configuration reload); lines read from now on
    /// are classified by the new rules.
    pub fn set_reject_rules(&self, rules: RejectRules) {
        *self
            .reject_rules
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(rules);
    }

    /// Creates empty metric families.
    pub fn new(mut options: LogMetricsOptions) -> Self {
        let cap = options.label_cap.max(1);
        let rules = std::mem::take(&mut options.reject_rules);
        let allow = options
            .services
            .as_ref()
            .map(|s| s.iter().cloned().collect::<HashSet<String>>());
        Self {
            instances: BoundedLabel::new(cap, None, &["postfix"]),
            services: BoundedLabel::new(cap, allow, &[]),
            programs: BoundedLabel::new(cap, None, &[]),
            enhanced_codes: BoundedLabel::new(cap, None, &[]),
            pipe_relays: BoundedLabel::new(cap, None, &[]),
            ciphers: BoundedLabel::new(cap, None, &[]),
            last_ts: Mutex::new((String::new(), None)),
            options,
            reject_rules: std::sync::RwLock::new(Arc::new(rules)),

            deliveries: Family::default(),
            delivery_delay: Family::new_with_constructor(delay_histogram),
            smtp_processed: Family::default(),
            smtp_delay: Family::new_with_constructor(kumina_delay_histogram),
            lmtp_delay: Family::new_with_constructor(kumina_delay_histogram),
            pipe_delay: Family::new_with_constructor(kumina_delay_histogram),
            qmgr_removed: Counter::default(),
            qmgr_expired: Counter::default(),
            qmgr_size: Histogram::new(SIZE_BUCKETS),
            qmgr_nrcpt: Histogram::new(NRCPT_BUCKETS),

            smtpd_connects: Counter::default(),
            smtpd_disconnects: Counter::default(),
            smtpd_lost: Family::default(),
            smtpd_processed: Family::default(),
            smtpd_rejected: Family::default(),
            smtpd_sasl_failures: Counter::default(),
            smtpd_sasl_failures_by_method: Family::default(),
            smtpd_fcrdns: Counter::default(),
            smtpd_commands: Family::default(),
            smtpd_timeouts: Family::default(),
            smtpd_too_many_errors: Family::default(),
            smtpd_rejects: Family::default(),
            smtpd_tls: Family::default(),
            smtp_tls: Family::default(),

            cleanup_processed: Counter::default(),
            cleanup_rejected: Counter::default(),
            cleanup_milter: Family::default(),
            bounce_notifications: Family::default(),
            bounce_non_delivery: Counter::default(),

            postscreen_connects: Counter::default(),
            postscreen_passes: Family::default(),
            postscreen_rank: rank_histogram(),
            postscreen_pregreets: Family::default(),
            postscreen_hangups: Counter::default(),
            postscreen_access: Family::default(),
            postscreen_violations: Family::default(),
            postscreen_rejected: Family::default(),

            postsuper_actions: Family::default(),
            severity: Family::default(),
            foreign: Family::default(),
            last_line_timestamp: Gauge::default(),
        }
    }

    /// Registers every family (names without `_total`; prometheus-client appends it).
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_deliveries",
            "Delivery attempts by delivery agent and status (qmgr: expired messages)",
            self.deliveries.clone(),
        );
        r.register(
            "postfix_delivery_delay_seconds",
            "Per-stage delays (delays=a/b/c/d) and total delay of final deliveries (sent, bounced)",
            self.delivery_delay.clone(),
        );
        r.register(
            "postfix_smtp_messages_processed",
            "smtp delivery attempts by status (kumina-compatible)",
            self.smtp_processed.clone(),
        );
        r.register(
            "postfix_smtp_delivery_delay_seconds",
            "SMTP message processing time in seconds, final statuses only (kumina-compatible)",
            self.smtp_delay.clone(),
        );
        r.register(
            "postfix_lmtp_delivery_delay_seconds",
            "LMTP message processing time in seconds, final statuses only (kumina-compatible)",
            self.lmtp_delay.clone(),
        );
        r.register(
            "postfix_pipe_delivery_delay_seconds",
            "Pipe message processing time in seconds, final statuses only (kumina-compatible)",
            self.pipe_delay.clone(),
        );
        r.register(
            "postfix_qmgr_messages_removed",
            "Messages removed from the queue by qmgr",
            self.qmgr_removed.clone(),
        );
        r.register(
            "postfix_qmgr_messages_expired",
            "Messages expired or force-expired and returned to sender by qmgr",
            self.qmgr_expired.clone(),
        );
        r.register(
            "postfix_qmgr_messages_inserted_size_bytes",
            "Size of messages inserted into the active queue in bytes",
            self.qmgr_size.clone(),
        );
        r.register(
            "postfix_qmgr_messages_inserted_recipients",
            "Number of recipients per message inserted into the active queue",
            self.qmgr_nrcpt.clone(),
        );
        r.register(
            "postfix_smtpd_connects",
            "Incoming SMTP connections",
            self.smtpd_connects.clone(),
        );
        r.register(
            "postfix_smtpd_disconnects",
            "Incoming SMTP disconnections",
            self.smtpd_disconnects.clone(),
        );
        r.register(
            "postfix_smtpd_connections_lost",
            "Incoming SMTP connections lost, by the last command",
            self.smtpd_lost.clone(),
        );
        r.register(
            "postfix_smtpd_messages_processed",
            "Messages received by smtpd (client= lines), by SASL method (empty when none)",
            self.smtpd_processed.clone(),
        );
        r.register(
            "postfix_smtpd_messages_rejected",
            "NOQUEUE rejects at RCPT by reply code (kumina-compatible)",
            self.smtpd_rejected.clone(),
        );
        r.register(
            "postfix_smtpd_sasl_authentication_failures",
            "SASL authentication failures",
            self.smtpd_sasl_failures.clone(),
        );
        r.register(
            "postfix_smtpd_sasl_authentication_failures_by_method",
            "SASL authentication failures by mechanism",
            self.smtpd_sasl_failures_by_method.clone(),
        );
        r.register(
            "postfix_smtpd_forward_confirmed_reverse_dns_errors",
            "Clients whose reverse DNS name does not resolve back to their address",
            self.smtpd_fcrdns.clone(),
        );
        r.register(
            "postfix_smtpd_commands",
            "SMTP commands from disconnect lines: accepted (success) and rejected (total - success)",
            self.smtpd_commands.clone(),
        );
        r.register(
            "postfix_smtpd_timeouts",
            "smtpd sessions that timed out, by the last command",
            self.smtpd_timeouts.clone(),
        );
        r.register(
            "postfix_smtpd_too_many_errors",
            "smtpd sessions ended for too many errors, by the last command",
            self.smtpd_too_many_errors.clone(),
        );
        r.register(
            "postfix_smtpd_rejects",
            "smtpd restriction and milter actions by action, stage, reply code, enhanced code and reason class",
            self.smtpd_rejects.clone(),
        );
        r.register(
            "postfix_smtpd_tls_connections",
            "Incoming TLS connections",
            self.smtpd_tls.clone(),
        );
        r.register(
            "postfix_smtp_tls_connections",
            "Outgoing TLS connections",
            self.smtp_tls.clone(),
        );
        r.register(
            "postfix_cleanup_messages_processed",
            "Messages processed by cleanup (message-id= lines)",
            self.cleanup_processed.clone(),
        );
        r.register(
            "postfix_cleanup_messages_rejected",
            "Messages rejected by cleanup header/body checks",
            self.cleanup_rejected.clone(),
        );
        r.register(
            "postfix_cleanup_milter_actions",
            "Milter actions logged by cleanup",
            self.cleanup_milter.clone(),
        );
        r.register(
            "postfix_bounce_notifications",
            "Notifications sent by bounce(8), by type",
            self.bounce_notifications.clone(),
        );
        r.register(
            "postfix_bounce_non_delivery_notification",
            "Sender non-delivery notifications (kumina-compatible)",
            self.bounce_non_delivery.clone(),
        );
        r.register(
            "postfix_postscreen_connects",
            "Connections to postscreen",
            self.postscreen_connects.clone(),
        );
        r.register(
            "postfix_postscreen_passes",
            "Clients that passed postscreen, new or cached",
            self.postscreen_passes.clone(),
        );
        r.register(
            "postfix_postscreen_dnsbl_rank",
            "postscreen DNSBL rank of scored clients",
            self.postscreen_rank.clone(),
        );
        r.register(
            "postfix_postscreen_pregreets",
            "Clients that talked before the greeting",
            self.postscreen_pregreets.clone(),
        );
        r.register(
            "postfix_postscreen_hangups",
            "Clients that hung up during postscreen tests",
            self.postscreen_hangups.clone(),
        );
        r.register(
            "postfix_postscreen_access_list_matches",
            "postscreen access list matches (allowlisted, denylisted)",
            self.postscreen_access.clone(),
        );
        r.register(
            "postfix_postscreen_command_violations",
            "postscreen deep protocol test violations",
            self.postscreen_violations.clone(),
        );
        r.register(
            "postfix_postscreen_messages_rejected",
            "postscreen rejects by reply code",
            self.postscreen_rejected.clone(),
        );
        r.register(
            "postfix_postsuper_actions",
            "postsuper per-message actions",
            self.postsuper_actions.clone(),
        );
        r.register(
            "postfix_log_messages_by_severity",
            "Postfix log messages with a warning/error/fatal/panic prefix",
            self.severity.clone(),
        );
        r.register(
            "postfix_log_foreign_lines",
            "Lines from other programs in the same log, by program (first 32 names, then other)",
            self.foreign.clone(),
        );
        r.register(
            "postfix_log_last_line_timestamp_seconds",
            "The log's own timestamp of the newest line, unix seconds",
            self.last_line_timestamp.clone(),
        );
    }

    fn is_postfix(&self, instance: &str) -> bool {
        instance == "postfix"
            || instance.starts_with("postfix-")
            || self.options.syslog_names.iter().any(|n| n == instance)
    }

    fn observe_timestamp(&self, ts: &str, format: PrefixFormat) {
        let mut last = self.last_ts.lock().unwrap_or_else(PoisonError::into_inner);
        // Consecutive lines mostly share the (second-resolution) text: parse once.
        let value = if last.0 == ts {
            last.1
        } else {
            let v = logline::parse_timestamp(ts, format, SystemTime::now());
            last.0.clear();
            last.0.push_str(ts);
            last.1 = v;
            v
        };
        drop(last);
        if let Some(v) = value
            && v > self.last_line_timestamp.get()
        {
            self.last_line_timestamp.set(v);
        }
    }

    /// Parses one complete log line and updates the metrics; see [`LineHandler`].
    ///
    /// A line without a known prefix is `Unsupported("unknown")`; a line from a program
    /// that is not a Postfix syslog_name is counted in `postfix_log_foreign_lines_total`
    /// and `Handled`; a Postfix line of an unknown shape is `Unsupported(daemon)` with the
    /// daemon from the closed set (`other` for unknown daemons). Lines read and
    /// unsupported lines are counted by the follower, not here.
    pub fn process(&self, line: &str) -> LineOutcome {
        let Some(parsed) = logline::parse(line) else {
            return LineOutcome::Unsupported("unknown".to_string());
        };
        let program = plog::split_program(parsed.program);
        if !self.is_postfix(program.instance) {
            self.foreign
                .get_or_create(&ProgramLabel {
                    program: self.programs.get(program.instance),
                })
                .inc();
            return LineOutcome::Handled;
        }
        self.observe_timestamp(parsed.timestamp, parsed.format);
        // RFC 5424 with an empty MSGID/SD leaves the separating space on the message.
        let message = parsed.message.trim_start_matches(' ');
        let raw_daemon = if program.daemon.is_empty() {
            plog::infer_daemon(message)
        } else {
            program.daemon
        };
        let daemon = closed(raw_daemon, &DAEMONS);
        let msg = plog::parse_message(raw_daemon, message);
        let inst = self.instances.get(program.instance);
        let svc = self.services.get(program.service.unwrap_or(""));
        if let Some(sev) = msg.severity {
            self.severity
                .get_or_create(&SeverityLabels {
                    postfix_instance: inst.clone(),
                    service: svc.clone(),
                    daemon,
                    severity: sev.as_str(),
                })
                .inc();
        }
        match msg.event {
            Event::Unsupported => return LineOutcome::Unsupported(daemon.to_string()),
            Event::Info | Event::Pickup { .. } => {}
            Event::Delivery(d) => self.delivery(&d, daemon, &inst, &svc),
            Event::QmgrActive { size, nrcpt, .. } => {
                self.qmgr_size.observe(size as f64);
                self.qmgr_nrcpt.observe(f64::from(nrcpt));
            }
            Event::QmgrRemoved { .. } => {
                self.qmgr_removed.inc();
            }
            Event::QmgrExpired { .. } => {
                self.qmgr_expired.inc();
                self.deliveries
                    .get_or_create(&DeliveryLabels {
                        postfix_instance: inst,
                        service: svc,
                        daemon,
                        status: "expired",
                        dsn_class: "4",
                    })
                    .inc();
            }
            Event::SmtpdConnect => {
                self.smtpd_connects.inc();
            }
            Event::SmtpdDisconnect(stats) => {
                self.smtpd_disconnects.inc();
                for (cmd, ok, total) in stats.iter() {
                    if cmd == "commands" {
                        continue;
                    }
                    let command = closed(cmd, &COMMANDS);
                    for (result, n) in [("accepted", ok), ("rejected", total.saturating_sub(ok))] {
                        if n > 0 {
                            self.smtpd_commands
                                .get_or_create(&CommandLabels {
                                    postfix_instance: inst.clone(),
                                    service: svc.clone(),
                                    command,
                                    result,
                                })
                                .inc_by(u64::from(n));
                        }
                    }
                }
            }
            Event::SmtpdLostConnection { stage } => {
                self.smtpd_lost
                    .get_or_create(&AfterStageLabel {
                        after_stage: closed(stage, &SMTP_STAGES),
                    })
                    .inc();
            }
            Event::SmtpdTimeout { stage } => {
                let l = SvcAfterStageLabels {
                    postfix_instance: inst,
                    service: svc,
                    after_stage: closed(stage, &SMTP_STAGES),
                };
                self.smtpd_timeouts.get_or_create(&l).inc();
            }
            Event::SmtpdTooManyErrors { stage } => {
                let l = SvcAfterStageLabels {
                    postfix_instance: inst,
                    service: svc,
                    after_stage: closed(stage, &SMTP_STAGES),
                };
                self.smtpd_too_many_errors.get_or_create(&l).inc();
            }
            Event::SmtpdClient { sasl_method, .. } => {
                let sasl_method = sasl_method.map_or("", |m| closed(m, &SASL_METHODS));
                self.smtpd_processed
                    .get_or_create(&SaslMethodLabel { sasl_method })
                    .inc();
            }
            Event::SaslAuthFailed { method } => {
                self.smtpd_sasl_failures.inc();
                let l = SvcSaslMethodLabels {
                    postfix_instance: inst,
                    service: svc,
                    sasl_method: closed(method, &SASL_METHODS),
                };
                self.smtpd_sasl_failures_by_method.get_or_create(&l).inc();
            }
            Event::ReverseDnsMismatch => {
                self.smtpd_fcrdns.inc();
            }
            Event::Tls(t) => {
                let labels = TlsLabels {
                    trust: t.trust,
                    protocol: closed(t.protocol, &TLS_PROTOCOLS),
                    cipher: self
                        .options
                        .tls_cipher_labels
                        .then(|| self.ciphers.get(t.cipher)),
                };
                match (t.direction, daemon) {
                    (TlsDirection::Inbound, "smtpd") => self.smtpd_tls.get_or_create(&labels).inc(),
                    (TlsDirection::Outbound, "smtp" | "lmtp") => {
                        self.smtp_tls.get_or_create(&labels).inc()
                    }
                    _ => 0,
                };
            }
            Event::Action(a) => self.action(&a, daemon, inst, svc),
            Event::CleanupMessageId { .. } => {
                self.cleanup_processed.inc();
            }
            Event::BounceNotification(kind) => {
                let l = SvcTypeLabels {
                    postfix_instance: inst,
                    service: svc,
                    r#type: kind.as_str(),
                };
                self.bounce_notifications.get_or_create(&l).inc();
                if kind == plog::NotificationKind::NonDelivery {
                    self.bounce_non_delivery.inc();
                }
            }
            Event::Postscreen(p) => self.postscreen(p, inst, svc),
            Event::Postsuper(a) => {
                let l = SvcActionLabels {
                    postfix_instance: inst,
                    service: svc,
                    action: a.as_str(),
                };
                self.postsuper_actions.get_or_create(&l).inc();
            }
        }
        LineOutcome::Recognised
    }

    fn delivery(&self, d: &plog::Delivery<'_>, daemon: &'static str, inst: &Shared, svc: &Shared) {
        let status = d.status.as_str();
        self.deliveries
            .get_or_create(&DeliveryLabels {
                postfix_instance: inst.clone(),
                service: svc.clone(),
                daemon,
                status,
                dsn_class: d.dsn_class(),
            })
            .inc();
        if daemon == "smtp" {
            self.smtp_processed
                .get_or_create(&StatusLabel { status })
                .inc();
        }
        if !matches!(d.status, DeliveryStatus::Sent | DeliveryStatus::Bounced) {
            return;
        }
        let Some(delays) = d.delays else { return };
        let values = [
            delays[0],
            delays[1],
            delays[2],
            delays[3],
            d.delay.unwrap_or(delays.iter().sum()),
        ];
        let pipe_relay = (daemon == "pipe").then(|| self.pipe_relays.get(d.relay));
        for (stage, v) in STAGES.iter().zip(values) {
            self.delivery_delay
                .get_or_create(&DelayLabels {
                    postfix_instance: inst.clone(),
                    service: svc.clone(),
                    daemon,
                    stage,
                })
                .observe(v);
            if *stage == "total" {
                continue;
            }
            match daemon {
                "smtp" => self
                    .smtp_delay
                    .get_or_create(&StageLabel { stage })
                    .observe(v),
                "lmtp" => self
                    .lmtp_delay
                    .get_or_create(&StageLabel { stage })
                    .observe(v),
                "pipe" => {
                    if let Some(relay) = &pipe_relay {
                        self.pipe_delay
                            .get_or_create(&PipeDelayLabels {
                                relay: relay.clone(),
                                stage,
                            })
                            .observe(v);
                    }
                }
                _ => {}
            }
        }
    }

    fn action(&self, a: &ActionLine<'_>, daemon: &'static str, inst: Shared, svc: Shared) {
        match daemon {
            "cleanup" => {
                match a.action {
                    ActionKind::Reject => self.cleanup_rejected.inc(),
                    k if k.is_milter() => {
                        let l = SvcActionLabels {
                            postfix_instance: inst,
                            service: svc,
                            action: k.as_str(),
                        };
                        self.cleanup_milter.get_or_create(&l).inc()
                    }
                    _ => 0,
                };
            }
            "postscreen" => {
                if a.action == ActionKind::Reject {
                    self.postscreen_rejected
                        .get_or_create(&CodeLabel { code: a.code })
                        .inc();
                }
            }
            _ => {
                if a.action == ActionKind::Reject && a.queue_id.is_none() && a.stage == "RCPT" {
                    self.smtpd_rejected
                        .get_or_create(&CodeLabel { code: a.code })
                        .inc();
                }
                let labels = RejectLabels {
                    postfix_instance: inst,
                    service: svc,
                    action: a.action.as_str(),
                    stage: closed(a.stage, &SMTP_STAGES),
                    code: a.code,
                    enhanced_code: self.enhanced_codes.get(a.enhanced_code.unwrap_or("")),
                    reason: self
                        .reject_rules
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .classify(a.text),
                };
                self.smtpd_rejects.get_or_create(&labels).inc();
            }
        }
    }

    fn postscreen(&self, p: PostscreenEvent, inst: Shared, svc: Shared) {
        match p {
            PostscreenEvent::Connect => self.postscreen_connects.inc(),
            PostscreenEvent::PassNew => self
                .postscreen_passes
                .get_or_create(&TypeLabel { r#type: "new" })
                .inc(),
            PostscreenEvent::PassOld => self
                .postscreen_passes
                .get_or_create(&TypeLabel { r#type: "old" })
                .inc(),
            PostscreenEvent::DnsblRank(n) => {
                self.postscreen_rank.observe(f64::from(n));
                0
            }
            PostscreenEvent::Pregreet => self
                .postscreen_pregreets
                .get_or_create(&SvcLabels {
                    postfix_instance: inst,
                    service: svc,
                })
                .inc(),
            PostscreenEvent::Hangup => self.postscreen_hangups.inc(),
            PostscreenEvent::AccessList(a) => self
                .postscreen_access
                .get_or_create(&ActionLabel { action: a.as_str() })
                .inc(),
            PostscreenEvent::Violation(v) => self
                .postscreen_violations
                .get_or_create(&ViolationLabels {
                    postfix_instance: inst,
                    service: svc,
                    violation: v.as_str(),
                })
                .inc(),
        };
    }
}

impl LineHandler for LogMetrics {
    fn handle_line(&self, line: &str) -> LineOutcome {
        self.process(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    fn expose(m: &LogMetrics) -> String {
        let mut r = Registry::default();
        m.register(&mut r);
        let mut s = String::new();
        encode(&mut s, &r).unwrap();
        s
    }

    #[test]
    fn master_cf_service_names() {
        let text = "# comment\nsmtp      inet  n       -       y       -       -       smtpd\n  -o x=y\nsubmission/inet inet n - y - - smtpd\n127.0.0.1:2525 inet n - n - - smtpd\nsmtp      unix  -       -       y       -       -       smtp\n\nrelay unix - - n - - smtp\n";
        assert_eq!(
            parse_master_cf(text),
            vec!["smtp", "submission", "127.0.0.1:2525", "relay"]
        );
    }

    #[test]
    fn foreign_programs_are_bounded() {
        let m = LogMetrics::new(LogMetricsOptions {
            label_cap: 2,
            ..Default::default()
        });
        for p in ["dovecot", "opendkim", "amavis", "dovecot"] {
            let line = format!("Nov 23 15:04:52 mx {p}[1]: hello");
            assert_eq!(m.process(&line), LineOutcome::Handled);
        }
        let s = expose(&m);
        assert!(
            s.contains("postfix_log_foreign_lines_total{program=\"dovecot\"} 2\n"),
            "{s}"
        );
        assert!(
            s.contains("postfix_log_foreign_lines_total{program=\"opendkim\"} 1\n"),
            "{s}"
        );
        assert!(
            s.contains("postfix_log_foreign_lines_total{program=\"other\"} 1\n"),
            "{s}"
        );
    }

    #[test]
    fn sasl_and_milter_and_cipher_option() {
        let m = LogMetrics::new(LogMetricsOptions {
            tls_cipher_labels: true,
            ..Default::default()
        });
        let lines = [
            "Nov 23 15:04:52 mx postfix/submission/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "Nov 23 15:04:52 mx postfix/submission/smtpd[1]: ABCDE12345: client=x[192.0.2.1], sasl_method=PLAIN, sasl_username=u@example.com",
            "Nov 23 15:04:52 mx postfix/cleanup[1]: ABCDE12345: milter-reject: END-OF-MESSAGE from x[192.0.2.1]: 5.7.1 Command rejected; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
            "Nov 23 15:04:52 mx postfix/smtpd[1]: Anonymous TLS connection established from x[192.0.2.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
            "Nov 23 15:04:52 mx postfix/smtpd[1]: warning: hostname mail.example.com does not resolve to address 192.0.2.1",
            "Nov 23 15:04:52 mx postfix/postscreen[1]: DNSBL rank 3 for [192.0.2.1]:5678",
        ];
        for l in lines {
            assert_eq!(m.process(l), LineOutcome::Recognised, "{l}");
        }
        let s = expose(&m);
        for want in [
            "postfix_smtpd_sasl_authentication_failures_total 1\n",
            "postfix_smtpd_sasl_authentication_failures_by_method_total{postfix_instance=\"postfix\",service=\"submission\",sasl_method=\"LOGIN\"} 1\n",
            "postfix_smtpd_messages_processed_total{sasl_method=\"PLAIN\"} 1\n",
            "postfix_cleanup_milter_actions_total{postfix_instance=\"postfix\",service=\"\",action=\"milter_reject\"} 1\n",
            "postfix_smtpd_tls_connections_total{trust=\"Anonymous\",protocol=\"TLSv1.3\",cipher=\"TLS_AES_256_GCM_SHA384\"} 1\n",
            "postfix_smtpd_forward_confirmed_reverse_dns_errors_total 1\n",
            "postfix_postscreen_dnsbl_rank_count 1\n",
            "postfix_log_messages_by_severity_total{postfix_instance=\"postfix\",service=\"submission\",daemon=\"smtpd\",severity=\"warning\"} 1\n",
        ] {
            assert!(s.contains(want), "missing {want}\n{s}");
        }
    }
}
