//! The `service` collector: every Dovecot service's process count against its limits, and
//! whether the master throttles it or has clients waiting, from `doveadm service status`.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use common::MetricSet;
use common::collector::{Setup, Spec};
use common::logging::FailureLog;
use common::metricset::labels;
use common::runner::{CollectContext, Collector};

use crate::service::{FIELDS, parse_service_status};

/// The `service` collector's entry in the exporter's list.
pub const COLLECTOR: Spec<ServiceArgs> = Spec {
    name: "service",
    default_enabled: false,
    help: "process counts, limits and throttling per Dovecot service from doveadm service status (needs doveadm)",
    build,
};

/// Flags of the `service` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct ServiceArgs {
    /// Command printing `doveadm service status` output, any formatter (split on white space).
    #[arg(
        long = "collector.service.command",
        default_value = "doveadm service status"
    )]
    pub service_command: String,
}

/// The collector.
#[derive(Debug)]
pub struct ServiceCollector {
    argv: Vec<String>,
    failures: FailureLog,
}

fn build(args: ServiceArgs, setup: &mut Setup) -> anyhow::Result<()> {
    let argv =
        common::command::split(&args.service_command).context("--collector.service.command")?;
    tracing::info!(command = %argv.join(" "), "service collector enabled");
    setup.add(Arc::new(ServiceCollector {
        argv,
        failures: FailureLog::new(),
    }));
    Ok(())
}

#[async_trait]
impl Collector for ServiceCollector {
    async fn collect(&self, ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        let what = "doveadm service status";
        let read = async {
            let out = common::command::output(&self.argv, ctx.timeout).await?;
            parse_service_status(&String::from_utf8_lossy(&out))
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.argv.join(" ")))
        };
        let (services, bad) = match read.await {
            Ok(v) => v,
            Err(e) => {
                self.failures.failed(what, &format!("{e:#}"));
                return Err(e);
            }
        };
        self.failures.ok(what);
        let mut m = MetricSet::new();
        for f in &FIELDS {
            for s in &services {
                let Some((_, v)) = s.values.iter().find(|(x, _)| x.key == f.key) else {
                    continue;
                };
                let l = labels(&[("service", s.name.as_str())]);
                if f.counter {
                    m.counter(f.metric, f.help, l, *v);
                } else {
                    m.gauge(f.metric, f.help, l, *v);
                }
            }
        }
        m.gauge(
            "dovecot_service_unreadable_records",
            "Records of the last doveadm service status that could not be read",
            vec![],
            bad as f64,
        );
        Ok(m)
    }
}
