//! qshape text output on real Postfix 3.7.11 captures, checked against counts derived
//! from the showq capture of the same queue, and on synthetic tables.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::HashMap;

use postfix_exporter::parse::QueuedMessage;
use postfix_exporter::parse::qshape::{self, QshapeError, QshapeRow, QshapeTable};
use support::{fixture, showq_all, stamp, text};

// ---------------------------------------------------------------------------------------
// qshape, real captures, checked against counts derived from the showq capture

/// qshape's own age bucket (1-based, like the script): `m = age / (60 * tick)`.
fn bucket(age: i64, tick: i64, bnum: usize, linear: bool) -> usize {
    let m = age as f64 / (60 * tick) as f64;
    if m < 1.0 {
        return 1;
    }
    let b = if linear {
        (m + 1.0) as usize
    } else {
        2 + m.log2() as usize
    };
    b.min(bnum)
}

/// Per-domain (total, per-bucket counts) the way qshape computes them, from showq messages.
/// qshape skips force-expired files (mode 0710), so they are skipped here too.
fn derive(
    msgs: &[QueuedMessage],
    queues: &[&str],
    now: i64,
    tick: i64,
    bnum: usize,
    linear: bool,
    senders: bool,
) -> HashMap<String, (u64, Vec<u64>)> {
    let mut out: HashMap<String, (u64, Vec<u64>)> = HashMap::new();
    for m in msgs
        .iter()
        .filter(|m| queues.contains(&m.queue.as_str()) && !m.forced_expire)
    {
        let b = bucket(now - m.arrival_time.unwrap(), tick, bnum, linear);
        let addrs: Vec<String> = if senders {
            vec![m.sender.clone()]
        } else {
            m.recipients.iter().map(|r| r.address.clone()).collect()
        };
        for a in addrs {
            let a = a.to_lowercase();
            let dom = match a.rsplit_once('@') {
                Some((_, d)) => d.to_owned(),
                None if a == "mailer-daemon" => "MAILER-DAEMON".to_owned(),
                None => a,
            };
            for key in ["TOTAL".to_owned(), dom] {
                let e = out.entry(key).or_insert_with(|| (0, vec![0; bnum]));
                e.0 += 1;
                e.1[b - 1] += 1;
            }
        }
    }
    out
}

fn assert_table_matches(table: &QshapeTable, derived: &HashMap<String, (u64, Vec<u64>)>) {
    let mut rows = vec![&table.total];
    rows.extend(table.rows.iter().filter(|r| !r.domain.starts_with('.')));
    assert_eq!(rows.len(), derived.len(), "{table:#?} vs {derived:#?}");
    for r in rows {
        let key = match r.domain.strip_prefix('+') {
            Some(tail) => derived
                .keys()
                .find(|k| k.ends_with(tail))
                .unwrap_or_else(|| panic!("no domain ends with {tail}"))
                .clone(),
            None => r.domain.clone(),
        };
        let (total, counts) = &derived[&key];
        assert_eq!((r.total, &r.counts), (*total, counts), "{key}");
        assert_eq!(r.counts.iter().sum::<u64>(), r.total, "{key}");
    }
}

/// file, queues, tick (-t), buckets (-b), linear (-l), senders (-s), header labels,
/// TOTAL, number of domain rows.
type QshapeCase = (
    &'static str,
    &'static [&'static str],
    i64,
    usize,
    bool,
    bool,
    &'static str,
    u64,
    usize,
);

