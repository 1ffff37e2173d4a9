//! Dovecot stats: a metric config and a stats-reader DUMP reply (the input split at its
//! first NUL) through the config reader, the DUMP parser and the series mapping: never
//! panics, and every non-empty dump line is either a row or an error.
#![no_main]

use dovecot_exporter::config::parse_str;
use dovecot_exporter::stats::dump::{Stat, parse_dump};
use dovecot_exporter::stats::series::to_metrics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (config, dump) = text.split_once('\0').unwrap_or(("", &text));
    let defs = parse_str(config, std::path::Path::new("fuzz.conf")).unwrap_or_default();
    let stats = [Stat::Count, Stat::Sum, Stat::Min, Stat::Max];
    let (rows, errors) = parse_dump(dump, &stats);
    assert_eq!(
        rows.len() + errors.len(),
        dump.lines().filter(|l| !l.is_empty()).count()
    );
    let mut set = common::MetricSet::new();
    let _ = to_metrics(&defs, &rows, &stats, &mut set);
});
