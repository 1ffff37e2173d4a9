//! `--collector.log.tee`: every line a follower reads, copied unchanged to the exporter's
//! stdout (or stderr).
//!
//! In a pod, one syslog socket or FIFO from the mail daemon can then feed both the metrics
//! and the container log pipeline (Loki and friends read the container's stdout): the
//! daemon writes its log once, to the exporter. The exporter's own log goes to stderr, so
//! stdout holds the mail log alone.
//!
//! Lines of several sources share the stream: each write holds whole lines only, under the
//! stream's lock, so lines never interleave. Lines longer than `max_line_bytes` reach the
//! tee whole (the metrics see them cut). A line longer than [`TEE_MAX_PENDING`] (or
//! `max_line_bytes`, when larger) is the exception: its first part is written when that
//! much has arrived, so memory stays bounded.

use std::io::Write;

/// The most a tee holds of a line whose newline has not arrived yet.
pub const TEE_MAX_PENDING: usize = 1 << 20;

/// Where the tee writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeeTarget {
    /// The exporter's standard output (what a container runtime ships as the container log).
    Stdout,
    /// The exporter's standard error, beside its own log.
    Stderr,
}

/// One follower's tee: the bytes read since the last complete line, and whether the
/// stream failed (logged once until a write succeeds again).
#[derive(Debug)]
pub(super) struct Tee {
    target: TeeTarget,
    source: String,
    pending: Vec<u8>,
    max: usize,
    failing: bool,
}

impl Tee {
    pub(super) fn new(target: TeeTarget, source: &str, max: usize) -> Self {
        Self {
            target,
            source: source.to_string(),
            pending: Vec::new(),
            max: max.max(TEE_MAX_PENDING),
            failing: false,
        }
    }

    /// Bytes of a stream as read: the complete lines among them are written.
    pub(super) fn stream(&mut self, data: &[u8]) {
        if self.pending.is_empty() {
            match memchr::memrchr(b'\n', data) {
                Some(last) => {
                    self.write(data.get(..=last).unwrap_or_default());
                    self.pending
                        .extend_from_slice(data.get(last + 1..).unwrap_or_default());
                }
                None => self.pending.extend_from_slice(data),
            }
        } else {
            self.pending.extend_from_slice(data);
            if let Some(last) = memchr::memrchr(b'\n', &self.pending) {
                let rest = self.pending.split_off(last + 1);
                let lines = std::mem::replace(&mut self.pending, rest);
                self.write(&lines);
            }
        }
        if self.pending.len() > self.max {
            let part = std::mem::take(&mut self.pending);
            self.write(&part);
        }
    }

    /// The stream ended: a last line without its newline is written with one.
    pub(super) fn end_stream(&mut self) {
        if !self.pending.is_empty() {
            let mut line = std::mem::take(&mut self.pending);
            line.push(b'\n');
            self.write(&line);
        }
    }

    /// One syslog datagram, as received (trailing NULs aside), as one line per part.
    pub(super) fn datagram(&mut self, data: &[u8]) {
        let end = data.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        let data = data.get(..end).unwrap_or_default();
        if data.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(data.len() + 1);
        buf.extend_from_slice(data);
        if !data.ends_with(b"\n") {
            buf.push(b'\n');
        }
        self.write(&buf);
    }

    fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let result = match self.target {
            TeeTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            TeeTarget::Stderr => std::io::stderr().lock().write_all(bytes),
        };
        match result {
            Ok(()) => self.failing = false,
            // A closed or full-disk stdout must not stop the metrics: the lines were
            // counted already; say so once until the stream works again.
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(source = %self.source, error = %e, "log tee: cannot write; lines are still counted");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_partial_lines_until_their_newline() {
        let mut t = Tee::new(TeeTarget::Stderr, "t", 8);
        t.max = 8;
        t.stream(b"ab");
        assert_eq!(t.pending, b"ab");
        t.stream(b"c\nde");
        assert_eq!(t.pending, b"de");
        t.stream(b"f\ng\n");
        assert!(t.pending.is_empty());
        t.stream(b"0123456789");
        // Over the bound: written as a part, nothing held.
        assert!(t.pending.is_empty());
        t.stream(b"xy");
        t.end_stream();
        assert!(t.pending.is_empty());
    }
}
