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
//!
//! # Layout
//!
//! Each daemon family (`delivery`, `qmgr`, `smtpd`, `tls`, `cleanup`, `bounce`,
//! `postscreen`, `postsuper`, as in [`crate::parse::log`]) owns its metric families and
//! registers them; `labels` holds the label sets. This file keeps what spans every line:
//! the options, the Postfix/foreign decision, severities, the last-line timestamp and the
//! dispatch of parsed events to the families.

mod bounce;
mod cleanup;
mod client;
mod delivery;
mod general;
mod labels;
mod postscreen;
mod postsuper;
mod qmgr;
mod replay;
mod smtpd;
mod tls;

pub use replay::{ReplaySummary, replay};

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;

use common::follow::{LineHandler, LineOutcome};
use common::logline::{self, PrefixFormat};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use self::bounce::BounceMetrics;
use self::cleanup::CleanupMetrics;
use self::client::ClientMetrics;
use self::delivery::{DeliveryCache, DeliveryMetrics};
use self::general::GeneralMetrics;
use self::labels::{BoundedLabel, ProgramLabel, SeverityLabels, Shared, closed};
use self::postscreen::PostscreenMetrics;
use self::postsuper::PostsuperMetrics;
use self::qmgr::{QmgrCache, QmgrMetrics};
use self::smtpd::{SmtpdCache, SmtpdMetrics};
use self::tls::TlsMetrics;
use crate::parse::log::{self as plog, Event};
use crate::reject_rules::RejectRules;

