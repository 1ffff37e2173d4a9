//! Whole-operation deadlines for blocking reads from a dependency (a showq socket, a
//! stats-reader socket, a command's output).
//!
//! A per-read timeout restarts with every byte, so a peer that drips one byte every few
//! seconds holds a reader for ever. [`DeadlineReader`] sets each read's timeout to what is
//! left of one deadline for the whole operation, and fails with `TimedOut` once it has
//! passed, however the bytes arrive.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A stream whose reads can be given a timeout.
pub trait ReadTimeout: Read {
    /// Sets the timeout of the next reads (`None` blocks).
    fn set_read_timeout_to(&self, d: Option<Duration>) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_read_timeout_to(&self, d: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(d)
    }
}

impl ReadTimeout for UnixStream {
    fn set_read_timeout_to(&self, d: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(d)
    }
}

/// Reads from `inner` until one deadline for the whole operation.
#[derive(Debug)]
pub struct DeadlineReader<R> {
    inner: R,
    deadline: Instant,
    budget: Duration,
}

impl<R: ReadTimeout> DeadlineReader<R> {
    /// Reads from `inner` for at most `budget` from now, in total.
    pub fn new(inner: R, budget: Duration) -> Self {
        Self {
            inner,
            deadline: Instant::now() + budget,
            budget,
        }
    }

    fn expired(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the whole read did not finish within {:.1} s",
                self.budget.as_secs_f64()
            ),
        )
    }
}

impl<R: ReadTimeout> Read for DeadlineReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.expired());
        }
        // A zero timeout means "block" to the socket API; never pass one.
        self.inner
            .set_read_timeout_to(Some(left.max(Duration::from_millis(1))))?;
        match self.inner.read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.expired())
            }
            other => other,
        }
    }
}

/// Kills a child process when a deadline passes, so a hung command cannot hold the
/// reader of its output (pipes have no read timeout). Dropping the guard before the
/// deadline disarms it.
#[derive(Debug)]
pub struct KillAfter {
    disarmed: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
}

impl KillAfter {
    /// Starts a watchdog thread that kills process `pid` after `budget`.
    pub fn arm(child: &Child, budget: Duration) -> Self {
        let disarmed = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let pid = child.id();
        let (d, f) = (Arc::clone(&disarmed), Arc::clone(&fired));
        let spawned = std::thread::Builder::new()
            .name("kill-after".into())
            .spawn(move || {
                let end = Instant::now() + budget;
                while Instant::now() < end {
                    if d.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20).min(budget));
                }
                if !d.load(Ordering::Acquire) {
                    f.store(true, Ordering::Release);
                    // std has no kill by pid; `kill` is in every base image we run on.
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the command watchdog; the command runs unbounded");
        }
        Self { disarmed, fired }
    }

    /// Whether the deadline passed and the child was killed.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }
}

impl Drop for KillAfter {
    fn drop(&mut self) {
        self.disarmed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_dripping_peer_cannot_outlast_the_deadline() {
        let (mut w, r) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            for _ in 0..40 {
                if w.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let mut rd = DeadlineReader::new(r, Duration::from_millis(300));
        let mut out = Vec::new();
        let e = rd.read_to_end(&mut out).unwrap_err();
        let took = start.elapsed();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(e.to_string().contains("0.3 s"), "{e}");
        assert!(took < Duration::from_millis(600), "{took:?}");
        assert!(!out.is_empty() && out.len() < 20, "{}", out.len());
        drop(rd);
        writer.join().unwrap();
    }

    #[test]
    fn a_fast_peer_reads_to_the_end() {
        let (mut w, r) = UnixStream::pair().unwrap();
        w.write_all(b"hello").unwrap();
        drop(w);
        let mut s = String::new();
        DeadlineReader::new(r, Duration::from_secs(5))
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn a_hung_command_is_killed() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let start = Instant::now();
        let guard = KillAfter::arm(&child, Duration::from_millis(200));
        let st = child.wait().unwrap();
        assert!(!st.success());
        assert!(guard.fired());
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
