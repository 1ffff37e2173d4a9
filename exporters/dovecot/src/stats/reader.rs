//! A client of Dovecot's stats-reader socket, over a unix socket (`$base_dir/stats-reader`)
//! or TCP (an `inet_listener stats-reader` on 127.0.0.1, for a sidecar without a shared
//! volume). It only ever sends `VERSION` and `DUMP`: never `DUMP-RESET` or anything else
//! that changes the daemon's state (a reset would zero the counters of every reader,
//! Dovecot's own OpenMetrics endpoint included).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::dump::{DumpError, DumpRow, Stat, parse_dump};

/// The protocol major version both sides must speak (2.3 and 2.4 alike).
const MAJOR: &str = "2";

/// Largest dump accepted, in bytes: 10k sub-metrics with a few fields take about 2 MB.
pub const MAX_DUMP_BYTES: usize = 64 << 20;

/// Where the stats-reader listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderAddress {
    /// A unix socket path.
    Unix(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
}

impl FromStr for ReaderAddress {
    type Err = std::convert::Infallible;

    /// A path (anything with a `/`, or without a `:PORT` suffix) is a unix socket;
    /// `HOST:PORT` and `[V6]:PORT` are TCP.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let tcp = !s.contains('/')
            && s.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            });
        Ok(if tcp {
            ReaderAddress::Tcp(s.to_string())
        } else {
            ReaderAddress::Unix(PathBuf::from(s))
        })
    }
}

impl std::fmt::Display for ReaderAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReaderAddress::Unix(p) => write!(f, "{}", p.display()),
            ReaderAddress::Tcp(a) => f.write_str(a),
        }
    }
}

/// Why a dump failed as a whole (a bad line is a [`DumpError`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// Connecting, reading or writing failed (missing socket, refused, reset).
    #[error("stats-reader {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// No answer within the deadline.
    #[error("stats-reader {0}: timed out")]
    Timeout(String),
    /// The server's first line is not a compatible VERSION line.
    #[error(
        "stats-reader {addr}: unexpected handshake (want VERSION stats-reader-server {MAJOR}.x): {got:?}"
    )]
    Version {
        /// The address.
        addr: String,
        /// What came instead (cut to 100 bytes).
        got: String,
    },
    /// The connection ended before the empty line that ends a dump.
    #[error("stats-reader {0}: reply cut before its end")]
    Truncated(String),
    /// The dump exceeded [`MAX_DUMP_BYTES`].
    #[error("stats-reader {0}: dump larger than {MAX_DUMP_BYTES} bytes")]
    TooLarge(String),
}

/// A stats-reader endpoint and the statistics to ask for.
#[derive(Debug, Clone)]
pub struct StatsReader {
    addr: ReaderAddress,
    stats: Vec<Stat>,
}

/// A successful dump: its rows and the lines that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// The rows read.
    pub rows: Vec<DumpRow>,
    /// One error per unreadable line.
    pub errors: Vec<DumpError>,
    /// The server's protocol version (`2.0`).
    pub version: String,
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

/// An I/O error of `addr`; a socket timeout is [`ReaderError::Timeout`].
fn io_error(addr: &str, source: std::io::Error) -> ReaderError {
    if matches!(
        source.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ) {
        ReaderError::Timeout(addr.to_string())
    } else {
        ReaderError::Io {
            addr: addr.to_string(),
            source,
        }
    }
}

/// The time left before `deadline`, or a timeout error.
fn remaining(deadline: Instant, addr: &str) -> Result<Duration, ReaderError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ReaderError::Timeout(addr.to_string()));
    }
    Ok(left)
}

impl StatsReader {
    /// A reader of `addr` asking for `stats`.
    pub fn new(addr: ReaderAddress, stats: Vec<Stat>) -> Self {
        Self { addr, stats }
    }

    /// The statistics asked for, in order.
    pub fn stats(&self) -> &[Stat] {
        &self.stats
    }

