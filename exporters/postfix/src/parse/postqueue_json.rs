//! `postqueue -j` JSON lines (Postfix 3.1+).
//!
//! One object per queue file per line:
//!
//! ```text
//! {"queue_name": "deferred", "queue_id": "58323CE0B2", "arrival_time": 1795388530,
//!  "message_size": 281, "forced_expire": false, "sender": "alice@mx.test.local",
//!  "recipients": [{"address": "dave3@example.com", "delay_reason": "connect to …"}]}
//! ```
//!
//! postqueue(1) asks readers to ignore members they do not know, and so does this parser.
//! `forced_expire` appeared in 3.5 (some upstream snapshots spell it `force_expired`; both
//! are accepted). 3.11 added per-recipient `orig_address` and `bounce_reason`: a
//! `bounce_reason` becomes [`Recipient::reason`] with `log_class` `bounce`; a
//! `delay_reason` becomes the reason with no `log_class` (the JSON does not say `defer`).

use std::io::{self, BufRead};

use serde::Deserialize;

use super::{QueuedMessage, Recipient};

/// A line that is not a queue-file object.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON, or a required member (`queue_name`, `queue_id`) is missing or mistyped.
    #[error("bad postqueue -j line: {0}")]
    Json(#[from] serde_json::Error),
    /// `queue_id` is empty.
    #[error("postqueue -j line without a queue_id")]
    NoQueueId,
}

/// What [`read_stream`] saw besides the messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonSummary {
    /// Messages delivered to the callback.
    pub messages: u64,
    /// Non-blank lines that were not a message object (skipped).
    pub bad_lines: u64,
}

#[derive(Deserialize)]
struct Msg {
    queue_name: String,
    queue_id: String,
    #[serde(default)]
    arrival_time: Option<i64>,
    #[serde(default)]
    message_size: Option<u64>,
    #[serde(default, alias = "force_expired")]
    forced_expire: Option<bool>,
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    recipients: Vec<Rcpt>,
}

#[derive(Deserialize)]
struct Rcpt {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    orig_address: Option<String>,
    #[serde(default)]
    delay_reason: Option<String>,
    #[serde(default)]
    bounce_reason: Option<String>,
}

/// Parses one `postqueue -j` line.
pub fn parse_line(line: &str) -> Result<QueuedMessage, JsonError> {
    let m: Msg = serde_json::from_str(line)?;
    if m.queue_id.is_empty() {
        return Err(JsonError::NoQueueId);
    }
    Ok(QueuedMessage {
        queue: m.queue_name,
        queue_id: m.queue_id,
        arrival_time: m.arrival_time,
        size: m.message_size,
        forced_expire: m.forced_expire.unwrap_or(false),
        sender: m.sender.unwrap_or_default(),
        recipients: m
            .recipients
            .into_iter()
            .map(|r| {
                let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
                let bounce = nonempty(r.bounce_reason);
                let bounced = bounce.is_some();
                Recipient {
                    address: r.address.unwrap_or_default(),
                    reason: bounce.or_else(|| nonempty(r.delay_reason)),
                    orig_address: nonempty(r.orig_address),
                    log_class: bounced.then(|| "bounce".to_owned()),
                }
            })
            .collect(),
    })
}

/// Reads JSON lines, calling `on_message` per message; bad lines are counted and skipped,
/// blank lines ignored (a line that is not UTF-8 is a bad line). Only I/O errors are fatal.
pub fn read_stream<R: BufRead>(
    mut r: R,
    mut on_message: impl FnMut(QueuedMessage),
) -> Result<JsonSummary, io::Error> {
    let mut summary = JsonSummary::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            summary.bad_lines += 1;
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(m) => {
                summary.messages += 1;
                on_message(m);
            }
            Err(_) => summary.bad_lines += 1,
        }
    }
    Ok(summary)
}
