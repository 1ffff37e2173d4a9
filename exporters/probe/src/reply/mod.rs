//! Pure parsers of the servers' replies (no I/O): SMTP/LMTP and FTP reply codes with
//! their multi-line forms, IMAP responses and POP3 status lines. Fuzzed (`fuzz/`).

pub mod ftp;
pub mod imap;
pub mod pop3;
pub mod smtp;

/// The most lines one multi-line reply may have (a real EHLO reply has about 15).
pub const MAX_REPLY_LINES: usize = 1000;

/// Why a reply line is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The line does not start with a three-digit reply code.
    #[error("not a reply line: {0:?}")]
    NotAReply(String),
    /// A continuation line's code differs from the first line's.
    #[error("reply code changed within a multi-line reply: {0:?}")]
    CodeChanged(String),
    /// More than [`MAX_REPLY_LINES`] lines.
    #[error("reply longer than {MAX_REPLY_LINES} lines")]
    TooManyLines,
}

/// Collects the lines of one coded reply (SMTP and FTP differ in how a multi-line reply
/// ends).
pub trait ReplyLines: Default {
    /// Adds a line; returns the reply when it was the last one.
    fn push_line(&mut self, line: &str) -> Result<Option<smtp::Reply>, ReplyError>;
}

impl ReplyLines for smtp::ReplyBuilder {
    fn push_line(&mut self, line: &str) -> Result<Option<smtp::Reply>, ReplyError> {
        self.push(line)
    }
}

impl ReplyLines for ftp::FtpReplyBuilder {
    fn push_line(&mut self, line: &str) -> Result<Option<smtp::Reply>, ReplyError> {
        self.push(line)
    }
}

/// A line cut for messages: at most 120 characters, control characters replaced.
pub fn excerpt(line: &str) -> String {
    let mut s: String = line
        .chars()
        .take(120)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if line.chars().count() > 120 {
        s.push('…');
    }
    s
}
