//! The real binary over the ProFTPd corpus (other projects' test logs, beside the
//! repository): each xferlog file is a `--proftpd.transferlog` source and each SystemLog or
//! syslog file a `--proftpd.systemlog` source, all read from the beginning, and the
//! unsupported lines of each must be exactly the ones docs/proftpd.md lists and explains.
//! Skipped without the corpus.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use e2e_tests::expo::sum;
use e2e_tests::{Exporter, wait_for};

#[test]
fn corpus_unsupported_lines_are_the_documented_ones() {
    let Some(dir) = e2e_tests::corpus::dir("proftpd", "proftpd_corpus") else {
        return;
    };
    let files = e2e_tests::corpus::log_files(&dir);
    let want = e2e_tests::corpus::documented_unsupported("docs/proftpd.md");
    assert_eq!(
        files.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        want.keys().cloned().collect::<Vec<_>>(),
        "every corpus file has a row in docs/proftpd.md"
    );
    let mut args = vec![
        "--collector.log.from-beginning".to_string(),
        "--log.unsupported".to_string(),
    ];
    let mut lines = 0.0;
    for (f, name) in &files {
        let kind = if name.contains("xferlog") {
            "transferlog"
        } else {
            "systemlog"
        };
        args.push(format!("--proftpd.{kind}=file:{}", f.display()));
        lines += std::fs::read_to_string(f).unwrap().lines().count() as f64;
    }
    // Both kinds given more than once: every source is named `<kind>:<source>`.
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = Exporter::start("proftpd-exporter", &argv).unwrap();
    wait_for("every corpus line read", Duration::from_secs(20), || {
        sum(&e.samples().unwrap(), "proftpd_log_lines_total", &[]) == lines
    });
    let s = e.samples().unwrap();
    let mut got = BTreeMap::new();
    for (f, name) in &files {
        let unsupported: f64 = s
            .iter()
            .filter(|x| {
                x.name == "proftpd_log_lines_unsupported_total"
                    && x.label("source").ends_with(&format!("{}", f.display()))
            })
            .map(|x| x.value)
            .sum();
        got.insert(name.clone(), unsupported);
    }
    assert_eq!(got, want);
}