    /// Connects, shakes hands and reads one dump, all within `timeout`.
    pub fn dump(&self, timeout: Duration) -> Result<Dump, ReaderError> {
        let deadline = Instant::now() + timeout;
        let name = self.addr.to_string();
        let io = |source: std::io::Error| io_error(&name, source);
        let conn: Box<dyn Conn> = match &self.addr {
            ReaderAddress::Unix(path) => Box::new(UnixStream::connect(path).map_err(io)?),
            ReaderAddress::Tcp(a) => {
                let addrs: Vec<SocketAddr> = a.to_socket_addrs().map_err(io)?.collect();
                let mut last = None;
                let mut stream = None;
                for sa in addrs {
                    match TcpStream::connect_timeout(&sa, remaining(deadline, &name)?) {
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
        conn.set_timeouts(remaining(deadline, &name)?).map_err(io)?;
        let mut conn = BufReader::new(conn);
        let mut request = format!("VERSION\tstats-reader-client\t{MAJOR}\t0\nDUMP");
        for s in &self.stats {
            request.push('\t');
            request.push_str(&s.to_string());
        }
        request.push('\n');
        conn.get_mut().write_all(request.as_bytes()).map_err(io)?;

        let mut line = Vec::new();
        read_line(&mut conn, &mut line, deadline, &name)?;
        let first = String::from_utf8_lossy(&line);
        let version = match first.trim_end_matches('\n').split('\t').collect::<Vec<_>>()[..] {
            ["VERSION", "stats-reader-server", major, minor] if major == MAJOR => {
                format!("{major}.{minor}")
            }
            _ => {
                return Err(ReaderError::Version {
                    addr: name,
                    got: first.chars().take(100).collect(),
                });
            }
        };
        let mut body = String::new();
        loop {
            line.clear();
            read_line(&mut conn, &mut line, deadline, &name)?;
            if line == b"\n" {
                break;
            }
            if body.len() + line.len() > MAX_DUMP_BYTES {
                return Err(ReaderError::TooLarge(name));
            }
            body.push_str(&String::from_utf8_lossy(&line));
        }
        let (rows, errors) = parse_dump(&body, &self.stats);
        Ok(Dump {
            rows,
            errors,
            version,
        })
    }
}

/// Reads one `\n`-terminated line (kept with its `\n`) within `deadline` and
/// [`MAX_DUMP_BYTES`]. Each read waits only for the time left, so a server that sends a
/// byte now and then cannot stretch the dump past the deadline.
fn read_line(
    r: &mut BufReader<Box<dyn Conn>>,
    out: &mut Vec<u8>,
    deadline: Instant,
    name: &str,
) -> Result<(), ReaderError> {
    loop {
        let left = remaining(deadline, name)?;
        r.get_ref()
            .set_timeouts(left)
            .map_err(|e| io_error(name, e))?;
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(name, e)),
        };
        if buf.is_empty() {
            return Err(ReaderError::Truncated(name.to_string()));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        out.extend_from_slice(buf.get(..take).unwrap_or_default());
        r.consume(take);
        if out.len() > MAX_DUMP_BYTES {
            return Err(ReaderError::TooLarge(name.to_string()));
        }
        if done {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn stats() -> Vec<Stat> {
        vec![Stat::Count, Stat::Sum]
    }

    /// A one-shot unix-socket server: `conn` runs on the first connection, in a thread.
    fn server<T: Send + Default + 'static>(
        conn: impl FnOnce(UnixStream) -> T + Send + 'static,
    ) -> (tempfile::TempDir, std::thread::JoinHandle<T>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let listener = UnixListener::bind(dir.path().join("s")).unwrap_or_else(|e| panic!("{e}"));
        let h = std::thread::spawn(move || match listener.accept() {
            Ok((s, _)) => conn(s),
            Err(_) => T::default(),
        });
        (dir, h)
    }

    /// Answers with `reply` after reading the request, and hands the request back.
    fn serve(reply: &'static [u8]) -> (tempfile::TempDir, std::thread::JoinHandle<String>) {
        server(move |mut s| {
            let mut req = [0u8; 256];
            let n = s.read(&mut req).unwrap_or(0);
            let _ = s.write_all(reply);
            String::from_utf8_lossy(&req[..n]).into_owned()
        })
    }

    fn reader(dir: &tempfile::TempDir) -> StatsReader {
        StatsReader::new(ReaderAddress::Unix(dir.path().join("s")), stats())
    }

    #[test]
    fn addresses() {
        let a = |s: &str| s.parse::<ReaderAddress>().unwrap_or_else(|e| match e {});
        assert_eq!(
            a("127.0.0.1:9901"),
            ReaderAddress::Tcp("127.0.0.1:9901".into())
        );
        assert_eq!(a("[::1]:9901"), ReaderAddress::Tcp("[::1]:9901".into()));
        assert_eq!(
            a("localhost:9901"),
            ReaderAddress::Tcp("localhost:9901".into())
        );
        assert_eq!(
            a("/run/dovecot/stats-reader"),
            ReaderAddress::Unix("/run/dovecot/stats-reader".into())
        );
        assert_eq!(
            a("stats-reader"),
            ReaderAddress::Unix("stats-reader".into())
        );
        assert_eq!(a("./x:1"), ReaderAddress::Unix("./x:1".into()));
    }

    #[test]
    fn sends_version_and_dump_only_and_reads_to_the_empty_line() {
        let (dir, h) = serve(b"VERSION\tstats-reader-server\t2\t0\nauth_success\t4\t80\nbad\nx\t1\t2\n\nafter\t1\t1\n");
        let d = reader(&dir).dump(Duration::from_secs(5));
        let req = h.join().unwrap_or_default();
        assert_eq!(
            req,
            "VERSION\tstats-reader-client\t2\t0\nDUMP\tcount\tsum\n"
        );
        let d = d.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.version, "2.0");
        let names: Vec<&str> = d.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["auth_success", "x"]);
        assert_eq!(d.errors.len(), 1);
    }

    #[test]
    fn wrong_version_is_an_error() {
        let (dir, _h) = serve(b"VERSION\tstats-reader-server\t3\t0\n\n");
        let e = reader(&dir).dump(Duration::from_secs(5));
        assert!(matches!(e, Err(ReaderError::Version { .. })), "{e:?}");
    }

    #[test]
    fn cut_reply_is_an_error() {
        let (dir, _h) = serve(b"VERSION\tstats-reader-server\t2\t0\nauth_success\t4\t8");
        let e = reader(&dir).dump(Duration::from_secs(5));
        assert!(matches!(e, Err(ReaderError::Truncated(_))), "{e:?}");
    }

    #[test]
    fn silent_server_times_out() {
        let (dir, _h) = server(|s| {
            std::thread::sleep(Duration::from_secs(2));
            drop(s);
        });
        let e = reader(&dir).dump(Duration::from_millis(200));
        assert!(matches!(e, Err(ReaderError::Timeout(_))), "{e:?}");
    }

    #[test]
    fn slow_drip_cannot_outlast_the_deadline() {
        let (dir, _h) = server(|mut s| {
            // A byte every 50 ms and never a newline: each read succeeds well within any
            // per-read timeout.
            for _ in 0..100 {
                if s.write_all(b"V").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let e = reader(&dir).dump(Duration::from_millis(300));
        assert!(matches!(e, Err(ReaderError::Timeout(_))), "{e:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn missing_socket_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let e = reader(&dir).dump(Duration::from_secs(1));
        assert!(matches!(e, Err(ReaderError::Io { .. })), "{e:?}");
    }
}
