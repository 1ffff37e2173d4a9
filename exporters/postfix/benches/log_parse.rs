//! Log-handler throughput: the real captured Postfix 3.7 log repeated to ≥ 2M lines,
//! fed line by line through `LineHandler::handle_line` (prefix split, program split,
//! message parse, metric updates), and through the pure parsers alone.
//!
//! `cargo bench -p postfix-exporter --bench log_parse`; numbers in docs/benchmarks-postfix-log.md.

// A benchmark without its fixture has nothing to measure: failing loudly is right.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use common::follow::LineHandler;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postfix_exporter::logmetrics::{LogMetrics, LogMetricsOptions};
use postfix_exporter::parse::log::{parse_message, split_program};

const MIN_LINES: usize = 2_000_000;

fn big_log() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/maillog/postfix-3.7.log"
    );
    let real = std::fs::read_to_string(path).expect("fixture");
    let n = real.lines().count().max(1);
    real.repeat(MIN_LINES.div_ceil(n))
}

fn bench(c: &mut Criterion) {
    let log = big_log();
    let lines: Vec<&str> = log.lines().collect();
    let mut g = c.benchmark_group("postfix_log");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(lines.len() as u64));

    g.bench_function("handle_line", |b| {
        let m = LogMetrics::new(LogMetricsOptions::default());
        b.iter(|| {
            for l in &lines {
                black_box(m.handle_line(l));
            }
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            for l in &lines {
                if let Some(p) = common::logline::parse(l) {
                    let prog = split_program(p.program);
                    black_box(parse_message(prog.daemon, p.message));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
