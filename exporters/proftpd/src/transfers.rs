//! Transfer counters from the TransferLog: what `proftpd_transfers_total`,
//! `proftpd_transfer_bytes_total` and `proftpd_transfer_duration_seconds` count.

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
            "Transfer duration by direction (whole seconds from the TransferLog)",
            self.duration.clone(),
        );
        r.register(
            "proftpd_anonymous_transfers",
            "Transfers of anonymous logins, by direction",
            self.anonymous.clone(),
        );
    }

    /// Counts one transfer.
    pub fn record(
        &self,
        direction: Direction,
        complete: bool,
        protocol: Protocol,
        bytes: u64,
        seconds: f64,
        anonymous: bool,
    ) {
        let (d, p) = (direction.as_str(), protocol.as_str());
        let status = if complete { "complete" } else { "incomplete" };
        self.transfers
            .get_or_create(&[("direction", d), ("status", status), ("protocol", p)])
            .inc();
        self.bytes
            .get_or_create(&[("direction", d), ("protocol", p)])
            .inc_by(bytes);
        // A delete takes no time worth a histogram sample.
        if direction != Direction::Delete {
            self.duration
                .get_or_create(&[("direction", d)])
                .observe(seconds);
        }
        if anonymous {
            self.anonymous.get_or_create(&[("direction", d)]).inc();
        }
    }
}

/// The TransferLog's line handler.
#[derive(Debug, Clone, Default)]
pub struct TransferLog {
    metrics: TransferMetrics,
}

impl TransferLog {
    /// A handler counting into `metrics`.
    pub fn new(metrics: TransferMetrics) -> Self {
        Self { metrics }
    }
}

impl LineHandler for TransferLog {
    fn handle_line(&self, line: &str) -> LineOutcome {
        if line.trim().is_empty() {
            return LineOutcome::Handled;
        }
        match parse(line) {
            Ok(t) => {
                self.metrics.record(
                    t.direction,
                    t.complete,
                    t.protocol,
                    t.bytes,
                    t.seconds as f64,
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
}
