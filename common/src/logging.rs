//! Tracing setup for `--log.level` and `--log.format`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::{LogArgs, LogFormat};

/// Installs the global subscriber, writing to stderr. Safe to call once per process;
/// a second call is ignored.
pub fn init(args: &LogArgs) {
    // Libraries' own debug output (each TLS handshake, each DNS query) would drown the
    // exporter's at `--log.level=debug`; they stay at info.
    let quiet = "rustls=info,hickory_proto=info,hickory_resolver=info,hyper=info,h2=info";
    let filter = EnvFilter::try_new(format!("{},{quiet}", args.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let result = match args.format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Logfmt => tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A second init (tests) is harmless.
    let _ = result;
}

/// Logs a source's failures when they start or change, and its recovery once, instead of
/// a warning at every scrape of a source that stays down (a socket the exporter may not
/// read is a standing condition, and its metric already says so every scrape).
#[derive(Debug, Default)]
pub struct FailureLog {
    last: std::sync::Mutex<Option<String>>,
}

impl FailureLog {
    /// A log that has seen no failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure of `what`; logs it unless it is the one logged last. Returns
    /// whether it was logged.
    pub fn failed(&self, what: &str, error: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() == Some(error) {
            return false;
        }
        tracing::warn!(source = what, error, "cannot read {what}");
        *last = Some(error.to_string());
        true
    }

    /// Records a success of `what`; logs the recovery after a failure. Returns whether it
    /// was logged.
    pub fn ok(&self, what: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.take().is_some() {
            tracing::info!(source = what, "{what} readable again");
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_failure_is_logged_once() {
        let l = FailureLog::new();
        assert!(!l.ok("x"));
        assert!(l.failed("x", "refused"));
        assert!(!l.failed("x", "refused"));
        assert!(l.failed("x", "timed out"));
        assert!(l.ok("x"));
        assert!(!l.ok("x"));
        assert!(l.failed("x", "timed out"));
    }
}
