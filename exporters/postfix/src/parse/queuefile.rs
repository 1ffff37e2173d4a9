//! Postfix queue files and defer logs, read directly from the spool (the `spool` queue
//! source). The record format is Postfix's own: a type byte, the length as a base-128
//! varint (low bits first), then the data. Only the envelope is read; the message content
//! is skipped with the size from the `C` record, the way showq and qshape do.

use std::io::{self, Read, Seek, SeekFrom};

/// What the exporter needs from one queue file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `T` record: arrival time (unix seconds).
    pub arrival_time: Option<i64>,
    /// First field of the `C` record: message content size in bytes.
    pub size: Option<u64>,
    /// `S` record: the envelope sender (empty for the null sender).
    pub sender: Option<String>,
    /// `R` records: recipients not yet delivered.
    pub recipients: Vec<String>,
    /// Whether the `E` (end) record was reached.
    pub complete: bool,
}

/// Longest record accepted; Postfix records are far smaller (qshape gives up past 2 MiB).
const MAX_RECORD: usize = 2 * 1024 * 1024;
/// Pointer records followed per file before the file is treated as corrupt.
const MAX_POINTERS: usize = 10_000;

fn read_byte<R: Read>(r: &mut R) -> io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    match r.read(&mut b) {
        Ok(0) => Ok(None),
        Ok(_) => Ok(Some(b[0])),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => read_byte(r),
        Err(e) => Err(e),
    }
}

fn leading_number(data: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(data).ok()?.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads the envelope of one queue file. A file cut short (still being written, or
/// removed under our feet) returns what was read with `complete == false`.
pub fn read_envelope<R: Read + Seek>(r: &mut R) -> io::Result<Envelope> {
    let mut env = Envelope::default();
    let mut data = Vec::with_capacity(256);
    let mut pointers = 0usize;
    loop {
        let Some(typ) = read_byte(r)? else {
            return Ok(env);
        };
        let mut len = 0usize;
        let mut shift = 0u32;
        loop {
            let Some(b) = read_byte(r)? else {
                return Ok(env);
            };
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return Err(invalid("record length varint too long"));
            }
        }
        if len > MAX_RECORD {
            return Err(invalid("record longer than 2 MiB"));
        }
        data.clear();
        data.resize(len, 0);
        if r.read_exact(&mut data).is_err() {
            return Ok(env);
        }
        match typ {
            b'C' if env.size.is_none() => {
                env.size = leading_number(&data)
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|n| *n > 0);
            }
            b'T' => env.arrival_time = leading_number(&data),
            b'S' if env.sender.is_none() => {
                env.sender = Some(String::from_utf8_lossy(&data).into_owned());
            }
            b'R' => env
                .recipients
                .push(String::from_utf8_lossy(&data).into_owned()),
            b'M' => {
                // Skip the content: it starts right here and is `size` bytes long.
                if let Some(size) = env.size {
                    let skip = i64::try_from(size).map_err(|_| invalid("size overflow"))?;
                    r.seek(SeekFrom::Current(skip))?;
                }
            }
            b'p' => {
                let off = leading_number(&data).unwrap_or(0);
                if off > 0 {
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(invalid("pointer loop"));
                    }
                    r.seek(SeekFrom::Start(off as u64))?;
                }
            }
            b'E' => {
                env.complete = true;
                return Ok(env);
            }
            _ => {}
        }
    }
}

/// One entry of a defer log (`$queue_directory/defer/…/QUEUEID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferEntry {
    /// `recipient=` (printable, quoted form).
    pub recipient: String,
    /// `reason=` text.
    pub reason: String,
}

/// Parses a defer log: blank-line separated entries of `key=value` lines (plus a human
/// readable `<address>: text` line, ignored). Entries without a recipient are skipped.
pub fn parse_defer_log(bytes: &[u8]) -> Vec<DeferEntry> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let (mut rcpt, mut reason): (Option<&str>, Option<&str>) = (None, None);
    let mut flush = |rcpt: &mut Option<&str>, reason: &mut Option<&str>| {
        if let Some(r) = rcpt.take() {
            out.push(DeferEntry {
                recipient: r.to_string(),
                reason: reason.take().unwrap_or("").to_string(),
            });
        }
        *reason = None;
    };
    for line in text.lines() {
        if line.is_empty() {
            flush(&mut rcpt, &mut reason);
            continue;
        }
        if let Some(v) = line.strip_prefix("recipient=") {
            if rcpt.is_some() {
                flush(&mut rcpt, &mut reason);
            }
            rcpt = Some(v);
        } else if let Some(v) = line.strip_prefix("reason=") {
            reason = Some(v);
        }
    }
    flush(&mut rcpt, &mut reason);
    out
}

