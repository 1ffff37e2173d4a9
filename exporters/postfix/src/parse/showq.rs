//! The showq wire protocol (NUL-separated attributes, Postfix 3.1+).
//!
//! The `showq(8)` daemon speaks first and closes the connection when done; the client sends
//! nothing. Since Postfix 3.1 the stream is a sequence of attribute lists in the
//! `attr_print0` encoding:
//!
//! ```text
//! attribute   = name NUL value NUL
//! record      = attribute* NUL              (an empty name ends the list)
//! stream      = [protocol-record] message-record* NUL
//! ```
//!
//! * 3.6+ starts with `protocol\0mail_queue_list_protocol\0\0`;
//! * a message record holds `queue_name`, `queue_id`, `time`, `size`, (3.5+) `forced_expire`,
//!   `sender`, then per recipient `recipient`, `reason` (3.11+: `original_recipient`,
//!   `recipient`, `log_class`, `reason`);
//! * Postfix ≤ 3.0 sent `mailq` text instead: a stream without a NUL in its first 128 bytes
//!   that starts like that text is handed to [`crate::parse::mailq`].
//!
//! Attributes are read by name, so their order does not matter (except that recipient
//! attributes belong to the recipient opened last) and unknown names are ignored.
//! [`read_stream`] keeps at most one message (plus [`Limits`]) in memory.

use std::io::{self, BufRead, BufReader, Read};
use std::time::SystemTime;

use super::{QueuedMessage, Recipient, mailq};

/// Bounds that keep a hostile or broken stream from using unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest attribute value kept, in bytes (names are cut at 64 bytes). Longer values are cut to this length
    /// (at a UTF-8 boundary) and counted in [`StreamSummary::truncated_values`]; the rest of
    /// the value is read and dropped, so parsing continues in step.
    pub max_value_bytes: usize,
    /// Most recipients kept per message; further ones are dropped and counted in
    /// [`StreamSummary::dropped_recipients`].
    pub max_recipients_per_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_value_bytes: 64 * 1024,
            max_recipients_per_message: 100_000,
        }
    }
}

/// What a complete stream contained besides the messages themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Messages delivered to the callback.
    pub messages: u64,
    /// Records that had attributes but no `queue_id` (not counting the protocol record).
    pub skipped_records: u64,
    /// Attributes with a name this parser does not know (ignored).
    pub unknown_attributes: u64,
    /// Values cut to [`Limits::max_value_bytes`].
    pub truncated_values: u64,
    /// Recipients dropped beyond [`Limits::max_recipients_per_message`].
    pub dropped_recipients: u64,
    /// The protocol name announced by Postfix 3.6+ (`mail_queue_list_protocol`).
    pub protocol: Option<String>,
    /// The stream was Postfix ≤ 3.0 plain text, parsed by [`crate::parse::mailq`].
    pub text_format: bool,
}

/// Why a showq stream could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ShowqError {
    /// Reading the stream failed.
    #[error("reading the showq stream: {0}")]
    Io(#[from] io::Error),
    /// The stream ended before its end marker (mid-attribute, mid-record, or between records).
    /// Messages already passed to the callback stay delivered; the caller should treat the
    /// snapshot as incomplete.
    #[error("showq stream ended early at byte {offset} (after {messages} complete messages)")]
    Truncated {
        /// Bytes read before the end.
        offset: u64,
        /// Complete messages delivered before the end.
        messages: u64,
    },
    /// A value that must be a number (`time`, `size`, `forced_expire`) is not one. This is
    /// fatal rather than counted: a stream that lies about one number cannot be trusted for
    /// the others, and Postfix's own `postqueue` aborts too.
    #[error("bad showq value at byte {offset}: {attribute}={value:?}")]
    Garbage {
        /// Offset of the end of the bad value.
        offset: u64,
        /// Attribute name.
        attribute: String,
        /// The value (at most 64 bytes of it).
        value: String,
    },
    /// A Postfix ≤ 3.0 text stream that the `mailq` parser rejected.
    #[error("Postfix <= 3.0 text stream: {0}")]
    Text(#[from] mailq::MailqError),
}

/// Longest attribute name kept.
const MAX_NAME_BYTES: usize = 64;

/// How many bytes are examined to tell the binary protocol from ≤ 3.0 text.
const SNIFF_BYTES: usize = 128;

/// Reads a whole showq stream, calling `on_message` once per queued message, in stream order.
///
/// Memory use is bounded by one message and `limits`, whatever the stream size. The stream
/// must end with its end-of-list marker; otherwise [`ShowqError::Truncated`] is returned after
/// the complete messages before the cut were delivered. An empty stream (0 bytes) is also
/// `Truncated`: showq always sends at least the end marker. Bytes after the end marker are
/// not read.
///
/// Postfix ≤ 3.0 text (no NUL in the first 128 bytes, and the `Queue ID` heading or
/// `Mail queue is empty` first) is parsed with
/// [`mailq::read_stream`] using the current time and the local time zone, and reported with
/// [`StreamSummary::text_format`] set; there only the recipient limit applies (lines are
/// bounded to 64 KiB by the text parser).
pub fn read_stream<R: Read>(
    mut reader: R,
    limits: &Limits,
    mut on_message: impl FnMut(QueuedMessage),
) -> Result<StreamSummary, ShowqError> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    if head.is_empty() {
        return Err(ShowqError::Truncated {
            offset: 0,
            messages: 0,
        });
    }
    let joined = head.as_slice().chain(reader);
    if looks_like_text(&head) {
        let text = BufReader::new(joined);
        let mut summary = StreamSummary {
            text_format: true,
            ..StreamSummary::default()
        };
        let max = limits.max_recipients_per_message;
        mailq::read_stream(text, SystemTime::now(), |mut m| {
            summary.messages += 1;
            if m.recipients.len() > max {
                summary.dropped_recipients += (m.recipients.len() - max) as u64;
                m.recipients.truncate(max);
            }
            on_message(m);
        })?;
        return Ok(summary);
    }
    let mut parser = Parser {
        reader: BufReader::with_capacity(64 * 1024, joined),
        limits: *limits,
        offset: 0,
        name: Vec::with_capacity(32),
        value: Vec::with_capacity(256),
        summary: StreamSummary::default(),
    };
    parser.run(&mut on_message)?;
    Ok(parser.summary)
}

