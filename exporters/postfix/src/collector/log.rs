//! The `log` collector: counters from the Postfix mail log, read from one or more sources
//! (a file, a FIFO, stdin or syslog datagrams). Reject reason rules are re-read on reload.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use common::collector::{Setup, Spec};
use common::follow::{FollowArgs, FollowOptions, Source};
use common::reload::{Commit, FnReloadable};

use crate::logmetrics::{LogMetrics, LogMetricsOptions};
use crate::reject_rules::RejectRules;

/// The `log` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<MaillogArgs> = Spec {
    name: "log",
    default_enabled: true,
    help: "mail log counters (deliveries, rejects, SASL, TLS, postscreen, delays) from a file, FIFO, stdin or syslog",
    build,
};

/// The label of `postfix_log_lines_unsupported_total` besides `source`.
const UNSUPPORTED_LABEL: &str = "daemon";

fn build(args: MaillogArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let sources = args.sources()?;
    let metrics = Arc::new(LogMetrics::new(args.options()?));
    metrics.register(setup.registry());
    if let Some(path) = args.reject_rules.clone() {
        let m = Arc::clone(&metrics);
        let what = format!("reject rules {}", path.display());
        setup.add_reloadable(Arc::new(FnReloadable::new(what, move || {
            let rules = RejectRules::from_yaml_file(&path)?;
            let m = Arc::clone(&m);
            Ok(Box::new(move || m.set_reject_rules(rules)) as Commit)
        })));
    }
    let opts = args.follow_options();
    setup.follow_all(sources, metrics, UNSUPPORTED_LABEL, opts)?;
    Ok(())
}

/// Flags of the `log` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct MaillogArgs {
    /// Mail log file to follow (kumina compatible); see --collector.log.source for other inputs.
    #[arg(long = "postfix.logfile_path", default_value = "/var/log/mail.log")]
    pub logfile_path: PathBuf,
    /// Log inputs and how they are read (`--collector.log.*`).
    #[command(flatten)]
    pub follow: FollowArgs,
    /// Log every unsupported line at info level (kumina compatible; debug level otherwise).
    #[arg(long = "log.unsupported")]
    pub log_unsupported: bool,
    /// YAML file of reject reason rules (see docs/postfix.md).
    #[arg(long = "collector.log.reject-rules")]
    pub reject_rules: Option<PathBuf>,
    /// Add a `cipher` label to the TLS connection counters (more series).
    #[arg(long = "collector.log.tls-cipher-labels")]
    pub tls_cipher_labels: bool,
    /// master.cf whose service names bound the `service` label (others become `other`).
    #[arg(long = "postfix.master_cf")]
    pub master_cf: Option<PathBuf>,
    /// Extra syslog_name values that are Postfix (besides `postfix` and `postfix-*`), comma-separated.
    #[arg(long = "collector.log.syslog-names", value_delimiter = ',')]
    pub syslog_names: Vec<String>,
}

impl MaillogArgs {
    /// The log sources these flags describe (at least one): --collector.log.source, or
    /// --postfix.logfile_path when none is given.
    pub fn sources(&self) -> anyhow::Result<Vec<Source>> {
        self.follow.sources(Some(&self.logfile_path))
    }

    /// How each follower reads.
    pub fn follow_options(&self) -> FollowOptions {
        self.follow.options(self.log_unsupported)
    }

    /// The log metrics options these flags describe (reads the rules and master.cf files).
    pub fn options(&self) -> anyhow::Result<LogMetricsOptions> {
        let mut o = LogMetricsOptions {
            syslog_names: self
                .syslog_names
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            tls_cipher_labels: self.tls_cipher_labels,
            ..Default::default()
        };
        if let Some(p) = &self.reject_rules {
            o.reject_rules = RejectRules::from_yaml_file(p)?;
        }
        if let Some(p) = &self.master_cf {
            o = o
                .with_master_cf(p)
                .with_context(|| format!("reading --postfix.master_cf {}", p.display()))?;
        }
        Ok(o)
    }
}
