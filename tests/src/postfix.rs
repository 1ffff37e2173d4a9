//! Throw-away Postfix instances: own config, queue, data and log directories, smtpd on a free
//! loopback port, mail for other domains deferred on a closed relayhost.
//!
//! How and why each instance is set up this way is in docs/development.md; it needs root
//! (Postfix drops to the `postfix` user itself).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::daemon::tail;
use crate::instance::{Instance, InstanceBuilder, output_text};
pub use crate::smtp::smtp_session;
use crate::{Daemon, net};

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

    /// STARTTLS in smtpd (`smtpd_tls_security_level = may`) with `pki`'s server certificate;
    /// hands the PKI's files to the postfix user, which reads the key.
    pub fn tls(self, pki: &crate::pki::Pki) -> Self {
        let chown = std::process::Command::new("chown")
            .arg("-R")
            .arg("postfix")
            .arg(pki.dir())
            .status();
        assert!(
            chown.is_ok_and(|s| s.success()),
            "chown of the PKI dir to postfix failed"
        );
        self.param(&format!(
            "smtpd_tls_cert_file = {}",
            pki.path("server.crt").display()
        ))
        .param(&format!(
            "smtpd_tls_key_file = {}",
            pki.path("server.key").display()
        ))
        .param("smtpd_tls_security_level = may")
    }

    /// Routes `domain` to `nexthop` through `transport_maps`.
    pub fn transport(mut self, domain: &str, nexthop: &str) -> Self {
        self.transports
            .push((domain.to_string(), nexthop.to_string()));
        self
    }
}

