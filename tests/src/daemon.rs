//! A guard around one spawned daemon process.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{http, net};

/// How long a daemon gets to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// A spawned process with its stdout and stderr in a log file; stopped by PID on drop
/// (SIGTERM, then SIGKILL after [`STOP_GRACE`]).
///
/// If the thread is panicking when the guard drops (a failed test), the tail of the log is
/// printed to stderr so the failure message shows what the daemon said.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Child,
    log_path: PathBuf,
    exit: Option<ExitStatus>,
}

impl Daemon {
    /// Spawns `cmd` with stdin closed and stdout+stderr appended to `<log_dir>/<name>.log`.
    pub fn spawn(name: &str, cmd: Command, log_dir: &Path) -> Result<Daemon> {
        Self::spawn_to(name, cmd, log_dir, None)
    }

    /// As [`Daemon::spawn`], with stdout apart in `<log_dir>/<name>.stdout` (what the
    /// process writes as output, not as its log); stderr alone in the log.
    pub fn spawn_stdout_apart(name: &str, cmd: Command, log_dir: &Path) -> Result<Daemon> {
        let path = log_dir.join(format!("{name}.stdout"));
        let out = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Self::spawn_to(name, cmd, log_dir, Some(out))
    }

    fn spawn_to(
        name: &str,
        mut cmd: Command,
        log_dir: &Path,
        stdout: Option<File>,
    ) -> Result<Daemon> {
        let log_path = log_dir.join(format!("{name}.log"));
        let err =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let out = match stdout {
            Some(out) => out,
            None => err.try_clone()?,
        };
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {name}: {cmd:?}"))?;
        Ok(Daemon {
            name: name.to_string(),
            child,
            log_path,
            exit: None,
        })
    }

    /// The daemon's name (used for its log file and in messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Path of the file holding stdout and stderr (stderr alone with
    /// [`Daemon::spawn_stdout_apart`]).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the daemon wrote so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines the daemon wrote.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.exit = Some(status);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Polls `ready` every 50 ms until it returns true; fails with the log tail when the
    /// process exits first or `timeout` passes.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if ready() {
                return Ok(());
            }
            if !self.is_running() {
                bail!(
                    "{} (pid {}) exited with {:?} before {what}; last log lines:\n{}",
                    self.name,
                    self.pid(),
                    self.exit,
                    self.log_tail(30)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} (pid {}) not ready after {timeout:?}: {what}; last log lines:\n{}",
                    self.name,
                    self.pid(),
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `addr` accepts TCP connections.
    pub fn wait_tcp(&mut self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        self.wait_until(&format!("listening on {addr}"), timeout, || {
            net::tcp_open(addr)
        })
    }

    /// Waits until `GET url` answers 200.
    pub fn wait_http_ok(&mut self, url: &str, timeout: Duration) -> Result<()> {
        self.wait_until(&format!("GET {url} = 200"), timeout, || {
            http::get(url, &[]).is_ok_and(|r| r.status == 200)
        })
    }

    /// Stops the process: SIGTERM, then SIGKILL if it is still there after `grace`.
    /// Returns its exit status.
    pub fn stop_with_grace(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        if self.is_running() {
            // std can only SIGKILL; SIGTERM lets daemons flush (vmagent) and tests
            // graceful shutdown, and `unsafe` (libc::kill) is forbidden here.
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + grace;
            while self.is_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.is_running() {
                let _ = self.child.kill();
            }
        }
        let status = self.child.wait().context("waiting for the process")?;
        self.exit = Some(status);
        Ok(status)
    }

    /// [`Daemon::stop_with_grace`] with [`STOP_GRACE`].
    pub fn stop(&mut self) -> Result<ExitStatus> {
        self.stop_with_grace(STOP_GRACE)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- {} (pid {}) log tail, {} ----\n{}",
                self.name,
                self.child.id(),
                self.log_path.display(),
                self.log_tail(40)
            );
        }
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..).unwrap_or_default().join("\n")
}
