//! The daemon-neutral half of a test instance: its own temp dir with config, log and run
//! subdirectories, free loopback ports, config files rendered from templates, a start with
//! a readiness check, stop on drop, and the log tail when a test fails.
//!
//! A daemon module ([`crate::postfix`], [`crate::dovecot`]; ProFTPd next) adds only what is
//! specific to its daemon: the config it writes, the command that starts it, what "ready"
//! means, and its client tools.
//!
//! A daemon that stays in the foreground (Dovecot `-F`, ProFTPd `-n`) is started with
//! [`Instance::spawn`] and stopped by PID; one that daemonises itself (Postfix) is started
//! with [`Instance::run`] and stopped with the command given to [`InstanceBuilder::stop_command`]
//! plus its pid file ([`InstanceBuilder::pid_file`]).
//!
//! How a foreground daemon plugs in, in short ([`crate::dovecot`] is the full Dovecot one,
//! with users and the auth socket):
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use e2e_tests::instance::InstanceBuilder;
//!
//! let conf = "\
//! base_dir = @run_dir@
//! log_path = @log_dir@/dovecot.log
//! protocols = imap lmtp
//! service imap-login {
//!   inet_listener imap {
//!     address = 127.0.0.1
//!     port = @port:imap@
//!   }
//! }
//! ";
//! let mut dovecot = InstanceBuilder::new("dovecot")
//!     .port("imap")
//!     .config_file("dovecot.conf", conf)
//!     .log_file("dovecot.log")
//!     .build()?;
//! let mut cmd = Command::new("dovecot");
//! cmd.arg("-F").arg("-c").arg(dovecot.config_path("dovecot.conf"));
//! dovecot.spawn("dovecot", cmd)?;
//! let imap = dovecot.addr("imap")?;
//! dovecot.wait_until("imap listening", Duration::from_secs(20), |_| {
//!     e2e_tests::net::tcp_open(imap)
//! })?;
//! // ... run the exporter against dovecot.log_path(); the instance stops on drop.
//! # anyhow::Ok(())
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::daemon::tail;
use crate::{Daemon, net, temp_dir};

/// How long a self-daemonising instance gets to exit after its stop command.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of the log printed when a test fails with the instance alive.
const TAIL_LINES: usize = 40;

/// Describes an [`Instance`] before it exists; [`InstanceBuilder::build`] creates it.
#[derive(Debug, Clone)]
pub struct InstanceBuilder {
    name: String,
    config_dir: String,
    log_dir: String,
    run_dir: String,
    extra_dirs: Vec<String>,
    ports: Vec<String>,
    files: Vec<(String, String)>,
    log_file: Option<String>,
    stop_command: Option<Vec<String>>,
    pid_file: Option<String>,
}