/// A running Postfix instance; `postfix stop` (then SIGKILL of the master by pid file) on drop.
///
/// The temp dir, ports, stop and log tail come from [`Instance`]; this type adds Postfix's
/// configuration (through `postconf`, on top of the shipped `main.cf.dist`) and its tools.
#[derive(Debug)]
pub struct Postfix {
    queue_dir: PathBuf,
    log_path: PathBuf,
    smtp_port: u16,
    showq_port: Option<u16>,
    master_pid: Option<u32>,
    inst: Instance,
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
        let mut builder = InstanceBuilder::new("postfix")
            .config_dir("etc")
            .run_dir("spool")
            // maillog_file at the root, so `postfix logrotate`'s files land next to it.
            .log_dir(".")
            .log_file("maillog")
            .dir("data")
            .dir("mail")
            .port("smtp")
            // texthash: tables take "key value", not the "key: value" of aliases(5).
            .config_file("aliases", "postmaster root\n")
            .stop_command(&["postfix", "-c", "@config_dir@", "stop"])
            .pid_file("spool/pid/master.pid");
        if opts.showq_inet {
            builder = builder.port("showq");
        }
        if !opts.transports.is_empty() {
            let table: String = opts
                .transports
                .iter()
                .map(|(d, n)| format!("{d} {n}\n"))
                .collect();
            builder = builder.config_file("transport", &table);
        }
        let inst = builder.build()?;
        let base = inst.dir().to_path_buf();
        let config_dir = inst.config_dir().to_path_buf();
        let queue_dir = inst.run_dir().to_path_buf();
        let data_dir = base.join("data");
        let mail_dir = base.join("mail");
        inst.run(Command::new("chown").arg("postfix:postfix").arg(&data_dir))?;
        inst.run(Command::new("chmod").arg("1777").arg(&mail_dir))?;
        std::fs::copy(
            "/usr/share/postfix/main.cf.dist",
            config_dir.join("main.cf"),
        )
        .context("copying main.cf.dist (apt-get install postfix)")?;
        std::fs::copy(
            "/usr/share/postfix/master.cf.dist",
            config_dir.join("master.cf"),
        )?;
        let log_path = base.join("maillog");
        let smtp_port = inst.port("smtp")?;
        let showq_port = opts.showq_inet.then(|| inst.port("showq")).transpose()?;

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
            settings.push(format!(
                "transport_maps = texthash:{}",
                config_dir.join("transport").display()
            ));
        }
        settings.extend(opts.main_cf.iter().cloned());

        let cfg = config_dir.display().to_string();
        let mut postconf_e = Command::new("postconf");
        postconf_e.args(["-c", &cfg, "-e"]).args(&settings);
        inst.run(&mut postconf_e)?;
        // No chroot: a chrooted daemon would need copies of /etc files in the temp queue dir.
        inst.run(Command::new("postconf").args(["-c", &cfg, "-F", "*/*/chroot = n"]))?;
        inst.run(Command::new("postconf").args(["-c", &cfg, "-M#", "smtp/inet"]))?;
        let mut services = vec![format!(
            "127.0.0.1:{smtp_port}/inet = 127.0.0.1:{smtp_port} inet n - n - - smtpd"
        )];
        if let Some(p) = showq_port {
            services.push(format!(
                "127.0.0.1:{p}/inet = 127.0.0.1:{p} inet n - n - - showq"
            ));
        }
        for s in &services {
            inst.run(Command::new("postconf").args(["-c", &cfg, "-Me", s]))?;
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
            queue_dir,
            log_path,
            smtp_port,
            showq_port,
            master_pid: None,
            inst,
        };
        // `postfix` prints why it failed only to a terminal: run it under script(1).
        pf.inst.run(Command::new("script").args([
            "-qec",
            &format!("postfix -c {cfg} start"),
            "/dev/null",
        ]))?;
        let mut addrs = vec![net::loopback(smtp_port)];
        addrs.extend(showq_port.map(net::loopback));
        let what = format!("master pid file, 'daemon started' in the maillog, ports {addrs:?}");
        let inst = &mut pf.inst;
        // Listening, not connected to: a probe connection is an smtpd session of its own
        // (connect, lost connection, disconnect) that lands in the log some time later and
        // would be counted by an exporter started meanwhile.
        inst.wait_until(&what, Duration::from_secs(30), |i| {
            i.log().contains("daemon started") && addrs.iter().all(|a| net::tcp_listening(a.port()))
        })?;
        inst.wait_until("master pid file", Duration::from_secs(5), |i| {
            i.pid_file_pid().is_some()
        })?;
        pf.master_pid = pf.inst.pid();
        Ok(pf)
    }

    /// The instance's `config_directory` (pass to `-c`).
    pub fn config_dir(&self) -> &Path {
        self.inst.config_dir()
    }

    /// The instance's `queue_directory`.
    pub fn queue_dir(&self) -> &Path {
        &self.queue_dir
    }

    /// The temp dir holding everything.
    pub fn dir(&self) -> &Path {
        self.inst.dir()
    }

    /// The daemon-neutral instance (temp dir, ports, log, stop).
    pub fn instance(&self) -> &Instance {
        &self.inst
    }

    /// The `maillog_file`.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The mail log so far (empty if it does not exist yet).
    pub fn log(&self) -> String {
        self.inst.log()
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
        self.inst.config_dir().display().to_string()
    }

    /// `postconf -c DIR <args>`; returns stdout.
    pub fn postconf(&self, args: &[&str]) -> Result<String> {
        self.inst.run(
            Command::new("postconf")
                .args(["-c", &self.cfg()])
                .args(args),
        )
    }

    /// `postfix -c DIR reload`.
    pub fn reload(&self) -> Result<()> {
        self.inst
            .run(Command::new("postfix").args(["-c", &self.cfg(), "reload"]))
            .map(drop)
    }

    /// `postfix -c DIR logrotate` (renames and compresses the maillog file).
    pub fn logrotate(&self) -> Result<()> {
        self.inst
            .run(Command::new("postfix").args(["-c", &self.cfg(), "logrotate"]))
            .map(drop)
    }

    /// `postfix -c DIR flush` (retry deferred mail now).
    pub fn flush(&self) -> Result<()> {
        self.inst
            .run(Command::new("postfix").args(["-c", &self.cfg(), "flush"]))
            .map(drop)
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
            bail!("sendmail failed ({}): {}", out.status, output_text(&out));
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
        self.inst
            .run(Command::new("postqueue").args(["-c", &self.cfg(), "-j"]))
    }

    /// `mailq` of this instance (`sendmail -C DIR -bp`).
    pub fn mailq(&self) -> Result<String> {
        self.inst
            .run(Command::new("sendmail").args(["-C", &self.cfg(), "-bp"]))
    }

    /// `qshape -c DIR <args>` (e.g. `&["deferred"]`, `&["-s", "hold"]`).
    pub fn qshape(&self, args: &[&str]) -> Result<String> {
        self.inst
            .run(Command::new("qshape").args(["-c", &self.cfg()]).args(args))
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
            bail!(
                "postsuper {args:?} failed ({}): {}",
                out.status,
                output_text(&out)
            );
        }
        Ok(output_text(&out))
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

    /// A small queue with every kind of entry showq reports: three messages to four
    /// recipients deferred (on the closed relayhost), then the first of them held. Returns
    /// the queue counts (2 deferred, 1 held).
    pub fn fill_deferred_and_held(&self, timeout: Duration) -> Result<BTreeMap<String, usize>> {
        let body = "Subject: queued\n\nhello\n";
        let from = "alice@mx.test.local";
        self.sendmail(from, &["dave@example.com", "erin@example.org"], body)?;
        self.sendmail(from, &["frank@example.net"], body)?;
        self.sendmail(from, &["gina@example.com"], body)?;
        self.wait_deferred(3, timeout)?;
        let q = self.postqueue_j()?;
        let first: serde_json::Value =
            serde_json::from_str(q.lines().next().context("postqueue -j printed nothing")?)?;
        let id = first["queue_id"]
            .as_str()
            .context("postqueue -j: no queue_id")?;
        self.postsuper(&["-h", id])?;
        let counts = self.queue_counts()?;
        anyhow::ensure!(
            counts.get("deferred") == Some(&2) && counts.get("hold") == Some(&1),
            "queue after holding one: {counts:?}"
        );
        Ok(counts)
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
        self.inst.stop()
    }
}

