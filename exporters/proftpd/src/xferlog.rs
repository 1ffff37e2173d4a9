//! ProFTPd's TransferLog, in the xferlog format: one line per finished or aborted transfer
//! and per deleted file.
//!
//! `Sun Nov 22 23:02:37 2026 0 127.0.0.1 12345 /home/alice/report.txt b _ i r alice ftp 0 * c`:
//! the local time (five tokens; ProFTPd pads the day with a zero, wu-ftpd with a space),
//! whole seconds of transfer time, the client, the bytes transferred (for a delete the
//! file's size), the path, the transfer type, the special-action flag, the direction (`o`
//! download, `i` upload, `d` delete), the access mode (`r` real, `a` anonymous, `g` guest),
//! the user name, the service (`ftp`, `ftps`, `sftp`, `scp`), the authentication method,
//! the authenticated user id and the completion status (`c` complete, `i` incomplete).
//!
//! The user name of an anonymous login is whatever the client typed as its password and
//! may hold spaces; ProFTPd replaces spaces in paths with `_`, but other writers do not. So
//! the line is read from both ends: eight fixed fields after the date from the left up to
//! the path, the access mode and the three fields before it from the right, and four
//! fixed fields from the right; what is left between the access mode and the service is
//! the user name, and a path with spaces stays whole between size and type.

/// Transfer direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `i`: a file the client sent.
    Upload,
    /// `o`: a file the client fetched.
    Download,
    /// `d`: a file the client deleted.
    Delete,
}

impl Direction {
    /// The `direction` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
            Direction::Delete => "delete",
        }
    }
}

/// Service (protocol) of a transfer, bounded for the `protocol` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain FTP.
    Ftp,
    /// FTP over TLS.
    Ftps,
    /// SFTP (mod_sftp).
    Sftp,
    /// SCP (mod_sftp).
    Scp,
    /// Anything else a writer put there.
    Other,
}

impl Protocol {
    /// Reads the service field.
    pub fn parse(s: &str) -> Protocol {
        match s {
            "ftp" => Protocol::Ftp,
            "ftps" => Protocol::Ftps,
            "sftp" => Protocol::Sftp,
            "scp" => Protocol::Scp,
            _ => Protocol::Other,
        }
    }

    /// The `protocol` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Ftp => "ftp",
            Protocol::Ftps => "ftps",
            Protocol::Sftp => "sftp",
            Protocol::Scp => "scp",
            Protocol::Other => "other",
        }
    }
}

/// One transfer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer<'a> {
    /// Whole seconds the transfer took.
    pub seconds: u64,
    /// Bytes transferred (a delete: the file's size).
    pub bytes: u64,
    /// The path (spaces possible from other writers).
    pub path: &'a str,
    /// Direction.
    pub direction: Direction,
    /// Whether the transfer completed.
    pub complete: bool,
    /// The service.
    pub protocol: Protocol,
    /// Whether the login was anonymous (or guest).
    pub anonymous: bool,
    /// The user name (client text for anonymous logins).
    pub user: &'a str,
}

/// Why a line is not a transfer line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XferError {
    /// Fewer fields than the format has.
    TooShort,
    /// The five date tokens are not a date.
    Date,
    /// A number field is not a number.
    Number,
    /// Direction, access mode, type or status hold an unknown letter.
    Field,
}

