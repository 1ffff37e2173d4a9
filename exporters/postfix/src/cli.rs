//! Flags of the Postfix exporter, including kumina/Hsn723 postfix_exporter's drop-in
//! flags, and the `print` subcommand.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use common::cli::{LogArgs, WebArgs, parse_duration};

use crate::collector::qshape::QshapeConfig;
use crate::collector::queue::{ListingFormat, QueueConfig, QueueSource, aggregate_reader};
use crate::queue::ShapeOptions;

/// All flags of `postfix-exporter`.
#[derive(clap::Parser, Debug, Clone)]
#[command(subcommand_negates_reqs = true)]
pub struct Args {
    /// HTTP server flags.
    #[command(flatten)]
    pub web: WebArgs,
    /// Logging flags.
    #[command(flatten)]
    pub log: LogArgs,
    /// Process metrics flags (`--process.watch`).
    #[command(flatten)]
    pub process: common::process::ProcessArgs,
    /// Queue collector flags.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// qshape-text collector flags.
    #[command(flatten)]
    pub qshape: QshapeArgs,
    /// Log collector flags.
    #[command(flatten)]
    pub maillog: MaillogArgs,
    /// Optional subcommand; without one the exporter serves HTTP.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Read showq bytes, `postqueue -j`, `mailq` or `qshape` output and print the metrics
    /// (text format 0.0.4, for node_exporter's textfile collector or debugging).
    Print(PrintArgs),
}

/// Input format of `print`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintFormat {
    /// Detect: NUL bytes → showq, `{` → postqueue -j, a qshape header → qshape, else mailq.
    Auto,
    /// Raw showq stream.
    Showq,
    /// `postqueue -j` JSON lines.
    Json,
    /// `mailq` / `postqueue -p` text.
    Mailq,
    /// `qshape` text.
    Qshape,
}

/// Flags of `print`.
#[derive(clap::Args, Debug, Clone)]
pub struct PrintArgs {
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: PrintFormat,
    /// Queue label for qshape input (qshape does not say which queues it read).
    #[arg(long, default_value = "deferred")]
    pub queue: String,
    /// Input file; standard input when absent or `-`.
    pub input: Option<PathBuf>,
}

/// How the showq service is reached.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowqNetwork {
    /// The unix socket at `--postfix.showq_path`.
    Unix,
    /// TCP at `--postfix.showq_address` (or 127.0.0.1:`--postfix.showq_port`).
    Tcp,
}

/// Queue source kind.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The showq service (no Postfix binaries needed).
    Showq,
    /// A command printing `postqueue -j` JSON or `mailq` text.
    Command,
    /// A file with showq bytes, `postqueue -j` JSON or `mailq` text.
    File,
    /// The queue directory itself (`--postfix.queue_directory`; needs the postfix user or root).
    Spool,
}

