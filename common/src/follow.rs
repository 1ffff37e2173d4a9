//! Log following: files across rotation (rename-and-recreate, copytruncate), FIFOs,
//! stdin, and syslog reception over UDP and unix datagram sockets.

/// What a handler made of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// A parser recognised the line.
    Recognised,
    /// No parser recognised it; counted in `<ns>_log_lines_unsupported_total{<label>=value}`.
    Unsupported(String),
    /// The handler accounted for the line itself (e.g. a foreign program's line).
    Handled,
}

/// Receives every complete line from a follower.
pub trait LineHandler: Send + Sync + 'static {
    /// Called once per line, without the line terminator; invalid UTF-8 is replaced lossily.
    fn handle_line(&self, line: &str) -> LineOutcome;
}
