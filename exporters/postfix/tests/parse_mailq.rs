//! mailq / `postqueue -p` text on real Postfix 3.7.11 captures and synthetic listings,
//! plus property tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use jiff::tz::TimeZone;
use postfix_exporter::parse::QueuedMessage;
use postfix_exporter::parse::mailq::{self, MailqError, MailqSummary, Trailer};
use postfix_exporter::parse::qshape;
use proptest::prelude::*;
use support::{SUSPENDED, fixture, mailq_all, rcpt, stamp};

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

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
