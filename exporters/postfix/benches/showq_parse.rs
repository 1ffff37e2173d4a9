//! Parse throughput of the showq stream: 100k messages shaped like the real Postfix 3.7
//! capture (`tests/fixtures/postfix-3.7/short-ids/showq-unix.bin`), generated in memory.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postfix_exporter::parse::showq::{self, Limits, PROTOCOL_RECORD};
use postfix_exporter::parse::{QueuedMessage, Recipient};

const MESSAGES: u64 = 100_000;

/// The real fixture's messages, cycled with fresh queue IDs and times.
fn stream() -> Vec<u8> {
    let fixture = include_bytes!("../tests/fixtures/postfix-3.7/short-ids/showq-unix.bin");
    let mut shapes = Vec::new();
    showq::read_stream(&fixture[..], &Limits::default(), |m| shapes.push(m)).unwrap_or_default();
    if shapes.is_empty() {
        shapes.push(QueuedMessage {
            queue: "deferred".into(),
            queue_id: "58323CE0B2".into(),
            arrival_time: Some(1_795_388_530),
            size: Some(281),
            sender: "alice@mx.test.local".into(),
            recipients: vec![Recipient {
                address: "dave3@example.com".into(),
                reason: Some("connect to 127.0.0.1[127.0.0.1]:1: Connection refused".into()),
                ..Recipient::default()
            }],
            ..QueuedMessage::default()
        });
    }
    let mut out = PROTOCOL_RECORD.to_vec();
    for i in 0..MESSAGES {
        let mut m = shapes[(i as usize) % shapes.len()].clone();
        m.queue_id = format!("{:010X}", 0x5000_0000u64 + i);
        m.arrival_time = Some(1_795_388_530 + (i as i64) % 86_400);
        showq::encode_message(&mut out, &m, false);
    }
    out.push(0);
    out
}

fn bench(c: &mut Criterion) {
    let data = stream();
    let mut g = c.benchmark_group("showq");
    g.throughput(Throughput::Elements(MESSAGES));
    g.sample_size(20);
    g.bench_function("read_stream_100k", |b| {
        b.iter(|| {
            let mut n = 0u64;
            let s = showq::read_stream(black_box(&data[..]), &Limits::default(), |m| {
                n += m.recipients.len() as u64;
            });
            black_box((s.map(|s| s.messages).unwrap_or(0), n))
        })
    });
    g.finish();
    eprintln!(
        "showq bench stream: {} messages, {} bytes ({} bytes/message)",
        MESSAGES,
        data.len(),
        data.len() as u64 / MESSAGES
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