fn labels(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn qshape_golden_and_cross_checked() {
    let (msgs, _) = showq_all(&fixture("postfix-3.7/short-ids/showq-unix.bin"));
    let now = stamp("short-ids", "captured_after");
    let default_buckets = labels("5 10 20 40 80 160 320 640 1280 1280+");
    let cases: [QshapeCase; 5] = [
        (
            "qshape-deferred.txt",
            &["deferred"],
            5,
            10,
            false,
            false,
            "5 10 20 40 80 160 320 640 1280 1280+",
            27,
            10,
        ),
        (
            "qshape-s-deferred.txt",
            &["deferred"],
            5,
            10,
            false,
            true,
            "5 10 20 40 80 160 320 640 1280 1280+",
            14,
            7,
        ),
        (
            "qshape-hold.txt",
            &["hold"],
            5,
            10,
            false,
            false,
            "5 10 20 40 80 160 320 640 1280 1280+",
            2,
            2,
        ),
        (
            "qshape-t1-b6-deferred-hold.txt",
            &["deferred", "hold"],
            1,
            6,
            false,
            false,
            "1 2 4 8 16 16+",
            29,
            10,
        ),
        (
            "qshape-l-t2-b5-deferred.txt",
            &["deferred"],
            2,
            5,
            true,
            false,
            "2 4 6 8 8+",
            27,
            10,
        ),
    ];
    for (file, queues, tick, bnum, linear, senders, heads, total, nrows) in cases {
        let tables = qshape::parse(&text(&format!("postfix-3.7/short-ids/{file}"))).unwrap();
        assert_eq!(tables.len(), 1, "{file}");
        let t = &tables[0];
        assert_eq!(t.buckets, labels(heads), "{file}");
        assert_eq!(t.total.domain, "TOTAL");
        assert_eq!(t.total.total, total, "{file}");
        assert_eq!(t.rows.len(), nrows, "{file}");
        assert_table_matches(t, &derive(&msgs, queues, now, tick, bnum, linear, senders));
    }
    // Exact rows where the file shows something special.
    let t = &qshape::parse(&text(
        "postfix-3.7/short-ids/qshape-t1-b6-deferred-hold.txt",
    ))
    .unwrap()[0];
    assert_eq!(
        t.total,
        QshapeRow {
            domain: "TOTAL".into(),
            total: 29,
            counts: vec![3, 26, 0, 0, 0, 0]
        }
    );
    assert_eq!(
        t.rows[9],
        QshapeRow {
            domain: "+ery-long-subdomain-name-for-qshape-truncation.example.com".into(),
            total: 1,
            counts: vec![0, 1, 0, 0, 0, 0]
        }
    );
    let t = &qshape::parse(&text("postfix-3.7/short-ids/qshape-deferred.txt")).unwrap()[0];
    assert_eq!(t.buckets, default_buckets);
    assert_eq!(
        t.rows[0],
        QshapeRow {
            domain: "bulk.example.com".into(),
            total: 9,
            counts: vec![9, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        }
    );
    assert_eq!(t.rows[9].domain, "+name-for-qshape-truncation.example.com");
    let t = &qshape::parse(&text("postfix-3.7/short-ids/qshape-l-t2-b5-deferred.txt")).unwrap()[0];
    assert_eq!(
        t.rows[9].domain,
        "a-very-long-subdomain-name-for-qshape-truncation.example.com"
    );
    let t = &qshape::parse(&text("postfix-3.7/short-ids/qshape-s-deferred.txt")).unwrap()[0];
    assert_eq!(t.rows[1].domain, "MAILER-DAEMON");
}

#[test]
fn qshape_parent_domains() {
    let (msgs, _) = showq_all(&fixture("postfix-3.7/short-ids/showq-unix.bin"));
    let now = stamp("short-ids", "captured_after");
    let t = &qshape::parse(&text("postfix-3.7/short-ids/qshape-p-deferred.txt")).unwrap()[0];
    assert_eq!(t.rows.len(), 11);
    let parents: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r.domain.starts_with('.'))
        .collect();
    assert_eq!(
        parents,
        [&QshapeRow {
            domain: ".example.net".into(),
            total: 5,
            counts: vec![5, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        }]
    );
    // The parent row sums its five sub*.example.net children (the bare example.net row
    // is its own domain, not a child).
    let derived = derive(&msgs, &["deferred"], now, 5, 10, false, false);
    let children: u64 = derived
        .iter()
        .filter(|(k, _)| k.ends_with(".example.net"))
        .map(|(_, v)| v.0)
        .sum();
    assert_eq!(children, 5);
    assert_table_matches(t, &derived);
}

#[test]
fn qshape_concatenated_outputs() {
    let mut all = String::new();
    for f in [
        "qshape-deferred.txt",
        "qshape-s-deferred.txt",
        "qshape-hold.txt",
    ] {
        all.push_str(&text(&format!("postfix-3.7/short-ids/{f}")));
        all.push('\n');
    }
    let t = qshape::parse(&all).unwrap();
    assert_eq!(
        t.iter().map(|t| t.total.total).collect::<Vec<_>>(),
        [27, 14, 2]
    );
    // Without blank lines between them too.
    let tight = all.replace("\n\n", "\n");
    assert_eq!(qshape::parse(&tight).unwrap(), t);
}

#[test]
fn qshape_synthetic() {
    let t = qshape::parse(&text("synthetic/qshape-wide.txt")).unwrap();
    assert_eq!(
        t[0].total,
        QshapeRow {
            domain: "TOTAL".into(),
            total: 10009,
            counts: vec![10001, 8, 0, 0, 0, 0, 0, 0, 0, 0]
        }
    );
    assert_eq!(t[0].rows.len(), 3);
    assert_eq!(
        qshape::parse(&text("synthetic/qshape-bad-row.txt")),
        Err(QshapeError::ColumnCount {
            line: 3,
            expected: 10,
            found: 9,
            text: "                            example.com  4  0  4  0  0  0   0   0   0    0"
                .into()
        })
    );
    assert_eq!(qshape::parse(""), Err(QshapeError::Empty));
    assert_eq!(
        qshape::parse("example.com 1 1\n"),
        Err(QshapeError::NoHeader { line: 1 })
    );
    assert_eq!(
        qshape::parse("      T  5 5+\n example.com 1 1 0\n"),
        Err(QshapeError::MissingTotal { line: 1 })
    );
    assert!(matches!(
        qshape::parse("      T  5 5+\n  TOTAL 1 1 0 0\n"),
        Err(QshapeError::ColumnCount {
            line: 2,
            expected: 2,
            found: 3,
            ..
        })
    ));
}
