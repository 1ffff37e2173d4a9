//! Flags: blackbox_exporter's (`--config.file`, `--config.check`, `--timeout-offset`) and
//! the common exporter flags.

use std::path::PathBuf;
use std::time::Duration;

use common::cli::{CommonArgs, parse_duration};

/// All flags of `mailprobe-exporter`.
#[derive(clap::Parser, Debug, Clone)]
pub struct Args {
    /// HTTP server, logging and process metrics flags.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Probe flags.
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The prober's own flags.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Probes")]
pub struct ProbeArgs {
    /// The module file (modules and delivery routes).
    #[arg(
        id = "probe_config_file",
        long = "config.file",
        default_value = "mailprobe.yml"
    )]
    pub config_file: PathBuf,
    /// Check the module file and exit (0 when it is valid).
    #[arg(long = "config.check")]
    pub config_check: bool,
    /// Time kept back from the scraper's X-Prometheus-Scrape-Timeout-Seconds for the response.
    #[arg(long = "timeout-offset", default_value = "0.5s", value_parser = parse_duration)]
    pub timeout_offset: Duration,
    /// Let modules without allowed_targets reach any target (default: loopback only).
    #[arg(long = "probe.allow-any-target")]
    pub allow_any_target: bool,
    /// Ask this DNS server (ip:port) instead of the system's resolvers.
    #[arg(long = "dns.server")]
    pub dns_server: Option<std::net::SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_defaults() {
        let (a, _) = common::cli::try_parse_args::<Args>(&crate::INFO, &[], &[]).unwrap();
        assert_eq!(a.probe.config_file, PathBuf::from("mailprobe.yml"));
        assert_eq!(a.probe.timeout_offset, Duration::from_millis(500));
        assert!(!a.probe.allow_any_target);
        assert_eq!(a.common.web.listen_addresses, vec![":9126".to_string()]);
        let (a, _) = common::cli::try_parse_args::<Args>(
            &crate::INFO,
            &[],
            &[
                "--config.file=/etc/m.yml",
                "--timeout-offset=1s",
                "--probe.allow-any-target",
                "--dns.server=127.0.0.1:5353",
            ],
        )
        .unwrap();
        assert_eq!(a.probe.timeout_offset, Duration::from_secs(1));
        assert!(a.probe.allow_any_target);
        assert_eq!(a.probe.dns_server.unwrap().port(), 5353);
        // The password is never a flag.
        assert!(
            common::cli::try_parse_args::<Args>(&crate::INFO, &[], &["--probe.password=x"])
                .is_err()
        );
    }
}
