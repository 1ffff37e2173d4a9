//! The workspace's exporter binaries, built on demand and run as daemons.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::http::{self, HttpResponse};
use crate::{Daemon, net, temp_dir};

/// The `Accept` header Prometheus 2.42 sends (OpenMetrics preferred).
pub const ACCEPT_OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// The `Accept` header vmagent sends.
pub const ACCEPT_TEXT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// Path of workspace binary `name` in `target/debug`.
///
/// When it is missing, or older than a source file of the workspace (`common/`,
/// `exporters/`, `Cargo.toml`, `Cargo.lock`), runs `cargo build --bin <name>` first (once per
/// process; cargo's own lock serialises concurrent test processes), so a plain
/// `cargo test -p e2e-tests` tests the current code. `E2E_NO_BUILD=1` skips the build.
///
/// `E2E_BIN_<NAME>` (name upper-cased, `-` as `_`, e.g. `E2E_BIN_POSTFIX_EXPORTER`) points at
/// another executable instead: a release build, or a stand-in.
pub fn exporter_binary(name: &str) -> Result<PathBuf> {
    let mut guard = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let built = guard.get_or_insert_with(HashMap::new);
    if let Some(p) = built.get(name) {
        return Ok(p.clone());
    }
    let var = format!("E2E_BIN_{}", name.to_ascii_uppercase().replace('-', "_"));
    if let Some(p) = std::env::var_os(&var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        built.insert(name.to_string(), p.clone());
        return Ok(p);
    }
    let path = target_dir().join("debug").join(name);
    let skip = crate::env_flag("E2E_NO_BUILD");
    let stale = match std::fs::metadata(&path).and_then(|m| m.modified()) {
        Ok(bin_time) => newest_source(&workspace_root()).is_some_and(|src| src > bin_time),
        Err(_) => true,
    };
    if stale && !skip {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--bin", name])
            .output()
            .context("running cargo build")?;
        if !out.status.success() {
            bail!(
                "cargo build --bin {name} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    built.insert(name.to_string(), path.clone());
    Ok(path)
}

fn newest_source(root: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![root.join("common"), root.join("exporters")];
    for f in ["Cargo.toml", "Cargo.lock"] {
        stack.push(root.join(f));
    }
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let skip = p.file_name().is_some_and(|n| {
                n == "target" || n == "fixtures" || n == "tests" || n == "benches"
            });
            if skip {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if p
            .extension()
            .is_some_and(|e| e == "rs" || e == "toml" || e == "lock")
            && let Ok(t) = meta.modified()
        {
            newest = newest.max(Some(t));
        }
    }
    newest
}

/// `<bin> --help`.
pub fn exporter_help(bin: &str) -> Result<String> {
    let out = Command::new(exporter_binary(bin)?)
        .arg("--help")
        .output()
        .with_context(|| format!("running {bin} --help"))?;
    if !out.status.success() {
        bail!(
            "{bin} --help failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `--no-collector.<name>` for every collector `<bin> --help` lists, in order: the flags
/// that turn every collector off, whatever collectors the binary has today.
pub fn all_collectors_off(bin: &str) -> Result<Vec<String>> {
    Ok(collector_off_flags(&exporter_help(bin)?))
}

/// The distinct `--no-collector.<name>` flags mentioned in a `--help` text, in order.
pub fn collector_off_flags(help: &str) -> Vec<String> {
    let mut flags: Vec<String> = Vec::new();
    for word in help.split(|c: char| c.is_whitespace() || c == ',' || c == '=') {
        if let Some(name) = word.strip_prefix("--no-collector.")
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            let flag = word.to_string();
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    flags
}

/// Runs workspace binary `bin` once with `args`, `stdin` as its standard input, and
/// returns its output (for subcommands such as `print` and for start-up errors).
pub fn run_binary(bin: &str, args: &[&str], stdin: &[u8]) -> Result<std::process::Output> {
    use std::io::Write;
    let mut child = Command::new(exporter_binary(bin)?)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {bin}"))?;
    if let Some(mut si) = child.stdin.take() {
        // A binary that exits before reading all its input is not an error here.
        let _ = si.write_all(stdin);
    }
    Ok(child.wait_with_output()?)
}

/// A running exporter on a free loopback port.
#[derive(Debug)]
pub struct Exporter {
    daemon: Daemon,
    port: u16,
    telemetry_path: String,
    dir: TempDir,
}

impl Exporter {
    /// Starts workspace binary `bin` (see [`exporter_binary`]) with
    /// `--web.listen-address=127.0.0.1:<free port>` followed by `args`, and waits until
    /// `/-/healthy` answers 200. A `--web.telemetry-path=P` in `args` is remembered for
    /// [`Exporter::metrics_url`].
    pub fn start(bin: &str, args: &[&str]) -> Result<Exporter> {
        Self::start_with_env(bin, args, &[])
    }

    /// As [`Exporter::start`] with extra environment variables.
    pub fn start_with_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Exporter> {
        Self::launch(bin, args, env, false)
    }

    /// As [`Exporter::start`], with the exporter's stdout in a file of its own
    /// ([`Exporter::stdout`]) and its log (stderr) alone in the log file.
    pub fn start_stdout_apart(bin: &str, args: &[&str]) -> Result<Exporter> {
        Self::launch(bin, args, &[], true)
    }

    fn launch(bin: &str, args: &[&str], env: &[(&str, &str)], apart: bool) -> Result<Exporter> {
        let path = exporter_binary(bin)?;
        let dir = temp_dir("exporter-")?;
        let port = net::free_port();
        let mut cmd = Command::new(&path);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .envs(env.iter().copied());
        let mut daemon = if apart {
            Daemon::spawn_stdout_apart(bin, cmd, dir.path())?
        } else {
            Daemon::spawn(bin, cmd, dir.path())?
        };
        daemon.wait_http_ok(
            &format!("http://127.0.0.1:{port}/-/healthy"),
            Duration::from_secs(20),
        )?;
        let telemetry_path = args
            .iter()
            .find_map(|a| a.strip_prefix("--web.telemetry-path="))
            .unwrap_or("/metrics")
            .to_string();
        Ok(Exporter {
            daemon,
            port,
            telemetry_path,
            dir,
        })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as a scrape target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The telemetry path (default `/metrics`).
    pub fn telemetry_path(&self) -> &str {
        &self.telemetry_path
    }

    /// `http://127.0.0.1:PORT/metrics` (or the configured telemetry path).
    pub fn metrics_url(&self) -> String {
        format!("{}{}", self.url(), self.telemetry_path)
    }

    /// The samples of one text-format scrape.
    pub fn samples(&self) -> Result<Vec<crate::expo::ExpoSample>> {
        Ok(crate::expo::samples(&self.scrape(ACCEPT_TEXT)?.text()))
    }

    /// Fetches the metrics with the given `Accept` header ([`ACCEPT_TEXT`],
    /// [`ACCEPT_OPENMETRICS`]); fails unless the status is 200.
    pub fn scrape(&self, accept: &str) -> Result<HttpResponse> {
        let r = http::get(&self.metrics_url(), &[("Accept", accept)])?;
        if r.status != 200 {
            bail!(
                "scrape {} -> HTTP {}: {}",
                self.metrics_url(),
                r.status,
                r.text()
            );
        }
        Ok(r)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The process guard (log, pid, stop).
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// The temp dir holding the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the exporter wrote to stdout so far, when started with
    /// [`Exporter::start_stdout_apart`] (else nothing: stdout is in the log).
    pub fn stdout(&self) -> Vec<u8> {
        std::fs::read(self.dir().join(format!("{}.stdout", self.daemon.name()))).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_collector_off_flags_in_help() {
        let help = "Collectors:\n      --collector.queue  Enable the queue collector [enabled]\n      \
                    --no-collector.queue\n          Disable the queue collector\n      \
                    --no-collector.log=<X>, --no-collector.queue\n";
        assert_eq!(
            collector_off_flags(help),
            ["--no-collector.queue", "--no-collector.log"]
        );
    }
}
