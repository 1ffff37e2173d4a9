//! Helpers for this crate's own tests and benches: [`LineHandler`]s that record or count
//! what a follower delivers, and a polling wait.
//!
//! Built for this crate's unit tests (`cfg(test)`) and with the `testing` feature, which
//! common's dev-dependency on itself turns on for its integration tests and benches; a
//! normal build of an exporter never contains it. The end-to-end helpers (PKI, SMTP,
//! golden files, daemons) live in the `e2e-tests` crate instead, which does not depend on
//! this crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::follow::{LineHandler, LineOutcome};

/// How a test handler answers each line.
pub type Classify = fn(&str) -> LineOutcome;

/// Every line is [`LineOutcome::Recognised`].
pub fn recognise_all(_line: &str) -> LineOutcome {
    LineOutcome::Recognised
}

/// [`LineOutcome::Recognised`] when [`crate::logline::parse`] finds a syslog prefix,
/// otherwise `Unsupported("unknown")`: what a real exporter's handler does with foreign text.
pub fn recognise_log_prefix(line: &str) -> LineOutcome {
    if crate::logline::parse(line).is_some() {
        LineOutcome::Recognised
    } else {
        LineOutcome::Unsupported("unknown".into())
    }
}

/// A [`LineHandler`] that keeps every line it is given, in order.
#[derive(Debug)]
pub struct CollectLines {
    lines: Mutex<Vec<String>>,
    classify: Classify,
}

impl Default for CollectLines {
    fn default() -> Self {
        Self::new(recognise_all)
    }
}

impl CollectLines {
    /// A collector answering each line with `classify` (e.g. [`recognise_all`],
    /// [`recognise_log_prefix`], or a test's own rule).
    pub fn new(classify: Classify) -> Self {
        Self {
            lines: Mutex::new(Vec::new()),
            classify,
        }
    }

    /// The lines received so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many lines were received.
    pub fn len(&self) -> usize {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no line arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LineHandler for CollectLines {
    fn handle_line(&self, line: &str) -> LineOutcome {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.to_string());
        (self.classify)(line)
    }
}

/// A [`LineHandler`] that only counts lines: no lock and no allocation, so a benchmark
/// measures the follower rather than the handler.
#[derive(Debug)]
pub struct CountLines {
    count: AtomicU64,
    classify: Classify,
}

impl Default for CountLines {
    fn default() -> Self {
        Self::new(recognise_all)
    }
}

impl CountLines {
    /// A counter answering each line with `classify`.
    pub fn new(classify: Classify) -> Self {
        Self {
            count: AtomicU64::new(0),
            classify,
        }
    }

    /// Lines received so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl LineHandler for CountLines {
    fn handle_line(&self, line: &str) -> LineOutcome {
        let outcome = (self.classify)(std::hint::black_box(line));
        self.count.fetch_add(1, Ordering::Relaxed);
        outcome
    }
}

/// Polls `cond` every 2 ms until it holds or `timeout` passes, and returns its last answer,
/// so the caller's `assert!` reports the failure with its own message.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}
