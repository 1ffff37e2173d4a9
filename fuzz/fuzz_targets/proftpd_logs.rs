//! ProFTPd's TransferLog and SystemLog lines through their handlers, and a LogFormat (the
//! input's first line) compiled and matched against the other lines, through the
//! ExtendedLog handler counting commands, transfers and logins: never panics, a parsed
//! transfer's path and user are slices of the line, and the regex-free split of a format
//! gives what the regex gives.
#![no_main]

use common::follow::LineHandler;
use libfuzzer_sys::fuzz_target;
use proftpd_exporter::extended::{CommandMetrics, ExtendedLog};
use proftpd_exporter::logformat::LogFormat;
use proftpd_exporter::systemlog::{Logins, SystemLog};
use proftpd_exporter::transfers::{TransferLog, TransferMetrics};
use proftpd_exporter::xferlog::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let transfers = TransferLog::new(TransferMetrics::new());
    let system = SystemLog::new();
    let format = text.lines().next().and_then(|f| LogFormat::new(f).ok());
    let extended = format.clone().map(|f| {
        ExtendedLog::new(f, CommandMetrics::default())
            .with_transfers(TransferMetrics::new())
            .with_logins(Logins::default())
    });
    for line in text.lines() {
        if let (Some(f), Some(h)) = (&format, &extended) {
            assert_eq!(f.parse(line), f.parse_regex(line), "{line}");
            let _ = h.handle_line(line);
        }
        if let Ok(t) = parse(line) {
            assert!(line.contains(t.path) && line.contains(t.user));
        }
        let _ = transfers.handle_line(line);
        let _ = system.handle_line(line);
    }
});
