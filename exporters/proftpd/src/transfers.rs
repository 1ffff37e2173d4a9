//! Transfer counters: what `proftpd_transfers_total`, `proftpd_transfer_bytes_total` and
//! `proftpd_transfer_duration_seconds` count, from the TransferLog or from an ExtendedLog
//! (see [`crate::extended`]), never both for one transfer.

use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use common::follow::{LineHandler, LineOutcome};

use crate::xferlog::{Direction, Protocol, parse};

type L1 = [(&'static str, &'static str); 1];
type L2 = [(&'static str, &'static str); 2];
type L3 = [(&'static str, &'static str); 3];

/// Upper bounds of the transfer duration histogram, in seconds: the TransferLog has whole
/// seconds (a sub-second transfer is 0), an ExtendedLog with `%{transfer-millisecs}` fills
/// the small buckets.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The transfer metric families, shared by every transfer source.
#[derive(Debug, Clone)]
pub struct TransferMetrics {
    transfers: Family<L3, Counter>,
    bytes: Family<L2, Counter>,
    duration: Family<L1, Histogram, fn() -> Histogram>,
    anonymous: Family<L1, Counter>,
    series: Arc<Series>,
}

const PROTOCOLS: usize = 5;

/// Each series once looked up, so a line costs no label hashing (a third of the
/// TransferLog's time at a million lines per second); filled on first use, so a series
/// appears when the first transfer of its kind does, as with the families alone.
#[derive(Debug, Default)]
struct Series {
    transfers: [[[OnceLock<Counter>; PROTOCOLS]; 2]; 3],
    bytes: [[OnceLock<Counter>; PROTOCOLS]; 3],
    duration: [OnceLock<Histogram>; 3],
}

fn direction_index(d: Direction) -> usize {
    match d {
        Direction::Upload => 0,
        Direction::Download => 1,
        Direction::Delete => 2,
    }
}

fn protocol_index(p: Protocol) -> usize {
    match p {
        Protocol::Ftp => 0,
        Protocol::Ftps => 1,
        Protocol::Sftp => 2,
        Protocol::Scp => 3,
        Protocol::Other => 4,
    }
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Default for TransferMetrics {
    fn default() -> Self {
        Self::new()
    }
}

const DIRECTIONS: [Direction; 3] = [Direction::Upload, Direction::Download, Direction::Delete];

impl TransferMetrics {
    /// The families, with every direction's series present from the start (0).
    pub fn new() -> Self {
        let m = TransferMetrics {
            transfers: Family::default(),
            bytes: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            anonymous: Family::default(),
            series: Arc::default(),
        };
        for d in DIRECTIONS {
            for status in ["complete", "incomplete"] {
                m.transfers
                    .get_or_create(&[
                        ("direction", d.as_str()),
                        ("status", status),
                        ("protocol", "ftp"),
                    ])
                    .get();
            }
            m.bytes
                .get_or_create(&[("direction", d.as_str()), ("protocol", "ftp")])
                .get();
            let _ = m.duration.get_or_create(&[("direction", d.as_str())]);
        }
        m
    }

    /// Registers the families under `proftpd_`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "proftpd_transfers",
            "File transfers by direction (upload, download, delete), status (complete, incomplete) and protocol",
            self.transfers.clone(),
        );
        r.register(
            "proftpd_transfer_bytes",
            "Bytes transferred by direction and protocol (a delete counts the file's size)",
            self.bytes.clone(),
        );
        r.register(
            "proftpd_transfer_duration_seconds",
            "Transfer duration by direction (milliseconds from an ExtendedLog's %{transfer-millisecs}, whole seconds from the TransferLog)",
            self.duration.clone(),
        );
        r.register(
            "proftpd_anonymous_transfers",
            "Transfers of anonymous logins, by direction",
            self.anonymous.clone(),
        );
    }

    /// Counts one transfer; `seconds` is `None` when the source has no duration.
    pub fn record(
        &self,
        direction: Direction,
        complete: bool,
        protocol: Protocol,
        bytes: u64,
        seconds: Option<f64>,
        anonymous: bool,
    ) {
        let (d, p) = (direction.as_str(), protocol.as_str());
        let (di, pi) = (direction_index(direction), protocol_index(protocol));
        let status = if complete { "complete" } else { "incomplete" };
        self.series.transfers[di][usize::from(!complete)][pi]
            .get_or_init(|| {
                self.transfers
                    .get_or_create(&[("direction", d), ("status", status), ("protocol", p)])
                    .clone()
            })
            .inc();
        self.series.bytes[di][pi]
            .get_or_init(|| {
                self.bytes
                    .get_or_create(&[("direction", d), ("protocol", p)])
                    .clone()
            })
            .inc_by(bytes);
        // A delete takes no time worth a histogram sample.
        if let Some(secs) = seconds.filter(|_| direction != Direction::Delete) {
            self.series.duration[di]
                .get_or_init(|| self.duration.get_or_create(&[("direction", d)]).clone())
                .observe(secs);
        }
        if anonymous {
            self.anonymous(direction);
        }
    }

    /// Counts one transfer of an anonymous login (only the TransferLog says which are).
    pub fn anonymous(&self, direction: Direction) {
        self.anonymous
            .get_or_create(&[("direction", direction.as_str())])
            .inc();
    }
}

