//! Turning bytes into lines and lines into handler calls, with bounded memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;

use super::tee::Tee;
use super::{LineHandler, LineOutcome, MAX_UNSUPPORTED_VALUES, SourceMetrics};
use crate::labels::BoundedLabel;

/// Splits a byte stream into lines, calls the handler on each and keeps the metrics.
pub(super) struct LineReader {
    handler: Arc<dyn LineHandler>,
    metrics: SourceMetrics,
    max: usize,
    /// Unsupported lines are logged at info level (else debug), here and only here.
    loud: bool,
    /// The start of a line whose `\n` has not arrived yet; never longer than `max`.
    pending: Vec<u8>,
    /// Inside an over-long line whose first `max` bytes were delivered: skip to `\n`.
    discarding: bool,
    /// Caps the distinct unsupported values; the map caches their counters.
    unsupported_values: BoundedLabel,
    unsupported: HashMap<Arc<str>, Counter>,
    unflushed: u64,
    /// `--collector.log.tee`: the bytes read, copied out unchanged.
    tee: Option<Tee>,
}

impl LineReader {
    pub(super) fn new(
        handler: Arc<dyn LineHandler>,
        metrics: SourceMetrics,
        max: usize,
        loud: bool,
        tee: Option<Tee>,
    ) -> Self {
        Self {
            handler,
            metrics,
            max: max.max(1),
            loud,
            pending: Vec::new(),
            discarding: false,
            unsupported_values: BoundedLabel::new(MAX_UNSUPPORTED_VALUES, None, &[]),
            unsupported: HashMap::new(),
            unflushed: 0,
            tee,
        }
    }

    pub(super) fn metrics(&self) -> &SourceMetrics {
        &self.metrics
    }

