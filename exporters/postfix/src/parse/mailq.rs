//! `mailq` / `postqueue -p` / `sendmail -bp` text output (and the Postfix <= 3.0 showq stream).
//!
//! Layout (`src/postqueue/showq_compat.c`; ≤ 3.0: `src/showq/showq.c`):
//!
//! ```text
//! -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
//! 58323CE0B2*     281 Sun Nov 22 23:02:10  alice@mx.test.local
//!                     (connect to 127.0.0.1[127.0.0.1]:2525: Connection refused)
//!                                          dave3@example.com
//! (a reason longer than 76 characters starts at column 0)
//!                                          erin@example.org
//!
//! -- 1 Kbytes in 5 Requests.
//! ```
//!
//! * The queue ID (short upper-case hex or long `[0-9A-Za-z]+`) carries status suffixes: `*`
//!   active, `!` hold, `#` force-expired (3.5+), combinable (`5D39CCE0B0!#`). Without `*` or
//!   `!` the message is in `deferred`, `incoming` or `maildrop` — the text does not say which,
//!   so this parser reports `deferred` (the usual case; see the `incoming` example in the
//!   3.7 fixtures).
//! * A reason line `(…)` applies to the recipients that follow it until the next reason line;
//!   `(reason unavailable)` means "no reason" from there on.
//! * The arrival time has no year and no zone (`asctime(localtime())` cut to 19–20
//!   characters). The year is the latest one, at most 28 years back, in which that date falls
//!   on the printed weekday and is not later than `now` plus one day (clock skew); the zone
//!   is the one the caller passes ([`read_stream`] uses the machine's local zone; a time in a
//!   DST fold resolves to the earlier instant, one in a gap is shifted forward).
//! * Postfix ≤ 3.0 wrote the same text from the showq daemon itself, with the status
//!   character glued to the ID (`%-10s%c%8ld`), `??` for an unknown arrival time and
//!   `(maildrop queue, sender UID N)` in place of the sender of unreadable maildrop files
//!   (reported with queue `maildrop` and an empty sender).
//! * Diagnostics of the listing tools (`postqueue: warning: …`, `mailq: fatal: …`,
//!   `sendmail: …`) make the whole listing an error ([`MailqError::Tool`]): even the
//!   "accessing queue directly" warning means the normal path is broken.

use std::io::{self, BufRead};
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;

use super::{QueuedMessage, Recipient};

/// The `-- N Kbytes in M Requests.` line that ends a non-empty listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Sum of message sizes divided by 1024 (rounded down), as Postfix computed it.
    pub kbytes: u64,
    /// Number of messages Postfix listed.
    pub requests: u64,
}

/// What a complete listing contained besides the messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailqSummary {
    /// Messages delivered to the callback.
    pub messages: u64,
    /// The trailer, for cross-checking `messages` and the sizes.
    pub trailer: Option<Trailer>,
    /// The listing said `Mail queue is empty`.
    pub empty_banner: bool,
    /// Arrival times that could not be placed in a year (left as `None`).
    pub unknown_dates: u64,
    /// Lines that matched nothing (for example a recipient line with no message before it).
    pub ignored_lines: u64,
}

/// Why a listing could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MailqError {
    /// Reading failed.
    #[error("reading the mailq listing: {0}")]
    Io(#[from] io::Error),
    /// The listing tool printed a diagnostic (`postqueue: warning: …`).
    #[error("line {line}: {text}")]
    Tool {
        /// 1-based line number.
        line: u64,
        /// The diagnostic line.
        text: String,
    },
    /// A message line whose size is not a number.
    #[error("line {line}: malformed message line ({reason}): {text}")]
    Garbage {
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        reason: &'static str,
        /// The line (at most 200 bytes of it).
        text: String,
    },
}

/// Longest line kept; the rest of a longer line is skipped.
const MAX_LINE: usize = 64 * 1024;

/// Parses a listing, reading arrival times in the machine's local time zone.
///
/// `now` bounds the year inference for the year-less arrival dates (pass the time the listing
/// was taken). `on_message` is called once per message, in listing order.
pub fn read_stream<R: BufRead>(
    r: R,
    now: SystemTime,
    on_message: impl FnMut(QueuedMessage),
) -> Result<MailqSummary, MailqError> {
    read_stream_in(r, now, &TimeZone::system(), on_message)
}

/// Like [`read_stream`], with the time zone the listing was printed in.
pub fn read_stream_in<R: BufRead>(
    mut r: R,
    now: SystemTime,
    tz: &TimeZone,
    mut on_message: impl FnMut(QueuedMessage),
) -> Result<MailqSummary, MailqError> {
    let now = Timestamp::try_from(now).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut summary = MailqSummary::default();
    let mut buf = Vec::with_capacity(256);
    let mut current: Option<QueuedMessage> = None;
    let mut reason: Option<String> = None;
    let mut line_no = 0u64;
    let mut flush = |current: &mut Option<QueuedMessage>, summary: &mut MailqSummary| {
        if let Some(m) = current.take() {
            summary.messages += 1;
            on_message(m);
        }
    };
    while read_line_bounded(&mut r, &mut buf, MAX_LINE)? {
        line_no += 1;
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            flush(&mut current, &mut summary);
            continue;
        }
        if is_tool_diagnostic(line) {
            return Err(MailqError::Tool {
                line: line_no,
                text: line.to_owned(),
            });
        }
        if line.starts_with('-') {
            // Heading or trailer.
            if let Some(t) = parse_trailer(line) {
                flush(&mut current, &mut summary);
                summary.trailer = Some(t);
            } else if !line.contains("Queue ID") {
                summary.ignored_lines += 1;
            }
            continue;
        }
        if line == "Mail queue is empty" {
            summary.empty_banner = true;
            continue;
        }
        let body = line.trim();
        if let Some(why) = body.strip_prefix('(').and_then(|b| b.strip_suffix(')'))
            && !body.starts_with("(maildrop queue")
        {
            reason = (why != "reason unavailable").then(|| why.to_owned());
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match current.as_mut() {
                Some(m) => m.recipients.push(Recipient {
                    address: body.to_owned(),
                    reason: reason.clone(),
                    ..Recipient::default()
                }),
                None => summary.ignored_lines += 1,
            }
            continue;
        }
        if line.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            flush(&mut current, &mut summary);
            reason = None;
            let garbage = |reason| MailqError::Garbage {
                line: line_no,
                reason,
                text: line.chars().take(200).collect(),
            };
            let (m, date_ok) = parse_message_line(line, now, tz).map_err(garbage)?;
            if !date_ok {
                summary.unknown_dates += 1;
            }
            current = Some(m);
            continue;
        }
        summary.ignored_lines += 1;
    }
    flush(&mut current, &mut summary);
    Ok(summary)
}

