//! The listings of one capture agree: showq, `postqueue -j`, mailq and qshape of the same
//! Postfix 3.7.11 queue, plus a property test that no text parser panics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use postfix_exporter::parse::mailq::Trailer;
use postfix_exporter::parse::postqueue_json::{self, JsonSummary};
use postfix_exporter::parse::qshape;
use proptest::prelude::*;
use support::{fixture, json_all, mailq_all, showq_all, stamp, text};

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
fn empty_listings_agree() {
    let (j, s) = json_all(&fixture("postfix-3.7/empty/postqueue-j.jsonl"));
    assert!(j.is_empty());
    assert_eq!(s, JsonSummary::default());
    let t = qshape::parse(&text("postfix-3.7/empty/qshape-deferred.txt")).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].total.total, 0);
    assert!(t[0].rows.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

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
}
