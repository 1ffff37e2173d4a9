//! Throughput of the log follower (lines/s from a pre-written file read from its
//! beginning, with a handler that only counts, and with one that also parses the
//! prefix) and of `logline::parse` alone.
//!
//! `cargo bench -p mail-exporters-common --bench follow -- --warm-up-time 1 --measurement-time 5`

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::follow::{FollowMetrics, FollowOptions, Source, spawn};
use common::logline;
use common::testing::{CountLines, recognise_all, recognise_log_prefix};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LINES: u64 = 1_000_000;

/// Realistic Postfix lines of about 150 bytes, in the `maillog_file` format.
fn line(i: u64) -> String {
    let q = format!("{:010X}", i.wrapping_mul(2_654_435_761) & 0xff_ffff_ffff);
    let pid = 20_000 + i % 5_000;
    match i % 6 {
        0 => format!(
            "Nov 22 23:02:{:02} mx.example.com postfix/submission/smtpd[{pid}]: connect from mail-ed1-f{}.google.com[209.85.208.{}]:{}",
            i % 60,
            i % 100,
            i % 250,
            1024 + i % 60_000
        ),
        1 => format!(
            "Nov 22 23:02:{:02} mx.example.com postfix/smtpd[{pid}]: {q}: client=mail-ed1-f{}.google.com[209.85.208.{}], sasl_method=PLAIN, sasl_username=user{}",
            i % 60,
            i % 100,
            i % 250,
            i % 1000
        ),
        2 => format!(
            "Nov 22 23:02:{:02} mx.example.com postfix/cleanup[{pid}]: {q}: message-id=<CAKx{i:016x}+{i:08x}=Q@mail.gmail.com>",
            i % 60
        ),
        3 => format!(
            "Nov 22 23:02:{:02} mx.example.com postfix/qmgr[{pid}]: {q}: from=<firstname.lastname{}@example.org>, size={}, nrcpt=1 (queue active)",
            i % 60,
            i % 1000,
            1000 + i % 90_000
        ),
        4 => format!(
            "Nov 22 23:02:{:02} mx.example.com postfix/smtp[{pid}]: {q}: to=<u{}@example.net>, relay=mx.example.net[192.0.2.{}]:25, delay=0.{}, delays=0.01/0/0.05/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ)",
            i % 60,
            i % 1000,
            i % 250,
            i % 100
        ),
        _ => format!(
            "Nov 22 23:02:{:02} mx.example.com postfix/smtpd[{pid}]: disconnect from mail-ed1-f{}.google.com[209.85.208.{}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
            i % 60,
            i % 100,
            i % 250
        ),
    }
}

fn write_file(path: &Path) -> u64 {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut bytes = 0;
    for i in 0..LINES {
        let l = line(i);
        bytes += l.len() as u64 + 1;
        writeln!(w, "{l}").unwrap();
    }
    w.flush().unwrap();
    bytes
}

fn follow_once(path: &Path, handler: Arc<CountLines>) {
    let h = spawn(
        Source::File {
            path: path.to_path_buf(),
            from_beginning: true,
        },
        handler.clone(),
        FollowMetrics::new("bench", "service").source("bench"),
        FollowOptions::default(),
    )
    .unwrap();
    while handler.count() < LINES {
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(handler.count(), LINES);
    h.stop();
}

fn bench_follow(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log");
    let bytes = write_file(&path);
    eprintln!(
        "file: {LINES} lines, {bytes} bytes, {:.1} bytes/line",
        bytes as f64 / LINES as f64
    );
    let mut g = c.benchmark_group("follow_file");
    g.sample_size(10);
    g.throughput(Throughput::Elements(LINES));
    g.bench_function("count_only", |b| {
        b.iter(|| {
            follow_once(&path, Arc::new(CountLines::new(recognise_all)));
        })
    });
    g.bench_function("parse_prefix", |b| {
        b.iter(|| {
            follow_once(&path, Arc::new(CountLines::new(recognise_log_prefix)));
        })
    });
    g.finish();
}

fn bench_parse(c: &mut Criterion) {
    let mut lines: Vec<String> = (0..1000).map(line).collect();
    let n_postfix = lines.len();
    lines.extend([
        "<22>Nov 22 23:02:10 postfix/smtpd[123]: connect from x[1.2.3.4]".to_string(),
        "2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd[4242]: connect from localhost[127.0.0.1]".to_string(),
        "<22>1 2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd 4242 - -  connect from localhost[127.0.0.1]".to_string(),
        "2026-11-22T23:15:40.043393123Z stdout F Nov 22 23:02:10 mx postfix/qmgr[99]: 4A1B2C3D: removed".to_string(),
    ]);
    let mut g = c.benchmark_group("logline");
    g.throughput(Throughput::Elements(n_postfix as u64));
    g.bench_function("parse_maillog_file", |b| {
        b.iter(|| {
            for l in &lines[..n_postfix] {
                std::hint::black_box(logline::parse(std::hint::black_box(l)));
            }
        })
    });
    g.throughput(Throughput::Elements(4));
    g.bench_function("parse_other_formats", |b| {
        b.iter(|| {
            for l in &lines[n_postfix..] {
                std::hint::black_box(logline::parse(std::hint::black_box(l)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_follow, bench_parse);
criterion_main!(benches);