/// Reads one line (up to and including `\n`) into `buf`, keeping at most `max` bytes of it.
/// Returns `false` at end of input.
fn read_line_bounded<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (data, used, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
        r.consume(used);
        if done {
            return Ok(true);
        }
    }
}

fn is_tool_diagnostic(line: &str) -> bool {
    [
        "postqueue: ",
        "mailq: ",
        "sendmail: ",
        "postdrop: ",
        "showq: ",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// `-- 6 Kbytes in 22 Requests.` / `-- 0 Kbytes in 1 Request.`
fn parse_trailer(line: &str) -> Option<Trailer> {
    let rest = line.strip_prefix("-- ")?;
    let (kb, rest) = rest.split_once(" Kbytes in ")?;
    let (n, rest) = rest.split_once(' ')?;
    if rest != "Requests." && rest != "Request." {
        return None;
    }
    Some(Trailer {
        kbytes: kb.parse().ok()?,
        requests: n.parse().ok()?,
    })
}

/// Splits off the first whitespace-separated token.
fn next_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    }
}

/// Parses `ID[*!#] SIZE Www Mmm dd hh:mm:ss SENDER`. Returns the message and whether the
/// date could be placed in time.
fn parse_message_line(
    line: &str,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<(QueuedMessage, bool), &'static str> {
    let (tok, rest) = next_token(line);
    let id_end = tok
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(tok.len());
    let (id, mut tail) = tok.split_at(id_end);
    let mut m = QueuedMessage {
        queue_id: id.to_owned(),
        queue: "deferred".to_owned(),
        ..QueuedMessage::default()
    };
    while let Some(c) = tail.chars().next().filter(|c| matches!(c, '*' | '!' | '#')) {
        match c {
            '*' => m.queue = "active".to_owned(),
            '!' => m.queue = "hold".to_owned(),
            _ => m.forced_expire = true,
        }
        tail = &tail[1..];
    }
    // Postfix <= 3.0 glued a size of 8+ digits to the status character.
    let (size, rest) = if tail.is_empty() {
        next_token(rest)
    } else {
        (tail, rest)
    };
    m.size = Some(size.parse().map_err(|_| "size is not a number")?);
    let (first, after_first) = next_token(rest);
    let (arrival, rest) = if first == "??" {
        (None, after_first)
    } else {
        let (mon, rest) = next_token(after_first);
        let (day, rest) = next_token(rest);
        let (hms, rest) = next_token(rest);
        (infer_arrival(first, mon, day, hms, now, tz), rest)
    };
    m.arrival_time = arrival;
    let sender = rest.trim();
    if sender.starts_with("(maildrop queue") {
        m.queue = "maildrop".to_owned();
    } else {
        m.sender = sender.to_owned();
    }
    Ok((m, arrival.is_some()))
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "Mon" => Weekday::Monday,
        "Tue" => Weekday::Tuesday,
        "Wed" => Weekday::Wednesday,
        "Thu" => Weekday::Thursday,
        "Fri" => Weekday::Friday,
        "Sat" => Weekday::Saturday,
        "Sun" => Weekday::Sunday,
        _ => return None,
    })
}

fn month(s: &str) -> Option<i8> {
    const NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let i = NAMES.iter().position(|n| *n == s)?;
    i8::try_from(i + 1).ok()
}

/// Places a year-less `asctime` date (`Sun`, `Nov`, `22`, `23:02:10`) in time; see the module
/// docs for the rule. Returns unix seconds.
pub fn infer_arrival(
    wday: &str,
    mon: &str,
    day: &str,
    hms: &str,
    now: Timestamp,
    tz: &TimeZone,
) -> Option<i64> {
    let wday = weekday(wday)?;
    let mon = month(mon)?;
    let day: i8 = day.parse().ok()?;
    let mut parts = hms.splitn(3, ':');
    let h: i8 = parts.next()?.parse().ok()?;
    let mi: i8 = parts.next()?.parse().ok()?;
    let s: i8 = parts.next()?.parse().ok()?;
    let time = Time::new(h, mi, s, 0).ok()?;
    let latest = now.as_second().saturating_add(86_400);
    let this_year = tz.to_datetime(now).year();
    for year in (this_year.saturating_sub(28)..=this_year).rev() {
        let Ok(date) = Date::new(year, mon, day) else {
            continue;
        };
        if date.weekday() != wday {
            continue;
        }
        let Ok(ts) = tz.to_timestamp(DateTime::from_parts(date, time)) else {
            continue;
        };
        let secs = ts.as_second();
        if secs <= latest {
            return Some(secs);
        }
    }
    None
}
