//! Golden tests of the queue parsers on real Postfix 3.7.11 captures
//! (`tests/fixtures/postfix-3.7/`, written by `scripts/capture-postfix-fixtures.sh`) and on
//! synthetic fixtures for the versions and failures the lab cannot produce
//! (`tests/fixtures/synthetic/`, written by its `generate.py`), plus property tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use postfix_exporter::parse::mailq::{self, MailqError, MailqSummary, Trailer};
use postfix_exporter::parse::postqueue_json::{self, JsonSummary};
use postfix_exporter::parse::qshape::{self, QshapeError, QshapeRow, QshapeTable};
use postfix_exporter::parse::showq::{self, Limits, ShowqError, StreamSummary};
use postfix_exporter::parse::{QueuedMessage, Recipient};
use proptest::prelude::*;

const REFUSED: &str = "connect to 127.0.0.1[127.0.0.1]:1: Connection refused";
const SUSPENDED: &str =
    "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:1: Connection refused";
const PROTOCOL: &str = "mail_queue_list_protocol";

fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text(rel: &str) -> String {
    String::from_utf8(fixture(rel)).unwrap()
}

/// A `key=value` from a capture's `now.txt`.
fn stamp(dir: &str, key: &str) -> i64 {
    text(&format!("postfix-3.7/{dir}/now.txt"))
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap()
        .parse()
        .unwrap()
}

