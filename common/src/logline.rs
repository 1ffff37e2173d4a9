//! Splitting log-line prefixes from the message: Postfix `maillog_file`
//! (`Nov 02 23:02:10 host prog[pid]: msg`), RFC 3164 (space-padded day, with or
//! without hostname, optional `<PRI>`), RFC 3339/ISO (rsyslog's default file format),
//! RFC 5424 (with and without a slash in APP-NAME) and the kubelet CRI wrapper
//! (`2026-...Z stdout F <line>`), which may wrap any of the others.
//!
//! The scanner is hand written over bytes: every exporter calls [`parse`] once per
//! log line, and the Postfix exporter must keep up with a million lines a second on
//! one core, which rules out regular expressions and allocation.
//!
//! Lines without a hostname (what `syslog(3)` sends to `/dev/log`, and what the
//! ProFTPd TLS log writes) are told apart from lines with one by looking at the
//! first token after the timestamp: a token ending in `:` or in `[pid]` is a program
//! tag, anything else is a host name (host names never contain `:` at the end nor `[`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Which prefix style a line had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixFormat {
    /// `Mmm dd hh:mm:ss` (RFC 3164 / Postfix maillog_file), no year.
    Bsd,
    /// `2026-11-22T23:15:40.043393+00:00` (rsyslog file format); also the
    /// `2026-11-22 23:02:29,715` form of ProFTPd's own log files.
    Iso,
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    Rfc5424,
}

/// A log line split into its parts. All fields borrow from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// Prefix style.
    pub format: PrefixFormat,
    /// Raw timestamp text.
    pub timestamp: &'a str,
    /// Host name, when the line has one.
    pub host: Option<&'a str>,
    /// Program tag, e.g. `postfix/submission/smtpd` (without `[pid]` and `:`).
    pub program: &'a str,
    /// Process id text, when present.
    pub pid: Option<&'a str>,
    /// The message after the prefix.
    pub message: &'a str,
}

/// Splits a line into prefix parts and message; `None` when no known prefix matches.
///
/// A kubelet CRI wrapper (`<RFC 3339 nano> stdout|stderr F|P <line>`) is removed
/// first and the inner line is parsed; the CRI timestamp is when the container
/// runtime read the line, not when the program logged it, so it is not reported.
/// A `P` (partial) record is parsed like a full one; its continuation records have
/// no prefix and give `None`.
#[inline]
pub fn parse(line: &str) -> Option<LogLine<'_>> {
    parse_inner(strip_cri(line))
}

/// Returns the line inside a kubelet CRI wrapper, or the line itself when it has none.
#[inline]
pub fn strip_cri(line: &str) -> &str {
    let b = line.as_bytes();
    // Cheap rejection first: a CRI record starts with a 4-digit year and a 'T'.
    if b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return line;
    }
    let Some(ts_len) = iso_timestamp_len(b, false) else {
        return line;
    };
    let Some(rest) = line.get(ts_len..) else {
        return line;
    };
    let rest = match rest
        .strip_prefix(" stdout ")
        .or_else(|| rest.strip_prefix(" stderr "))
    {
        Some(r) => r,
        None => return line,
    };
    match rest.as_bytes() {
        [b'F' | b'P'] => "",
        [b'F' | b'P', b' ', ..] => rest.get(2..).unwrap_or(""),
        _ => line,
    }
}

fn parse_inner(line: &str) -> Option<LogLine<'_>> {
    let mut rest = line;
    if rest.as_bytes().first() == Some(&b'<') {
        rest = skip_pri(rest)?;
    }
    let b = rest.as_bytes();
    match b.first()? {
        b'1' if b.get(1) == Some(&b' ') => parse_5424(rest.get(2..)?),
        b'0'..=b'9' => {
            let n = iso_timestamp_len(b, true)?;
            let (timestamp, after) = (rest.get(..n)?, rest.get(n..)?);
            host_tag_message(PrefixFormat::Iso, timestamp, after.strip_prefix(' ')?)
        }
        b'A'..=b'Z' => {
            let n = bsd_timestamp_len(b)?;
            let (timestamp, after) = (rest.get(..n)?, rest.get(n..)?);
            host_tag_message(PrefixFormat::Bsd, timestamp, after.strip_prefix(' ')?)
        }
        _ => None,
    }
}

