//! Lines per second through the TransferLog, SystemLog and ExtendedLog handlers, one core,
//! on lines in the shapes ProFTPd 1.3.8 writes (repeated to 1M each). Target: ≥ 1M lines/s
//! per core for the TransferLog and an ExtendedLog.

use std::hint::black_box;

use common::follow::LineHandler;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proftpd_exporter::extended::{CommandMetrics, ExtendedLog};
use proftpd_exporter::logformat::{DEFAULT_FORMAT, LogFormat};
use proftpd_exporter::systemlog::{Logins, SystemLog};
use proftpd_exporter::transfers::{TransferLog, TransferMetrics};

const LINES: usize = 1_000_000;

const XFERLOG: [&str; 4] = [
    "Wed Dec 02 17:08:51 2026 0 127.0.0.1 12345 /tmp/e2e-proftpd-Ye9yQy/home/alice/report.txt b _ i r alice ftp 0 * c",
    "Wed Dec 02 17:08:51 2026 0 127.0.0.1 2048 /tmp/e2e-proftpd-Ye9yQy/home/alice/my_file_with_spaces.bin b _ i r alice ftp 0 * c",
    "Wed Dec 02 17:08:51 2026 0 127.0.0.1 131072 /tmp/e2e-proftpd-Ye9yQy/home/alice/big.bin b _ o r alice ftp 0 * i",
    "Wed Dec 02 17:08:51 2026 0 127.0.0.1 12 /tmp/e2e-proftpd-Ye9yQy/home/alice/notes.txt b _ d r alice ftps 0 * c",
];

const SYSTEMLOG: [&str; 4] = [
    "2026-12-02 17:08:51,066 vm proftpd[5047] 127.0.0.1 (127.0.0.1[127.0.0.1]): FTP session opened.",
    "2026-12-02 17:08:51,068 vm proftpd[5047] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER alice: Login successful.",
    "2026-12-02 17:08:51,086 vm proftpd[5049] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER alice (Login failed): Incorrect password",
    "2026-12-02 17:08:51,087 vm proftpd[5049] 127.0.0.1 (127.0.0.1[127.0.0.1]): FTP session closed.",
];

const METRICS_FORMAT: &str =
    "%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E";

const METRICS: [&str; 6] = [
    "1796233169 ftp PASS 230 - - - 2 127.0.0.1 alice ",
    "1796233169 ftp PASV 227 - - - 0 127.0.0.1 alice ",
    "1796233169 ftp STOR 226 success 12345 0 0 127.0.0.1 alice ",
    "1796233169 ftp RETR 426 failed 720896 0 0 127.0.0.1 alice ",
    "1796233169 ftp RETR 550 failed - - 0 127.0.0.1 alice ",
    "1796233169 ftp EXIT - - - - 0 127.0.0.1 alice Quit",
];

const EXTENDED: [&str; 4] = [
    r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:17:08:51 +0000] "STOR report.txt" 226 12345"#,
    r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:17:08:51 +0000] "RETR missing.txt" 550 -"#,
    r#"127.0.0.1 UNKNOWN - [02/Dec/2026:17:08:51 +0000] "PASS (hidden)" 530 -"#,
    r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:17:08:51 +0000] "TYPE I" 200 -"#,
];

fn run(c: &mut Criterion, name: &str, lines: &[&str], h: &dyn LineHandler) {
    let mut g = c.benchmark_group("proftpd");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    g.bench_function(name, |b| {
        b.iter(|| {
            for i in 0..LINES {
                black_box(h.handle_line(lines[i % lines.len()]));
            }
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    run(
        c,
        "transferlog 1M lines",
        &XFERLOG,
        &TransferLog::new(TransferMetrics::new()),
    );
    run(c, "systemlog 1M lines", &SYSTEMLOG, &SystemLog::new());
    let Ok(format) = LogFormat::new(DEFAULT_FORMAT) else {
        return;
    };
    let ext = ExtendedLog::new(format, CommandMetrics::default());
    run(c, "extendedlog (default format) 1M lines", &EXTENDED, &ext);
    let Ok(format) = LogFormat::new(METRICS_FORMAT) else {
        return;
    };
    // As the collector sets it up with no TransferLog and no SystemLog.
    let ext = ExtendedLog::new(format, CommandMetrics::default())
        .with_transfers(TransferMetrics::new())
        .with_logins(Logins::default());
    run(
        c,
        "extendedlog (metrics format, transfers and logins) 1M lines",
        &METRICS,
        &ext,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