fn at(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn showq_all(bytes: &[u8]) -> (Vec<QueuedMessage>, Result<StreamSummary, ShowqError>) {
    showq_with(bytes, &Limits::default())
}

fn showq_with(
    bytes: &[u8],
    limits: &Limits,
) -> (Vec<QueuedMessage>, Result<StreamSummary, ShowqError>) {
    let mut v = Vec::new();
    let r = showq::read_stream(bytes, limits, |m| v.push(m));
    (v, r)
}

fn json_all(bytes: &[u8]) -> (Vec<QueuedMessage>, JsonSummary) {
    let mut v = Vec::new();
    let s = postqueue_json::read_stream(bytes, |m| v.push(m)).unwrap();
    (v, s)
}

fn mailq_all(bytes: &[u8], now: i64) -> (Vec<QueuedMessage>, Result<MailqSummary, MailqError>) {
    let mut v = Vec::new();
    let r = mailq::read_stream_in(bytes, at(now), &TimeZone::UTC, |m| v.push(m));
    (v, r)
}

fn rcpt(address: &str, reason: Option<&str>) -> Recipient {
    Recipient {
        address: address.into(),
        reason: reason.map(Into::into),
        ..Recipient::default()
    }
}

fn queue_counts(msgs: &[QueuedMessage]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for x in msgs {
        *m.entry(x.queue.clone()).or_default() += 1;
    }
    m
}

fn ids(msgs: &[QueuedMessage]) -> Vec<&str> {
    msgs.iter().map(|m| m.queue_id.as_str()).collect()
}

const SHORT_IDS: [&str; 19] = [
    "051CC994479",
    "0CFF899447B",
    "E0AAE99446D",
    "D026F99406C",
    "D0B0899406E",
    "BB0B8994059",
    "B52E6994053",
    "B015A994051",
    "B234899404E",
    "BE6EC99405C",
    "C435C994063",
    "CAD94994069",
    "C131A99405F",
    "CFA3099406B",
    "C73C8994065",
    "C8B53994067",
    "000E6994475",
    "EF503994473",
    "E64D2994471",
];

// ---------------------------------------------------------------------------------------
// showq, real 3.7 captures

#[test]
fn showq_short_ids_golden() {
    let (msgs, sum) = showq_all(&fixture("postfix-3.7/short-ids/showq-unix.bin"));
    let sum = sum.unwrap();
    assert_eq!(
        sum,
        StreamSummary {
            messages: 19,
            protocol: Some(PROTOCOL.into()),
            ..StreamSummary::default()
        }
    );
    assert_eq!(ids(&msgs), SHORT_IDS);
    assert_eq!(
        queue_counts(&msgs),
        BTreeMap::from([
            ("active".into(), 2),
            ("deferred".into(), 15),
            ("hold".into(), 2)
        ])
    );
    assert_eq!(msgs.iter().map(|m| m.recipients.len()).sum::<usize>(), 34);
    assert_eq!(msgs.iter().map(|m| m.size.unwrap()).sum::<u64>(), 5390);
    // Active: one recipient deferred at once, one waiting on the tarpit without a reason.
    assert_eq!(
        msgs[0],
        QueuedMessage {
            queue: "active".into(),
            queue_id: "051CC994479".into(),
            arrival_time: Some(1_795_446_911),
            size: Some(270),
            forced_expire: false,
            sender: "carol@mx.test.local".into(),
            recipients: vec![
                rcpt("dave9@example.com", Some(SUSPENDED)),
                rcpt("slow1@slow.example", None),
            ],
        }
    );
    // The null sender.
    assert_eq!(
        msgs[2],
        QueuedMessage {
            queue: "deferred".into(),
            queue_id: "E0AAE99446D".into(),
            arrival_time: Some(1_795_446_910),
            size: Some(257),
            forced_expire: false,
            sender: "MAILER-DAEMON".into(),
            recipients: vec![rcpt("postmaster@example.net", Some(SUSPENDED))],
        }
    );
    // Three recipients, one reason each (from the defer log).
    assert_eq!(
        msgs[5],
        QueuedMessage {
            queue: "deferred".into(),
            queue_id: "BB0B8994059".into(),
            arrival_time: Some(1_795_446_844),
            size: Some(270),
            forced_expire: false,
            sender: "alice@mx.test.local".into(),
            recipients: vec![
                rcpt("bob4@example.com", Some(REFUSED)),
                rcpt("carol4@example.com", Some(REFUSED)),
                rcpt("frank4@example.org", Some(REFUSED)),
            ],
        }
    );
    let expired: Vec<_> = msgs
        .iter()
        .filter(|m| m.forced_expire)
        .map(|m| (m.queue_id.as_str(), m.queue.as_str()))
        .collect();
    assert_eq!(
        expired,
        [("000E6994475", "deferred"), ("EF503994473", "hold")]
    );
    assert_eq!(
        msgs[18].recipients,
        [
            rcpt("held1@example.com", Some(SUSPENDED)),
            rcpt("held2@example.org", Some(SUSPENDED))
        ]
    );
}

#[test]
fn showq_unix_and_tcp_are_identical() {
    for dir in ["short-ids", "long-ids"] {
        let unix = fixture(&format!("postfix-3.7/{dir}/showq-unix.bin"));
        let tcp = fixture(&format!("postfix-3.7/{dir}/showq-tcp.bin"));
        assert_eq!(unix, tcp, "{dir}");
        assert_eq!(showq_all(&unix).0, showq_all(&tcp).0);
    }
}

#[test]
fn showq_long_ids_golden() {
    let (msgs, sum) = showq_all(&fixture("postfix-3.7/long-ids/showq-unix.bin"));
    assert_eq!(sum.unwrap().messages, 22);
    assert_eq!(
        queue_counts(&msgs),
        BTreeMap::from([
            ("active".into(), 1),
            ("deferred".into(), 16),
            ("hold".into(), 3),
            ("incoming".into(), 2)
        ])
    );
    assert_eq!(msgs.iter().map(|m| m.recipients.len()).sum::<usize>(), 38);
    assert_eq!(msgs.iter().map(|m| m.size.unwrap()).sum::<u64>(), 6185);
    let long: Vec<_> = msgs
        .iter()
        .filter(|m| m.queue_id.len() > 11)
        .map(|m| (m.queue_id.as_str(), m.queue.as_str()))
        .collect();
    assert_eq!(
        long,
        [
            ("4jY8dL3s9Tz1Shps", "active"),
            ("4jY8dL3dNyz1Shpt", "deferred"),
            ("4jY8dL3wcfz1Shpw", "hold")
        ]
    );
    // After the reload, the old tarpit messages wait in incoming with their reasons kept.
    assert_eq!(msgs[1].queue_id, "051CC994479");
    assert_eq!(msgs[1].queue, "incoming");
    assert_eq!(
        msgs[1].recipients,
        [
            rcpt("dave9@example.com", Some(SUSPENDED)),
            rcpt("slow1@slow.example", None)
        ]
    );
}

#[test]
fn showq_empty_queue() {
    let (msgs, sum) = showq_all(&fixture("postfix-3.7/empty/showq-unix.bin"));
    assert!(msgs.is_empty());
    assert_eq!(
        sum.unwrap(),
        StreamSummary {
            protocol: Some(PROTOCOL.into()),
            ..StreamSummary::default()
        }
    );
}

#[test]
fn showq_every_cut_of_a_real_stream_is_truncated() {
    let full = fixture("postfix-3.7/short-ids/showq-unix.bin");
    let (all, _) = showq_all(&full);
    for len in 0..full.len() {
        let (got, r) = showq_all(&full[..len]);
        match r {
            Err(ShowqError::Truncated { messages, offset }) => {
                assert_eq!(messages as usize, got.len(), "cut at {len}");
                assert!(offset <= len as u64);
            }
            other => panic!("cut at {len}: {other:?}"),
        }
        assert_eq!(got[..], all[..got.len()], "cut at {len}");
    }
}

// ---------------------------------------------------------------------------------------
// Cross-checks between the listings of the same capture

#[test]
fn postqueue_json_equals_showq() {
    for dir in ["short-ids", "long-ids"] {
        let (showq, _) = showq_all(&fixture(&format!("postfix-3.7/{dir}/showq-unix.bin")));
        let (json, sum) = json_all(&fixture(&format!("postfix-3.7/{dir}/postqueue-j.jsonl")));
        assert_eq!(sum.bad_lines, 0);
        assert_eq!(sum.messages as usize, showq.len());
        assert_eq!(json, showq, "{dir}");
    }
}

#[test]
fn mailq_equals_showq_modulo_queue_names() {
    for dir in ["short-ids", "long-ids"] {
        let now = stamp(dir, "captured_at");
        let (mut showq, _) = showq_all(&fixture(&format!("postfix-3.7/{dir}/showq-unix.bin")));
        let (mailq, sum) = mailq_all(&fixture(&format!("postfix-3.7/{dir}/mailq.txt")), now);
        let sum = sum.unwrap();
        // mailq marks only active (*) and hold (!): incoming looks like deferred.
        for m in &mut showq {
            if m.queue == "incoming" || m.queue == "maildrop" {
                m.queue = "deferred".into();
            }
        }
        assert_eq!(mailq, showq, "{dir}");
        let bytes: u64 = showq.iter().map(|m| m.size.unwrap()).sum();
        assert_eq!(
            sum.trailer,
            Some(Trailer {
                kbytes: bytes / 1024,
                requests: showq.len() as u64
            })
        );
        assert_eq!(sum.messages as usize, showq.len());
        assert_eq!((sum.unknown_dates, sum.ignored_lines), (0, 0));
        assert!(!sum.empty_banner);
    }
}

#[test]
fn mailq_golden_details() {
    let (msgs, sum) = mailq_all(
        &fixture("postfix-3.7/short-ids/mailq.txt"),
        stamp("short-ids", "captured_at"),
    );
    let sum = sum.unwrap();
    assert_eq!(
        sum.trailer,
        Some(Trailer {
            kbytes: 5,
            requests: 19
        })
    );
    // `000E6994475#` (deferred, expired) and `EF503994473!#` (hold, expired).
    assert_eq!(
        (msgs[16].queue.as_str(), msgs[16].forced_expire),
        ("deferred", true)
    );
    assert_eq!(
        (msgs[17].queue.as_str(), msgs[17].forced_expire),
        ("hold", true)
    );
    // The long reason starts at column 0, then "(reason unavailable)" clears it.
    assert_eq!(
        msgs[0].recipients,
        [
            rcpt("dave9@example.com", Some(SUSPENDED)),
            rcpt("slow1@slow.example", None)
        ]
    );
    assert_eq!(msgs[0].arrival_time, Some(1_795_446_911));
    assert_eq!(msgs[0].queue, "active");
}

#[test]
fn mailq_year_inference() {
    let tz = TimeZone::UTC;
    let now = jiff::Timestamp::from_second(stamp("short-ids", "captured_at")).unwrap();
    // Mon Nov 23 2026 is the capture day.
    assert_eq!(
        mailq::infer_arrival("Mon", "Nov", "23", "15:15:11", now, &tz),
        Some(1_795_446_911)
    );
    // The weekday picks the year: Nov 23 was a Saturday in 2024 (and in 2019).
    assert_eq!(
        mailq::infer_arrival("Sat", "Nov", "23", "00:00:00", now, &tz),
        Some(1_732_320_000)
    );
    // Later today by more than a day of skew: the latest earlier year with a Friday Dec 25.
    assert_eq!(
        mailq::infer_arrival("Fri", "Dec", "25", "12:00:00", now, &tz),
        Some(1_608_897_600)
    );
    // Feb 29 exists only in leap years; Thursday Feb 29 was 2024.
    assert_eq!(
        mailq::infer_arrival("Thu", "Feb", "29", "08:00:00", now, &tz),
        Some(1_709_193_600)
    );
    assert_eq!(
        mailq::infer_arrival("Xyz", "Nov", "23", "15:15:11", now, &tz),
        None
    );
    assert_eq!(
        mailq::infer_arrival("Mon", "Nov", "31", "15:15:11", now, &tz),
        None
    );
    // A fixed offset zone shifts the result by the offset.
    let plus2 = TimeZone::fixed(jiff::tz::offset(2));
    assert_eq!(
        mailq::infer_arrival("Mon", "Nov", "23", "15:15:11", now, &plus2),
        Some(1_795_446_911 - 7200)
    );
}

#[test]
fn mailq_empty_and_down() {
    let (msgs, sum) = mailq_all(&fixture("postfix-3.7/empty/mailq.txt"), 0);
    assert!(msgs.is_empty());
    assert_eq!(
        sum.unwrap(),
        MailqSummary {
            empty_banner: true,
            ..MailqSummary::default()
        }
    );
    let (_, r) = mailq_all(&fixture("postfix-3.7/down/mailq.txt"), 0);
    match r {
        Err(MailqError::Tool { line: 1, text }) => assert!(
            text.starts_with("postqueue: warning: Mail system is down -- accessing queue directly"),
            "{text}"
        ),
        other => panic!("{other:?}"),
    }
    let (_, r) = mailq_all(&fixture("synthetic/mailq-fatal.txt"), 0);
    assert!(matches!(r, Err(MailqError::Tool { line: 1, .. })), "{r:?}");
}

#[test]
fn empty_listings_agree() {
    let (j, s) = json_all(&fixture("postfix-3.7/empty/postqueue-j.jsonl"));
    assert!(j.is_empty());
    assert_eq!(s, JsonSummary::default());
    let t = qshape::parse(&text("postfix-3.7/empty/qshape-deferred.txt")).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].total.total, 0);
    assert!(t[0].rows.is_empty());
}

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