/// Postfix ≤ 3.0 showq text starts with the `-Queue ID-` heading (`----Queue ID-----` with
/// long IDs) or `Mail queue is empty`
/// and has no NUL. Requiring the heading too keeps a binary stream cut short (no NUL yet)
/// from being taken for text.
fn looks_like_text(head: &[u8]) -> bool {
    !head.contains(&0)
        && ((head.starts_with(b"-") && head.windows(8).any(|w| w == b"Queue ID"))
            || head.starts_with(b"Mail queue is empty"))
}

/// The attribute-stream state: a reader, reusable token buffers and the running summary.
struct Parser<R> {
    reader: BufReader<R>,
    limits: Limits,
    offset: u64,
    name: Vec<u8>,
    value: Vec<u8>,
    summary: StreamSummary,
}

/// The message record being assembled.
#[derive(Default)]
struct Pending {
    msg: QueuedMessage,
    has_id: bool,
    attributes: u64,
    /// The last recipient already has its `recipient` address, so another `recipient`
    /// attribute opens a new one (3.11 opens recipients with `original_recipient`).
    rcpt_has_address: bool,
    /// The last recipient was dropped by the limit: its attributes are ignored.
    rcpt_dropped: bool,
    /// The record carried a `protocol` attribute (the 3.6+ greeting).
    protocol: bool,
}

impl<R: Read> Parser<R> {
    fn truncated(&self) -> ShowqError {
        ShowqError::Truncated {
            offset: self.offset,
            messages: self.summary.messages,
        }
    }

    /// Reads one NUL-terminated token into `self.name` or `self.value` (`into_value`).
    /// Returns `Ok(false)` on EOF before any byte of the token; EOF inside a token is
    /// `Truncated`.
    fn read_token(&mut self, into_value: bool) -> Result<bool, ShowqError> {
        let buf = if into_value {
            &mut self.value
        } else {
            &mut self.name
        };
        buf.clear();
        // Every name Postfix sends is short; a long one is unknown anyway.
        let max = if into_value {
            self.limits.max_value_bytes
        } else {
            MAX_NAME_BYTES
        };
        let mut started = false;
        let mut cut = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if chunk.is_empty() {
                return if started {
                    Err(ShowqError::Truncated {
                        offset: self.offset,
                        messages: self.summary.messages,
                    })
                } else {
                    Ok(false)
                };
            }
            started = true;
            let (data, used, done) = match memchr::memchr(0, chunk) {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            let room = max.saturating_sub(buf.len());
            if data.len() > room {
                cut = true;
                buf.extend_from_slice(&data[..room]);
            } else {
                buf.extend_from_slice(data);
            }
            self.reader.consume(used);
            self.offset += used as u64;
            if done {
                if cut && into_value {
                    self.summary.truncated_values += 1;
                    // Cut back to a character boundary so the value stays valid text.
                    if let Err(e) = std::str::from_utf8(buf) {
                        buf.truncate(e.valid_up_to());
                    }
                }
                return Ok(true);
            }
        }
    }

    fn run(&mut self, on_message: &mut impl FnMut(QueuedMessage)) -> Result<(), ShowqError> {
        let mut pending = Pending::default();
        loop {
            if !self.read_token(false)? {
                return Err(self.truncated());
            }
            if self.name.is_empty() {
                // End of a record. An empty record is the end of the stream.
                if pending.attributes == 0 {
                    return Ok(());
                }
                let done = std::mem::take(&mut pending);
                if done.has_id {
                    self.summary.messages += 1;
                    on_message(done.msg);
                } else if !(done.attributes == 1 && done.protocol) {
                    self.summary.skipped_records += 1;
                }
                continue;
            }
            if !self.read_token(true)? {
                return Err(self.truncated());
            }
            pending.attributes += 1;
            self.apply(&mut pending)?;
        }
    }

