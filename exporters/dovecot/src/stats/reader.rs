//! A client of Dovecot's stats-reader socket, over a unix socket (`$base_dir/stats-reader`)
//! or TCP (an `inet_listener stats-reader` on 127.0.0.1, for a sidecar without a shared
//! volume). It only ever sends `VERSION` and `DUMP`: never `DUMP-RESET` or anything else
//! that changes the daemon's state (a reset would zero the counters of every reader,
//! Dovecot's own OpenMetrics endpoint included).

use std::time::Duration;

use super::dump::{DumpError, DumpRow, Stat, parse_dump};
use crate::wire::{Address, Session, WireError};

/// The protocol major version both sides must speak (2.3 and 2.4 alike).
const MAJOR: &str = "2";

/// Largest dump accepted, in bytes: 10k sub-metrics with a few fields take about 2 MB.
pub const MAX_DUMP_BYTES: usize = 64 << 20;

/// A stats-reader endpoint and the statistics to ask for.
#[derive(Debug, Clone)]
pub struct StatsReader {
    addr: Address,
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

impl StatsReader {
    /// A reader of `addr` asking for `stats`.
    pub fn new(addr: Address, stats: Vec<Stat>) -> Self {
        Self { addr, stats }
    }

    /// The statistics asked for, in order.
    pub fn stats(&self) -> &[Stat] {
        &self.stats
    }

    /// Connects, shakes hands and reads one dump, all within `timeout`.
    pub fn dump(&self, timeout: Duration) -> Result<Dump, WireError> {
        let mut s = Session::connect(&self.addr, "stats-reader", timeout, MAX_DUMP_BYTES)?;
        let mut request = format!("VERSION\tstats-reader-client\t{MAJOR}\t0\nDUMP");
        for st in &self.stats {
            request.push('\t');
            request.push_str(&st.to_string());
        }
        request.push('\n');
        s.send(request.as_bytes())?;
        let mut line = Vec::new();
        s.read_line(&mut line)?;
        let first = String::from_utf8_lossy(&line);
        let version = match first.trim_end_matches('\n').split('\t').collect::<Vec<_>>()[..] {
            ["VERSION", "stats-reader-server", major, minor] if major == MAJOR => {
                format!("{major}.{minor}")
            }
            _ => {
                return Err(WireError::Handshake {
                    peer: s.peer().to_string(),
                    want: "VERSION stats-reader-server 2.x",
                    got: first.chars().take(100).collect(),
                });
            }
        };
        let body = s.read_block()?;
        let (rows, errors) = parse_dump(&body, &self.stats);
        Ok(Dump {
            rows,
            errors,
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::time::Instant;

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
        StatsReader::new(Address::Unix(dir.path().join("s")), stats())
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
        assert!(matches!(e, Err(WireError::Handshake { .. })), "{e:?}");
    }

    #[test]
    fn cut_reply_is_an_error() {
        let (dir, _h) = serve(b"VERSION\tstats-reader-server\t2\t0\nauth_success\t4\t8");
        let e = reader(&dir).dump(Duration::from_secs(5));
        assert!(matches!(e, Err(WireError::Truncated(_))), "{e:?}");
    }

    #[test]
    fn silent_server_times_out() {
        let (dir, _h) = server(|s| {
            std::thread::sleep(Duration::from_secs(2));
            drop(s);
        });
        let e = reader(&dir).dump(Duration::from_millis(200));
        assert!(matches!(e, Err(WireError::Timeout(_))), "{e:?}");
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
        assert!(matches!(e, Err(WireError::Timeout(_))), "{e:?}");
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
        assert!(matches!(e, Err(WireError::Io { .. })), "{e:?}");
    }
}