/// What the TransferLog's lines count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransferLogMode {
    /// Every transfer.
    #[default]
    All,
    /// Only `proftpd_anonymous_transfers_total`: the transfers themselves come from an
    /// ExtendedLog with millisecond durations, and the TransferLog alone knows which logins
    /// were anonymous.
    AnonymousOnly,
}

/// The TransferLog's line handler.
#[derive(Debug, Clone, Default)]
pub struct TransferLog {
    metrics: TransferMetrics,
    mode: TransferLogMode,
}

impl TransferLog {
    /// A handler counting every transfer into `metrics`.
    pub fn new(metrics: TransferMetrics) -> Self {
        Self {
            metrics,
            mode: TransferLogMode::All,
        }
    }

    /// The same handler counting only what `mode` says.
    pub fn with_mode(self, mode: TransferLogMode) -> Self {
        Self { mode, ..self }
    }
}

impl LineHandler for TransferLog {
    fn handle_line(&self, line: &str) -> LineOutcome {
        if line.trim().is_empty() {
            return LineOutcome::Handled;
        }
        match parse(line) {
            Ok(t) if self.mode == TransferLogMode::AnonymousOnly => {
                if t.anonymous {
                    self.metrics.anonymous(t.direction);
                }
                LineOutcome::Recognised
            }
            Ok(t) => {
                self.metrics.record(
                    t.direction,
                    t.complete,
                    t.protocol,
                    t.bytes,
                    Some(t.seconds as f64),
                    t.anonymous,
                );
                LineOutcome::Recognised
            }
            Err(e) => LineOutcome::Unsupported(e.as_str().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_become_counters() {
        let m = TransferMetrics::new();
        let h = TransferLog::new(m.clone());
        for l in [
            "Sun Nov 22 23:02:37 2026 0 127.0.0.1 12345 /h/a/r.txt b _ i r alice ftp 0 * c",
            "Sun Nov 22 23:02:37 2026 0 127.0.0.1 131072 /h/a/big.bin b _ o r alice ftp 0 * i",
            "Sun Nov 22 23:02:59 2026 8 127.0.0.1 600 /h/a/tls.txt b _ i r alice ftps 0 * c",
            "Sun Nov 22 23:02:37 2026 0 127.0.0.1 12 /h/a/n.txt a _ d a x@y ftp 0 * c",
        ] {
            assert_eq!(h.handle_line(l), LineOutcome::Recognised, "{l}");
        }
        assert_eq!(
            h.handle_line("nonsense"),
            LineOutcome::Unsupported("too_short".into())
        );
        let mut r = Registry::default();
        m.register(&mut r);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        for want in [
            "proftpd_transfers_total{direction=\"upload\",status=\"complete\",protocol=\"ftp\"} 1",
            "proftpd_transfers_total{direction=\"upload\",status=\"complete\",protocol=\"ftps\"} 1",
            "proftpd_transfers_total{direction=\"download\",status=\"incomplete\",protocol=\"ftp\"} 1",
            "proftpd_transfers_total{direction=\"delete\",status=\"complete\",protocol=\"ftp\"} 1",
            "proftpd_transfer_bytes_total{direction=\"upload\",protocol=\"ftp\"} 12345",
            "proftpd_transfer_bytes_total{direction=\"download\",protocol=\"ftp\"} 131072",
            "proftpd_transfer_duration_seconds_count{direction=\"upload\"} 2",
            "proftpd_transfer_duration_seconds_sum{direction=\"upload\"} 8.0",
            "proftpd_transfer_duration_seconds_count{direction=\"delete\"} 0",
            "proftpd_anonymous_transfers_total{direction=\"delete\"} 1",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }

    #[test]
    fn anonymous_only_mode_counts_no_transfers() {
        let m = TransferMetrics::new();
        let h = TransferLog::new(m.clone()).with_mode(TransferLogMode::AnonymousOnly);
        for l in [
            "Sun Nov 22 23:02:37 2026 3 127.0.0.1 12345 /pub/r.txt b _ o a guest@example ftp 0 * c",
            "Sun Nov 22 23:02:37 2026 0 127.0.0.1 10 /h/a/r.txt b _ i r alice ftp 0 * c",
        ] {
            assert_eq!(h.handle_line(l), LineOutcome::Recognised, "{l}");
        }
        let mut r = Registry::default();
        m.register(&mut r);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        for want in [
            "proftpd_anonymous_transfers_total{direction=\"download\"} 1",
            "proftpd_transfers_total{direction=\"download\",status=\"complete\",protocol=\"ftp\"} 0",
            "proftpd_transfers_total{direction=\"upload\",status=\"complete\",protocol=\"ftp\"} 0",
            "proftpd_transfer_duration_seconds_count{direction=\"download\"} 0",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }
}