// ---------------------------------------------------------------------------------------
// showq, synthetic streams of other versions and broken streams

#[test]
fn showq_3_4_without_protocol_record() {
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-3.4-no-protocol.bin"));
    assert_eq!(
        sum.unwrap(),
        StreamSummary {
            messages: 2,
            ..StreamSummary::default()
        }
    );
    assert_eq!(
        msgs,
        [
            QueuedMessage {
                queue: "active".into(),
                queue_id: "3F1A2B4C5D".into(),
                arrival_time: Some(1_500_000_000),
                size: Some(1024),
                forced_expire: false,
                sender: "alice@example.org".into(),
                recipients: vec![rcpt("bob@example.com", None)],
            },
            QueuedMessage {
                queue: "deferred".into(),
                queue_id: "4A0B1C2D3E".into(),
                arrival_time: Some(1_500_000_100),
                size: Some(2048),
                forced_expire: false,
                sender: "MAILER-DAEMON".into(),
                recipients: vec![
                    rcpt("carol@example.com", Some(REFUSED)),
                    rcpt("dave@example.net", Some(REFUSED))
                ],
            }
        ]
    );
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-3.4-empty.bin"));
    assert!(msgs.is_empty());
    assert_eq!(sum.unwrap(), StreamSummary::default());
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-3.7-empty.bin"));
    assert!(msgs.is_empty());
    assert_eq!(sum.unwrap().protocol.as_deref(), Some(PROTOCOL));
}

