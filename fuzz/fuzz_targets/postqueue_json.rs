//! `postqueue -j` lines: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfix_exporter::parse::postqueue_json::{parse_line, read_stream};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_line(s);
    }
    let _ = read_stream(data, |_| {});
});