    fn value_string(&self) -> String {
        match std::str::from_utf8(&self.value) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(&self.value).into_owned(),
        }
    }

    fn garbage(&self) -> ShowqError {
        let shown = &self.value[..self.value.len().min(64)];
        ShowqError::Garbage {
            offset: self.offset,
            attribute: String::from_utf8_lossy(&self.name).into_owned(),
            value: String::from_utf8_lossy(shown).into_owned(),
        }
    }

    fn number<T: std::str::FromStr>(&self) -> Result<T, ShowqError> {
        std::str::from_utf8(&self.value)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.garbage())
    }

    /// Opens a new recipient unless the message already holds the maximum.
    fn open_recipient(&mut self, p: &mut Pending) -> bool {
        p.rcpt_has_address = false;
        if p.msg.recipients.len() >= self.limits.max_recipients_per_message {
            self.summary.dropped_recipients += 1;
            p.rcpt_dropped = true;
            return false;
        }
        p.msg.recipients.push(Recipient::default());
        p.rcpt_dropped = false;
        true
    }

    fn apply(&mut self, p: &mut Pending) -> Result<(), ShowqError> {
        match self.name.as_slice() {
            b"queue_name" => p.msg.queue = self.value_string(),
            b"queue_id" => {
                p.msg.queue_id = self.value_string();
                p.has_id = !p.msg.queue_id.is_empty();
            }
            b"time" => p.msg.arrival_time = Some(self.number()?),
            b"size" => p.msg.size = Some(self.number()?),
            b"forced_expire" => p.msg.forced_expire = self.number::<i64>()? != 0,
            b"sender" => p.msg.sender = self.value_string(),
            b"original_recipient" => {
                if self.open_recipient(p) {
                    let v = self.value_string();
                    if let Some(r) = p.msg.recipients.last_mut() {
                        r.orig_address = Some(v).filter(|s| !s.is_empty());
                    }
                }
            }
            b"recipient" => {
                let v = self.value_string();
                let open_new =
                    p.rcpt_has_address || (p.msg.recipients.is_empty() && !p.rcpt_dropped);
                if open_new {
                    self.open_recipient(p);
                }
                if !p.rcpt_dropped
                    && let Some(r) = p.msg.recipients.last_mut()
                {
                    r.address = v;
                }
                p.rcpt_has_address = true;
            }
            b"log_class" | b"reason" => {
                let v = Some(self.value_string()).filter(|s| !s.is_empty());
                match p.msg.recipients.last_mut() {
                    _ if p.rcpt_dropped => {}
                    Some(r) if self.name == b"reason" => r.reason = v,
                    Some(r) => r.log_class = v,
                    None => self.summary.unknown_attributes += 1,
                }
            }
            b"protocol" => {
                p.protocol = true;
                self.summary.protocol = Some(self.value_string());
            }
            _ => self.summary.unknown_attributes += 1,
        }
        Ok(())
    }
}

/// Appends one attribute in the showq wire encoding (`name NUL value NUL`).
///
/// Useful to build test streams and benchmarks; the exporter itself only reads.
pub fn encode_attribute(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.extend_from_slice(value.as_bytes());
    out.push(0);
}

/// Appends one message record in the showq wire encoding of Postfix 3.5–3.10 (with
/// `forced_expire`), or 3.11+ (`original_recipient`, `log_class`) when `v3_11` is set.
pub fn encode_message(out: &mut Vec<u8>, m: &QueuedMessage, v3_11: bool) {
    encode_attribute(out, "queue_name", &m.queue);
    encode_attribute(out, "queue_id", &m.queue_id);
    encode_attribute(out, "time", &m.arrival_time.unwrap_or(0).to_string());
    encode_attribute(out, "size", &m.size.unwrap_or(0).to_string());
    encode_attribute(
        out,
        "forced_expire",
        if m.forced_expire { "1" } else { "0" },
    );
    encode_attribute(out, "sender", &m.sender);
    for r in &m.recipients {
        if v3_11 {
            encode_attribute(
                out,
                "original_recipient",
                r.orig_address.as_deref().unwrap_or(""),
            );
        }
        encode_attribute(out, "recipient", &r.address);
        if v3_11 {
            encode_attribute(out, "log_class", r.log_class.as_deref().unwrap_or(""));
        }
        encode_attribute(out, "reason", r.reason.as_deref().unwrap_or(""));
    }
    out.push(0);
}

/// The 3.6+ greeting record.
pub const PROTOCOL_RECORD: &[u8] = b"protocol\0mail_queue_list_protocol\0\0";
