//! showq (the `mail_queue_list_protocol` stream) on real Postfix 3.7.11 captures
//! (`tests/fixtures/postfix-3.7/`, written by `scripts/capture-postfix-fixtures.sh`), on
//! synthetic streams of other versions and broken streams (`tests/fixtures/synthetic/`,
//! written by its `generate.py`), plus property tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;

use postfix_exporter::parse::showq::{self, Limits, ShowqError, StreamSummary};
use postfix_exporter::parse::{QueuedMessage, Recipient};
use proptest::prelude::*;
use support::{REFUSED, SUSPENDED, fixture, rcpt, rcpt311, showq_all, showq_with};

const PROTOCOL: &str = "mail_queue_list_protocol";

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
}
