//! Hostile dependencies for fault tests: a fake showq service on a loopback TCP port that
//! serves a stream, hangs, or drips it one byte at a time, and counts its connections.
//!
//! A real Postfix never behaves like this on purpose, but a stuck disk, a half-dead
//! container or a proxy can; the exporter must stay bounded whatever its dependency does.

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;

/// What the fake service does with each new connection.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Writes the bytes and closes.
    Serve(Vec<u8>),
    /// Accepts and never sends anything (the connection stays open).
    Hang,
    /// Writes one byte every interval, then closes.
    Drip(Vec<u8>, Duration),
}

/// A fake showq service; stops when dropped.
#[derive(Debug)]
pub struct FakeShowq {
    port: u16,
    behaviour: Arc<Mutex<Behaviour>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeShowq {
    /// Listens on 127.0.0.1 (a free port) and behaves as `b` until told otherwise.
    pub fn start(b: Behaviour) -> Result<Self> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let port = l.local_addr()?.port();
        let behaviour = Arc::new(Mutex::new(b));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (bh, cn, st) = (
            Arc::clone(&behaviour),
            Arc::clone(&connections),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            for c in l.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut c) = c else { continue };
                cn.fetch_add(1, Ordering::SeqCst);
                let now = bh.lock().unwrap_or_else(PoisonError::into_inner).clone();
                let st = Arc::clone(&st);
                // One thread per connection: a hung one must not hold up the next.
                std::thread::spawn(move || match now {
                    Behaviour::Serve(bytes) => {
                        let _ = c.write_all(&bytes);
                    }
                    Behaviour::Hang => {
                        while !st.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    Behaviour::Drip(bytes, every) => {
                        for b in bytes {
                            if st.load(Ordering::Relaxed) || c.write_all(&[b]).is_err() {
                                return;
                            }
                            let mut slept = Duration::ZERO;
                            while slept < every && !st.load(Ordering::Relaxed) {
                                let step = Duration::from_millis(20).min(every - slept);
                                std::thread::sleep(step);
                                slept += step;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self {
            port,
            behaviour,
            connections,
            stop,
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, for `--postfix.showq_address`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Changes what later connections get.
    pub fn set(&self, b: Behaviour) {
        *self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = b;
    }

    /// Connections accepted so far (one per queue walk).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeShowq {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so its thread ends.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Creates a FIFO at `path` with `mkfifo(1)` (std has no mkfifo, and `unsafe` is forbidden).
pub fn mkfifo(path: &std::path::Path) -> Result<()> {
    let st = std::process::Command::new("mkfifo").arg(path).status()?;
    anyhow::ensure!(st.success(), "mkfifo {} failed", path.display());
    Ok(())
}

/// Writes to a FIFO as ProFTPd and syslog daemons do: a non-blocking open, which fails
/// (ENXIO) while no reader has the FIFO open. Retried until `limit`, so a follower that is
/// not reading makes the caller fail instead of hang.
pub fn write_fifo(path: &std::path::Path, text: &str, limit: Duration) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let end = std::time::Instant::now() + limit;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(mut f) => return Ok(f.write_all(text.as_bytes())?),
            Err(e) if std::time::Instant::now() < end => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => anyhow::bail!("no reader on {}: {e}", path.display()),
        }
    }
}
