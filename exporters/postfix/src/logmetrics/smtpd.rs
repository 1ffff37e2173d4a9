//! smtpd: connections, sessions, received messages, SASL failures, command statistics
//! and restriction/milter actions (TLS sessions are in `tls`).

use std::cell::OnceCell;

use common::batch::LocalCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{
    AfterStageLabel, BoundedLabel, CodeLabel, CommandLabels, RejectLabels, SaslMethodLabel, Shared,
    SvcAfterStageLabels, SvcLabels, SvcSaslMethodLabels, closed, closed_index,
};
use crate::parse::log::{ActionKind, ActionLine, CommandStats};
use crate::reject_rules::RejectRules;

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

/// The smtpd counters of one program tag (see `DeliveryCache`): a disconnect line
/// updates up to a dozen of them.
#[derive(Debug, Default)]
pub(super) struct SmtpdCache {
    /// By command (`COMMANDS` order, then `other`) and result (accepted, rejected).
    commands: [[OnceCell<LocalCounter>; 2]; COMMANDS.len() + 1],
    connects: OnceCell<LocalCounter>,
    disconnects: OnceCell<LocalCounter>,
    /// kumina's messages processed, by SASL method: none, `SASL_METHODS`, `other`.
    processed: [OnceCell<LocalCounter>; SASL_METHODS.len() + 2],
}

impl SmtpdCache {
    /// Publishes the pending updates (see `common::batch`).
    pub(super) fn flush(&self) {
        let all = self.commands.iter().flatten().chain(&self.processed);
        let all = all.chain([&self.connects, &self.disconnects]);
        for c in all.filter_map(OnceCell::get) {
            c.flush();
        }
    }
}

/// smtpd counters.
#[derive(Debug)]
pub(super) struct SmtpdMetrics {
    enhanced_codes: BoundedLabel,
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
    smtpd_bare_lf: Family<SvcAfterStageLabels, Counter>,
    smtpd_proxy: Family<SvcLabels, Counter>,
}

impl SmtpdMetrics {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            enhanced_codes: BoundedLabel::new(cap, None, &[]),
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
            smtpd_bare_lf: Family::default(),
            smtpd_proxy: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        self.register_kumina(r);
        r.register(
            "postfix_smtpd_bare_lf_received",
            "Clients that sent a bare <LF> (smtpd_forbid_bare_newline), by the last command",
            self.smtpd_bare_lf.clone(),
        );
        r.register(
            "postfix_smtpd_proxy_filter_transactions",
            "Mail transactions handed to a before-queue content filter (NOQUEUE: client= lines)",
            self.smtpd_proxy.clone(),
        );
    }

    fn register_kumina(&self, r: &mut Registry) {
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
    }

    pub(super) fn connect(&self, cache: &SmtpdCache) {
        cache
            .connects
            .get_or_init(|| LocalCounter::new(self.smtpd_connects.clone()))
            .inc();
    }

    pub(super) fn disconnect(
        &self,
        stats: CommandStats<'_>,
        inst: &Shared,
        svc: &Shared,
        cache: &SmtpdCache,
    ) {
        cache
            .disconnects
            .get_or_init(|| LocalCounter::new(self.smtpd_disconnects.clone()))
            .inc();
        for (cmd, ok, total) in stats.iter() {
            if cmd == "commands" {
                continue;
            }
            let i = closed_index(cmd, &COMMANDS).unwrap_or(COMMANDS.len());
            let command = COMMANDS.get(i).copied().unwrap_or("other");
            let results = [("accepted", ok), ("rejected", total.saturating_sub(ok))];
            for ((result, n), slot) in results.into_iter().zip(&cache.commands[i]) {
                if n > 0 {
                    slot.get_or_init(|| {
                        LocalCounter::new(
                            self.smtpd_commands
                                .get_or_create(&CommandLabels {
                                    postfix_instance: inst.clone(),
                                    service: svc.clone(),
                                    command,
                                    result,
                                })
                                .clone(),
                        )
                    })
                    .inc_by(u64::from(n));
                }
            }
        }
    }

    pub(super) fn lost_connection(&self, stage: &str) {
        self.smtpd_lost
            .get_or_create(&AfterStageLabel {
                after_stage: closed(stage, &SMTP_STAGES),
            })
            .inc();
    }

    pub(super) fn timeout(&self, stage: &str, inst: Shared, svc: Shared) {
        let l = SvcAfterStageLabels {
            postfix_instance: inst,
            service: svc,
            after_stage: closed(stage, &SMTP_STAGES),
        };
        self.smtpd_timeouts.get_or_create(&l).inc();
    }

    pub(super) fn too_many_errors(&self, stage: &str, inst: Shared, svc: Shared) {
        let l = SvcAfterStageLabels {
            postfix_instance: inst,
            service: svc,
            after_stage: closed(stage, &SMTP_STAGES),
        };
        self.smtpd_too_many_errors.get_or_create(&l).inc();
    }

    pub(super) fn client(&self, sasl_method: Option<&str>, cache: &SmtpdCache) {
        let i = sasl_method.map_or(0, |m| {
            closed_index(m, &SASL_METHODS).map_or(SASL_METHODS.len() + 1, |i| i + 1)
        });
        let Some(slot) = cache.processed.get(i) else {
            return;
        };
        slot.get_or_init(|| {
            let sasl_method = sasl_method.map_or("", |m| closed(m, &SASL_METHODS));
            LocalCounter::new(
                self.smtpd_processed
                    .get_or_create(&SaslMethodLabel { sasl_method })
                    .clone(),
            )
        })
        .inc();
    }

    pub(super) fn sasl_failed(&self, method: &str, inst: Shared, svc: Shared) {
        self.smtpd_sasl_failures.inc();
        let l = SvcSaslMethodLabels {
            postfix_instance: inst,
            service: svc,
            sasl_method: closed(method, &SASL_METHODS),
        };
        self.smtpd_sasl_failures_by_method.get_or_create(&l).inc();
    }

    pub(super) fn bare_lf(&self, stage: &str, inst: Shared, svc: Shared) {
        let l = SvcAfterStageLabels {
            postfix_instance: inst,
            service: svc,
            after_stage: closed(stage, &SMTP_STAGES),
        };
        self.smtpd_bare_lf.get_or_create(&l).inc();
    }

    pub(super) fn proxy_client(&self, inst: Shared, svc: Shared) {
        let l = SvcLabels {
            postfix_instance: inst,
            service: svc,
        };
        self.smtpd_proxy.get_or_create(&l).inc();
    }

    pub(super) fn reverse_dns_mismatch(&self) {
        self.smtpd_fcrdns.inc();
    }

    /// An action from smtpd (or any daemon other than cleanup and postscreen).
    pub(super) fn action(
        &self,
        a: &ActionLine<'_>,
        inst: Shared,
        svc: Shared,
        rules: &RejectRules,
    ) {
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
            reason: rules.classify(a.text),
        };
        self.smtpd_rejects.get_or_create(&labels).inc();
    }
}
