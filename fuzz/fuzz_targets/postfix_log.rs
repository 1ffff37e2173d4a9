//! The Postfix log handler on arbitrary bytes: lossy UTF-8 like the follower, then the
//! whole path (prefix split, program split, message parse, metric updates). Also each
//! message alone under every daemon name, to reach parsers the prefix would rarely route to.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use postfix_exporter::logmetrics::{LogMetrics, LogMetricsOptions};
use postfix_exporter::parse::log::{infer_daemon, parse_message, split_program};

const DAEMONS: [&str; 14] = [
    "",
    "smtp",
    "lmtp",
    "local",
    "pipe",
    "error",
    "qmgr",
    "smtpd",
    "cleanup",
    "bounce",
    "postscreen",
    "postsuper",
    "pickup",
    "master",
];

fuzz_target!(|data: &[u8]| {
    static METRICS: OnceLock<LogMetrics> = OnceLock::new();
    let m = METRICS.get_or_init(|| {
        LogMetrics::new(LogMetricsOptions {
            label_cap: 4,
            ..Default::default()
        })
    });
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        let _ = m.process(line);
        let _ = split_program(line);
        let _ = infer_daemon(line);
        for d in DAEMONS {
            let _ = parse_message(d, line);
        }
    }
});