/// Flags of the `queue` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueArgs {
    /// Path of the showq unix socket (kumina/Hsn723 compatible).
    #[arg(
        long = "postfix.showq_path",
        default_value = "/var/spool/postfix/public/showq"
    )]
    pub showq_path: PathBuf,
    /// How to reach showq: unix or tcp (Hsn723 compatible).
    #[arg(long = "postfix.showq_network", value_enum, default_value = "unix")]
    pub showq_network: ShowqNetwork,
    /// TCP port of a showq inet service on 127.0.0.1 (Hsn723 compatible).
    #[arg(long = "postfix.showq_port", default_value_t = 10025)]
    pub showq_port: u16,
    /// Full `host:port` of a showq inet service; overrides --postfix.showq_port.
    #[arg(long = "postfix.showq_address")]
    pub showq_address: Option<String>,
    /// Where the queue listing comes from.
    #[arg(long = "collector.queue.source", value_enum, default_value = "showq")]
    pub source: SourceKind,
    /// Postfix queue_directory for --collector.queue.source=spool.
    #[arg(long = "postfix.queue_directory", default_value = "/var/spool/postfix")]
    pub queue_directory: PathBuf,
    /// Command for --collector.queue.source=command (split on whitespace).
    #[arg(long = "collector.queue.command", default_value = "postqueue -j")]
    pub command: String,
    /// File for --collector.queue.source=file.
    #[arg(long = "collector.queue.file")]
    pub file: Option<PathBuf>,
    /// Background refresh interval.
    #[arg(long = "collector.queue.interval", default_value = "30s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Bound on one queue walk.
    #[arg(long = "collector.queue.timeout", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Queues that get a qshape matrix (comma-separated; empty for none).
    #[arg(
        long = "collector.queue.qshape-queues",
        default_value = "deferred",
        value_delimiter = ','
    )]
    pub qshape_queues: Vec<String>,
    /// Domains per queue kept as labels in postfix_qshape_recipients; the rest is `other`.
    #[arg(long = "collector.queue.qshape-top-domains", default_value_t = 20)]
    pub qshape_top_domains: usize,
    /// First age bucket width in minutes (qshape -t).
    #[arg(long = "collector.queue.qshape-bucket-minutes", default_value_t = 5)]
    pub qshape_bucket_minutes: u32,
    /// Number of age buckets (qshape -b).
    #[arg(long = "collector.queue.qshape-buckets", default_value_t = 10)]
    pub qshape_buckets: usize,
    /// Linear age buckets (qshape -l).
    #[arg(long = "collector.queue.qshape-linear")]
    pub qshape_linear: bool,
    /// Count sender domains instead of recipient domains (qshape -s).
    #[arg(long = "collector.queue.qshape-senders")]
    pub qshape_senders: bool,
    /// Count force-expired messages in the matrix (qshape skips them).
    #[arg(long = "collector.queue.qshape-include-expired")]
    pub qshape_include_expired: bool,
    /// Longest showq attribute value accepted.
    #[arg(long = "collector.queue.max-value-bytes", default_value_t = 64 * 1024)]
    pub max_value_bytes: usize,
}

impl QueueArgs {
    /// The qshape options these flags describe.
    pub fn shape(&self) -> anyhow::Result<ShapeOptions> {
        if self.qshape_buckets == 0 || self.qshape_buckets > 64 {
            bail!("--collector.queue.qshape-buckets must be between 1 and 64");
        }
        if self.qshape_bucket_minutes == 0 {
            bail!("--collector.queue.qshape-bucket-minutes must be at least 1");
        }
        Ok(ShapeOptions {
            queues: self
                .qshape_queues
                .iter()
                .map(|q| q.trim().to_string())
                .filter(|q| !q.is_empty())
                .collect(),
            first_bucket_minutes: self.qshape_bucket_minutes,
            buckets: self.qshape_buckets,
            linear: self.qshape_linear,
            by_sender: self.qshape_senders,
            top_domains: self.qshape_top_domains,
            include_expired: self.qshape_include_expired,
        })
    }

    /// The collector configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<QueueConfig> {
        let source = match self.source {
            SourceKind::Showq => match self.showq_network {
                ShowqNetwork::Unix => QueueSource::ShowqUnix(self.showq_path.clone()),
                ShowqNetwork::Tcp => QueueSource::ShowqTcp(
                    self.showq_address
                        .clone()
                        .unwrap_or_else(|| format!("127.0.0.1:{}", self.showq_port)),
                ),
            },
            SourceKind::Command => QueueSource::Command(split_command(&self.command)?),
            SourceKind::Spool => QueueSource::Spool(self.queue_directory.clone()),
            SourceKind::File => QueueSource::File(
                self.file
                    .clone()
                    .context("--collector.queue.source=file needs --collector.queue.file")?,
            ),
        };
        Ok(QueueConfig {
            source,
            shape: self.shape()?,
            interval: self.interval.max(Duration::from_millis(100)),
            timeout: self.timeout.max(Duration::from_millis(100)),
            max_value_bytes: self.max_value_bytes.max(1024),
            ..QueueConfig::default()
        })
    }
}

