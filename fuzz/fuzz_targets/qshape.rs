//! qshape tables: never panics; every parsed row has one count per bucket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfix_exporter::parse::qshape::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(tables) = parse(s)
    {
        for t in &tables {
            assert_eq!(t.total.counts.len(), t.buckets.len());
            for r in &t.rows {
                assert_eq!(r.counts.len(), t.buckets.len());
            }
        }
    }
});
