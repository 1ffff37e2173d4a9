//! POP3 status lines (RFC 1939): `+OK text` or `-ERR text`, the STAT reply, and the
//! dot-terminated, byte-stuffed multi-line responses.

use super::excerpt;

/// A status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The text after the indicator.
    pub text: String,
}

/// Parses a status line; anything else is an error with an excerpt of the line.
pub fn parse_status(line: &str) -> Result<Status, String> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("+OK") {
        (true, r)
    } else if let Some(r) = line.strip_prefix("-ERR") {
        (false, r)
    } else {
        return Err(format!("not a POP3 status line: {:?}", excerpt(line)));
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(format!("not a POP3 status line: {:?}", excerpt(line)));
    }
    Ok(Status {
        ok,
        text: rest.trim_start().to_string(),
    })
}

/// The message count and size of a STAT reply's text (`2 320`).
pub fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let mut w = text.split_whitespace();
    let n = w.next()?.parse().ok()?;
    let size = w.next()?.parse().ok()?;
    Some((n, size))
}

/// One line of a multi-line response: `None` at the terminating `.`, else the line with
/// its stuffing dot removed.
pub fn unstuff(line: &str) -> Option<&str> {
    if line == "." {
        return None;
    }
    Some(line.strip_prefix('.').unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status("+OK Dovecot ready.").unwrap(),
            Status {
                ok: true,
                text: "Dovecot ready.".into()
            }
        );
        assert!(
            !parse_status("-ERR [AUTH] Authentication failed.")
                .unwrap()
                .ok
        );
        assert_eq!(parse_status("+OK").unwrap().text, "");
        assert!(parse_status("+OKAY").is_err());
        assert!(parse_status("* OK imap").is_err());
        assert_eq!(parse_stat("2 320"), Some((2, 320)));
        assert_eq!(parse_stat("x"), None);
        assert_eq!(unstuff(".."), Some("."));
        assert_eq!(unstuff("."), None);
        assert_eq!(unstuff("Subject: x"), Some("Subject: x"));
    }
}
