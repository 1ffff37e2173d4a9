//! Throw-away ProFTPd 1.3.8 instances: own config, users, homes, logs and scoreboard in a
//! temp dir, FTP on a free loopback port with a passive range, run in the foreground
//! (`proftpd -n -q`, so the SystemLog goes to its file) as a child of the test and stopped
//! by PID. Nothing from `/etc/proftpd` is read. Needs root (ProFTPd binds, then switches to
//! each user) and Debian's `proftpd-core`.
//!
//! ```no_run
//! use e2e_tests::proftpd::{ProFtpd, ProFtpdOptions};
//! let ftp = ProFtpd::start(ProFtpdOptions::new())?;
//! let xferlog = ftp.transfer_log();
//! # let _ = xferlog;
//! # anyhow::Ok(())
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::instance::{Instance, InstanceBuilder};
use crate::net;

/// Users every instance has, with their passwords.
pub const FTP_USERS: [(&str, &str); 2] = [("alice", "alice-ftp-1"), ("bob", "bob-ftp-2")];

/// The uid and gid the FTP users' sessions run as (`nobody`/`nogroup`): homes are theirs.
pub const FTP_UID: u32 = 65534;

/// How many passive ports an instance reserves after the first.
const PASSIVE_SPAN: u16 = 19;

const CONFIG: &str = r#"# Written by the e2e-tests harness (tests/src/proftpd.rs); /etc/proftpd is not read.
ServerName            "e2e-proftpd"
ServerType            standalone
DefaultServer         on
Port                  @port:ftp@
DefaultAddress        127.0.0.1
SocketBindTight       on
UseIPv6               off
UseReverseDNS         off
User                  nobody
Group                 nogroup
PidFile               @run_dir@/proftpd.pid
ScoreboardFile        @run_dir@/proftpd.scoreboard
WtmpLog               off
RequireValidShell     off
AuthOrder             mod_auth_file.c
AuthUserFile          @config_dir@/ftpd.passwd
DefaultRoot           ~
PassivePorts          @passive_low@ @passive_high@
AllowOverwrite        on
MaxLoginAttempts      3
TimeoutIdle           60
# Failed logins answer at once: tests make several on purpose.
DelayEngine           off
SyslogLevel           info
SystemLog             @log_dir@/proftpd.log
TransferLog           @log_dir@/xferlog
"#;

/// How to build a [`ProFtpd`] beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct ProFtpdOptions {
    /// Config lines appended after the defaults (`@log_dir@` etc. rendered).
    pub config: Vec<String>,
    /// Load mod_tls and make a certificate ([`ProFtpdOptions::tls`]).
    pub tls: bool,
}

impl ProFtpdOptions {
    /// The defaults: FTP, [`FTP_USERS`], TransferLog and SystemLog.
    pub fn new() -> Self {
        Self::default()
    }

    /// ExtendedLogs in three formats, in `log/`: `metrics.log` (classes ALL and EXIT, the
    /// metrics-friendly format of docs/proftpd.md), then `auth.log` (AUTH, the classic
    /// `auth` format) and `write.log` (WRITE and READ, the classic `write` format), whose
    /// classes overlap the first.
    pub fn extended_logs(self) -> Self {
        self.config(
            r#"LogFormat metrics "%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E"
LogFormat auth    "%v [%P] %h %t \"%r\" %s"
LogFormat write   "%h %l %u %t \"%r\" %s %b"
ExtendedLog @log_dir@/metrics.log ALL,EXIT metrics
ExtendedLog @log_dir@/auth.log AUTH auth
ExtendedLog @log_dir@/write.log WRITE,READ write
"#,
        )
    }

    /// FTPS: mod_tls with a throwaway self-signed certificate (made at start), TLSv1.2
    /// and 1.3, TLS optional, the TLSLog in `log/tls.log`; data channels need not resume
    /// the control connection's TLS session (clients like curl do not always).
    pub fn tls(self) -> Self {
        self.tls_with("  TLSOptions NoSessionReuseRequired\n")
    }

    /// FTPS as [`ProFtpdOptions::tls`] but with ProFTPd's default: every data channel must
    /// resume the control connection's TLS session, as a strict client has to.
    pub fn tls_session_reuse_required(self) -> Self {
        self.tls_with("")
    }