/// Flags of the `qshape` collector (qshape text from a command or a file).
#[derive(clap::Args, Debug, Clone)]
pub struct QshapeArgs {
    /// Command printing qshape output, e.g. `qshape deferred` (split on whitespace).
    #[arg(long = "collector.qshape.command")]
    pub text_command: Option<String>,
    /// File holding qshape output (re-read at every scrape).
    #[arg(long = "collector.qshape.file")]
    pub text_file: Option<PathBuf>,
    /// Value of the `queue` label (qshape does not say which queues it read).
    #[arg(long = "collector.qshape.queue", default_value = "deferred")]
    pub text_queue: String,
    /// Domains kept as labels; the rest is `other`.
    #[arg(long = "collector.qshape.top-domains", default_value_t = 20)]
    pub text_top_domains: usize,
}

impl QshapeArgs {
    /// The collector configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<QshapeConfig> {
        let command = self
            .text_command
            .as_deref()
            .map(split_command)
            .transpose()?;
        if command.is_none() && self.text_file.is_none() {
            bail!("--collector.qshape needs --collector.qshape.command or --collector.qshape.file");
        }
        Ok(QshapeConfig {
            command,
            file: self.text_file.clone(),
            queue: self.text_queue.clone(),
            top_domains: self.text_top_domains,
        })
    }
}

fn split_command(s: &str) -> anyhow::Result<Vec<String>> {
    let v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if v.is_empty() {
        bail!("empty command");
    }
    Ok(v)
}

