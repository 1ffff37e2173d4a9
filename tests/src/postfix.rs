//! Throw-away Postfix instances: own config, queue, data and log directories, smtpd on a free
//! loopback port, mail for other domains deferred on a closed relayhost.
//!
//! Built as /work/shared/LAB.md and reference/postfix.md §7 describe; needs root (Postfix
//! drops to the `postfix` user itself).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::daemon::tail;
use crate::{Daemon, net, temp_dir};

/// `myhostname` of every test instance.
pub const MYHOSTNAME: &str = "mx.test.local";
/// Relayhost of every test instance: nothing listens on port 1, so remote mail defers with
/// `connect to 127.0.0.1[127.0.0.1]:1: Connection refused`.
pub const CLOSED_RELAYHOST: &str = "[127.0.0.1]:1";
/// The queues `postqueue -j` and showq report, in showq's scan order.
pub const QUEUES: [&str; 5] = ["maildrop", "active", "incoming", "deferred", "hold"];

/// How to build a [`Postfix`] instance beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct PostfixOptions {
    /// Also declare `127.0.0.1:PORT inet n - n - - showq` on a free port.
    pub showq_inet: bool,
    /// Extra `main.cf` settings (`"name = value"`), applied with `postconf -e` after the
    /// defaults, so they win.
    pub main_cf: Vec<String>,
    /// Extra `master.cf` lines, appended verbatim.
    pub master_cf: Vec<String>,
    /// `(domain, nexthop)` routes in a `texthash:` `transport_maps`, e.g.
    /// `("sink.test", "smtp:[127.0.0.1]:2526")` (see [`SmtpSink::nexthop`]).
    pub transports: Vec<(String, String)>,
}

impl PostfixOptions {
    /// The defaults: no showq inet service, nothing extra.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves showq over TCP too.
    pub fn showq_inet(mut self) -> Self {
        self.showq_inet = true;
        self
    }

    /// Adds a `main.cf` setting, `"name = value"`.
    pub fn param(mut self, setting: &str) -> Self {
        self.main_cf.push(setting.to_string());
        self
    }

    /// Adds a verbatim `master.cf` line.
    pub fn master_line(mut self, line: &str) -> Self {
        self.master_cf.push(line.to_string());
        self
    }

    /// Routes `domain` to `nexthop` through `transport_maps`.
    pub fn transport(mut self, domain: &str, nexthop: &str) -> Self {
        self.transports
            .push((domain.to_string(), nexthop.to_string()));
        self
    }
}

/// A running Postfix instance; `postfix stop` (then SIGKILL of the master by pid file) on drop.
#[derive(Debug)]
pub struct Postfix {
    config_dir: PathBuf,
    queue_dir: PathBuf,
    log_path: PathBuf,
    smtp_port: u16,
    showq_port: Option<u16>,
    master_pid: Option<u32>,
    stopped: bool,
    dir: TempDir,
}

impl Postfix {
    /// Builds the instance's directories and configuration, starts it, and waits until
    /// smtpd (and the showq inet service) accept connections and the master's
    /// `daemon started` line is in the log file.
    pub fn start(opts: PostfixOptions) -> Result<Postfix> {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the process' effective uid; no unsafe getuid() needed.
        if std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0)
            != 0
        {
            bail!("Postfix test instances need root (postfix start, chown to the postfix user)");
        }
        let dir = temp_dir("postfix-")?;
        let base = dir.path().to_path_buf();
        // Postfix processes run as `postfix` and must traverse to the queue directory.
        run(Command::new("chmod").arg("0755").arg(&base))?;
        let config_dir = base.join("etc");
        let queue_dir = base.join("spool");
        let data_dir = base.join("data");
        let mail_dir = base.join("mail");
        for d in [&config_dir, &queue_dir, &data_dir, &mail_dir] {
            std::fs::create_dir_all(d)?;
        }
        run(Command::new("chown").arg("postfix:postfix").arg(&data_dir))?;
        run(Command::new("chmod").arg("1777").arg(&mail_dir))?;
        std::fs::copy(
            "/usr/share/postfix/main.cf.dist",
            config_dir.join("main.cf"),
        )
        .context("copying main.cf.dist (apt-get install postfix)")?;
        std::fs::copy(
            "/usr/share/postfix/master.cf.dist",
            config_dir.join("master.cf"),
        )?;
        // texthash: tables take "key value", not the "key: value" of aliases(5).
        std::fs::write(config_dir.join("aliases"), "postmaster root\n")?;
        let log_path = base.join("maillog");
        let smtp_port = net::free_port();
        let showq_port = opts.showq_inet.then(net::free_port);

