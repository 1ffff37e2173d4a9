//! mailq / postqueue -p text: never panics, whatever the dates say.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use postfix_exporter::parse::mailq::read_stream_in;

fuzz_target!(|data: &[u8]| {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_446_670);
    let _ = read_stream_in(data, now, &jiff::tz::TimeZone::UTC, |_| {});
});