/// Appends one record (type, length in 7-bit groups, data) as cleanup writes it, for tests
/// that build queue files.
#[cfg(test)]
pub(crate) fn write_record(out: &mut Vec<u8>, typ: u8, data: &[u8]) {
    out.push(typ);
    let mut n = data.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::write_record as rec;
    use super::*;
    use std::io::Cursor;

    fn queue_file(content: &[u8], extracted: &[&str]) -> Vec<u8> {
        let mut f = Vec::new();
        let size = format!(
            "{:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
            content.len() + 2,
            0,
            2,
            0,
            0,
            0
        );
        rec(&mut f, b'C', size.as_bytes());
        rec(&mut f, b'T', b"1795449618 814945");
        rec(&mut f, b'A', b"create_time=1795449618");
        rec(&mut f, b'S', b"alice@mx.test.local");
        rec(&mut f, b'O', b"a@example.com");
        rec(&mut f, b'R', b"a@example.com");
        rec(&mut f, b'D', b"done@example.com");
        rec(&mut f, b'M', b"");
        rec(&mut f, b'N', content);
        rec(&mut f, b'X', b"");
        for e in extracted {
            rec(&mut f, b'R', e.as_bytes());
        }
        rec(&mut f, b'E', b"");
        f
    }

    #[test]
    fn reads_envelope_and_skips_content() {
        // Content that looks like records must not be parsed: it is skipped by size.
        let f = queue_file(b"R\x0efake@evil.test", &["x@example.org"]);
        let env = read_envelope(&mut Cursor::new(f)).unwrap();
        assert_eq!(env.arrival_time, Some(1_795_449_618));
        assert_eq!(env.size, Some(18));
        assert_eq!(env.sender.as_deref(), Some("alice@mx.test.local"));
        assert_eq!(env.recipients, vec!["a@example.com", "x@example.org"]);
        assert!(env.complete);
    }

    #[test]
    fn truncated_and_garbage_files_never_panic() {
        let f = queue_file(b"hello", &[]);
        for cut in 0..f.len() {
            let env = read_envelope(&mut Cursor::new(&f[..cut])).unwrap();
            assert!(!env.complete, "cut at {cut}");
        }
        assert!(
            read_envelope(&mut Cursor::new(vec![
                b'R', 0xff, 0xff, 0xff, 0xff, 0xff, 1
            ]))
            .is_err()
        );
        let mut big = vec![b'N', 0x80, 0x80, 0x80, 0x02];
        big.extend_from_slice(b"x");
        assert!(read_envelope(&mut Cursor::new(big)).is_err());
        // A pointer to itself is a loop, not a hang.
        let mut p = Vec::new();
        rec(&mut p, b'p', b"0000000000");
        let mut looped = p.clone();
        looped[2..12].copy_from_slice(b"0000000001");
        let _ = read_envelope(&mut Cursor::new(looped));
    }

    #[test]
    fn pointers_are_followed() {
        let mut f = Vec::new();
        rec(&mut f, b'T', b"100 0");
        rec(&mut f, b'S', b"s@x");
        let p_at = f.len();
        rec(&mut f, b'p', format!("{:>15}", 0).as_bytes());
        rec(&mut f, b'R', b"skipped@x");
        let target = f.len();
        rec(&mut f, b'R', b"r@y");
        rec(&mut f, b'E', b"");
        f[p_at + 2..p_at + 17].copy_from_slice(format!("{target:>15}").as_bytes());
        let env = read_envelope(&mut Cursor::new(f)).unwrap();
        assert_eq!(env.recipients, vec!["r@y"]);
        assert!(env.complete);
    }

    #[test]
    fn defer_log_entries() {
        let log = b"\n<a@example.com>: connect to 127.0.0.1[127.0.0.1]:1: Connection refused\nrecipient=a@example.com\noffset=241\ndsn_orig_rcpt=rfc822;a@example.com\nstatus=4.4.1\naction=delayed\nreason=connect to 127.0.0.1[127.0.0.1]:1: Connection refused\n\n\n<b@example.org>: x=y\nrecipient=b@example.org\nreason=Name service error for name=example.org type=MX\n\n";
        let e = parse_defer_log(log);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].recipient, "a@example.com");
        assert_eq!(
            e[0].reason,
            "connect to 127.0.0.1[127.0.0.1]:1: Connection refused"
        );
        assert_eq!(
            e[1].reason,
            "Name service error for name=example.org type=MX"
        );
        assert!(parse_defer_log(b"\xff\xfe garbage\nreason=x\n").is_empty());
    }
}