/// qshape's rows: domain (or `TOTAL`) → counts, `T` first.
pub type QshapeRows = BTreeMap<String, Vec<u64>>;

/// qshape's output as its column headers (after `T`) and its rows, parsed independently of
/// the exporter.
pub fn parse_qshape(text: &str) -> Result<(Vec<String>, QshapeRows)> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .context("qshape printed no header")?
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    let mut rows = BTreeMap::new();
    for l in lines {
        let mut f = l.split_whitespace();
        let domain = f.next().context("empty qshape row")?;
        let counts = f
            .map(|x| x.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .with_context(|| format!("qshape row {l:?}"))?;
        if counts.len() != header.len() + 1 {
            bail!("qshape row {l:?} does not match the header {header:?}");
        }
        rows.insert(domain.to_string(), counts);
    }
    Ok((header, rows))
}

/// Moves the arrival time (`T` record) of every queue file in `queue` back by `age_of(i)`
/// seconds (files in path order), so that real messages land in chosen qshape age buckets.
/// The digits are rewritten in place with the same length, so record lengths stay valid.
/// Returns how many files were aged.
pub fn age_queue_files(
    queue_dir: &Path,
    queue: &str,
    age_of: impl Fn(usize) -> u64,
) -> Result<usize> {
    let mut files = Vec::new();
    collect_files(&queue_dir.join(queue), &mut files)?;
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let mut b = std::fs::read(f)?;
        let range = time_record(&b).with_context(|| format!("no T record in {}", f.display()))?;
        let data = b.get_mut(range).context("T record past the end")?;
        let text = std::str::from_utf8(data)?.to_string();
        let secs_txt = text.split_whitespace().next().context("empty T record")?;
        let secs: u64 = secs_txt.parse()?;
        let new = format!("{}", secs.saturating_sub(age_of(i)));
        if new.len() != secs_txt.len() {
            bail!("age changes the digit count");
        }
        data.get_mut(..new.len())
            .context("T record too short")?
            .copy_from_slice(new.as_bytes());
        std::fs::write(f, &b)?;
    }
    Ok(files.len())
}

/// Where the data of the `T` record is, if it is among the first two records (after `C`).
fn time_record(b: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut pos = 0usize;
    for _ in 0..2 {
        let typ = *b.get(pos)?;
        pos += 1;
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let o = *b.get(pos)?;
            pos += 1;
            len |= usize::from(o & 0x7f) << shift;
            if o & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
        if typ == b'T' {
            return Some(pos..pos + len);
        }
        pos += len;
    }
    None
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            collect_files(&e.path(), out)?;
        } else {
            out.push(e.path());
        }
    }
    Ok(())
}

/// An `smtp-sink` accepting mail (status=sent) or rejecting every RCPT with 5xx
/// (status=bounced), as a next hop for [`PostfixOptions::transport`].
#[derive(Debug)]
pub struct SmtpSink {
    inst: Instance,
    port: u16,
}

impl SmtpSink {
    /// Starts `smtp-sink -u postfix [-f rcpt] 127.0.0.1:PORT 100` on a free port.
    pub fn start(reject_rcpt: bool) -> Result<SmtpSink> {
        let mut inst = InstanceBuilder::new("smtp-sink").port("smtp").build()?;
        let port = inst.port("smtp")?;
        let mut cmd = Command::new("smtp-sink");
        cmd.args(["-u", "postfix"]);
        if reject_rcpt {
            cmd.args(["-f", "rcpt"]);
        }
        cmd.arg(format!("127.0.0.1:{port}")).arg("100");
        inst.spawn("smtp-sink", cmd)?;
        let addr = net::loopback(port);
        inst.wait_until(
            &format!("listening on {addr}"),
            Duration::from_secs(10),
            |_| net::tcp_open(addr),
        )?;
        Ok(SmtpSink { inst, port })
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
    pub fn daemon(&mut self) -> Option<&mut Daemon> {
        self.inst.children().first_mut()
    }

    /// The temp dir holding the log.
    pub fn dir(&self) -> &Path {
        self.inst.dir()
    }
}