impl InstanceBuilder {
    /// An instance called `name` (temp dir `e2e-<name>-XXXXXX`) with subdirectories `etc`,
    /// `log` and `run`, no ports and no files.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            config_dir: "etc".into(),
            log_dir: "log".into(),
            run_dir: "run".into(),
            extra_dirs: Vec::new(),
            ports: Vec::new(),
            files: Vec::new(),
            log_file: None,
            stop_command: None,
            pid_file: None,
        }
    }

    /// Names the config subdirectory (default `etc`).
    pub fn config_dir(mut self, rel: &str) -> Self {
        self.config_dir = rel.to_string();
        self
    }

    /// Names the log subdirectory (default `log`; `.` for the instance root).
    pub fn log_dir(mut self, rel: &str) -> Self {
        self.log_dir = rel.to_string();
        self
    }

    /// Names the run subdirectory for sockets and pid files (default `run`).
    pub fn run_dir(mut self, rel: &str) -> Self {
        self.run_dir = rel.to_string();
        self
    }

    /// Creates one more subdirectory (e.g. `data`, `mail`).
    pub fn dir(mut self, rel: &str) -> Self {
        self.extra_dirs.push(rel.to_string());
        self
    }

    /// Reserves a free loopback port under `key` ([`net::free_port`]); templates refer to
    /// it as `@port:key@`.
    pub fn port(mut self, key: &str) -> Self {
        self.ports.push(key.to_string());
        self
    }

    /// Writes `template`, rendered by [`Instance::render`], to `<config dir>/<rel>`.
    pub fn config_file(mut self, rel: &str, template: &str) -> Self {
        self.files.push((rel.to_string(), template.to_string()));
        self
    }

    /// The daemon's own log file, `<log dir>/<rel>`: what [`Instance::log`] reads and a
    /// failing test prints. Without it, the log of the first spawned process is used.
    pub fn log_file(mut self, rel: &str) -> Self {
        self.log_file = Some(rel.to_string());
        self
    }

    /// A command run on stop before anything is signalled, rendered like a template per
    /// argument (e.g. `["postfix", "-c", "@config_dir@", "stop"]`).
    pub fn stop_command(mut self, argv: &[&str]) -> Self {
        self.stop_command = Some(argv.iter().map(|a| a.to_string()).collect());
        self
    }

    /// The pid file of a daemon that forks away, relative to the instance root: waited
    /// for on stop, then SIGKILLed after [`STOP_TIMEOUT`].
    pub fn pid_file(mut self, rel: &str) -> Self {
        self.pid_file = Some(rel.to_string());
        self
    }

    /// Creates the temp dir, its subdirectories (mode 0755, so daemons that drop
    /// privileges can traverse them), the ports and the config files.
    pub fn build(self) -> Result<Instance> {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir(&format!("{}-", self.name))?;
        let root = dir.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 0755 {}", root.display()))?;
        let config_dir = root.join(&self.config_dir);
        let log_dir = root.join(&self.log_dir);
        let run_dir = root.join(&self.run_dir);
        for d in [&config_dir, &log_dir, &run_dir]
            .into_iter()
            .cloned()
            .chain(self.extra_dirs.iter().map(|d| root.join(d)))
        {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        let ports = self
            .ports
            .iter()
            .map(|k| (k.clone(), net::free_port()))
            .collect();
        let log_path = self.log_file.as_ref().map(|f| log_dir.join(f));
        let mut inst = Instance {
            name: self.name,
            config_dir,
            log_dir,
            run_dir,
            ports,
            log_path,
            stop_command: None,
            pid_file: self.pid_file.map(|p| root.join(p)),
            pid: None,
            children: Vec::new(),
            stopped: false,
            dir,
        };
        if let Some(argv) = &self.stop_command {
            inst.stop_command = Some(
                argv.iter()
                    .map(|a| inst.render(a))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        for (rel, template) in &self.files {
            inst.write_config(rel, template)?;
        }
        Ok(inst)
    }
}

/// A test instance of some daemon; stopped on drop, with its log tail printed first when
/// the thread is panicking (a failed test).
#[derive(Debug)]
pub struct Instance {
    name: String,
    config_dir: PathBuf,
    log_dir: PathBuf,
    run_dir: PathBuf,
    ports: BTreeMap<String, u16>,
    log_path: Option<PathBuf>,
    stop_command: Option<Vec<String>>,
    pid_file: Option<PathBuf>,
    pid: Option<u32>,
    children: Vec<Daemon>,
    stopped: bool,
    dir: TempDir,
}

impl Instance {
    /// The instance's name (the daemon's).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temp dir holding everything.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config subdirectory.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// `<config dir>/<rel>`.
    pub fn config_path(&self, rel: &str) -> PathBuf {
        self.config_dir.join(rel)
    }

    /// The log subdirectory.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The run subdirectory (sockets, pid files).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The port reserved under `key` by [`InstanceBuilder::port`].
    pub fn port(&self, key: &str) -> Result<u16> {
        self.ports
            .get(key)
            .copied()
            .with_context(|| format!("{}: no port {key:?} was reserved", self.name))
    }

    /// `127.0.0.1:<port key>`.
    pub fn addr(&self, key: &str) -> Result<SocketAddr> {
        self.port(key).map(net::loopback)
    }

    /// Replaces `@dir@`, `@config_dir@`, `@log_dir@`, `@run_dir@` and `@port:KEY@` in
    /// `template`. `@` is otherwise left alone (mail addresses); an unknown `@port:…@` fails.
    pub fn render(&self, template: &str) -> Result<String> {
        let mut out = template
            .replace("@config_dir@", &self.config_dir.display().to_string())
            .replace("@log_dir@", &self.log_dir.display().to_string())
            .replace("@run_dir@", &self.run_dir.display().to_string())
            .replace("@dir@", &self.dir().display().to_string());
        for (k, p) in &self.ports {
            out = out.replace(&format!("@port:{k}@"), &p.to_string());
        }
        if let Some(i) = out.find("@port:") {
            let rest = out.get(i..).unwrap_or_default();
            let token = rest.split_whitespace().next().unwrap_or(rest);
            bail!("{}: template names an unreserved port: {token}", self.name);
        }
        Ok(out)
    }

    /// Renders `template` into `<config dir>/<rel>` (creating parent dirs); returns the path.
    pub fn write_config(&self, rel: &str, template: &str) -> Result<PathBuf> {
        let path = self.config_path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, self.render(template)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Sets the daemon's log file when its place is only known after building (e.g. a
    /// setting of a config the daemon ships).
    pub fn set_log_path(&mut self, path: PathBuf) {
        self.log_path = Some(path);
    }

    /// The daemon's log file (see [`InstanceBuilder::log_file`]).
    pub fn log_path(&self) -> Option<&Path> {
        self.log_path
            .as_deref()
            .or_else(|| self.children.first().map(Daemon::log_path))
    }

    /// The log so far (empty when it does not exist yet).
    pub fn log(&self) -> String {
        self.log_path()
            .and_then(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// Starts a foreground process whose stdout and stderr go to `<log dir>/<name>.log`;
    /// stopped by PID (SIGTERM, then SIGKILL) when the instance stops.
    pub fn spawn(&mut self, name: &str, cmd: Command) -> Result<()> {
        let d = Daemon::spawn(name, cmd, &self.log_dir)?;
        self.children.push(d);
        Ok(())
    }

    /// The foreground processes started with [`Instance::spawn`], in order.
    pub fn children(&mut self) -> &mut [Daemon] {
        &mut self.children
    }

    /// Runs a command to completion (stdin closed); fails with its output and the log tail
    /// unless it exits 0. Returns stdout. For a daemon's start command and its tools.
    pub fn run(&self, cmd: &mut Command) -> Result<String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {cmd:?}"))?;
        if !out.status.success() {
            bail!(
                "{}: {cmd:?} failed ({}):\n{}\n{} log:\n{}",
                self.name,
                out.status,
                output_text(&out),
                self.name,
                self.log_tail(20)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The pid in [`InstanceBuilder::pid_file`] right now, if the file exists and parses.
    pub fn pid_file_pid(&self) -> Option<u32> {
        self.pid_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| s.trim().parse().ok())
    }

    /// The pid read from [`InstanceBuilder::pid_file`] (remembered once read), or the first
    /// spawned process' pid.
    pub fn pid(&mut self) -> Option<u32> {
        if self.pid.is_none() {
            self.pid = self.pid_file_pid();
        }
        self.pid.or_else(|| self.children.first().map(Daemon::pid))
    }

    /// Polls `ready` every 50 ms until it returns true. Fails with the log tail when
    /// `timeout` passes or a spawned process exits first.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&Instance) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if ready(self) {
                return Ok(());
            }
            if let Some(d) = self
                .children
                .iter_mut()
                .find_map(|d| (!d.is_running()).then_some(d))
            {
                bail!(
                    "{}: {} (pid {}) exited before {what}; last log lines:\n{}",
                    self.name,
                    d.name(),
                    d.pid(),
                    d.log_tail(30)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} in {} not ready after {timeout:?}: {what}; last log lines:\n{}",
                    self.name,
                    self.dir().display(),
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the instance once: the stop command, then waits up to [`STOP_TIMEOUT`] for
    /// the pid-file process to go (SIGKILL after that, reported as an error), then stops
    /// the spawned processes.
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let pid = self.pid_file.is_some().then(|| self.pid()).flatten();
        if let Some((prog, args)) = self.stop_command.as_ref().and_then(|a| a.split_first()) {
            let _ = Command::new(prog)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for d in &mut self.children {
            let _ = d.stop();
        }
        let Some(pid) = pid else {
            return Ok(());
        };
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + STOP_TIMEOUT;
        while proc_dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if proc_dir.exists() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            bail!(
                "{} (pid {pid}) did not stop within {STOP_TIMEOUT:?}; killed",
                self.name
            );
        }
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- {} {} log tail ----\n{}",
                self.name,
                self.dir().display(),
                self.log_tail(TAIL_LINES)
            );
        }
        let _ = self.stop();
    }
}

/// stdout followed by stderr, for error messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
