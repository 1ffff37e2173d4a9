//! FTP replies (RFC 959 4.2): a multi-line reply starts `NNN-` and ends at the first line
//! that starts with the same code and a space; the lines between may be any text. Also
//! the PASV (227) and EPSV (229) replies that say where the data channel is.

use std::net::Ipv4Addr;

use super::smtp::{Reply, parse_line};
use super::{MAX_REPLY_LINES, ReplyError, excerpt};

/// Collects the lines of one FTP reply.
#[derive(Debug, Default)]
pub struct FtpReplyBuilder {
    code: Option<u16>,
    lines: Vec<String>,
}

impl FtpReplyBuilder {
    /// Adds a line; returns the reply when it was the last one.
    pub fn push(&mut self, line: &str) -> Result<Option<Reply>, ReplyError> {
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        let Some(code) = self.code else {
            let (code, last, text) = parse_line(line)?;
            if last {
                return Ok(Some(Reply {
                    code,
                    lines: vec![text.to_string()],
                }));
            }
            self.code = Some(code);
            self.lines.push(text.to_string());
            return Ok(None);
        };
        let b = line.as_bytes();
        let prefix = code.to_string();
        let ends = line.starts_with(&prefix) && (b.len() == 3 || b.get(3) == Some(&b' '));
        if ends {
            self.lines.push(line.get(4..).unwrap_or("").to_string());
            self.code = None;
            return Ok(Some(Reply {
                code,
                lines: std::mem::take(&mut self.lines),
            }));
        }
        // ProFTPd indents inner lines with a space; some servers repeat `NNN-`.
        let text = line
            .strip_prefix(&format!("{prefix}-"))
            .unwrap_or(line.strip_prefix(' ').unwrap_or(line));
        self.lines.push(text.to_string());
        Ok(None)
    }
}

/// Parses a whole reply text; for tests and the fuzzer.
pub fn parse_reply(text: &str) -> Result<Option<Reply>, ReplyError> {
    let mut b = FtpReplyBuilder::default();
    for line in text.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(r) = b.push(line)? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// Why a passive-mode reply is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassiveError {
    /// No `(h1,h2,h3,h4,p1,p2)` or `(|||port|)` in the reply.
    #[error("no address in the passive-mode reply: {0:?}")]
    NoAddress(String),
}

/// The address and port of a 227 reply: `227 Entering Passive Mode (127,0,0,1,195,80).`
pub fn parse_pasv(text: &str) -> Result<(Ipv4Addr, u16), PassiveError> {
    let err = || PassiveError::NoAddress(excerpt(text));
    // Some servers omit the parentheses: take the first run of six comma-separated numbers.
    let start = text.find(|c: char| c.is_ascii_digit()).ok_or_else(err)?;
    let nums: Vec<u8> = text[start..]
        .split(|c: char| !c.is_ascii_digit() && c != ',')
        .next()
        .unwrap_or("")
        .split(',')
        .map(|n| n.parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| err())?;
    let [a, b, c, d, p1, p2] = nums[..] else {
        return Err(err());
    };
    Ok((
        Ipv4Addr::new(a, b, c, d),
        u16::from(p1) << 8 | u16::from(p2),
    ))
}

/// The port of a 229 reply: `229 Entering Extended Passive Mode (|||50132|)`.
pub fn parse_epsv(text: &str) -> Result<u16, PassiveError> {
    let err = || PassiveError::NoAddress(excerpt(text));
    let open = text.find('(').ok_or_else(err)?;
    let inner = &text[open + 1..];
    let close = inner.find(')').ok_or_else(err)?;
    let inner = &inner[..close];
    let delim = inner.chars().next().ok_or_else(err)?;
    let parts: Vec<&str> = inner.split(delim).collect();
    // `|||port|` splits into "", "", "", "port", "".
    match parts[..] {
        [_, _, _, port, _] => match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(err()),
        },
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies() {
        let r = parse_reply(
            "230-Welcome\r\n This is the message\r\n230-still\r\n230 User logged in\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.code, 230);
        assert_eq!(
            r.lines,
            vec!["Welcome", "This is the message", "still", "User logged in"]
        );
        // An inner line starting with another code does not end the reply.
        let r = parse_reply("211-Features:\r\n 200 looks like a code\r\n211 End\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.lines.len(), 3);
        assert_eq!(
            parse_reply("220 ProFTPD Server ready.\r\n")
                .unwrap()
                .unwrap()
                .code,
            220
        );
        assert!(parse_reply("hello\r\n").is_err());
    }

    #[test]
    fn passive_replies() {
        assert_eq!(
            parse_pasv("Entering Passive Mode (127,0,0,1,195,80).").unwrap(),
            (Ipv4Addr::LOCALHOST, 195 * 256 + 80)
        );
        assert_eq!(
            parse_pasv("Entering Passive Mode 10,1,2,3,4,5").unwrap(),
            (Ipv4Addr::new(10, 1, 2, 3), 1029)
        );
        assert!(parse_pasv("Entering Passive Mode (1,2,3,4,5)").is_err());
        assert!(parse_pasv("Entering Passive Mode (1,2,3,4,5,999)").is_err());
        assert_eq!(
            parse_epsv("Entering Extended Passive Mode (|||50132|)").unwrap(),
            50132
        );
        assert_eq!(parse_epsv("ok (!!!21!)").unwrap(), 21);
        assert!(parse_epsv("Entering Extended Passive Mode (|||0|)").is_err());
        assert!(parse_epsv("nothing").is_err());
    }
}