fn rcpt311(orig: Option<&str>, addr: &str, class: Option<&str>, why: Option<&str>) -> Recipient {
    Recipient {
        address: addr.into(),
        reason: why.map(Into::into),
        orig_address: orig.map(Into::into),
        log_class: class.map(Into::into),
    }
}

#[test]
fn showq_3_11_recipient_fields() {
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-3.11-recipients.bin"));
    assert_eq!(sum.unwrap().messages, 2);
    assert_eq!(
        msgs[0].recipients,
        [
            rcpt311(
                Some("info@example.com"),
                "bob@example.com",
                Some("defer"),
                Some(REFUSED)
            ),
            rcpt311(
                None,
                "carol@example.com",
                Some("bounce"),
                Some("host said: 550 5.1.1 unknown user")
            ),
            rcpt311(Some("alias@example.com"), "dave@example.com", None, None),
        ]
    );
    assert_eq!(
        msgs[1],
        QueuedMessage {
            queue: "hold".into(),
            queue_id: "4jXlKH61vRzKHG4".into(),
            arrival_time: Some(1_795_388_600),
            size: Some(300),
            forced_expire: true,
            sender: "MAILER-DAEMON".into(),
            recipients: vec![
                rcpt311(
                    None,
                    "erin@example.org",
                    Some("defer"),
                    Some("deferred transport")
                ),
                rcpt311(
                    None,
                    "frank@example.org",
                    Some("defer"),
                    Some("deferred transport")
                ),
            ],
        }
    );
    // The recipient limit keeps the first recipients and counts the rest.
    let limits = Limits {
        max_recipients_per_message: 1,
        ..Limits::default()
    };
    let (msgs, sum) = showq_with(&fixture("synthetic/showq-3.11-recipients.bin"), &limits);
    assert_eq!(sum.unwrap().dropped_recipients, 3);
    assert_eq!(msgs[0].recipients.len(), 1);
    assert_eq!(msgs[0].recipients[0].address, "bob@example.com");
    assert_eq!(msgs[1].recipients[0].address, "erin@example.org");
    assert_eq!(
        msgs[1].recipients[0].reason.as_deref(),
        Some("deferred transport")
    );
}