/// Runs `print`: reads the input, prints metrics in text format 0.0.4.
pub fn print(p: &PrintArgs) -> ExitCode {
    match print_to_string(p) {
        Ok(s) => {
            print!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("postfix-exporter print: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The text `print` writes for this input.
pub fn print_to_string(p: &PrintArgs) -> anyhow::Result<String> {
    let mut input = Vec::new();
    match p.input.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            input = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
        }
    }
    let set = metrics_for_input(&input, p.format, &p.queue, SystemTime::now())?;
    let mut reg = prometheus_client::registry::Registry::default();
    reg.register_collector(Box::new(set.into_collector()));
    let mut om = String::new();
    prometheus_client::encoding::text::encode(&mut om, &reg).context("encoding")?;
    Ok(common::negotiate::openmetrics_to_text004(&om))
}

/// Metrics for one input held in memory (shared by `print` and tests).
pub fn metrics_for_input(
    input: &[u8],
    format: PrintFormat,
    qshape_queue: &str,
    now: SystemTime,
) -> anyhow::Result<common::MetricSet> {
    let text_head = String::from_utf8_lossy(&input[..input.len().min(512)]).to_string();
    let is_qshape = text_head
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.split_whitespace().next() == Some("T"));
    let format = match format {
        PrintFormat::Auto if is_qshape && !input.contains(&0) => PrintFormat::Qshape,
        f => f,
    };
    let listing = match format {
        PrintFormat::Qshape => {
            let text = String::from_utf8_lossy(input);
            return crate::collector::qshape::metrics_from_text(&text, qshape_queue, 20);
        }
        PrintFormat::Auto => None,
        PrintFormat::Showq => Some(ListingFormat::Showq),
        PrintFormat::Json => Some(ListingFormat::Json),
        PrintFormat::Mailq => Some(ListingFormat::Mailq),
    };
    let walk = aggregate_reader(input, listing, now, &ShapeOptions::default(), 64 * 1024)?;
    Ok(walk.aggregator.into_metrics())
}

/// Flags of the `log` collector.
#[derive(clap::Args, Debug, Clone)]
pub struct MaillogArgs {
    /// Mail log file to follow (kumina compatible); see --collector.log.source for other inputs.
    #[arg(long = "postfix.logfile_path", default_value = "/var/log/mail.log")]
    pub logfile_path: PathBuf,
    /// Log input instead of --postfix.logfile_path: /path, file:PATH, fifo:PATH, - (stdin),
    /// udp://HOST:PORT or unixgram:PATH (syslog datagrams, RFC 3164 or 5424).
    #[arg(long = "collector.log.source")]
    pub log_source: Option<String>,
    /// Read an existing log file from its beginning instead of its end.
    #[arg(long = "collector.log.from-beginning")]
    pub from_beginning: bool,
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
    /// Longest log line accepted; longer lines are cut and counted.
    #[arg(long = "collector.log.max-line-bytes", default_value_t = 64 * 1024)]
    pub max_line_bytes: usize,
    /// How often a log file at its end (or not there yet) is looked at again.
    #[arg(long = "collector.log.poll-interval", default_value = "250ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
}

impl MaillogArgs {
    /// The log source these flags describe.
    pub fn source(&self) -> anyhow::Result<common::follow::Source> {
        let src = match &self.log_source {
            Some(s) => s
                .parse::<common::follow::Source>()
                .with_context(|| format!("--collector.log.source={s}"))?,
            None => common::follow::Source::File {
                path: self.logfile_path.clone(),
                from_beginning: false,
            },
        };
        Ok(match src {
            common::follow::Source::File { path, .. } => common::follow::Source::File {
                path,
                from_beginning: self.from_beginning,
            },
            other => other,
        })
    }

    /// The log metrics options these flags describe (reads the rules and master.cf files).
    pub fn options(&self) -> anyhow::Result<crate::logmetrics::LogMetricsOptions> {
        let mut o = crate::logmetrics::LogMetricsOptions {
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
            o.reject_rules = crate::reject_rules::RejectRules::from_yaml_file(p)?;
        }
        if let Some(p) = &self.master_cf {
            o = o
                .with_master_cf(p)
                .with_context(|| format!("reading --postfix.master_cf {}", p.display()))?;
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> (Args, Vec<&'static str>) {
        let mut v = vec!["postfix-exporter"];
        v.extend_from_slice(args);
        common::cli::try_parse_from::<Args, _, _>(&crate::INFO, crate::COLLECTORS, v).unwrap()
    }

    #[test]
    fn kumina_flags_and_defaults() {
        let (a, on) = parse(&[]);
        assert_eq!(on, vec!["queue", "log"]);
        assert_eq!(a.web.listen_addresses, vec![":9154"]);
        match a.queue.config().unwrap().source {
            QueueSource::ShowqUnix(p) => {
                assert_eq!(p, PathBuf::from("/var/spool/postfix/public/showq"))
            }
            other => panic!("{other:?}"),
        }
        let (a, _) = parse(&[
            "--postfix.showq_network=tcp",
            "--postfix.showq_port=10026",
            "--postfix.logfile_path=/var/log/postfix.log",
            "--log.unsupported",
        ]);
        match a.queue.config().unwrap().source {
            QueueSource::ShowqTcp(addr) => assert_eq!(addr, "127.0.0.1:10026"),
            other => panic!("{other:?}"),
        }
        assert!(a.maillog.log_unsupported);
        assert_eq!(
            a.maillog.source().unwrap(),
            common::follow::Source::File {
                path: "/var/log/postfix.log".into(),
                from_beginning: false
            }
        );
    }

    #[test]
    fn shape_flags_are_validated() {
        let (a, _) = parse(&["--collector.queue.qshape-buckets=0"]);
        assert!(a.queue.config().is_err());
        let (a, _) = parse(&[
            "--collector.queue.qshape-queues=deferred,hold",
            "--collector.queue.qshape-linear",
            "--collector.queue.qshape-bucket-minutes=2",
            "--collector.queue.qshape-buckets=5",
        ]);
        let s = a.queue.shape().unwrap();
        assert_eq!(s.queues, vec!["deferred", "hold"]);
        assert_eq!(s.bucket_labels(), ["2", "4", "6", "8", "8+"]);
        let (a, on) = parse(&["--collector.qshape", "--no-collector.log"]);
        assert_eq!(on, vec!["queue", "qshape"]);
        assert!(a.qshape.config().is_err(), "qshape needs a command or file");
        let (a, _) = parse(&["--collector.log.source=udp://127.0.0.1:5514"]);
        assert_eq!(
            a.maillog.source().unwrap(),
            common::follow::Source::SyslogUdp("127.0.0.1:5514".parse().unwrap())
        );
        let (a, _) = parse(&["--collector.log.source=bogus"]);
        assert!(a.maillog.source().is_err());
    }
}
