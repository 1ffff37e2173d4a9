//! Debian's Prometheus 2.42 as a second real scraper (it asks for OpenMetrics first).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;
use tempfile::TempDir;

use crate::query::{self, Sample};
use crate::{Daemon, http, net, temp_dir};

/// A Prometheus server with its TSDB in a temp dir.
#[derive(Debug)]
pub struct Prometheus {
    daemon: Daemon,
    port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Writes `scrape_config_yaml` (see [`query::scrape_config`]), starts `prometheus` on a
    /// free port and waits for `/-/ready`.
    pub fn start(scrape_config_yaml: &str) -> Result<Prometheus> {
        let dir = temp_dir("prometheus-")?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config_yaml)?;
        let port = net::free_port();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=1d")
            .arg("--log.level=warn");
        let mut daemon = Daemon::spawn("prometheus", cmd, dir.path())?;
        daemon.wait_http_ok(
            &format!("http://127.0.0.1:{port}/-/ready"),
            Duration::from_secs(30),
        )?;
        Ok(Prometheus { daemon, port, dir })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An instant query at now.
    pub fn query(&self, promql: &str) -> Result<Vec<Sample>> {
        query::query(&self.url(), promql)
    }

    /// Repeats the query until `pred` accepts the result (see [`query::wait_for_query`]).
    pub fn wait_for_query(
        &self,
        promql: &str,
        pred: impl Fn(&[Sample]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Sample>> {
        query::wait_for_query(&self.url(), promql, pred, timeout)
    }

    /// `/api/v1/targets` as JSON.
    pub fn targets(&self) -> Result<Value> {
        let r = http::get(&format!("{}/api/v1/targets", self.url()), &[])?;
        serde_json::from_slice(&r.body).context("parsing /api/v1/targets")
    }

    /// The process guard (log, pid).
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// The temp dir holding the config, the TSDB and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