/// Skips `<PRI>` (1 to 3 digits).
fn skip_pri(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let close = b.iter().take(5).position(|&c| c == b'>')?;
    if close < 2 || !b.get(1..close)?.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.get(close + 1..)
}

fn is_tag(token: &str) -> bool {
    let b = token.as_bytes();
    match b.last() {
        Some(b':') => true,
        Some(b']') => b.contains(&b'['),
        _ => false,
    }
}

/// Parses `[HOST SP] TAG[:] SP MSG` after the timestamp.
fn host_tag_message<'a>(
    format: PrefixFormat,
    timestamp: &'a str,
    s: &'a str,
) -> Option<LogLine<'a>> {
    let (first, after_first) = split_space(s);
    let (host, tag, message) = if is_tag(first) {
        (None, first, after_first)
    } else {
        let (second, after_second) = split_space(after_first?);
        if !is_tag(second) {
            return None;
        }
        (Some(first), second, after_second)
    };
    let tag = tag.strip_suffix(':').unwrap_or(tag);
    let (program, pid) = split_pid(tag);
    Some(LogLine {
        format,
        timestamp,
        host,
        program,
        pid,
        message: strip_solaris_msgid(message.unwrap_or("")),
    })
}

/// Solaris syslogd (with `log.msgid` on, the default) puts a message ID and the facility
/// and level between the tag and the message: `[ID 197553 mail.info] text`. The ID is a
/// hash of the format string, not part of what the program wrote.
fn strip_solaris_msgid(message: &str) -> &str {
    // Almost no message starts with `[`: one byte compare keeps this off the hot path.
    if message.as_bytes().first() != Some(&b'[') {
        return message;
    }
    let Some(rest) = message.strip_prefix("[ID ") else {
        return message;
    };
    let Some((id, rest)) = rest.split_once(' ') else {
        return message;
    };
    let Some((facility_level, text)) = rest
        .split_once("] ")
        .or_else(|| rest.strip_suffix(']').map(|f| (f, "")))
    else {
        return message;
    };
    let plausible = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && facility_level.contains('.')
        && !facility_level.contains(' ');
    if plausible { text } else { message }
}

/// `prog[pid]` → (`prog`, Some(`pid`)); `prog` → (`prog`, None).
fn split_pid(tag: &str) -> (&str, Option<&str>) {
    if let Some(inner) = tag.strip_suffix(']')
        && let Some((program, pid)) = crate::text::rsplit1(inner, b'[')
    {
        return (program, Some(pid).filter(|p| !p.is_empty()));
    }
    (tag, None)
}

/// Token up to the first space, and what follows that space (if there was one).
#[inline]
fn split_space(s: &str) -> (&str, Option<&str>) {
    match crate::text::split1(s, b' ') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

/// `TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]`, after `<PRI>1 `.
fn parse_5424(s: &str) -> Option<LogLine<'_>> {
    let (timestamp, s) = split_space(s);
    let (host, s) = split_space(s?);
    let (app, s) = split_space(s?);
    let (procid, s) = split_space(s?);
    let (_msgid, s) = split_space(s?);
    let s = s?;
    let sd_len = structured_data_len(s.as_bytes())?;
    let after = s.get(sd_len..)?;
    let message = match after.strip_prefix(' ') {
        // rsyslog's template puts a space before a message that already starts with
        // one, so leading spaces are never part of the message.
        Some(m) => {
            let m = m.trim_start_matches(' ');
            m.strip_prefix('\u{feff}').unwrap_or(m)
        }
        None if after.is_empty() => "",
        None => return None,
    };
    Some(LogLine {
        format: PrefixFormat::Rfc5424,
        timestamp,
        host: nil(host),
        program: nil(app).unwrap_or(""),
        pid: nil(procid),
        message,
    })
}

/// The RFC 5424 nil value `-` as `None`.
fn nil(v: &str) -> Option<&str> {
    if v == "-" { None } else { Some(v) }
}

