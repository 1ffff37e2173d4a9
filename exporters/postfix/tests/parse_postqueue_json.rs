//! `postqueue -j` JSON lines: synthetic Postfix 3.11 output and bad lines (the real 3.7
//! captures are compared with showq in `parse_cross_checks.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use postfix_exporter::parse::QueuedMessage;
use postfix_exporter::parse::postqueue_json::{self, JsonSummary};
use support::{REFUSED, fixture, json_all, rcpt, rcpt311};

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