#[test]
fn showq_unknown_attributes_and_missing_queue_id() {
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-unknown-attributes.bin"));
    let sum = sum.unwrap();
    assert_eq!((sum.messages, sum.unknown_attributes), (1, 3));
    assert_eq!(
        msgs[0],
        QueuedMessage {
            queue: "deferred".into(),
            queue_id: "5B163CE0AE".into(),
            arrival_time: Some(1_795_388_530),
            size: Some(281),
            forced_expire: false,
            sender: "alice@mx.test.local".into(),
            recipients: vec![rcpt("dave4@example.com", Some(REFUSED))],
        }
    );
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-no-queue-id.bin"));
    assert_eq!(
        sum.unwrap(),
        StreamSummary {
            messages: 1,
            skipped_records: 1,
            protocol: Some(PROTOCOL.into()),
            ..StreamSummary::default()
        }
    );
    assert_eq!(ids(&msgs), ["58323CE0B2"]);
}

#[test]
fn showq_broken_streams() {
    let (msgs, r) = showq_all(&fixture("synthetic/showq-cut-mid-record.bin"));
    assert_eq!(ids(&msgs), ["58323CE0B2"]);
    assert!(
        matches!(
            r,
            Err(ShowqError::Truncated {
                messages: 1,
                offset: 351
            })
        ),
        "{r:?}"
    );
    let (msgs, r) = showq_all(&fixture("synthetic/showq-garbage-time.bin"));
    assert!(msgs.is_empty());
    match r {
        Err(ShowqError::Garbage {
            attribute, value, ..
        }) => assert_eq!((attribute.as_str(), value.as_str()), ("time", "yesterday")),
        other => panic!("{other:?}"),
    }
    let (msgs, r) = showq_all(&fixture("synthetic/showq-garbage-bytes.bin"));
    assert!(msgs.is_empty());
    assert!(
        matches!(r, Err(ShowqError::Truncated { messages: 0, .. })),
        "{r:?}"
    );
    // Nothing at all is not an empty queue.
    assert!(matches!(
        showq_all(b"").1,
        Err(ShowqError::Truncated {
            offset: 0,
            messages: 0
        })
    ));
}