        let mut settings: Vec<String> = vec![
            format!("config_directory = {}", config_dir.display()),
            format!("queue_directory = {}", queue_dir.display()),
            format!("data_directory = {}", data_dir.display()),
            // main.cf.dist leaves these empty and postfix refuses empty strings.
            "mail_owner = postfix".into(),
            "setgid_group = postdrop".into(),
            "sendmail_path = /usr/sbin/sendmail".into(),
            "newaliases_path = /usr/bin/newaliases".into(),
            "mailq_path = /usr/bin/mailq".into(),
            "html_directory = no".into(),
            "readme_directory = no".into(),
            "manpage_directory = /usr/share/man".into(),
            "sample_directory = /usr/share/doc/postfix/examples".into(),
            format!("maillog_file = {}", log_path.display()),
            format!(
                "maillog_file_prefixes = /var, /dev/stdout, {}",
                base.display()
            ),
            format!("myhostname = {MYHOSTNAME}"),
            "mydomain = test.local".into(),
            "myorigin = $myhostname".into(),
            "mydestination = $myhostname, localhost".into(),
            "inet_interfaces = loopback-only".into(),
            "inet_protocols = ipv4".into(),
            "mynetworks = 127.0.0.0/8".into(),
            format!("relayhost = {CLOSED_RELAYHOST}"),
            "smtpd_authorized_xclient_hosts = 127.0.0.1".into(),
            // Keep local delivery inside the temp dir, away from /etc/aliases and /var/mail.
            format!(
                "alias_maps = texthash:{}",
                config_dir.join("aliases").display()
            ),
            "alias_database =".into(),
            format!("mail_spool_directory = {}", mail_dir.display()),
            "biff = no".into(),
        ];
        if !opts.transports.is_empty() {
            let table: String = opts
                .transports
                .iter()
                .map(|(d, n)| format!("{d} {n}\n"))
                .collect();
            let path = config_dir.join("transport");
            std::fs::write(&path, table)?;
            settings.push(format!("transport_maps = texthash:{}", path.display()));
        }
        settings.extend(opts.main_cf.iter().cloned());

        let cfg = config_dir.display().to_string();
        let mut postconf_e = Command::new("postconf");
        postconf_e.args(["-c", &cfg, "-e"]).args(&settings);
        run(&mut postconf_e)?;
        // No chroot: a chrooted daemon would need copies of /etc files in the temp queue dir.
        run(Command::new("postconf").args(["-c", &cfg, "-F", "*/*/chroot = n"]))?;
        run(Command::new("postconf").args(["-c", &cfg, "-M#", "smtp/inet"]))?;
        let mut services = vec![format!(
            "127.0.0.1:{smtp_port}/inet = 127.0.0.1:{smtp_port} inet n - n - - smtpd"
        )];
        if let Some(p) = showq_port {
            services.push(format!(
                "127.0.0.1:{p}/inet = 127.0.0.1:{p} inet n - n - - showq"
            ));
        }
        for s in &services {
            run(Command::new("postconf").args(["-c", &cfg, "-Me", s]))?;
        }
        if !opts.master_cf.is_empty() {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(config_dir.join("master.cf"))?;
            for l in &opts.master_cf {
                writeln!(f, "{l}")?;
            }
        }

