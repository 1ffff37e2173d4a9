//! The line protocols of Dovecot's small sockets (stats-reader, anvil, old-stats,
//! director-admin): connect over a unix socket or TCP, send request lines, read reply lines
//! up to the empty line that ends a reply. One deadline covers the whole conversation,
//! connecting included, and every reply is bounded in size, so a hung or hostile peer can
//! neither hold a scrape nor fill the memory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Where a Dovecot socket listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
}

impl FromStr for Address {
    type Err = std::convert::Infallible;

    /// A path (anything with a `/`, or without a `:PORT` suffix) is a unix socket;
    /// `HOST:PORT` and `[V6]:PORT` are TCP.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let tcp = !s.contains('/')
            && s.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            });
        Ok(if tcp {
            Address::Tcp(s.to_string())
        } else {
            Address::Unix(PathBuf::from(s))
        })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Tcp(a) => f.write_str(a),
        }
    }
}

/// Why a conversation failed as a whole. `peer` is the service and its address
/// (`stats-reader /run/dovecot/stats-reader`).
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Connecting, reading or writing failed (missing socket, refused, reset).
    #[error("{peer}: {source}")]
    Io {
        /// The service and address.
        peer: String,
        /// The error.
        source: std::io::Error,
    },
    /// No answer within the deadline.
    #[error("{0}: timed out")]
    Timeout(String),
    /// The server's first line is not the handshake expected.
    #[error("{peer}: unexpected handshake (want {want}): {got:?}")]
    Handshake {
        /// The service and address.
        peer: String,
        /// What was expected.
        want: &'static str,
        /// What came instead (cut to 100 characters).
        got: String,
    },
    /// The connection ended before the empty line that ends a reply.
    #[error("{0}: reply cut before its end")]
    Truncated(String),
    /// The reply exceeded the session's limit.
    #[error("{peer}: reply larger than {limit} bytes")]
    TooLarge {
        /// The service and address.
        peer: String,
        /// The limit.
        limit: usize,
    },
}

impl WireError {
    /// A short, bounded label value for the kind of failure.
    pub fn reason(&self) -> &'static str {
        match self {
            WireError::Io { .. } => "io",
            WireError::Timeout(_) => "timeout",
            WireError::Handshake { .. } => "version",
            WireError::Truncated(_) => "truncated",
            WireError::TooLarge { .. } => "too_large",
        }
    }
}

/// A unix or TCP stream whose timeouts can be moved to the remaining time.
trait Conn: Read + Write {
    fn set_timeouts(&self, d: Duration) -> std::io::Result<()>;
}

impl Conn for UnixStream {
    fn set_timeouts(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}

impl Conn for TcpStream {
    fn set_timeouts(&self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}

/// An I/O error of `peer`; a socket timeout is [`WireError::Timeout`].
fn io_error(peer: &str, source: std::io::Error) -> WireError {
    if matches!(
        source.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ) {
        WireError::Timeout(peer.to_string())
    } else {
        WireError::Io {
            peer: peer.to_string(),
            source,
        }
    }
}

/// The time left before `deadline`, or a timeout error.
fn remaining(deadline: Instant, peer: &str) -> Result<Duration, WireError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(WireError::Timeout(peer.to_string()));
    }
    Ok(left)
}

/// One conversation with a Dovecot socket.
pub struct Session {
    conn: BufReader<Box<dyn Conn>>,
    deadline: Instant,
    peer: String,
    limit: usize,
    read: usize,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("peer", &self.peer).finish()
    }
}

impl Session {
    /// Connects to `service` at `addr`; everything that follows must end within `timeout`
    /// and read at most `limit` bytes.
    pub fn connect(
        addr: &Address,
        service: &str,
        timeout: Duration,
        limit: usize,
    ) -> Result<Session, WireError> {
        let deadline = Instant::now() + timeout;
        let peer = format!("{service} {addr}");
        let io = |source: std::io::Error| io_error(&peer, source);
        let conn: Box<dyn Conn> = match addr {
            Address::Unix(path) => Box::new(UnixStream::connect(path).map_err(io)?),
            Address::Tcp(a) => {
                let addrs: Vec<SocketAddr> = a.to_socket_addrs().map_err(io)?.collect();
                let mut last = None;
                let mut stream = None;
                for sa in addrs {
                    match TcpStream::connect_timeout(&sa, remaining(deadline, &peer)?) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Box::new(stream.ok_or_else(|| {
                    io(last.unwrap_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
                    }))
                })?)
            }
        };
        conn.set_timeouts(remaining(deadline, &peer)?).map_err(io)?;
        Ok(Session {
            conn: BufReader::new(conn),
            deadline,
            peer,
            limit,
            read: 0,
        })
    }

    /// The service and address, for messages.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Sends `request` as is.
    pub fn send(&mut self, request: &[u8]) -> Result<(), WireError> {
        let left = remaining(self.deadline, &self.peer)?;
        let peer = &self.peer;
        let conn = self.conn.get_mut();
        conn.set_timeouts(left).map_err(|e| io_error(peer, e))?;
        conn.write_all(request).map_err(|e| io_error(peer, e))
    }

    /// Reads one `\n`-terminated line into `out` (cleared first; kept with its `\n`). Each
    /// read waits only for the time left, so a server that sends a byte now and then
    /// cannot stretch the conversation past the deadline.
    pub fn read_line(&mut self, out: &mut Vec<u8>) -> Result<(), WireError> {
        out.clear();
        loop {
            let left = remaining(self.deadline, &self.peer)?;
            self.conn
                .get_ref()
                .set_timeouts(left)
                .map_err(|e| io_error(&self.peer, e))?;
            let buf = match self.conn.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&self.peer, e)),
            };
            if buf.is_empty() {
                return Err(WireError::Truncated(self.peer.clone()));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            out.extend_from_slice(buf.get(..take).unwrap_or_default());
            self.conn.consume(take);
            self.read += take;
            if self.read > self.limit {
                return Err(WireError::TooLarge {
                    peer: self.peer.clone(),
                    limit: self.limit,
                });
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Reads lines up to the empty line that ends a reply; returns them without it
    /// (invalid UTF-8 replaced).
    pub fn read_block(&mut self) -> Result<String, WireError> {
        let mut body = String::new();
        let mut line = Vec::new();
        loop {
            self.read_line(&mut line)?;
            if line == b"\n" {
                return Ok(body);
            }
            body.push_str(&String::from_utf8_lossy(&line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = |s: &str| s.parse::<Address>().unwrap_or_else(|e| match e {});
        assert_eq!(a("127.0.0.1:9901"), Address::Tcp("127.0.0.1:9901".into()));
        assert_eq!(a("[::1]:9901"), Address::Tcp("[::1]:9901".into()));
        assert_eq!(a("localhost:9901"), Address::Tcp("localhost:9901".into()));
        assert_eq!(
            a("/run/dovecot/stats-reader"),
            Address::Unix("/run/dovecot/stats-reader".into())
        );
        assert_eq!(a("stats-reader"), Address::Unix("stats-reader".into()));
        assert_eq!(a("./x:1"), Address::Unix("./x:1".into()));
    }
}