const DAEMONS: [&str; 43] = [
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
    "postfix",
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

/// What a program tag (`postfix-out/submission/smtpd`) means, worked out once per distinct
/// tag: splitting it, deciding Postfix or foreign and bounding its labels was a fifth of
/// the per-line cost, and a log has a few dozen tags. It also keeps the tag's metric
/// handles (see `DeliveryCache`).
#[derive(Debug)]
struct TagInfo {
    /// A Postfix syslog_name (else a foreign program).
    postfix: bool,
    /// OpenDKIM, whose signatures kumina counts.
    opendkim: bool,
    /// Foreign lines: the counter of `postfix_log_foreign_lines_total{program}`.
    foreign: Option<Counter>,
    inst: Shared,
    svc: Shared,
    /// The tag has no daemon segment: it is inferred per line.
    infer_daemon: bool,
    /// Its label (closed set).
    daemon: &'static str,
    /// Its parser.
    kind: plog::DaemonKind,
    caches: TagCaches,
}

/// The metric handles of one tag; a line whose daemon is inferred gets its own, for that
/// line only.
#[derive(Debug, Default)]
struct TagCaches {
    delivery: DeliveryCache,
    smtpd: SmtpdCache,
    qmgr: QmgrCache,
}

impl TagCaches {
    fn flush(&self) {
        self.delivery.flush();
        self.smtpd.flush();
        self.qmgr.flush();
    }
}

/// One follower thread's view of one [`LogMetrics`]: its program tags and the newest
/// timestamp text. Thread-local, so a line takes no lock and no reference count: the
/// atomic operations of a shared cache were a large part of a line's CPU time.
#[derive(Debug, Default)]
struct ThreadCache {
    /// Which `LogMetrics` (its `id`) the entries belong to.
    owner: u64,
    tags: rustc_hash::FxHashMap<Box<str>, TagInfo>,
    /// The last timestamp text and its value, parsed once per distinct text.
    last_ts: (String, Option<f64>),
    /// Some tag's handles may hold updates not yet published.
    dirty: bool,
}

thread_local! {
    static CACHE: std::cell::RefCell<ThreadCache> = std::cell::RefCell::new(ThreadCache::default());
}

/// Gives each `LogMetrics` its own identity for the thread caches.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Distinct tags kept; past this (a log with ever new program names) tags are worked out
/// per line, which is only slower.
const TAG_CACHE_SIZE: usize = 256;

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
    /// Identity for the thread caches (tags are labelled by this instance's options).
    id: u64,

    delivery: DeliveryMetrics,
    client: ClientMetrics,
    general: GeneralMetrics,
    qmgr: QmgrMetrics,
    smtpd: SmtpdMetrics,
    tls: TlsMetrics,
    cleanup: CleanupMetrics,
    bounce: BounceMetrics,
    postscreen: PostscreenMetrics,
    postsuper: PostsuperMetrics,

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
        // `replace`, not `take`: the default would compile the built-in rules a second time.
        let rules = std::mem::replace(&mut options.reject_rules, RejectRules::empty());
        let allow = options
            .services
            .as_ref()
            .map(|s| s.iter().cloned().collect::<HashSet<String>>());
        Self {
            instances: BoundedLabel::new(cap, None, &["postfix"]),
            services: BoundedLabel::new(cap, allow, &[]),
            programs: BoundedLabel::new(cap, None, &[]),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),

            delivery: DeliveryMetrics::new(cap),
            client: ClientMetrics::new(),
            general: GeneralMetrics::new(cap),
            qmgr: QmgrMetrics::new(),
            smtpd: SmtpdMetrics::new(cap),
            tls: TlsMetrics::new(cap, options.tls_cipher_labels),
            cleanup: CleanupMetrics::new(),
            bounce: BounceMetrics::new(),
            postscreen: PostscreenMetrics::new(),
            postsuper: PostsuperMetrics::new(),

            severity: Family::default(),
            foreign: Family::default(),
            last_line_timestamp: Gauge::default(),
            reject_rules: std::sync::RwLock::new(Arc::new(rules)),
            options,
        }
    }

    /// Registers every family (names without `_total`; prometheus-client appends it).
    pub fn register(&self, r: &mut Registry) {
        // This order is the exposition order, which the golden tests pin.
        self.delivery.register(r);
        self.qmgr.register(r);
        self.smtpd.register(r);
        self.tls.register(r);
        self.cleanup.register(r);
        self.bounce.register(r);
        self.postscreen.register(r);
        self.postsuper.register(r);
        self.client.register(r);
        self.general.register(r);
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

    fn tag_info(&self, tag: &str) -> TagInfo {
        let program = plog::split_program(tag);
        let postfix = self.is_postfix(program.instance);
        let foreign = (!postfix).then(|| {
            self.foreign
                .get_or_create(&ProgramLabel {
                    program: self.programs.get(program.instance),
                })
                .clone()
        });
        TagInfo {
            postfix,
            opendkim: program.instance == "opendkim",
            foreign,
            inst: self.instances.get(program.instance),
            svc: self.services.get(program.service.unwrap_or("")),
            infer_daemon: program.daemon.is_empty(),
            daemon: closed(program.daemon, &DAEMONS),
            kind: plog::DaemonKind::of(program.daemon),
            caches: TagCaches::default(),
        }
    }

    fn is_postfix(&self, instance: &str) -> bool {
        instance == "postfix"
            || instance.starts_with("postfix-")
            || self.options.syslog_names.iter().any(|n| n == instance)
    }

    fn observe_timestamp(&self, last: &mut (String, Option<f64>), ts: &str, format: PrefixFormat) {
        // Consecutive lines mostly share the (second-resolution) text: parse once.
        if last.0 != ts {
            last.1 = logline::parse_timestamp(ts, format, SystemTime::now());
            last.0.clear();
            last.0.push_str(ts);
            if let Some(v) = last.1
                && v > self.last_line_timestamp.get()
            {
                self.last_line_timestamp.set(v);
            }
        }
    }

    /// Parses one complete log line and updates the metrics; see [`LineHandler`].
    ///
    /// A line without a known prefix is `Unsupported("unknown")`; a line from a program
    /// that is not a Postfix syslog_name is counted in `postfix_log_foreign_lines_total`
    /// and `Handled`; a Postfix line of an unknown shape is `Unsupported(daemon)` with the
    /// daemon from the closed set (`other` for unknown daemons). Lines read and
    /// unsupported lines are counted by the follower, not here.
    ///
    /// The metrics are up to date when it returns; the follower instead calls
    /// [`LineHandler::handle_line`], which batches the updates until
    /// [`LineHandler::flush`].
    pub fn process(&self, line: &str) -> LineOutcome {
        let outcome = self.process_batched(line);
        self.flush_thread();
        outcome
    }

    /// Publishes the updates this thread batched (see `common::batch`).
    fn flush_thread(&self) {
        CACHE.with_borrow_mut(|cache| {
            if cache.owner == self.id && cache.dirty {
                cache.dirty = false;
                for tag in cache.tags.values() {
                    tag.caches.flush();
                }
            }
        });
    }

    /// [`LogMetrics::process`] without the flush: the cached handles keep their updates.
    fn process_batched(&self, line: &str) -> LineOutcome {
        let Some(parsed) = logline::parse(line) else {
            return LineOutcome::Unsupported("unknown".to_string());
        };
        CACHE.with_borrow_mut(|cache| {
            if cache.owner != self.id {
                // Dropping the other owner's handles publishes what they held.
                *cache = ThreadCache {
                    owner: self.id,
                    ..ThreadCache::default()
                };
            }
            cache.dirty = true;
            let ThreadCache { tags, last_ts, .. } = cache;
            // One hash lookup on the common path (a known tag).
            if let Some(tag) = tags.get(parsed.program) {
                return self.process_tagged(tag, last_ts, &parsed);
            }
            let info = self.tag_info(parsed.program);
            if tags.len() < TAG_CACHE_SIZE {
                let tag = tags.entry(parsed.program.into()).or_insert(info);
                return self.process_tagged(tag, last_ts, &parsed);
            }
            self.process_tagged(&info, last_ts, &parsed)
        })
    }

    fn process_tagged(
        &self,
        tag: &TagInfo,
        last_ts: &mut (String, Option<f64>),
        parsed: &logline::LogLine<'_>,
    ) -> LineOutcome {
        if !tag.postfix {
            if tag.opendkim {
                self.general.opendkim(parsed.message);
            }
            if let Some(c) = &tag.foreign {
                c.inc();
            }
            return LineOutcome::Handled;
        }
        self.observe_timestamp(last_ts, parsed.timestamp, parsed.format);
        // RFC 5424 with an empty MSGID/SD leaves the separating space on the message.
        let message = parsed.message.trim_start_matches(' ');
        // An inferred daemon differs per line: its handles are not the tag's.
        let inferred;
        let (kind, daemon) = if tag.infer_daemon {
            let d = plog::infer_daemon(message);
            inferred = Some(TagCaches::default());
            (plog::DaemonKind::of(d), closed(d, &DAEMONS))
        } else {
            inferred = None;
            (tag.kind, tag.daemon)
        };
        let caches = inferred.as_ref().unwrap_or(&tag.caches);
        let msg = plog::parse_message_of(kind, message);
        // Cloned (an atomic increment) only where a label set is built.
        let (inst, svc) = (&tag.inst, &tag.svc);
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
        if !msg.shape_known {
            let level = msg.severity.map_or("", |s| s.as_str());
            self.general.unsupported(daemon, level);
        }
        match msg.event {
            Event::Unsupported => return LineOutcome::Unsupported(daemon.to_string()),
            Event::Info | Event::Pickup { .. } => {}
            Event::Delivery(d) => self
                .delivery
                .delivery(&d, daemon, inst, svc, &caches.delivery),
            Event::QmgrActive { size, nrcpt, .. } => self.qmgr.active(size, nrcpt, &caches.qmgr),
            Event::QmgrRemoved { .. } => self.qmgr.removed(&caches.qmgr),
            Event::QmgrExpired { .. } => {
                self.qmgr.expired();
                self.delivery.expired(daemon, inst.clone(), svc.clone());
            }
            Event::SmtpdConnect => self.smtpd.connect(&caches.smtpd),
            Event::SmtpdDisconnect(stats) => self.smtpd.disconnect(stats, inst, svc, &caches.smtpd),
            Event::SmtpdLostConnection { stage } => self.smtpd.lost_connection(stage),
            Event::SmtpdTimeout { stage } => self.smtpd.timeout(stage, inst.clone(), svc.clone()),
            Event::SmtpdTooManyErrors { stage } => {
                self.smtpd.too_many_errors(stage, inst.clone(), svc.clone())
            }
            Event::SmtpdClient { sasl_method, .. } => self.smtpd.client(sasl_method, &caches.smtpd),
            Event::SaslAuthFailed { method } => {
                self.smtpd.sasl_failed(method, inst.clone(), svc.clone())
            }
            Event::ReverseDnsMismatch => self.smtpd.reverse_dns_mismatch(),
            Event::SmtpdBareLf { stage } => self.smtpd.bare_lf(stage, inst.clone(), svc.clone()),
            Event::SmtpdProxyClient => self.smtpd.proxy_client(inst.clone(), svc.clone()),
            Event::SmtpSaslAuthFailed => self.client.sasl_failed(daemon, inst.clone(), svc.clone()),
            Event::SmtpConnectError(reason) => {
                self.client
                    .connect_error(reason, daemon, inst.clone(), svc.clone())
            }
            Event::TableChanged => self
                .general
                .table_restart(daemon, inst.clone(), svc.clone()),
            Event::Tls(t) => self.tls.connection(&t, daemon),
            Event::Action(a) => match daemon {
                "cleanup" => self.cleanup.action(&a, inst.clone(), svc.clone()),
                "postscreen" => self.postscreen.action(&a),
                _ => {
                    let rules = Arc::clone(
                        &self
                            .reject_rules
                            .read()
                            .unwrap_or_else(PoisonError::into_inner),
                    );
                    self.smtpd.action(&a, inst.clone(), svc.clone(), &rules)
                }
            },
            Event::CleanupMessageId { .. } => self.cleanup.message_id(),
            Event::BounceNotification(kind) => {
                self.bounce.notification(kind, inst.clone(), svc.clone())
            }
            Event::Postscreen(p) => self.postscreen.event(p, inst.clone(), svc.clone()),
            Event::Postsuper(a) => self.postsuper.action(a, inst.clone(), svc.clone()),
        }
        LineOutcome::Recognised
    }
}