impl XferError {
    /// A short, bounded label value.
    pub fn as_str(self) -> &'static str {
        match self {
            XferError::TooShort => "too_short",
            XferError::Date => "date",
            XferError::Number => "number",
            XferError::Field => "field",
        }
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn date_ok(t: &[&str]) -> bool {
    let [day, month, dom, time, year] = t else {
        return false;
    };
    let digits = |s: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    DAYS.contains(day)
        && MONTHS.contains(month)
        && digits(dom, 1, 2)
        && digits(year, 4, 4)
        && time.len() == 8
        && time.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// Parses one xferlog line.
pub fn parse(line: &str) -> Result<Transfer<'_>, XferError> {
    // Room for the usual 18 tokens and a few spaces in the path or user: one allocation.
    let mut t: Vec<&str> = Vec::with_capacity(32);
    t.extend(line.split_ascii_whitespace());
    // 5 date tokens, 13 fields; the user name and the path may add tokens.
    if t.len() < 18 {
        return Err(XferError::TooShort);
    }
    if !date_ok(&t[..5]) {
        return Err(XferError::Date);
    }
    let n = t.len();
    let [service, _auth_method, _auth_user, status] = [t[n - 4], t[n - 3], t[n - 2], t[n - 1]];
    let complete = match status {
        "c" => true,
        "i" => false,
        _ => return Err(XferError::Field),
    };
    let seconds: u64 = t[5].parse().map_err(|_| XferError::Number)?;
    let bytes: u64 = t[7].parse().map_err(|_| XferError::Number)?;
    // From index 8: path tokens, then type, action flag, direction, access mode, user
    // tokens. The type/flag/direction/mode run is the first place, scanning from the
    // path's start, where four single-letter fields of the right letters follow.
    let mid = &t[8..n - 4];
    let run = (1..mid.len().saturating_sub(3))
        .find(|&i| {
            matches!(mid[i], "a" | "b")
                && mid[i + 1].len() == 1
                && matches!(mid[i + 2], "i" | "o" | "d")
                && matches!(mid[i + 3], "r" | "a" | "g")
        })
        .ok_or(XferError::Field)?;
    let direction = match mid[run + 2] {
        "i" => Direction::Upload,
        "o" => Direction::Download,
        _ => Direction::Delete,
    };
    let anonymous = mid[run + 3] != "r";
    let path = span(line, mid[0], mid[run - 1]);
    let user = if run + 4 < mid.len() {
        span(line, mid[run + 4], mid[mid.len() - 1])
    } else {
        ""
    };
    Ok(Transfer {
        seconds,
        bytes,
        path,
        direction,
        complete,
        protocol: Protocol::parse(service),
        anonymous,
        user,
    })
}

/// The text of `line` from the start of token `first` to the end of token `last` (both
/// slices of `line`), spaces inside kept.
fn span<'a>(line: &'a str, first: &'a str, last: &'a str) -> &'a str {
    let base = line.as_ptr() as usize;
    let start = first.as_ptr() as usize - base;
    let end = last.as_ptr() as usize - base + last.len();
    line.get(start..end).unwrap_or(first)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn proftpd_lines() {
        let t = parse("Sun Nov 22 23:02:59 2026 8 127.0.0.1 131072 /srv/ftp/home/bob/slow.bin b _ i r bob ftp 0 * c").unwrap();
        assert_eq!(
            t,
            Transfer {
                seconds: 8,
                bytes: 131072,
                path: "/srv/ftp/home/bob/slow.bin",
                direction: Direction::Upload,
                complete: true,
                protocol: Protocol::Ftp,
                anonymous: false,
                user: "bob",
            }
        );
        let t = parse(
            "Sun Nov 22 23:02:37 2026 0 127.0.0.1 131072 /h/alice/big.bin b _ o r alice ftp 0 * i",
        )
        .unwrap();
        assert_eq!((t.direction, t.complete), (Direction::Download, false));
        let t = parse(
            "Sun Nov 22 23:02:37 2026 0 127.0.0.1 12 /h/a/notes.txt a _ d r alice ftps 0 * c",
        )
        .unwrap();
        assert_eq!(
            (t.direction, t.protocol),
            (Direction::Delete, Protocol::Ftps)
        );
        let t = parse(
            "Sun Nov 22 23:04:16 2026 0 127.0.0.1 10 /h/a/ütf8-名前.txt b _ i r alice ftp 0 * c",
        )
        .unwrap();
        assert_eq!(t.path, "/h/a/ütf8-名前.txt");
    }

    #[test]
    fn an_anonymous_user_and_a_path_with_spaces() {
        // The anonymous "user" is the password the client typed: spaces and letters that
        // look like fields.
        let t = parse(
            "Mon Nov 02 10:00:00 2026 1 10.0.0.1 42 /pub/file.txt b _ o a me at b i r x ftp 0 * c",
        )
        .unwrap();
        assert_eq!(t.user, "me at b i r x");
        assert!(t.anonymous);
        assert_eq!(t.path, "/pub/file.txt");
        // wu-ftpd's space-padded day and a path with spaces from another writer.
        let t = parse("Mon Nov  2 10:00:00 2026 3 10.0.0.1 7 /pub/a b c.txt a _ i r joe ftp 0 * c")
            .unwrap();
        assert_eq!(t.path, "/pub/a b c.txt");
        assert_eq!(t.user, "joe");
        assert_eq!(t.seconds, 3);
    }

    #[test]
    fn bad_lines() {
        assert_eq!(parse("garbage"), Err(XferError::TooShort));
        assert_eq!(
            parse("Sun Nov 22 23:02:37 2026 x 127.0.0.1 1 /p b _ i r u ftp 0 * c"),
            Err(XferError::Number)
        );
        assert_eq!(
            parse("Xyz Nov 22 23:02:37 2026 0 127.0.0.1 1 /p b _ i r u ftp 0 * c"),
            Err(XferError::Date)
        );
        assert_eq!(
            parse("Sun Nov 22 23:02:37 2026 0 127.0.0.1 1 /p b _ x r u ftp 0 * c"),
            Err(XferError::Field)
        );
        assert_eq!(
            parse("Sun Nov 22 23:02:37 2026 0 127.0.0.1 1 /p b _ i r u ftp 0 * z"),
            Err(XferError::Field)
        );
        // A truncated line.
        assert!(parse("Sun Nov 22 23:02:37 2026 0 127.0.0.1 1 /p b _ i").is_err());
    }

    proptest! {
        #[test]
        fn any_line_parses_or_errs(line in "\\PC{0,200}") {
            let _ = parse(&line);
        }

        #[test]
        fn user_and_path_survive_round_trip(
            user in "[a-z][a-z0-9 @.]{0,20}[a-z]",
            path in "/[a-zA-Z0-9_./-]{1,40}",
            bytes in 0u64..1<<40,
        ) {
            let line = format!("Tue Dec 01 09:08:07 2026 5 192.0.2.1 {bytes} {path} b _ i a {user} sftp 0 * c");
            let t = parse(&line).unwrap();
            prop_assert_eq!(t.user, user.as_str());
            prop_assert_eq!(t.path, path.as_str());
            prop_assert_eq!(t.bytes, bytes);
            prop_assert_eq!(t.protocol, Protocol::Sftp);
        }
    }
}
