//! The probe exporter under test: a module file in a temp dir, `mailprobe-exporter`
//! started on it, and `/probe` requests parsed into samples.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::expo::{ExpoSample, samples};
use crate::exporter::Exporter;
use crate::http::{HttpResponse, get, urlencode};

/// A running prober with its module file.
#[derive(Debug)]
pub struct Prober {
    /// The exporter process.
    pub exporter: Exporter,
    /// Holds the module file and the secrets.
    pub dir: tempfile::TempDir,
}

/// What one `/probe` request gave.
#[derive(Debug)]
pub struct ProbeResult {
    /// HTTP status.
    pub status: u16,
    /// The samples (empty unless 200).
    pub samples: Vec<ExpoSample>,
    /// The body.
    pub body: String,
}

impl ProbeResult {
    /// The value of `name` with `labels`, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        crate::expo::value(&self.samples, name, labels)
    }

    /// `probe_success` as a bool (panics on a missing sample: a probe always has one).
    pub fn success(&self) -> bool {
        self.value("probe_success", &[]) == Some(1.0)
    }

    /// The failed phase and reason, from `probe_failed_phase_info`.
    pub fn failure(&self) -> Option<(String, String)> {
        self.samples
            .iter()
            .find(|s| s.name == "probe_failed_phase_info")
            .map(|s| (s.label("phase").to_string(), s.label("reason").to_string()))
    }

    /// The phases with a duration.
    pub fn phases(&self) -> Vec<String> {
        self.samples
            .iter()
            .filter(|s| s.name == "probe_phase_duration_seconds")
            .map(|s| s.label("phase").to_string())
            .collect()
    }
}

impl Prober {
    /// Writes `modules` (YAML; `@dir@` becomes the temp dir) and starts the exporter with
    /// `args` after `--config.file`.
    pub fn start(modules: &str, args: &[&str]) -> Result<Prober> {
        Self::start_with_env(modules, args, &[])
    }

    /// As [`Prober::start`] with environment variables (for `password_env`).
    pub fn start_with_env(modules: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Prober> {
        let dir = crate::temp_dir("mailprobe-")?;
        let text = modules.replace("@dir@", &dir.path().display().to_string());
        let file = dir.path().join("mailprobe.yml");
        std::fs::write(&file, text).context("writing the module file")?;
        let flag = format!("--config.file={}", file.display());
        let mut all = vec![flag.as_str()];
        all.extend_from_slice(args);
        let exporter = Exporter::start_with_env("mailprobe-exporter", &all, env)?;
        Ok(Prober { exporter, dir })
    }

    /// Writes a secret file `name` in the temp dir and returns its path.
    pub fn secret(dir: &Path, name: &str, value: &str) -> Result<PathBuf> {
        let p = dir.join(name);
        std::fs::write(&p, format!("{value}\n"))?;
        Ok(p)
    }

    /// The module file's path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("mailprobe.yml")
    }

    /// `GET /probe?module=..&target=..` plus `extra` query text, with a scrape timeout.
    pub fn probe_raw(
        &self,
        module: &str,
        target: &str,
        extra: &str,
        timeout_s: f64,
    ) -> Result<HttpResponse> {
        let url = format!(
            "{}/probe?module={}&target={}{extra}",
            self.exporter.url(),
            urlencode(module),
            urlencode(target)
        );
        let t = timeout_s.to_string();
        get(
            &url,
            &[
                ("X-Prometheus-Scrape-Timeout-Seconds", &t),
                ("Accept", crate::ACCEPT_TEXT),
            ],
        )
    }

    /// A probe with a 10 s scrape timeout.
    pub fn probe(&self, module: &str, target: &str) -> Result<ProbeResult> {
        self.probe_with(module, target, "", 10.0)
    }

    /// A probe with query `extra` and scrape timeout `timeout_s`.
    pub fn probe_with(
        &self,
        module: &str,
        target: &str,
        extra: &str,
        timeout_s: f64,
    ) -> Result<ProbeResult> {
        let r = self.probe_raw(module, target, extra, timeout_s)?;
        let body = r.text();
        let samples = if r.status == 200 && !extra.contains("debug=true") {
            samples(&body)
        } else {
            Vec::new()
        };
        Ok(ProbeResult {
            status: r.status,
            samples,
            body,
        })
    }

    /// The debug output (transcript, metrics, module) of a probe.
    pub fn debug(&self, module: &str, target: &str) -> Result<String> {
        Ok(self.probe_raw(module, target, "&debug=true", 10.0)?.text())
    }

    /// The exporter's own `/metrics` samples.
    pub fn self_metrics(&self) -> Result<Vec<ExpoSample>> {
        self.exporter.samples()
    }
}

/// `tests/python/http_targets.py`: an HTTP and an HTTPS server on loopback (`/`,
/// `/redirect`, `/away`, `/missing`, `/big`), HTTPS with `pki`'s server certificate.
#[derive(Debug)]
pub struct HttpTargets {
    _daemon: crate::Daemon,
    _dir: tempfile::TempDir,
    /// The HTTP port.
    pub http_port: u16,
    /// The HTTPS port.
    pub https_port: u16,
}

impl HttpTargets {
    /// Starts both servers and waits until they listen.
    pub fn start(pki: &crate::pki::Pki) -> Result<HttpTargets> {
        let (http_port, https_port) = (crate::net::free_port(), crate::net::free_port());
        let dir = crate::temp_dir("http-targets-")?;
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(crate::workspace_root().join("tests/python/http_targets.py"))
            .args([http_port.to_string(), https_port.to_string()])
            .arg(pki.path("server.crt"))
            .arg(pki.path("server.key"));
        let mut d = crate::Daemon::spawn("http-targets", cmd, dir.path())?;
        let wait = std::time::Duration::from_secs(10);
        d.wait_tcp(crate::net::loopback(http_port), wait)?;
        d.wait_tcp(crate::net::loopback(https_port), wait)?;
        Ok(HttpTargets {
            _daemon: d,
            _dir: dir,
            http_port,
            https_port,
        })
    }
}
