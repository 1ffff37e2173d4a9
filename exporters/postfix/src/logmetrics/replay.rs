//! Replaying a whole log through [`LogMetrics`] outside a follower: the `print --format log`
//! subcommand, the corpus check and the kumina/Hsn723 replay tests use it to see what the
//! live exporter would count, and which lines it would leave unsupported.

use std::collections::BTreeMap;

use common::MetricSet;
use common::follow::{LineHandler, LineOutcome};

use super::LogMetrics;

const UNSUPPORTED_HELP: &str = "Lines no parser recognised, by daemon";

/// What a replay read: the follower's own line counters, which [`LogMetrics`] does not keep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Lines read (empty lines are skipped, as the follower does).
    pub lines: u64,
    /// Unsupported lines by the daemon they were attributed to.
    pub unsupported: BTreeMap<String, u64>,
}

impl ReplaySummary {
    /// Unsupported lines in total.
    pub fn unsupported_total(&self) -> u64 {
        self.unsupported.values().sum()
    }

    /// `postfix_log_lines_total` and `postfix_log_lines_unsupported_total{daemon}`, the
    /// names the follower exports (without its `source` label: a replay has one input).
    pub fn into_metrics(self) -> MetricSet {
        let mut set = MetricSet::new();
        set.counter(
            "postfix_log_lines",
            "Lines read from the log",
            common::metricset::labels(&[]),
            self.lines as f64,
        );
        set.declare(
            "postfix_log_lines_unsupported",
            UNSUPPORTED_HELP,
            common::metricset::Kind::Counter,
        );
        for (daemon, n) in &self.unsupported {
            set.counter(
                "postfix_log_lines_unsupported",
                UNSUPPORTED_HELP,
                common::metricset::labels(&[("daemon", daemon)]),
                *n as f64,
            );
        }
        set
    }
}

/// Feeds every line of `text` to `metrics`; `on_unsupported(daemon, line)` sees each line
/// no parser recognised.
pub fn replay(
    metrics: &LogMetrics,
    text: &str,
    on_unsupported: &mut dyn FnMut(&str, &str),
) -> ReplaySummary {
    let mut summary = ReplaySummary::default();
    // memchr, as the follower splits: `str::lines` costs more than parsing some lines.
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(at) => (
                rest.get(..at).unwrap_or(""),
                rest.get(at + 1..).unwrap_or(""),
            ),
            None => (rest, ""),
        };
        rest = tail;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        summary.lines += 1;
        if let LineOutcome::Unsupported(daemon) = metrics.handle_line(line) {
            on_unsupported(&daemon, line);
            *summary.unsupported.entry(daemon).or_default() += 1;
        }
    }
    metrics.flush();
    summary
}
