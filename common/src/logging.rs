//! Tracing setup for `--log.level` and `--log.format`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::{LogArgs, LogFormat};

/// Installs the global subscriber, writing to stderr. Safe to call once per process;
/// a second call is ignored.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_new(&args.level).unwrap_or_else(|_| EnvFilter::new("info"));
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