#[test]
fn showq_ten_megabyte_value() {
    let big = "x".repeat(10 << 20);
    let mut s = showq::PROTOCOL_RECORD.to_vec();
    let m = QueuedMessage {
        queue: "deferred".into(),
        queue_id: "58323CE0B2".into(),
        arrival_time: Some(1),
        size: Some(2),
        sender: big.clone(),
        recipients: vec![rcpt("a@example.com", Some(&big))],
        ..QueuedMessage::default()
    };
    showq::encode_message(&mut s, &m, false);
    s.push(0);
    // Default limits: both values are cut to 64 KiB and counted; parsing stays in step.
    let (msgs, sum) = showq_all(&s);
    let sum = sum.unwrap();
    assert_eq!((sum.messages, sum.truncated_values), (1, 2));
    assert_eq!(msgs[0].sender.len(), 64 * 1024);
    assert_eq!(
        msgs[0].recipients[0].reason.as_ref().map(String::len),
        Some(64 * 1024)
    );
    assert_eq!(msgs[0].recipients[0].address, "a@example.com");
    // Raised limit: kept whole.
    let limits = Limits {
        max_value_bytes: 16 << 20,
        ..Limits::default()
    };
    let (msgs, sum) = showq_with(&s, &limits);
    assert_eq!(sum.unwrap().truncated_values, 0);
    assert_eq!(msgs, [m]);
}

#[test]
fn showq_cut_value_stays_utf8() {
    let mut s = Vec::new();
    showq::encode_attribute(&mut s, "queue_id", "A1");
    showq::encode_attribute(&mut s, "sender", "ééééé"); // 10 bytes
    s.extend_from_slice(b"\0\0");
    let limits = Limits {
        max_value_bytes: 5,
        ..Limits::default()
    };
    let (msgs, sum) = showq_with(&s, &limits);
    assert_eq!(sum.unwrap().truncated_values, 1);
    assert_eq!(msgs[0].sender, "éé");
}

#[test]
fn showq_3_0_text_stream() {
    let (msgs, sum) = showq_all(&fixture("synthetic/showq-3.0-text.txt"));
    let sum = sum.unwrap();
    assert!(sum.text_format);
    assert_eq!(sum.messages, 4);
    assert_eq!(
        ids(&msgs),
        ["8A1C61A2B4", "9B2D72B3C5", "AC3E83C4D6", "BD4F94D5E7"]
    );
    assert_eq!(
        msgs.iter().map(|m| m.queue.as_str()).collect::<Vec<_>>(),
        ["active", "deferred", "hold", "maildrop"]
    );
    // The text path uses the real clock: only check what does not depend on it.
    assert!(msgs[0].arrival_time.is_some());
    assert_eq!(msgs[2].arrival_time, None);
    let (msgs, sum) = showq_all(b"Mail queue is empty\n");
    assert!(msgs.is_empty());
    assert!(sum.unwrap().text_format);
    // A binary stream cut before its first NUL is not mistaken for text.
    assert!(matches!(
        showq_all(b"protocol").1,
        Err(ShowqError::Truncated {
            offset: 8,
            messages: 0
        })
    ));
}