        let mut pf = Postfix {
            config_dir,
            queue_dir,
            log_path,
            smtp_port,
            showq_port,
            master_pid: None,
            stopped: false,
            dir,
        };
        // `postfix` prints why it failed only to a terminal: run it under script(1).
        let out = Command::new("script")
            .args(["-qec", &format!("postfix -c {cfg} start"), "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .context("running script -qec 'postfix start'")?;
        if !out.status.success() {
            bail!(
                "postfix -c {cfg} start failed ({}):\n{}\nmaillog:\n{}",
                out.status,
                both(&out),
                tail(&pf.log(), 20)
            );
        }
        pf.wait_started(Duration::from_secs(30))?;
        Ok(pf)
    }

    fn wait_started(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut addrs = vec![net::loopback(self.smtp_port)];
        addrs.extend(self.showq_port.map(net::loopback));
        loop {
            if self.master_pid.is_none() {
                self.master_pid = std::fs::read_to_string(self.queue_dir.join("pid/master.pid"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
            }
            let log_ok = self.log().contains("daemon started");
            if log_ok && self.master_pid.is_some() && addrs.iter().all(|a| net::tcp_open(*a)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "postfix in {} not ready after {timeout:?} (master pid {:?}, log has \
                     'daemon started': {log_ok}, ports {addrs:?}); maillog:\n{}",
                    self.config_dir.display(),
                    self.master_pid,
                    tail(&self.log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The instance's `config_directory` (pass to `-c`).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The instance's `queue_directory`.
    pub fn queue_dir(&self) -> &Path {
        &self.queue_dir
    }

    /// The temp dir holding everything.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `maillog_file`.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The mail log so far (empty if it does not exist yet).
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The smtpd port on 127.0.0.1.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// `127.0.0.1:<smtpd port>`.
    pub fn smtp_addr(&self) -> SocketAddr {
        net::loopback(self.smtp_port)
    }

    /// The showq inet service, when [`PostfixOptions::showq_inet`] was set.
    pub fn showq_addr(&self) -> Option<SocketAddr> {
        self.showq_port.map(net::loopback)
    }

    /// `$queue_directory/public/showq` (the unix socket).
    pub fn showq_socket_path(&self) -> PathBuf {
        self.queue_dir.join("public/showq")
    }

    /// The master's pid, from `pid/master.pid`.
    pub fn master_pid(&self) -> Option<u32> {
        self.master_pid
    }

    fn cfg(&self) -> String {
        self.config_dir.display().to_string()
    }

    /// `postconf -c DIR <args>`; returns stdout.
    pub fn postconf(&self, args: &[&str]) -> Result<String> {
        run(Command::new("postconf")
            .args(["-c", &self.cfg()])
            .args(args))
    }

    /// `postfix -c DIR reload`.
    pub fn reload(&self) -> Result<()> {
        run(Command::new("postfix").args(["-c", &self.cfg(), "reload"])).map(drop)
    }

    /// `postfix -c DIR logrotate` (renames and compresses the maillog file).
    pub fn logrotate(&self) -> Result<()> {
        run(Command::new("postfix").args(["-c", &self.cfg(), "logrotate"])).map(drop)
    }

    /// `postfix -c DIR flush` (retry deferred mail now).
    pub fn flush(&self) -> Result<()> {
        run(Command::new("postfix").args(["-c", &self.cfg(), "flush"])).map(drop)
    }

    /// Submits a message with `sendmail -C DIR -f from -- rcpts` (body on stdin, headers
    /// included, e.g. `"Subject: x\n\nbody\n"`).
    pub fn sendmail(&self, from: &str, rcpts: &[&str], body: &str) -> Result<()> {
        let mut child = Command::new("sendmail")
            .args(["-C", &self.cfg(), "-f", from, "--"])
            .args(rcpts)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning sendmail")?;
        child
            .stdin
            .take()
            .context("sendmail stdin")?
            .write_all(body.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("sendmail failed ({}): {}", out.status, both(&out));
        }
        Ok(())
    }

    /// Sends one message over SMTP to smtpd (EHLO, MAIL, RCPT per recipient, DATA if any
    /// recipient was accepted, QUIT); returns the transcript, one `"<command> -> <reply>"`
    /// line per step. Rejections are not errors: they are in the transcript (and the log).
    pub fn smtp_send(&self, from: &str, rcpts: &[&str], body: &str) -> Result<Vec<String>> {
        smtp_session(self.smtp_addr(), from, rcpts, body)
    }

    /// `postqueue -c DIR -j`: one JSON object per queued message.
    pub fn postqueue_j(&self) -> Result<String> {
        run(Command::new("postqueue").args(["-c", &self.cfg(), "-j"]))
    }

    /// `mailq` of this instance (`sendmail -C DIR -bp`).
    pub fn mailq(&self) -> Result<String> {
        run(Command::new("sendmail").args(["-C", &self.cfg(), "-bp"]))
    }

    /// `qshape -c DIR <args>` (e.g. `&["deferred"]`, `&["-s", "hold"]`).
    pub fn qshape(&self, args: &[&str]) -> Result<String> {
        run(Command::new("qshape").args(["-c", &self.cfg()]).args(args))
    }

    /// `postsuper -c DIR <args>` (e.g. `&["-h", "ALL"]`, `&["-d", "ALL"]`); returns stdout
    /// and stderr (postsuper reports what it did on stderr).
    pub fn postsuper(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("postsuper")
            .args(["-c", &self.cfg()])
            .args(args)
            .output()
            .context("running postsuper")?;
        if !out.status.success() {
            bail!("postsuper {args:?} failed ({}): {}", out.status, both(&out));
        }
        Ok(both(&out))
    }

    /// Messages per queue from `postqueue -j`; all of [`QUEUES`] are present (0 when empty).
    pub fn queue_counts(&self) -> Result<BTreeMap<String, usize>> {
        let mut counts: BTreeMap<String, usize> =
            QUEUES.iter().map(|q| (q.to_string(), 0)).collect();
        for line in self.postqueue_j()?.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("postqueue -j line {line:?}"))?;
            let q = v["queue_name"].as_str().unwrap_or("?").to_string();
            *counts.entry(q).or_default() += 1;
        }
        Ok(counts)
    }

    /// Polls [`Postfix::queue_counts`] every 100 ms until `pred` accepts it.
    pub fn wait_queue(
        &self,
        pred: impl Fn(&BTreeMap<String, usize>) -> bool,
        timeout: Duration,
    ) -> Result<BTreeMap<String, usize>> {
        let deadline = Instant::now() + timeout;
        loop {
            let counts = self.queue_counts()?;
            if pred(&counts) {
                return Ok(counts);
            }
            if Instant::now() >= deadline {
                bail!(
                    "queue not as expected after {timeout:?}: {counts:?}\nmaillog:\n{}",
                    tail(&self.log(), 20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `maildrop`, `incoming` and `active` are empty on two polls in a row (every
    /// message delivered, deferred, bounced or held) and returns the counts.
    pub fn wait_queue_settled(&self, timeout: Duration) -> Result<BTreeMap<String, usize>> {
        let settled = |c: &BTreeMap<String, usize>| {
            ["maildrop", "incoming", "active"]
                .iter()
                .all(|q| c.get(*q).copied().unwrap_or(0) == 0)
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait_queue(settled, left)?;
            std::thread::sleep(Duration::from_millis(200));
            let again = self.queue_counts()?;
            if settled(&again) {
                return Ok(again);
            }
        }
    }

    /// Waits until `deferred` holds exactly `n` messages and nothing is in flight.
    pub fn wait_deferred(&self, n: usize, timeout: Duration) -> Result<BTreeMap<String, usize>> {
        self.wait_queue(
            |c| {
                c.get("deferred") == Some(&n)
                    && ["maildrop", "incoming", "active"]
                        .iter()
                        .all(|q| c.get(*q).copied().unwrap_or(0) == 0)
            },
            timeout,
        )
    }

    /// Waits until the mail log contains `needle` at least `count` times; returns the log.
    pub fn wait_log(&self, needle: &str, count: usize, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            let seen = log.matches(needle).count();
            if seen >= count {
                return Ok(log);
            }
            if Instant::now() >= deadline {
                bail!(
                    "maillog has {seen} of {count} {needle:?} after {timeout:?}:\n{}",
                    tail(&log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the instance (`postfix stop`, then SIGKILL of the master if it lingers).
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let _ = Command::new("postfix")
            .args(["-c", &self.cfg(), "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let Some(pid) = self.master_pid else {
            return Ok(());
        };
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if proc_dir.exists() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            bail!("postfix master {pid} did not stop within 10 s; killed");
        }
        Ok(())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- postfix {} maillog tail ----\n{}",
                self.config_dir.display(),
                tail(&self.log(), 40)
            );
        }
        let _ = self.stop();
    }
}

/// An `smtp-sink` accepting mail (status=sent) or rejecting every RCPT with 5xx
/// (status=bounced), as a next hop for [`PostfixOptions::transport`].
#[derive(Debug)]
pub struct SmtpSink {
    daemon: Daemon,
    port: u16,
    dir: TempDir,
}

impl SmtpSink {
    /// Starts `smtp-sink -u postfix [-f rcpt] 127.0.0.1:PORT 100` on a free port.
    pub fn start(reject_rcpt: bool) -> Result<SmtpSink> {
        let dir = temp_dir("smtp-sink-")?;
        let port = net::free_port();
        let mut cmd = Command::new("smtp-sink");
        cmd.args(["-u", "postfix"]);
        if reject_rcpt {
            cmd.args(["-f", "rcpt"]);
        }
        cmd.arg(format!("127.0.0.1:{port}")).arg("100");
        let mut daemon = Daemon::spawn("smtp-sink", cmd, dir.path())?;
        daemon.wait_tcp(net::loopback(port), Duration::from_secs(10))?;
        Ok(SmtpSink { daemon, port, dir })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp:[127.0.0.1]:PORT`, a `transport_maps` next hop.
    pub fn nexthop(&self) -> String {
        format!("smtp:[127.0.0.1]:{}", self.port)
    }

    /// The process guard.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// The temp dir holding the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A minimal SMTP client session (see [`Postfix::smtp_send`]).
pub fn smtp_session(
    addr: SocketAddr,
    from: &str,
    rcpts: &[&str],
    body: &str,
) -> Result<Vec<String>> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let mut transcript = Vec::new();
    let mut step = |cmd: Option<&str>, r: &mut BufReader<TcpStream>| -> Result<u16> {
        if let Some(c) = cmd {
            w.write_all(format!("{c}\r\n").as_bytes())?;
        }
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                bail!("connection closed after {cmd:?}");
            }
            reply.push_str(line.trim_end());
            // Multi-line replies have '-' after the code; the last line has ' '.
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
            reply.push_str(" | ");
        }
        let code = reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        let shown = match cmd {
            Some(c) if c.len() > 60 => format!("{}...", c.get(..60).unwrap_or(c)),
            Some(c) => c.to_string(),
            None => "<connect>".to_string(),
        };
        transcript.push(format!("{shown} -> {reply}"));
        Ok(code)
    };
    step(None, &mut r)?;
    step(Some("EHLO client.test.local"), &mut r)?;
    step(Some(&format!("MAIL FROM:<{from}>")), &mut r)?;
    let mut accepted = 0;
    for rc in rcpts {
        if step(Some(&format!("RCPT TO:<{rc}>")), &mut r)? / 100 == 2 {
            accepted += 1;
        }
    }
    if accepted > 0 && step(Some("DATA"), &mut r)? == 354 {
        let mut data = String::new();
        for l in body.lines() {
            if l.starts_with('.') {
                data.push('.');
            }
            data.push_str(l);
            data.push_str("\r\n");
        }
        data.push('.');
        step(Some(&data), &mut r)?;
    }
    step(Some("QUIT"), &mut r)?;
    Ok(transcript)
}

/// Runs a command; fails with its output unless it exits 0; returns stdout.
fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({}):\n{}", out.status, both(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
