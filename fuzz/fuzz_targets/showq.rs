//! showq attribute stream (and the <= 3.0 text fallback): never panics, limits hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfix_exporter::parse::showq::{Limits, read_stream};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_value_bytes: 256,
        max_recipients_per_message: 16,
    };
    let _ = read_stream(data, &limits, |m| {
        assert!(m.recipients.len() <= limits.max_recipients_per_message);
    });
});