#[test]
fn mailq_3_0_text_golden() {
    // 2015-06-01: Saturday Jan 3 and Friday Jan 2 fall in 2015.
    let (msgs, sum) = mailq_all(&fixture("synthetic/showq-3.0-text.txt"), 1_433_116_800);
    let sum = sum.unwrap();
    assert_eq!(
        sum,
        MailqSummary {
            messages: 4,
            trailer: Some(Trailer {
                kbytes: 2,
                requests: 4
            }),
            empty_banner: false,
            unknown_dates: 1,
            ignored_lines: 0,
        }
    );
    assert_eq!(
        msgs,
        [
            QueuedMessage {
                queue: "active".into(),
                queue_id: "8A1C61A2B4".into(),
                arrival_time: Some(1_420_279_445),
                size: Some(1234),
                forced_expire: false,
                sender: "alice@example.org".into(),
                recipients: vec![rcpt("bob@example.com", None)],
            },
            QueuedMessage {
                queue: "deferred".into(),
                queue_id: "9B2D72B3C5".into(),
                arrival_time: Some(1_420_243_199),
                size: Some(567),
                forced_expire: false,
                sender: "MAILER-DAEMON".into(),
                recipients: vec![
                    rcpt(
                        "carol@example.net",
                        Some("connect to mx.example.net[192.0.2.1]:25: Connection timed out")
                    ),
                    rcpt(
                        "dave@example.net",
                        Some("connect to mx.example.net[192.0.2.1]:25: Connection timed out")
                    ),
                ],
            },
            QueuedMessage {
                queue: "hold".into(),
                queue_id: "AC3E83C4D6".into(),
                arrival_time: None,
                size: Some(99),
                forced_expire: false,
                sender: "erin@example.org".into(),
                recipients: vec![rcpt("frank@example.com", None)],
            },
            QueuedMessage {
                queue: "maildrop".into(),
                queue_id: "BD4F94D5E7".into(),
                arrival_time: Some(1_420_279_500),
                size: Some(310),
                forced_expire: false,
                sender: String::new(),
                recipients: vec![],
            },
        ]
    );
}

