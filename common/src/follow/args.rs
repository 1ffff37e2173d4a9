//! The `--collector.log.*` flags of log collectors: which sources, and how they are read.

use std::time::Duration;

use super::{DEFAULT_ROTATED_COPIES, FollowOptions, Source, TeeTarget};

/// The log-source flags every log collector shares (`--collector.log.*`), flattened into
/// the collector's own flags.
#[derive(clap::Args, Debug, Clone)]
pub struct FollowArgs {
    /// Log input: /path, file:PATH, fifo:PATH, - (stdin), udp://HOST:PORT or unixgram:PATH
    /// (syslog datagrams, RFC 3164 or 5424). Repeatable: several sources (say two
    /// instances' files) feed the same counters.
    #[arg(long = "collector.log.source", action = clap::ArgAction::Append)]
    pub log_source: Vec<String>,
    /// How the sources are read.
    #[command(flatten)]
    pub read: ReadArgs,
}

/// How log sources are read (`--collector.log.*`): for exporters whose sources have flags
/// of their own (ProFTPd's one flag per log kind).
#[derive(clap::Args, Debug, Clone)]
pub struct ReadArgs {
    /// Read an existing log file from its beginning instead of its end.
    #[arg(long = "collector.log.from-beginning")]
    pub from_beginning: bool,
    /// Longest log line accepted; longer lines are cut and counted.
    #[arg(long = "collector.log.max-line-bytes", default_value_t = 64 * 1024)]
    pub max_line_bytes: usize,
    /// Where logrotate's copytruncate leaves the copy (`{}` is the log path, one `*` any
    /// text); repeatable. On truncation the rest of the old content is read from it.
    #[arg(long = "collector.log.rotated-copy", action = clap::ArgAction::Append, default_values_t = DEFAULT_ROTATED_COPIES.map(String::from))]
    pub rotated_copies: Vec<String>,
    /// How often a log file at its end (or not there yet) is looked at again.
    #[arg(long = "collector.log.poll-interval", default_value = "250ms", value_parser = crate::cli::parse_duration)]
    pub poll_interval: Duration,
    /// Copy every log line read, unchanged, to the exporter's stdout (or stderr), so one
    /// syslog or FIFO path from the mail daemon feeds both the metrics and the container
    /// log pipeline. The exporter's own log stays on stderr.
    #[arg(long = "collector.log.tee", value_enum)]
    pub tee: Option<TeeTarget>,
}

impl ReadArgs {
    /// `spec` as a source (`/path`, `file:`, `fifo:`, `-`, `udp://`, `unixgram:`), a file
    /// read from its beginning with --collector.log.from-beginning; `flag` names the flag in
    /// the error.
    pub fn source(&self, flag: &str, spec: &str) -> anyhow::Result<Source> {
        use anyhow::Context;
        let src: Source = spec.parse().with_context(|| format!("--{flag}={spec}"))?;
        Ok(match src {
            Source::File { path, .. } => Source::File {
                path,
                from_beginning: self.from_beginning,
            },
            other => other,
        })
    }

    /// How each follower reads; `log_unsupported` logs unsupported lines at info level.
    pub fn options(&self, log_unsupported: bool) -> FollowOptions {
        FollowOptions {
            max_line_bytes: self.max_line_bytes.max(256),
            poll_interval: self.poll_interval.max(Duration::from_millis(1)),
            log_unsupported,
            rotated_copies: self.rotated_copies.clone(),
            tee: self.tee,
        }
    }
}

impl FollowArgs {
    /// The sources the flags name; `default` (a file followed from its end, or from its
    /// beginning with --collector.log.from-beginning) when none is given. An error names
    /// the bad flag value; no source at all is an error too.
    pub fn sources(&self, default: Option<&std::path::Path>) -> anyhow::Result<Vec<Source>> {
        use anyhow::Context;
        if self.log_source.is_empty() {
            let path = default.context("no log source: give --collector.log.source")?;
            return Ok(vec![Source::File {
                path: path.to_path_buf(),
                from_beginning: self.read.from_beginning,
            }]);
        }
        self.log_source
            .iter()
            .map(|s| self.read.source("collector.log.source", s))
            .collect()
    }

    /// How each follower reads; `log_unsupported` logs unsupported lines at info level.
    pub fn options(&self, log_unsupported: bool) -> FollowOptions {
        self.read.options(log_unsupported)
    }
}