impl LineHandler for LogMetrics {
    fn handle_line(&self, line: &str) -> LineOutcome {
        self.process_batched(line)
    }

    fn flush(&self) {
        self.flush_thread();
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

    const SENT: &str = "Nov 23 15:04:52 mx postfix/smtp[1]: ABCDE12345: to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.5, delays=0.1/0.2/0.3/0.9, dsn=2.0.0, status=sent (250 ok)";
    const SENT_SERIES: &str = "postfix_deliveries_total{postfix_instance=\"postfix\",service=\"\",daemon=\"smtp\",status=\"sent\",dsn_class=\"2\"}";

    fn count(m: &LogMetrics, series: &str) -> Option<String> {
        let s = expose(m);
        s.lines()
            .find_map(|l| l.strip_prefix(series))
            .map(|v| v.trim().to_string())
    }

    #[test]
    fn follower_updates_are_published_on_flush() {
        let m = LogMetrics::new(LogMetricsOptions::default());
        for _ in 0..3 {
            assert_eq!(m.handle_line(SENT), LineOutcome::Recognised);
        }
        m.flush();
        assert_eq!(count(&m, SENT_SERIES).as_deref(), Some("3"));
        let s = expose(&m);
        assert!(
            s.contains("postfix_smtp_delivery_delay_seconds_count{stage=\"transmission\"} 3\n"),
            "{s}"
        );
        assert!(
            s.contains("postfix_delivery_delay_seconds_sum{postfix_instance=\"postfix\",service=\"\",daemon=\"smtp\",stage=\"total\"} 4.5\n"),
            "{s}"
        );
        // `process` (direct callers, replays) publishes before it returns.
        assert_eq!(m.process(SENT), LineOutcome::Recognised);
        assert_eq!(count(&m, SENT_SERIES).as_deref(), Some("4"));
    }

    #[test]
    fn batched_updates_survive_another_instance_on_the_thread() {
        let a = LogMetrics::new(LogMetricsOptions::default());
        let b = LogMetrics::new(LogMetricsOptions::default());
        a.handle_line(SENT);
        a.handle_line(SENT);
        // b takes over this thread's cache: a's pending updates are published, not lost.
        b.handle_line(SENT);
        assert_eq!(count(&a, SENT_SERIES).as_deref(), Some("2"));
        b.flush();
        assert_eq!(count(&b, SENT_SERIES).as_deref(), Some("1"));
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