#[test]
fn mailq_glued_size_and_garbage() {
    let t = "-Queue ID- --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
             8A1C61A2B4*123456789 Sat Jan  3 10:04:05  alice@example.org\n";
    let (msgs, sum) = mailq_all(t.as_bytes(), 1_433_116_800);
    assert_eq!(sum.unwrap().messages, 1);
    assert_eq!(msgs[0].size, Some(123_456_789));
    assert_eq!(msgs[0].queue, "active");
    let (_, r) = mailq_all(b"8A1C61A2B4* big Sat Jan  3 10:04:05  a@b\n", 0);
    assert!(
        matches!(r, Err(MailqError::Garbage { line: 1, .. })),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// postqueue -j, synthetic

#[test]
fn postqueue_json_3_11_and_bad_lines() {
    let (msgs, sum) = json_all(&fixture("synthetic/postqueue-j-3.11.jsonl"));
    assert_eq!(
        sum,
        JsonSummary {
            messages: 2,
            bad_lines: 3
        }
    );
    assert_eq!(
        msgs[0].recipients,
        [
            rcpt311(
                Some("info@example.com"),
                "bob@example.com",
                None,
                Some(REFUSED)
            ),
            rcpt311(
                None,
                "carol@example.com",
                Some("bounce"),
                Some("host said: 550 5.1.1 unknown user")
            ),
            rcpt311(Some("alias@example.com"), "dave@example.com", None, None),
        ]
    );
    assert_eq!(
        msgs[1],
        QueuedMessage {
            queue: "hold".into(),
            queue_id: "4jXlKH61vRzKHG4".into(),
            arrival_time: Some(1_795_388_600),
            size: Some(300),
            forced_expire: true,
            sender: "MAILER-DAEMON".into(),
            recipients: vec![rcpt("erin@example.org", Some("deferred transport"))],
        }
    );
    assert!(postqueue_json::parse_line("{").is_err());
    assert!(matches!(
        postqueue_json::parse_line(r#"{"queue_name":"x","queue_id":""}"#),
        Err(postqueue_json::JsonError::NoQueueId)
    ));
    let (_, s) = json_all(b"\xff\xfe\n{}\n");
    assert_eq!(s.bad_lines, 2);
}

// ---------------------------------------------------------------------------------------
// Property tests

fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{1,{max}}}")).unwrap()
}

fn message(v3_11: bool) -> impl Strategy<Value = QueuedMessage> {
    let rcpt = (
        printable(40),
        proptest::option::of(printable(80)),
        proptest::option::of(printable(40)),
        proptest::option::of(proptest::sample::select(vec!["defer", "bounce"])),
    )
        .prop_map(move |(address, reason, orig, class)| Recipient {
            address,
            reason,
            orig_address: orig.filter(|_| v3_11),
            log_class: class.filter(|_| v3_11).map(Into::into),
        });
    (
        proptest::sample::select(vec!["maildrop", "incoming", "active", "deferred", "hold"]),
        "[0-9A-Za-z]{6,16}",
        0i64..4_000_000_000,
        0u64..1_000_000_000,
        any::<bool>(),
        printable(60),
        proptest::collection::vec(rcpt, 0..6),
    )
        .prop_map(
            |(queue, queue_id, t, size, forced_expire, sender, recipients)| QueuedMessage {
                queue: queue.into(),
                queue_id,
                arrival_time: Some(t),
                size: Some(size),
                forced_expire,
                sender,
                recipients,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn showq_round_trip(
        v3_11 in any::<bool>(),
        with_protocol in any::<bool>(),
        msgs in proptest::collection::vec(message(false), 0..8),
        msgs311 in proptest::collection::vec(message(true), 0..8),
    ) {
        let msgs = if v3_11 { msgs311 } else { msgs };
        let mut s = if with_protocol { showq::PROTOCOL_RECORD.to_vec() } else { Vec::new() };
        for m in &msgs {
            showq::encode_message(&mut s, m, v3_11);
        }
        s.push(0);
        let (got, sum) = showq_all(&s);
        let sum = sum.unwrap();
        prop_assert_eq!(&got, &msgs);
        prop_assert_eq!(sum.messages as usize, msgs.len());
        prop_assert_eq!(sum.unknown_attributes, 0);
        prop_assert_eq!(sum.protocol.is_some(), with_protocol);
    }

    #[test]
    fn showq_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let limits = Limits { max_value_bytes: 64, max_recipients_per_message: 4 };
        let (msgs, _) = showq_with(&data, &limits);
        for m in msgs {
            prop_assert!(m.recipients.len() <= 4);
        }
    }

    #[test]
    fn showq_never_panics_on_attribute_soup(
        parts in proptest::collection::vec(
            (proptest::sample::select(vec![
                "queue_name", "queue_id", "time", "size", "forced_expire", "sender",
                "recipient", "original_recipient", "log_class", "reason", "protocol", "",
                "x",
            ]), "[0-9a-z]{0,4}"),
            0..40,
        )
    ) {
        let mut s = Vec::new();
        for (n, v) in parts {
            showq::encode_attribute(&mut s, n, &v);
        }
        let _ = showq_all(&s);
    }

    #[test]
    fn text_parsers_never_panic(s in "(?s).{0,600}") {
        let _ = mailq_all(s.as_bytes(), 1_795_446_913);
        let _ = postqueue_json::parse_line(&s);
        let _ = json_all(s.as_bytes());
        if let Ok(tables) = qshape::parse(&s) {
            for t in tables {
                prop_assert_eq!(t.total.counts.len(), t.buckets.len());
            }
        }
    }

    #[test]
    fn mailq_like_lines_never_panic(
        lines in proptest::collection::vec(
            proptest::string::string_regex(
                "([0-9A-F]{10}[*!# ]{0,3}|  +|\\(|--|-Queue)[ 0-9A-Za-z:@.()!*#?-]{0,60}"
            ).unwrap(),
            0..30,
        )
    ) {
        let _ = mailq_all(lines.join("\n").as_bytes(), 1_795_446_913);
        let _ = qshape::parse(&lines.join("\n"));
    }
}