/// Length of `-` or of one or more `[id param="value" ...]` elements.
fn structured_data_len(b: &[u8]) -> Option<usize> {
    match b.first()? {
        b'-' => return Some(1),
        b'[' => {}
        _ => return None,
    }
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let mut quoted = false;
        loop {
            match *b.get(i)? {
                b'\\' if quoted => i += 2,
                b'"' => {
                    quoted = !quoted;
                    i += 1;
                }
                b']' if !quoted => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    Some(i)
}

#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> bool {
    b.get(at..at + n)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

/// Length of `YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm]` at the start of `b`.
/// `space_sep` allows ProFTPd's `YYYY-MM-DD hh:mm:ss,mmm`.
fn iso_timestamp_len(b: &[u8], space_sep: bool) -> Option<usize> {
    if !(digits(b, 0, 4)
        && b.get(4) == Some(&b'-')
        && digits(b, 5, 2)
        && b.get(7) == Some(&b'-')
        && digits(b, 8, 2)
        && (matches!(b.get(10), Some(b'T' | b't')) || space_sep && b.get(10) == Some(&b' ')))
    {
        return None;
    }
    let mut i = 11 + hms_len(b.get(11..)?)?;
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i += 1,
        Some(b'+' | b'-') if digits(b, i + 1, 2) => {
            if b.get(i + 3) == Some(&b':') && digits(b, i + 4, 2) {
                i += 6;
            } else if digits(b, i + 3, 2) {
                i += 5;
            } else {
                return None;
            }
        }
        _ => {}
    }
    Some(i)
}

/// Length of `hh:mm:ss`.
#[inline]
fn hms_len(b: &[u8]) -> Option<usize> {
    (digits(b, 0, 2)
        && b.get(2) == Some(&b':')
        && digits(b, 3, 2)
        && b.get(5) == Some(&b':')
        && digits(b, 6, 2))
    .then_some(8)
}

fn month_number(m: &[u8]) -> Option<u32> {
    Some(match m {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// Length of `Mmm dd hh:mm:ss[.frac]` where the day is `dd`, ` d` or `d`.
fn bsd_timestamp_len(b: &[u8]) -> Option<usize> {
    month_number(b.get(0..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let day = b.get(4..6)?;
    let mut i = match day {
        [d1, d2] if d2.is_ascii_digit() && (d1.is_ascii_digit() || *d1 == b' ') => 7,
        [d, b' '] if d.is_ascii_digit() => 6,
        _ => return None,
    };
    if b.get(i - 1) != Some(&b' ') {
        return None;
    }
    i += hms_len(b.get(i..)?)?;
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    Some(i)
}

/// Converts a timestamp taken from [`LogLine::timestamp`] to unix seconds.
///
/// - [`PrefixFormat::Iso`] and [`PrefixFormat::Rfc5424`]: the offset is honoured;
///   a timestamp without offset (ProFTPd's own files) is taken as UTC. The RFC 5424
///   nil value `-` gives `None`.
/// - [`PrefixFormat::Bsd`]: the line has no year, so the year is chosen that puts
///   the time closest to `now` without being more than a day in the future (a line
///   from Dec 31 read on Jan 1 belongs to last year). The time is read as **UTC**:
///   BSD timestamps are in the writer's local zone, which the line does not say;
///   the exporters run in `FROM scratch` images with no zone database, Postfix and
///   ProFTPd in containers log in UTC, and the value only feeds freshness metrics.
///   Hosts that log in another zone see a constant offset.
pub fn parse_timestamp(ts: &str, format: PrefixFormat, now: SystemTime) -> Option<f64> {
    let b = ts.as_bytes();
    match format {
        PrefixFormat::Bsd => parse_bsd(b, now),
        PrefixFormat::Iso | PrefixFormat::Rfc5424 => parse_iso(b),
    }
}

fn num(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let d = b.get(at..at + n)?;
    let mut v = 0i64;
    for c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Fractional seconds starting at `b[at]` if it is `.` or `,`; returns (fraction, next index).
fn fraction(b: &[u8], at: usize) -> (f64, usize) {
    if !matches!(b.get(at), Some(b'.' | b',')) {
        return (0.0, at);
    }
    let mut i = at + 1;
    let mut frac = 0.0;
    let mut scale = 0.1;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        frac += f64::from(c - b'0') * scale;
        scale /= 10.0;
        i += 1;
    }
    (frac, i)
}

fn valid_civil(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64) -> bool {
    (1..=12).contains(&m)
        && d >= 1
        && d <= days_in_month(y, m)
        && (0..=23).contains(&hh)
        && (0..=59).contains(&mm)
        && (0..=60).contains(&ss)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year of a day count since 1970-01-01.
fn year_from_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

fn parse_iso(b: &[u8]) -> Option<f64> {
    let n = iso_timestamp_len(b, true)?;
    if n != b.len() {
        return None;
    }
    let (y, mo, d) = (num(b, 0, 4)?, num(b, 5, 2)?, num(b, 8, 2)?);
    let (hh, mm, ss) = (num(b, 11, 2)?, num(b, 14, 2)?, num(b, 17, 2)?);
    if !valid_civil(y, mo, d, hh, mm, ss) {
        return None;
    }
    let (frac, i) = fraction(b, 19);
    let offset = match b.get(i) {
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(b, i + 1, 2)?;
            let om = if b.get(i + 3) == Some(&b':') {
                num(b, i + 4, 2)?
            } else {
                num(b, i + 3, 2)?
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => 0,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mm * 60 + ss - offset;
    Some(secs as f64 + frac)
}

fn parse_bsd(b: &[u8], now: SystemTime) -> Option<f64> {
    let n = bsd_timestamp_len(b)?;
    if n != b.len() {
        return None;
    }
    let mo = i64::from(month_number(b.get(0..3)?)?);
    let (d, t) = match b.get(4..6)? {
        [b' ', d] => (i64::from(d - b'0'), 7),
        [d, b' '] => (i64::from(d - b'0'), 6),
        _ => (num(b, 4, 2)?, 7),
    };
    let (hh, mm, ss) = (num(b, t, 2)?, num(b, t + 3, 2)?, num(b, t + 6, 2)?);
    let (frac, _) = fraction(b, t + 8);
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    let now_year = year_from_days((now_secs / 86_400.0).floor() as i64);
    let limit = now_secs + 86_400.0;
    let mut best: Option<f64> = None;
    for y in [now_year + 1, now_year, now_year - 1] {
        if !valid_civil(y, mo, d, hh, mm, ss) {
            continue;
        }
        let t = (days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mm * 60 + ss) as f64 + frac;
        // Candidates come latest first, so the first one not too far in the future
        // is the closest to now.
        if t <= limit {
            best = Some(t);
            break;
        }
    }
    // Feb 29 seen in a year window without a leap year: look further back.
    if best.is_none() {
        for y in (now_year - 8..now_year - 1).rev() {
            if valid_civil(y, mo, d, hh, mm, ss) {
                let t = (days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mm * 60 + ss) as f64;
                return Some(t + frac);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn postfix_maillog_file_zero_padded_day() {
        let l = parse("Nov 02 23:02:10 mx postfix/smtp[20564]: 4A1B2C3D: to=<a@b>, status=sent")
            .unwrap();
        assert_eq!(
            l,
            LogLine {
                format: PrefixFormat::Bsd,
                timestamp: "Nov 02 23:02:10",
                host: Some("mx"),
                program: "postfix/smtp",
                pid: Some("20564"),
                message: "4A1B2C3D: to=<a@b>, status=sent",
            }
        );
    }

    #[test]
    fn solaris_message_id_tag_is_not_part_of_the_message() {
        let l = parse("Jun  3 09:12:41 mx1 postfix/smtpd[9779]: [ID 197553 mail.info] 9F2183652: client=relay.example.net[198.51.100.7]")
            .unwrap();
        assert_eq!(l.program, "postfix/smtpd");
        assert_eq!(
            l.message,
            "9F2183652: client=relay.example.net[198.51.100.7]"
        );
        let l = parse("Jun  3 09:12:41 mx1 postfix/qmgr[412]: [ID 197553 mail.info]").unwrap();
        assert_eq!(l.message, "");
        // Text that merely starts with a bracket is kept.
        for msg in [
            "[ID x mail.info] y",
            "[ID 12 mail info] y",
            "[ID 12] y",
            "[IDEA] y",
        ] {
            let line = format!("Jun  3 09:12:41 mx1 prog[1]: {msg}");
            assert_eq!(parse(&line).unwrap().message, msg);
        }
    }

    #[test]
    fn rfc3164_space_padded_day() {
        let l = parse("Nov  2 23:15:40 vm postfix/smtpd[4242]: connect from localhost[127.0.0.1]")
            .unwrap();
        assert_eq!(l.timestamp, "Nov  2 23:15:40");
        assert_eq!(l.host, Some("vm"));
        assert_eq!(l.program, "postfix/smtpd");
        assert_eq!(l.pid, Some("4242"));
        assert_eq!(l.message, "connect from localhost[127.0.0.1]");
        let l = parse("Nov 22 23:15:40 vm postfix/submission/smtpd[4242]: x").unwrap();
        assert_eq!(l.program, "postfix/submission/smtpd");
    }

    #[test]
    fn pri_without_hostname() {
        let l = parse("<22>Nov 22 23:02:10 postfix/smtpd[123]: connect from x[1.2.3.4]").unwrap();
        assert_eq!(l.format, PrefixFormat::Bsd);
        assert_eq!(l.host, None);
        assert_eq!(l.program, "postfix/smtpd");
        assert_eq!(l.pid, Some("123"));
        assert_eq!(l.message, "connect from x[1.2.3.4]");
        let l = parse("<22>Nov 22 23:02:10 mx postfix/smtpd[123]: hi").unwrap();
        assert_eq!(l.host, Some("mx"));
    }

    #[test]
    fn tag_without_pid() {
        let l = parse("Nov 22 23:02:10 mx postfix/smtpd: warning: x").unwrap();
        assert_eq!(
            (l.program, l.pid, l.message),
            ("postfix/smtpd", None, "warning: x")
        );
        let l = parse("Nov 22 23:02:10 postfix-script: starting").unwrap();
        assert_eq!((l.host, l.program), (None, "postfix-script"));
    }

    #[test]
    fn rsyslog_file_format() {
        let l = parse(
            "2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd[4242]: connect from localhost[127.0.0.1]",
        )
        .unwrap();
        assert_eq!(l.format, PrefixFormat::Iso);
        assert_eq!(l.timestamp, "2026-11-22T23:15:40.043393+00:00");
        assert_eq!(l.host, Some("vm"));
        assert_eq!(l.program, "postfix/smtpd");
        assert_eq!(l.message, "connect from localhost[127.0.0.1]");
    }

    #[test]
    fn rfc5424_rsyslog_forwarding() {
        let l = parse(
            "<22>1 2026-11-22T23:15:40.043393+00:00 vm postfix 4242 - -  connect from localhost[127.0.0.1]",
        )
        .unwrap();
        assert_eq!(
            l,
            LogLine {
                format: PrefixFormat::Rfc5424,
                timestamp: "2026-11-22T23:15:40.043393+00:00",
                host: Some("vm"),
                program: "postfix",
                pid: Some("4242"),
                message: "connect from localhost[127.0.0.1]",
            }
        );
        let l = parse("<22>1 2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd 4242 - - connect")
            .unwrap();
        assert_eq!((l.program, l.message), ("postfix/smtpd", "connect"));
    }

    #[test]
    fn rfc5424_nil_sd_and_bom() {
        let l = parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\]ication\"][x@1 a=\"b\"] \u{feff}An application event",
        )
        .unwrap();
        assert_eq!(l.host, Some("mymachine.example.com"));
        assert_eq!(l.program, "evntslog");
        assert_eq!(l.pid, None);
        assert_eq!(l.message, "An application event");
        let l = parse("<13>1 - - - - - -").unwrap();
        assert_eq!(
            (l.timestamp, l.host, l.program, l.message),
            ("-", None, "", "")
        );
        assert!(parse("<13>1 - - - - - [unterminated").is_none());
    }

    #[test]
    fn cri_wrapper() {
        for stream in ["stdout F", "stderr F", "stdout P"] {
            let line = format!(
                "2026-11-22T23:15:40.043393123Z {stream} Nov 22 23:02:10 mx postfix/qmgr[99]: 4A1B: removed"
            );
            let l = parse(&line).unwrap();
            assert_eq!(l.timestamp, "Nov 22 23:02:10");
            assert_eq!((l.program, l.message), ("postfix/qmgr", "4A1B: removed"));
        }
        let l = parse(
            "2026-11-22T23:15:40.043393123+01:00 stdout F 2026-11-22T23:15:40.043393+00:00 vm postfix/smtpd[1]: m",
        )
        .unwrap();
        assert_eq!(l.timestamp, "2026-11-22T23:15:40.043393+00:00");
        assert_eq!(strip_cri("2026-11-22T23:15:40.1Z stdout F"), "");
        assert_eq!(
            strip_cri("Nov 22 23:02:10 mx a: b"),
            "Nov 22 23:02:10 mx a: b"
        );
        assert!(parse("2026-11-22T23:15:40.043393123Z stdout P continuation text").is_none());
    }

    #[test]
    fn proftpd_lines() {
        // ProFTPd's SystemLog written to a file: ISO time with milliseconds after a comma.
        let l = parse("2026-11-22 23:02:37,108 vm proftpd[20868] 127.0.0.1 (127.0.0.1[127.0.0.1]): USER alice: Login successful.").unwrap();
        assert_eq!(l.format, PrefixFormat::Iso);
        assert_eq!(l.timestamp, "2026-11-22 23:02:37,108");
        assert_eq!(
            (l.host, l.program, l.pid),
            (Some("vm"), "proftpd", Some("20868"))
        );
        assert_eq!(
            l.message,
            "127.0.0.1 (127.0.0.1[127.0.0.1]): USER alice: Login successful."
        );
        // TLSLog: no host.
        let l = parse("2026-11-22 23:03:57,252 mod_tls/2.9.2[21464]: TLS/TLS-C requested, starting TLS handshake").unwrap();
        assert_eq!(
            (l.host, l.program, l.pid),
            (None, "mod_tls/2.9.2", Some("21464"))
        );
        // Through syslog.
        let l = parse("Sep 11 20:53:00 home proftpd[117894]: 192.168.0.5 (2a00::1[2a00::1]) - USER luca (Login failed): Incorrect password").unwrap();
        assert_eq!((l.host, l.program), (Some("home"), "proftpd"));
        assert!(l.message.ends_with("Incorrect password"));
    }

    #[test]
    fn rejects_non_log_lines() {
        for l in [
            "",
            "hello world",
            "Nov 22 23:02:10 mx",
            "Nov 22 23:02:10 mx no tag here",
            "Foo 22 23:02:10 mx a: b",
            "Nov 22 2302:10 mx a: b",
            "<22",
            "<>Nov 22 23:02:10 a: b",
            "2026-11-22T23:15:4 vm a: b",
            "  (1) error:0A000126:SSL routines::unexpected eof while reading",
        ] {
            assert!(parse(l).is_none(), "{l:?}");
        }
    }

    #[test]
    fn iso_timestamps() {
        let p = |s| parse_timestamp(s, PrefixFormat::Iso, SystemTime::now());
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(p("2026-11-22T23:15:40+00:00"), Some(1_795_389_340.0));
        assert_eq!(p("2026-11-22T23:15:40.5Z"), Some(1_795_389_340.5));
        assert_eq!(p("2026-11-23T00:15:40+01:00"), Some(1_795_389_340.0));
        assert_eq!(p("2026-11-22T22:15:40-0100"), Some(1_795_389_340.0));
        assert_eq!(p("2026-11-22 23:15:40,250"), Some(1_795_389_340.25));
        assert_eq!(p("2024-02-29T00:00:00Z"), Some(1_709_164_800.0));
        assert_eq!(p("2026-02-29T00:00:00Z"), None);
        assert_eq!(p("2026-13-01T00:00:00Z"), None);
        assert_eq!(p("2026-11-22T23:15:40Zjunk"), None);
        assert_eq!(
            parse_timestamp("-", PrefixFormat::Rfc5424, SystemTime::now()),
            None
        );
    }

    #[test]
    fn bsd_year_inference() {
        let nov_23_2026 = at(1_795_389_340 + 86_400);
        let p = |s, now| parse_timestamp(s, PrefixFormat::Bsd, now);
        assert_eq!(p("Nov 22 23:15:40", nov_23_2026), Some(1_795_389_340.0));
        assert_eq!(p("Nov 22 23:15:40.25", nov_23_2026), Some(1_795_389_340.25));
        // Dec 31 read on Jan 1: last year.
        let jan1_2027 = at(1_798_761_600 + 600);
        assert_eq!(p("Dec 31 23:59:00", jan1_2027), Some(1_798_761_540.0));
        // A clock a little ahead across new year: next year.
        let dec31_2026 = at(1_798_761_600 - 60);
        assert_eq!(p("Jan  1 00:00:30", dec31_2026), Some(1_798_761_630.0));
        assert_eq!(p("Jan 01 00:00:30", dec31_2026), Some(1_798_761_630.0));
        // Feb 29 in 2026: the last leap year, 2024.
        assert_eq!(p("Feb 29 00:00:00", nov_23_2026), Some(1_709_164_800.0));
        assert_eq!(p("Nov 31 00:00:00", nov_23_2026), None);
        assert_eq!(p("Nov 22 25:00:00", nov_23_2026), None);
    }
}
