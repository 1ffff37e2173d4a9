//! SMTP and LMTP replies (RFC 5321 4.2): `NNN-text` continues, `NNN text` (or `NNN`)
//! ends, every line of one reply has the same code. Postscreen's `220-` greeting is an
//! ordinary multi-line reply.

use super::{MAX_REPLY_LINES, ReplyError, excerpt};

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, after the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// The RFC 3463 enhanced status code at the start of the last line (`2.1.0`), if any.
    pub fn enhanced(&self) -> Option<&str> {
        let last = self.lines.last()?;
        let word = last.split_whitespace().next()?;
        let mut parts = word.split('.');
        let class = parts.next()?;
        let ok = matches!(class, "2" | "4" | "5")
            && parts.clone().count() == 2
            && parts
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        ok.then_some(word)
    }

    /// Whether a line (EHLO keyword) is `keyword`, case-insensitively, alone or with
    /// parameters (`AUTH PLAIN LOGIN`, `STARTTLS`).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.lines.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(keyword))
        })
    }

    /// The parameters of EHLO keyword `keyword` (`AUTH PLAIN LOGIN` gives PLAIN, LOGIN).
    pub fn keyword_params(&self, keyword: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                w.next()
                    .filter(|k| k.eq_ignore_ascii_case(keyword))
                    .map(|_| w.map(str::to_ascii_uppercase).collect::<Vec<_>>())
            })
            .flatten()
            .collect()
    }

    /// The reply's text on one line, cut for messages.
    pub fn summary(&self) -> String {
        excerpt(&format!("{} {}", self.code, self.lines.join(" / ")))
    }
}

/// Splits one reply line into its code, whether it is the last line, and its text.
pub fn parse_line(line: &str) -> Result<(u16, bool, &str), ReplyError> {
    let b = line.as_bytes();
    let digits = b.len() >= 3
        && (b'1'..=b'5').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit();
    if !digits {
        return Err(ReplyError::NotAReply(excerpt(line)));
    }
    let code = u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
    match b.get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(ReplyError::NotAReply(excerpt(line))),
    }
}

/// Collects the lines of one reply.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyBuilder {
    /// Adds a line; returns the reply when it was the last one.
    pub fn push(&mut self, line: &str) -> Result<Option<Reply>, ReplyError> {
        let (code, last, text) = parse_line(line)?;
        match self.code {
            Some(c) if c != code => return Err(ReplyError::CodeChanged(excerpt(line))),
            _ => self.code = Some(code),
        }
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        self.lines.push(text.to_string());
        if last {
            return Ok(Some(Reply {
                code,
                lines: std::mem::take(&mut self.lines),
            }));
        }
        Ok(None)
    }
}

/// Parses a whole reply text (lines separated by CR LF); for tests and the fuzzer.
pub fn parse_reply(text: &str) -> Result<Option<Reply>, ReplyError> {
    let mut b = ReplyBuilder::default();
    for line in text.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(r) = b.push(line)? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The queue id in a 250 reply to the end of DATA (`250 2.0.0 Ok: queued as 4Xk3Z51Qq9z`).
pub fn queue_id(reply: &Reply) -> Option<&str> {
    let last = reply.lines.last()?;
    let (_, rest) = last.split_once("queued as ")?;
    let id = rest.split_whitespace().next()?;
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_and_keywords() {
        let r = parse_reply(
            "250-mail.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 6);
        // STARTTLS as the last capability (`250 STARTTLS`) is where regex probes break.
        assert!(r.has_keyword("starttls"));
        assert!(!r.has_keyword("SMTPUTF8"));
        assert_eq!(r.keyword_params("AUTH"), vec!["PLAIN", "LOGIN"]);
        // Postscreen's multi-line greeting.
        let g = parse_reply("220-mx.example.net ESMTP\r\n220 mx.example.net ESMTP Postfix\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((g.code, g.lines.len()), (220, 2));
        assert_eq!(parse_line("354"), Ok((354, true, "")));
    }

    #[test]
    fn bad_lines() {
        assert!(matches!(parse_line("hello"), Err(ReplyError::NotAReply(_))));
        assert!(matches!(
            parse_line("600 no"),
            Err(ReplyError::NotAReply(_))
        ));
        assert!(matches!(parse_line("250x"), Err(ReplyError::NotAReply(_))));
        assert!(matches!(
            parse_reply("250-a\r\n251 b\r\n"),
            Err(ReplyError::CodeChanged(_))
        ));
        let long = "250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        assert_eq!(parse_reply(&long), Err(ReplyError::TooManyLines));
        assert_eq!(parse_reply("250-a\r\n").unwrap(), None);
    }

    #[test]
    fn enhanced_and_queue_id() {
        let r = parse_reply("250 2.0.0 Ok: queued as 4Xk3Z51Qq9z\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.enhanced(), Some("2.0.0"));
        assert_eq!(queue_id(&r), Some("4Xk3Z51Qq9z"));
        let r = parse_reply("554 5.7.1 <a@b>: Relay access denied\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.enhanced(), Some("5.7.1"));
        assert_eq!(queue_id(&r), None);
        let r = parse_reply("250 Ok\r\n").unwrap().unwrap();
        assert_eq!(r.enhanced(), None);
    }
}