    /// Feeds bytes of a stream; complete lines are delivered, the rest is kept.
    pub(super) fn feed(&mut self, all: &[u8]) {
        if let Some(tee) = &mut self.tee {
            tee.stream(all);
        }
        // Validated once per read, not once per line (that was a twentieth of a line's
        // cost): the lines inside the valid prefix are cut from it as `&str`.
        let valid: &str = match std::str::from_utf8(all) {
            Ok(s) => s,
            Err(e) => all
                .get(..e.valid_up_to())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
        };
        let mut data = all;
        let mut pos = 0;
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let (seg, rest) = data.split_at(nl);
            let start = pos;
            pos += nl + 1;
            data = rest.get(1..).unwrap_or_default();
            if self.discarding {
                self.discarding = false;
            } else if self.pending.is_empty() {
                match valid.get(start..start + seg.len()) {
                    Some(line) if seg.len() <= self.max => self.deliver_str(line),
                    _ => self.deliver_bounded(seg),
                }
            } else {
                let room = self.max.saturating_sub(self.pending.len());
                let take = seg.len().min(room);
                self.pending
                    .extend_from_slice(seg.get(..take).unwrap_or_default());
                let line = std::mem::take(&mut self.pending);
                self.deliver(&line);
                if seg.len() > room {
                    self.metrics.truncated.inc();
                }
                // Keep the allocation for the next partial line.
                self.pending = line;
                self.pending.clear();
            }
        }
        if !data.is_empty() && !self.discarding {
            let room = self.max.saturating_sub(self.pending.len());
            if data.len() > room {
                // Deliver what fits now so memory stays bounded whatever the line length.
                self.pending
                    .extend_from_slice(data.get(..room).unwrap_or_default());
                let line = std::mem::take(&mut self.pending);
                self.deliver(&line);
                self.metrics.truncated.inc();
                self.pending = line;
                self.pending.clear();
                self.discarding = true;
            } else {
                self.pending.extend_from_slice(data);
            }
        }
        self.flush_metrics();
    }

    /// The stream ended (EOF, file switched): a buffered partial line is delivered as is.
    pub(super) fn finish_stream(&mut self) {
        if let Some(tee) = &mut self.tee {
            tee.end_stream();
        }
        if !self.pending.is_empty() && !self.discarding {
            let line = std::mem::take(&mut self.pending);
            self.deliver(&line);
            self.pending = line;
        }
        self.pending.clear();
        self.discarding = false;
        self.flush_metrics();
    }

    /// Delivers the lines of one syslog datagram: each `\n`-separated part is a line,
    /// trailing `\0` (some senders include the C string terminator) removed.
    pub(super) fn datagram(&mut self, data: &[u8]) {
        if let Some(tee) = &mut self.tee {
            tee.datagram(data);
        }
        for part in data.split(|&b| b == b'\n') {
            let end = part.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            self.deliver_bounded(part.get(..end).unwrap_or_default());
        }
        self.flush_metrics();
    }

    fn deliver_bounded(&mut self, line: &[u8]) {
        if line.len() > self.max {
            self.deliver(line.get(..self.max).unwrap_or_default());
            self.metrics.truncated.inc();
        } else {
            self.deliver(line);
        }
    }

    /// Calls the handler on one line (terminator already removed); empty lines are skipped.
    fn deliver(&mut self, raw: &[u8]) {
        match std::str::from_utf8(raw) {
            Ok(line) => self.deliver_str(line),
            Err(_) => self.deliver_str(&String::from_utf8_lossy(raw)),
        }
    }

    /// [`LineReader::deliver`] for a line already known to be UTF-8.
    fn deliver_str(&mut self, line: &str) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return;
        }
        self.unflushed += 1;
        if let LineOutcome::Unsupported(value) = self.handler.handle_line(line) {
            let source = self.metrics.name();
            if self.loud {
                tracing::info!(source, value = %value, line, "unsupported log line");
            } else {
                tracing::debug!(source, value = %value, line, "unsupported log line");
            }
            self.count_unsupported(&value);
        }
    }

    fn count_unsupported(&mut self, value: &str) {
        let value = self.unsupported_values.get(value);
        if let Some(c) = self.unsupported.get(&value) {
            c.inc();
            return;
        }
        let counter = self.metrics.unsupported_counter(&value);
        counter.inc();
        self.unsupported.insert(value, counter);
    }

    /// Updates the per-line metrics once per read rather than once per line.
    fn flush_metrics(&mut self) {
        if self.unflushed == 0 {
            return;
        }
        self.handler.flush();
        self.metrics.lines.inc_by(self.unflushed);
        self.unflushed = 0;
        if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
            self.metrics.last_line_timestamp.set(d.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CollectLines;

    /// Lines starting with `?` are unsupported, each with its own reason, to fill the
    /// capped reason label.
    fn question_marks_unsupported(line: &str) -> LineOutcome {
        if line.starts_with('?') {
            LineOutcome::Unsupported(line.to_string())
        } else {
            LineOutcome::Recognised
        }
    }

    fn reader(max: usize) -> (Arc<CollectLines>, LineReader) {
        let c = Arc::new(CollectLines::new(question_marks_unsupported));
        let m = super::super::FollowMetrics::new("t", "service").source("test");
        (c.clone(), LineReader::new(c, m, max, false, None))
    }

    #[test]
    fn splits_and_buffers() {
        let (c, mut r) = reader(8);
        r.feed(b"ab\r\ncd");
        r.feed(b"e\n\nfgh");
        r.feed(b"\n");
        assert_eq!(c.lines(), ["ab", "cde", "fgh"]);
        assert_eq!(r.metrics().lines.get(), 3);
    }

    #[test]
    fn truncates_long_lines_once() {
        let (c, mut r) = reader(4);
        r.feed(b"123456789\nab");
        r.feed(b"cdefgh");
        r.feed(b"ijk\nxy\n1234\n");
        r.feed(b"12");
        r.feed(b"34");
        r.feed(b"\n");
        assert_eq!(c.lines(), ["1234", "abcd", "xy", "1234", "1234"]);
        assert_eq!(r.metrics().truncated.get(), 2);
        assert!(r.pending.capacity() <= 64);
    }

    #[test]
    fn datagrams_and_lossy_utf8() {
        let (c, mut r) = reader(5);
        r.datagram(b"<13>a\nb\xffc\n\0");
        r.datagram(b"toolongline\0\0");
        assert_eq!(c.lines(), ["<13>a", "b\u{fffd}c", "toolo"]);
        assert_eq!(r.metrics().truncated.get(), 1);
    }

    #[test]
    fn unsupported_cardinality_is_capped() {
        let (_c, mut r) = reader(100);
        for i in 0..100 {
            r.feed(format!("?{i}\n?{i}\n").as_bytes());
        }
        assert_eq!(r.metrics().unsupported_total("?0"), 2);
        assert_eq!(r.metrics().unsupported_total("?63"), 2);
        assert_eq!(r.metrics().unsupported_total("?64"), 0);
        assert_eq!(r.metrics().unsupported_total("other"), 72);
    }

    /// Records, at each flush, the lines it had seen and the lines the follower had counted.
    #[derive(Default)]
    struct FlushLog {
        seen: std::sync::atomic::AtomicU64,
        counted: std::sync::OnceLock<Counter>,
        flushes: std::sync::Mutex<Vec<(u64, u64)>>,
    }

    impl LineHandler for FlushLog {
        fn handle_line(&self, _line: &str) -> LineOutcome {
            self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            LineOutcome::Recognised
        }
        fn flush(&self) {
            let seen = self.seen.load(std::sync::atomic::Ordering::Relaxed);
            let counted = self.counted.get().map_or(u64::MAX, Counter::get);
            if let Ok(mut f) = self.flushes.lock() {
                f.push((seen, counted));
            }
        }
    }

    #[test]
    fn handler_flushes_once_per_read_before_lines_are_counted() {
        let h = Arc::new(FlushLog::default());
        let m = super::super::FollowMetrics::new("t", "service").source("test");
        let _ = h.counted.set(m.lines.clone());
        let mut r = LineReader::new(h.clone(), m, 100, false, None);
        r.feed(b"a\nb\nc");
        // Only a partial line: nothing handled, nothing to publish.
        r.feed(b"d");
        r.feed(b"\n");
        r.datagram(b"x\ny");
        let flushes = h.flushes.lock().map(|f| f.clone()).unwrap_or_default();
        // Each flush sees its read's lines handled but not yet counted.
        assert_eq!(flushes, [(2, 0), (3, 2), (5, 3)]);
        assert_eq!(r.metrics().lines.get(), 5);
    }

    #[test]
    fn finish_stream_delivers_partial() {
        let (c, mut r) = reader(10);
        r.feed(b"a\nbc");
        r.finish_stream();
        r.feed(b"d\n");
        assert_eq!(c.lines(), ["a", "bc", "d"]);
    }
}
