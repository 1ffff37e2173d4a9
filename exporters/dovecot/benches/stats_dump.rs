//! A stats-reader dump with 10,000 sub-metrics (a `group_by` of two levels under one metric,
//! plus a quantized histogram), parsed, mapped to labelled series and encoded as a scrape
//! would: the work of one scrape of a busy Dovecot, without the socket. The target is
//! 100 ms; `benches/dovecot-stats.sh` measures the same against a real daemon and its own
//! /metrics endpoint.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use dovecot_exporter::config::parse_str;
use dovecot_exporter::stats::dump::{Stat, parse_dump};
use dovecot_exporter::stats::series::to_metrics;

const CONFIG: &str = "
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_in bytes_out
  group_by = cmd_tag tagged_reply_state
}
metric imap_command_latency {
  filter = event=imap_command_finished
  group_by = duration:exponential:1:7:10
}
";

/// 5,000 tags with an OK and a NO reply each, every row with two fields, and the latency
/// buckets: 10,000 sub-metrics and their parents.
fn dump() -> String {
    let mut s = String::from(
        "imap_command\t20000\t9000000\tbytes_in\t20000\t500000\tbytes_out\t20000\t9000000\n",
    );
    for t in 0..5000 {
        s.push_str(&format!(
            "imap_command_t{t}\t4\t1800\tbytes_in\t4\t100\tbytes_out\t4\t1800\n"
        ));
        for state in ["OK", "NO"] {
            s.push_str(&format!(
                "imap_command_t{t}_{state}\t2\t900\tbytes_in\t2\t50\tbytes_out\t2\t900\n"
            ));
        }
    }
    s.push_str("imap_command_latency\t20000\t9000000\n");
    for (lo, hi, n) in [
        ("ninf", "10", 100),
        ("11", "100", 9000),
        ("101", "1000", 9000),
        ("1001", "10000", 1900),
    ] {
        s.push_str(&format!(
            "imap_command_latency_duration_{lo}_{hi}\t{n}\t{}\n",
            n * 50
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let defs = parse_str(CONFIG, Path::new("bench.conf")).unwrap_or_default();
    let text = dump();
    let stats = [Stat::Count, Stat::Sum];
    c.bench_function("dovecot dump 10k sub-metrics: parse, map, encode", |b| {
        b.iter(|| {
            let (rows, errors) = parse_dump(black_box(&text), &stats);
            assert!(errors.is_empty() && rows.len() > 10_000);
            let mut set = common::MetricSet::new();
            let unmapped = to_metrics(&defs, &rows, &stats, &mut set);
            assert!(unmapped.is_empty());
            let mut reg = prometheus_client::registry::Registry::default();
            reg.register_collector(Box::new(set.into_collector()));
            let body = common::expose::render(
                common::expose::encode(&[&reg]),
                common::negotiate::Format::OpenMetrics,
            );
            black_box(body.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
