//! Encoding cost of a `/metrics` response with 10k series, in both formats.
//!
//! Run: `cargo bench -p mail-exporters-common --bench encode`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::MetricSet;
use common::metricset::labels;
use common::negotiate::openmetrics_to_text004;
use common::runner::{CollectContext, Collector, Runner};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// 10k series: 50 gauge families × 100 label values, 20 counters × 200, and 4 histograms
/// of 10 buckets × 250 label values (each histogram series counted once).
struct TenK;

#[async_trait]
impl Collector for TenK {
    async fn collect(&self, _ctx: &CollectContext) -> anyhow::Result<MetricSet> {
        Ok(build())
    }
}

fn build() -> MetricSet {
    let mut m = MetricSet::new();
    for f in 0..50 {
        let name = format!("bench_gauge_{f}");
        for v in 0..100 {
            let dom = format!("domain{v}.example.com");
            m.gauge(
                &name,
                "A gauge",
                labels(&[("queue", "deferred"), ("domain", &dom)]),
                v as f64 * 1.5,
            );
        }
    }
    for f in 0..20 {
        let name = format!("bench_counter_{f}");
        for v in 0..200 {
            let d = format!("d{v}");
            m.counter(
                &name,
                "A counter",
                labels(&[("daemon", &d), ("status", "sent")]),
                v as f64,
            );
        }
    }
    let bounds = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
    for f in 0..4 {
        let name = format!("bench_hist_{f}_seconds");
        for v in 0..250 {
            let q = format!("q{v}");
            m.histogram(
                &name,
                "A histogram",
                labels(&[("queue", &q)]),
                &bounds,
                &[1; 11],
                123.0,
            );
        }
    }
    m
}

fn bench(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return;
        }
    };
    let mut runner = Runner::new("bench");
    runner.add("tenk", Arc::new(TenK));
    let om = rt.block_on(runner.scrape(Duration::from_secs(10)));
    let mut g = c.benchmark_group("metrics_10k_series");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("build_metricset", |b| b.iter(build));
    g.bench_function("scrape_openmetrics", |b| {
        b.iter(|| rt.block_on(runner.scrape(Duration::from_secs(10))))
    });
    g.bench_function("scrape_text_0_0_4", |b| {
        b.iter(|| {
            let om = rt.block_on(runner.scrape(Duration::from_secs(10)));
            openmetrics_to_text004(&om)
        })
    });
    g.bench_function("convert_openmetrics_to_text_only", |b| {
        b.iter(|| openmetrics_to_text004(&om))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
