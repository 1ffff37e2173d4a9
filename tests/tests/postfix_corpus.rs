//! The real binary over the real-world corpus (other projects' Postfix test logs, beside
//! the repository): every file is read with `--collector.log.from-beginning` as one source,
//! and the unsupported lines of each must be exactly the ones docs/postfix.md lists and
//! explains, at most 3 % of the Postfix lines in all. Skipped without the corpus.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use e2e_tests::expo::{ExpoSample, samples, sum};
use e2e_tests::{ACCEPT_TEXT, Exporter, wait_for};

#[test]
fn corpus_unsupported_lines_are_the_documented_ones() {
    let Some(dir) = e2e_tests::corpus::dir("postfix", "postfix_corpus") else {
        return;
    };
    let (files, names): (Vec<_>, Vec<_>) = e2e_tests::corpus::log_files(&dir).into_iter().unzip();
    let want = e2e_tests::corpus::documented_unsupported("docs/postfix.md");
    assert_eq!(
        names,
        want.keys().cloned().collect::<Vec<_>>(),
        "every corpus file has a row in docs/postfix.md"
    );
    let mut args = vec![
        "--no-collector.queue".to_string(),
        "--collector.log.from-beginning".to_string(),
    ];
    let mut line_counts = BTreeMap::new();
    for f in &files {
        args.push(format!("--collector.log.source=file:{}", f.display()));
        let text = std::fs::read_to_string(f).unwrap();
        line_counts.insert(
            format!("file:{}", f.display()),
            text.lines().filter(|l| !l.is_empty()).count() as f64,
        );
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = Exporter::start("postfix-exporter", &argv).unwrap();
    let scrape = || -> Vec<ExpoSample> { samples(&e.scrape(ACCEPT_TEXT).unwrap().text()) };
    wait_for("every corpus file read", Duration::from_secs(30), || {
        let m = scrape();
        line_counts
            .iter()
            .all(|(src, n)| sum(&m, "postfix_log_lines_total", &[("source", src)]) == *n)
    });
    let m = scrape();
    let mut unsupported_total = 0.0;
    for (f, name) in files.iter().zip(&names) {
        let src = format!("file:{}", f.display());
        let got = sum(
            &m,
            "postfix_log_lines_unsupported_total",
            &[("source", &src)],
        );
        assert_eq!(got, want[name], "unsupported lines of {name}");
        unsupported_total += got;
    }
    let lines: f64 = line_counts.values().sum();
    let foreign = sum(&m, "postfix_log_foreign_lines_total", &[]);
    let ratio = unsupported_total / (lines - foreign);
    println!(
        "corpus: {lines} lines, {foreign} foreign, {unsupported_total} unsupported ({:.2} % of the Postfix lines)",
        ratio * 100.0
    );
    assert!(ratio <= 0.03, "{ratio}");
}
