//! The real format validators: `promtool check metrics` and Python `prometheus_client`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

use crate::exporter::workspace_root;

/// What `promtool check metrics` said about a text 0.0.4 body.
#[derive(Debug, Clone)]
pub struct PromtoolReport {
    /// Exit code: 0 clean, 3 lint problems only, 1 parse error.
    pub code: i32,
    /// Its stdout and stderr (lint findings, parse errors).
    pub output: String,
}

/// Runs `promtool check metrics` with `body` on stdin.
///
/// promtool 2.42 exits 1 when the body does not parse and 3 when it parses but has lint
/// findings (naming advice); both print to stderr. Callers usually require `code != 1`
/// and show `output`.
pub fn promtool_check_metrics(body: &str) -> Result<PromtoolReport> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning promtool (apt-get install prometheus)")?;
    child
        .stdin
        .take()
        .context("promtool stdin")?
        .write_all(body.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(PromtoolReport {
        code: out.status.code().unwrap_or(-1),
        output: both(&out),
    })
}

/// The project's Python: `<workspace>/.venv/bin/python` (made by `scripts/install-deps.sh`).
pub fn venv_python() -> Result<PathBuf> {
    let p = workspace_root().join(".venv/bin/python");
    if !p.exists() {
        bail!("{} is missing; run scripts/install-deps.sh", p.display());
    }
    Ok(p)
}

/// Parses an OpenMetrics body strictly with `tests/python/validate_openmetrics.py`
/// (`prometheus_client.openmetrics.parser`); returns the family names it found.
pub fn validate_openmetrics(body: &str) -> Result<Vec<String>> {
    let script = workspace_root().join("tests/python/validate_openmetrics.py");
    let mut child = Command::new(venv_python()?)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning the OpenMetrics validator")?;
    child
        .stdin
        .take()
        .context("validator stdin")?
        .write_all(body.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("OpenMetrics validation failed:\n{}", both(&out));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Output: "families N" then one "family NAME TYPE" per line.
    let mut names = Vec::new();
    let mut count = None;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("families ") {
            count = n.trim().parse::<usize>().ok();
        } else if let Some(rest) = line.strip_prefix("family ") {
            names.push(rest.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    if count != Some(names.len()) {
        bail!("validator output is inconsistent:\n{stdout}");
    }
    Ok(names)
}

/// A command's stdout followed by its stderr, as text.
pub fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
