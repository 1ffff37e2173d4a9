//! VictoriaMetrics, vmagent and vmalert (Debian's 1.79) on loopback ports.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;
use tempfile::TempDir;

use crate::query::{self, Sample};
use crate::{Daemon, http, net, temp_dir};

/// How long VictoriaMetrics, vmagent and vmalert get to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A single-node VictoriaMetrics with its storage in a temp dir.
#[derive(Debug)]
pub struct VictoriaMetrics {
    daemon: Daemon,
    port: u16,
    dir: TempDir,
}

impl VictoriaMetrics {
    /// Starts `victoria-metrics` on a free port and waits for `/health`.
    ///
    /// `-search.latencyOffset=0s` and `-search.disableCache` make freshly written samples
    /// visible to instant queries at once (the default offset hides the last 30 s).
    pub fn start() -> Result<VictoriaMetrics> {
        let dir = temp_dir("vm-")?;
        let port = net::free_port();
        let mut cmd = Command::new("victoria-metrics");
        cmd.arg(format!(
            "-storageDataPath={}",
            dir.path().join("data").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .args([
            "-retentionPeriod=1d",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]);
        let mut daemon = Daemon::spawn("victoria-metrics", cmd, dir.path())?;
        daemon.wait_http_ok(&format!("http://127.0.0.1:{port}/health"), START_TIMEOUT)?;
        Ok(VictoriaMetrics { daemon, port, dir })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The remote-write endpoint, for vmagent and vmalert.
    pub fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.url())
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

    /// The process guard (log, pid).
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// The temp dir holding the storage and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A vmagent that scrapes with a given config and remote-writes to a [`VictoriaMetrics`].
#[derive(Debug)]
pub struct VmAgent {
    daemon: Daemon,
    port: u16,
    dir: TempDir,
}

impl VmAgent {
    /// Writes `scrape_config_yaml` (see [`query::scrape_config`]) and starts vmagent with
    /// `-promscrape.config.strictParse`, remote-writing to `vm`; waits for `/health`.
    pub fn start(scrape_config_yaml: &str, vm: &VictoriaMetrics) -> Result<VmAgent> {
        Self::start_with(scrape_config_yaml, &vm.write_url(), &[])
    }

    /// As [`VmAgent::start`] with any remote-write URL and extra flags.
    pub fn start_with(
        scrape_config_yaml: &str,
        remote_write_url: &str,
        extra_args: &[&str],
    ) -> Result<VmAgent> {
        let dir = temp_dir("vmagent-")?;
        let config = dir.path().join("scrape.yml");
        std::fs::write(&config, scrape_config_yaml)?;
        let port = net::free_port();
        let mut cmd = Command::new("vmagent");
        cmd.arg(format!("-promscrape.config={}", config.display()))
            .arg("-promscrape.config.strictParse=true")
            .arg(format!("-remoteWrite.url={remote_write_url}"))
            .arg(format!(
                "-remoteWrite.tmpDataPath={}",
                dir.path().join("rw").display()
            ))
            .arg("-remoteWrite.flushInterval=200ms")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-loggerLevel=INFO")
            .args(extra_args);
        let mut daemon = Daemon::spawn("vmagent", cmd, dir.path())?;
        daemon.wait_http_ok(&format!("http://127.0.0.1:{port}/health"), START_TIMEOUT)?;
        Ok(VmAgent { daemon, port, dir })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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

    /// The temp dir holding the config, the remote-write buffer and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// One HTTP request the [`NotifierSink`] received.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Request method, e.g. `POST`.
    pub method: String,
    /// Request path, e.g. `/api/v2/alerts`.
    pub path: String,
    /// Request headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Request body (Alertmanager v2 JSON from vmalert).
    pub body: String,
}

/// A tiny HTTP server standing in for Alertmanager: answers every request with 200 and an
/// empty body, and records it. (vmalert 1.79 has no `-notifier.blackhole`.) Also handy as a
/// scrape target that records what a scraper sends (its `Accept` header).
#[derive(Debug)]
pub struct NotifierSink {
    port: u16,
    received: Arc<Mutex<Vec<Notification>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NotifierSink {
    /// Starts serving on a free loopback port, in a thread.
    pub fn start() -> Result<NotifierSink> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the notifier sink")?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn
                    && let Some(n) = serve_one(conn)
                {
                    r.lock().unwrap_or_else(PoisonError::into_inner).push(n);
                }
            }
        });
        Ok(NotifierSink {
            port,
            received,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, as a scrape target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Notification> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn serve_one(conn: TcpStream) -> Option<Notification> {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                len = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; len.min(64 << 20)];
    r.read_exact(&mut body).ok()?;
    let mut conn = r.into_inner();
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(Notification {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

impl Notification {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Drop for NotifierSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A vmalert evaluating rule files against a datasource every second, notifying a
/// [`NotifierSink`].
#[derive(Debug)]
pub struct VmAlert {
    daemon: Daemon,
    port: u16,
    sink: NotifierSink,
    dir: TempDir,
}

impl VmAlert {
    /// Starts vmalert with `-rule=` for each file, `datasource_url` as datasource, remote
    /// read and remote write (so alert state and `ALERTS` series land there too),
    /// `-evaluationInterval=1s`; waits for `/health`.
    pub fn start(rule_files: &[PathBuf], datasource_url: &str) -> Result<VmAlert> {
        Self::start_with(rule_files, datasource_url, &[])
    }

    /// As [`VmAlert::start`] with extra flags.
    pub fn start_with(
        rule_files: &[PathBuf],
        datasource_url: &str,
        extra_args: &[&str],
    ) -> Result<VmAlert> {
        let dir = temp_dir("vmalert-")?;
        let sink = NotifierSink::start()?;
        let port = net::free_port();
        let mut cmd = Command::new("vmalert");
        for f in rule_files {
            cmd.arg(format!("-rule={}", f.display()));
        }
        cmd.arg(format!("-datasource.url={datasource_url}"))
            .arg(format!("-remoteWrite.url={datasource_url}"))
            .arg(format!("-remoteRead.url={datasource_url}"))
            .arg(format!("-notifier.url={}", sink.url()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-external.url=http://127.0.0.1:{port}"))
            .arg("-evaluationInterval=1s")
            .args(extra_args);
        let mut daemon = Daemon::spawn("vmalert", cmd, dir.path())?;
        daemon.wait_http_ok(&format!("http://127.0.0.1:{port}/health"), START_TIMEOUT)?;
        Ok(VmAlert {
            daemon,
            port,
            sink,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `data.alerts` array of `/api/v1/alerts` (pending and firing).
    pub fn alerts(&self) -> Result<Vec<Value>> {
        let r = http::get(&format!("{}/api/v1/alerts", self.url()), &[])?;
        let v: Value = serde_json::from_slice(&r.body).context("parsing /api/v1/alerts")?;
        Ok(v["data"]["alerts"].as_array().cloned().unwrap_or_default())
    }

    /// The notifications vmalert sent so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.sink.received()
    }

    /// The process guard (log, pid).
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// The temp dir holding the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