    fn tls_with(mut self, options: &str) -> Self {
        self.tls = true;
        self.config(&format!(
            "<IfModule mod_tls.c>
  TLSEngine on
  TLSLog @log_dir@/tls.log
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRSACertificateFile @config_dir@/tls.crt
  TLSRSACertificateKeyFile @config_dir@/tls.key
  TLSRequired off
{options}</IfModule>
"
        ))
    }

    /// Appends config lines.
    pub fn config(mut self, block: &str) -> Self {
        self.config.push(block.to_string());
        self
    }
}

/// A running ProFTPd, stopped by PID on drop.
#[derive(Debug)]
pub struct ProFtpd {
    inst: Instance,
}

impl ProFtpd {
    /// Writes the config, the users and their homes, starts `proftpd -n -q` and waits until
    /// the FTP port listens.
    pub fn start(opts: ProFtpdOptions) -> Result<ProFtpd> {
        let passive = net::free_port();
        // mod_tls is a loadable module (Debian's proftpd-mod-crypto); it must come first.
        let modules = if opts.tls {
            "ModulePath /usr/lib/proftpd\nLoadModule mod_tls.c\n"
        } else {
            ""
        };
        let mut config = modules.to_string()
            + &CONFIG
                .replace("@passive_low@", &passive.to_string())
                .replace("@passive_high@", &(passive + PASSIVE_SPAN).to_string());
        for block in &opts.config {
            config.push('\n');
            config.push_str(block);
        }
        let mut inst = InstanceBuilder::new("proftpd")
            .port("ftp")
            .dir("home")
            .log_file("proftpd.log")
            .config_file("proftpd.conf", &config)
            .build()?;
        {
            use std::os::unix::fs::PermissionsExt;
            // ProFTPd reads the config and the homes as the session user.
            std::fs::set_permissions(inst.dir(), std::fs::Permissions::from_mode(0o755))?;
        }
        let mut passwd = String::new();
        for (user, password) in FTP_USERS {
            let home = inst.dir().join("home").join(user);
            std::fs::create_dir_all(&home)?;
            std::os::unix::fs::chown(&home, Some(FTP_UID), Some(FTP_UID))
                .with_context(|| format!("chown {}", home.display()))?;
            let hash = inst
                .run(Command::new("openssl").args(["passwd", "-6", password]))?
                .trim()
                .to_string();
            // name:hash:uid:gid:gecos:home:shell
            passwd.push_str(&format!(
                "{user}:{hash}:{FTP_UID}:{FTP_UID}::{}:/bin/false\n",
                home.display()
            ));
        }
        let users = inst.write_config("ftpd.passwd", &passwd)?;
        if opts.tls {
            let (key, crt) = (inst.config_path("tls.key"), inst.config_path("tls.crt"));
            inst.run(
                Command::new("openssl")
                    .args([
                        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    ])
                    .args(["-subj", "/CN=127.0.0.1", "-keyout"])
                    .arg(&key)
                    .arg("-out")
                    .arg(&crt),
            )
            .context("making the FTPS certificate")?;
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600))?;
        }
        let conf = inst.config_path("proftpd.conf");
        inst.run(Command::new("proftpd").arg("-t").arg("-c").arg(&conf))
            .context("proftpd -t (apt-get install proftpd-core)")?;
        let mut cmd = Command::new("proftpd");
        cmd.arg("-n").arg("-q").arg("-c").arg(&conf);
        inst.spawn("proftpd", cmd).context("starting proftpd")?;
        let port = inst.port("ftp")?;
        inst.wait_until("the FTP port", Duration::from_secs(30), |_| {
            net::tcp_listening(port)
        })?;
        Ok(ProFtpd { inst })
    }

    /// 127.0.0.1 and the FTP port.
    pub fn addr(&self) -> Result<SocketAddr> {
        self.inst.addr("ftp")
    }

    /// The TransferLog (xferlog).
    pub fn transfer_log(&self) -> PathBuf {
        self.inst.log_dir().join("xferlog")
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.inst.config_path("proftpd.conf")
    }

    /// A file in the log dir (`metrics.log` of [`ProFtpdOptions::extended_logs`]).
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.inst.log_dir().join(name)
    }

    /// The SystemLog.
    pub fn system_log(&self) -> PathBuf {
        self.inst.log_dir().join("proftpd.log")
    }

    /// The scoreboard file.
    pub fn scoreboard(&self) -> PathBuf {
        self.inst.run_dir().join("proftpd.scoreboard")
    }

    /// The PidFile (the daemon's pid).
    pub fn pid_file(&self) -> PathBuf {
        self.inst.run_dir().join("proftpd.pid")
    }

    /// A user's home (what the user sees as `/`).
    pub fn home(&self, user: &str) -> PathBuf {
        self.inst.dir().join("home").join(user)
    }

    /// The temp dir holding everything.
    pub fn dir(&self) -> &Path {
        self.inst.dir()
    }

    /// Runs `tests/python/ftp_traffic.py` against this instance with the users' passwords
    /// and returns what each step got.
    pub fn python_traffic(&self, passwords: &serde_json::Value) -> Result<serde_json::Value> {
        self.python_script(passwords, &[])
    }

    /// The FTPS steps of `tests/python/ftp_traffic.py` (built with [`ProFtpdOptions::tls`]).
    pub fn python_tls_traffic(&self, passwords: &serde_json::Value) -> Result<serde_json::Value> {
        self.python_script(passwords, &["tls"])
    }

    fn python_script(
        &self,
        passwords: &serde_json::Value,
        extra: &[&str],
    ) -> Result<serde_json::Value> {
        let script = crate::exporter::workspace_root().join("tests/python/ftp_traffic.py");
        let out = Command::new(crate::tools::venv_python()?)
            .arg(script)
            .arg(self.addr()?.port().to_string())
            .arg(passwords.to_string())
            .args(extra)
            .output()
            .context("running ftp_traffic.py")?;
        if !out.status.success() {
            bail!("ftp_traffic.py: {}", String::from_utf8_lossy(&out.stderr));
        }
        serde_json::from_slice(&out.stdout).context("ftp_traffic.py output")
    }

    /// A control connection that has read the greeting; with `login`, logged in as that
    /// user and password. Held open by the caller (the session lasts until it is dropped).
    pub fn control(&self, login: Option<(&str, &str)>) -> Result<BufReader<TcpStream>> {
        let s = TcpStream::connect(self.addr()?).context("connect ftp")?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut c = BufReader::new(s);
        expect(&mut c, "220")?;
        if let Some((user, password)) = login {
            command(&mut c, &format!("USER {user}"), "331")?;
            command(&mut c, &format!("PASS {password}"), "230")?;
        }
        Ok(c)
    }

    /// A logged-in session in the middle of an upload: `STOR name` accepted (150) and
    /// `first` bytes sent on the passive data connection, which the caller holds open.
    pub fn upload_in_progress(
        &self,
        user: &str,
        password: &str,
        name: &str,
        first: &[u8],
    ) -> Result<(BufReader<TcpStream>, TcpStream)> {
        let mut c = self.control(Some((user, password)))?;
        command(&mut c, "TYPE I", "200")?;
        let reply = command(&mut c, "PASV", "227")?;
        // 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).
        let nums: Vec<u16> = reply
            .split(['(', ')'])
            .nth(1)
            .context("PASV reply without (…)")?
            .split(',')
            .map(|n| n.trim().parse().context("PASV reply number"))
            .collect::<Result<_>>()?;
        let [.., p1, p2] = nums[..] else {
            bail!("PASV reply: {reply}");
        };
        let mut data = TcpStream::connect(("127.0.0.1", p1 * 256 + p2))?;
        command(&mut c, &format!("STOR {name}"), "150")?;
        data.write_all(first)?;
        Ok((c, data))
    }

    /// Stops the daemon (SIGTERM, SIGKILL after the grace period).
    pub fn stop(&mut self) -> Result<()> {
        self.inst.stop()
    }
}

/// Reads one reply (multi-line replies to their last line) and checks its code.
fn expect(c: &mut BufReader<TcpStream>, code: &str) -> Result<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if c.read_line(&mut line)? == 0 {
            bail!("connection closed waiting for {code}");
        }
        // `123-text` continues a reply; `123 text` ends it.
        if line.len() >= 4 && line.as_bytes()[3] == b' ' {
            break;
        }
    }
    if !line.starts_with(code) {
        bail!("expected {code}, got {}", line.trim_end());
    }
    Ok(line.trim_end().to_string())
}

/// Sends `cmd` and checks the reply code.
fn command(c: &mut BufReader<TcpStream>, cmd: &str, code: &str) -> Result<String> {
    c.get_mut().write_all(format!("{cmd}\r\n").as_bytes())?;
    expect(c, code)
}
