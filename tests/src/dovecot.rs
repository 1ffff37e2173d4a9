//! Throw-away Dovecot 2.3 instances: own config, base_dir, state, mail and log in a temp dir,
//! a passwd-file user database with known passwords, and an auth socket that Postfix's
//! `smtpd_sasl_type = dovecot` can use. IMAP on a free loopback port on request.
//!
//! Nothing from `/etc/dovecot` is read: the whole config is written here and passed with
//! `-c`. The master runs in the foreground (`dovecot -F`) as a child of the test and is
//! stopped by PID. It needs root and Debian's `dovecot` and `dovenull` users (the
//! `default_internal_user` and `default_login_user`), which installing `dovecot-core` creates.
//!
//! ```no_run
//! use e2e_tests::dovecot::{Dovecot, DovecotOptions};
//! let dovecot = Dovecot::start(DovecotOptions::new().imap())?;
//! // Postfix: smtpd_sasl_type = dovecot, smtpd_sasl_path = <this path>.
//! let socket = dovecot.auth_socket_path();
//! let (user, password) = dovecot.users()[0].clone();
//! assert!(dovecot.auth_test(&user, &password)?);
//! # let _ = socket;
//! # anyhow::Ok(())
//! ```
//!
//! Later tests add listeners (pop3, lmtp, stats-reader, OpenMetrics http) and `metric`
//! blocks with [`DovecotOptions::protocol`], [`DovecotOptions::port`] and
//! [`DovecotOptions::config`]; the start waits for every reserved port.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::instance::{Instance, InstanceBuilder};
use crate::net;

/// Users every instance has, with their passwords (`user@domain`, password).
pub const TEST_USERS: [(&str, &str); 2] = [
    ("alice@test.local", "alice-secret-1"),
    ("bob@test.local", "bob-secret-2"),
];

/// Name of the auth client socket in `base_dir` (mode 0666, for Postfix's smtpd).
pub const AUTH_SOCKET: &str = "auth-smtp";

/// A stats-reader on `127.0.0.1:@port:stats@` and four metrics, one of each shape: plain
/// counts, a quantized histogram, and a two-level `group_by` with fields.
pub const STATS_METRICS: &str = "
service stats {
  inet_listener stats-reader {
    address = 127.0.0.1
    port = @port:stats@
  }
}
metric auth_success {
  filter = event=auth_request_finished AND success=yes
}
metric auth_failures {
  filter = event=auth_request_finished AND NOT success=yes
}
metric auth_latency {
  filter = event=auth_request_finished
  group_by = duration:exponential:1:6:10
}
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_in bytes_out
  group_by = cmd_name tagged_reply_state
}
";

/// Old statistics (the 2.3 `old_stats` plugin and `old-stats` service) with an EXPORT
/// listener on `127.0.0.1:@port:oldstats@`, refreshed every second, IMAP commands tracked.
pub const OLD_STATS: &str = "
mail_plugins = $mail_plugins old_stats
protocol imap {
  mail_plugins = $mail_plugins imap_old_stats
}
plugin {
  old_stats_refresh = 1 secs
  old_stats_track_cmds = yes
}
service old-stats {
  fifo_listener old-stats-mail {
    user = mail
    mode = 0600
  }
  inet_listener {
    address = 127.0.0.1
    port = @port:oldstats@
  }
}
";

/// The user [`DovecotOptions::python_clients`] gives a 1 kB quota, and its password.
pub const QUOTA_USER: (&str, &str) = ("carol@test.local", "carol-pw");
/// The user [`DovecotOptions::python_clients`] disables (`nologin`), and its password.
pub const DISABLED_USER: (&str, &str) = ("dave@test.local", "dave-pw");

/// (metric, field) → (count, sum) of `doveadm stats dump`'s tab output; lines that are not
/// records are skipped.
pub fn stats_dump_table(out: &str) -> BTreeMap<(String, String), (f64, f64)> {
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(c), Some(s)) = (col("count"), col("sum")) else {
        return BTreeMap::new();
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| f.get(i)?.parse::<f64>().ok();
            Some((
                (f.first()?.to_string(), f.get(1)?.to_string()),
                (n(c)?, n(s)?),
            ))
        })
        .collect()
}

/// protocol → sessions, from `doveadm who`'s grouped listing (`username # proto …`).
pub fn who_sessions(out: &str) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for l in out.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let (Some(n), Some(proto)) = (f.get(1).and_then(|n| n.parse::<f64>().ok()), f.get(2)) {
            *m.entry(proto.to_string()).or_insert(0.0) += n;
        }
    }
    m
}

/// How long the start waits for the auth socket and the listeners.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How passwords are stored in the passwd-file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PasswordScheme {
    /// `{PLAIN}password`: readable in the file, no hashing.
    #[default]
    Plain,
    /// `{SHA512-CRYPT}$6$...`, hashed at setup by `doveadm pw`, as real servers store them.
    Sha512Crypt,
}

/// How to build a [`Dovecot`] instance beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct DovecotOptions {
    /// Users besides [`TEST_USERS`], `(user, password)`.
    pub users: Vec<(String, String)>,
    /// How the passwd-file stores the passwords.
    pub scheme: PasswordScheme,
    /// Protocols to serve (`protocols = ...`); none by default, auth only.
    pub protocols: Vec<String>,
    /// Free loopback ports to reserve, usable as `@port:KEY@` in [`DovecotOptions::config`].
    pub ports: Vec<String>,
    /// Config blocks appended verbatim after the defaults, rendered by [`Instance::render`].
    pub config: Vec<String>,
    /// Extra passwd-file fields per user (`nologin`, `userdb_quota_rule=*:storage=1k`).
    pub extra_fields: Vec<(String, String)>,
    /// The address every listener binds (`@listen@` in config blocks); 127.0.0.1 by default.
    pub listen: Option<std::net::Ipv4Addr>,
    /// Leave out the passwd-file passdb and userdb (a director brings its own).
    pub no_default_auth: bool,
    /// Fixed ports, besides the reserved ones, that the start waits for.
    pub fixed_ports: Vec<u16>,
    /// `instance_name` (process titles are `dovecot-<name>/…`); `e2e-dovecot` by default.
    pub instance_name: Option<String>,
}

impl DovecotOptions {
    /// Auth only: the [`TEST_USERS`] in `{PLAIN}`, no protocol, no TCP listener.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user with a known password (no `:` or newline; the passwd-file splits on them).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_string(), password.to_string()));
        self
    }

    /// Binds every listener to `ip` instead of 127.0.0.1 (another loopback address, for a
    /// second backend). Config blocks write the address as `@listen@`.
    pub fn listen(mut self, ip: std::net::Ipv4Addr) -> Self {
        self.listen = Some(ip);
        self
    }

    /// Sets `instance_name`, so this instance's process titles (`dovecot-<name>/imap`) can be
    /// told from those of other tests' instances.
    pub fn instance_name(mut self, name: &str) -> Self {
        self.instance_name = Some(name.to_string());
        self
    }

    /// Leaves out the default passwd-file passdb and userdb; the config blocks bring theirs.
    pub fn no_default_auth(mut self) -> Self {
        self.no_default_auth = true;
        self
    }

    /// Waits at start for a port chosen by the caller (written literally in a config
    /// block), on the listen address.
    pub fn fixed_port(mut self, port: u16) -> Self {
        self.fixed_ports.push(port);
        self
    }

    /// Gives `user` extra passwd-file fields (space-separated, as the passwd-file's eighth
    /// column has them): `nologin` disables the login, `userdb_quota_rule=…` sets a quota.
    pub fn extra_fields(mut self, user: &str, fields: &str) -> Self {
        self.extra_fields
            .push((user.to_string(), fields.to_string()));
        self
    }

    /// LMTP on 127.0.0.1:`@port:lmtp@`, with the quota plugin (maildir quota; limits come
    /// from per-user `userdb_quota_rule` fields) so deliveries can be refused for quota.
    pub fn lmtp(self) -> Self {
        self.protocol("lmtp").port("lmtp").config(
            "service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = @port:lmtp@
  }
}
mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
}
",
        )
    }

    /// What [`Dovecot::python_traffic`] needs: IMAP, POP3 and LMTP, [`QUOTA_USER`] with a
    /// 1 kB quota and [`DISABLED_USER`] with `nologin`.
    pub fn python_clients(self) -> Self {
        let (q, qpw) = QUOTA_USER;
        let (d, dpw) = DISABLED_USER;
        self.imap()
            .pop3()
            .lmtp()
            .user(q, qpw)
            .extra_fields(q, "userdb_quota_rule=*:storage=1k")
            .user(d, dpw)
            .extra_fields(d, "nologin")
    }

    /// Stores the passwords with `scheme`.
    pub fn password_scheme(mut self, scheme: PasswordScheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Serves `protocol` (`imap`, `pop3`, `lmtp`); its listener comes from
    /// [`DovecotOptions::config`], or from [`DovecotOptions::imap`] for IMAP.
    pub fn protocol(mut self, protocol: &str) -> Self {
        if !self.protocols.iter().any(|p| p == protocol) {
            self.protocols.push(protocol.to_string());
        }
        self
    }

    /// Reserves a free loopback port under `key` for a listener in the config. The start
    /// waits until it is listening, so reserve only ports Dovecot listens on.
    pub fn port(mut self, key: &str) -> Self {
        self.ports.push(key.to_string());
        self
    }

    /// Appends a config block (listeners, `metric` blocks, settings) after the defaults.
    pub fn config(mut self, block: &str) -> Self {
        self.config.push(block.to_string());
        self
    }

    /// POP3 on 127.0.0.1:`@port:pop3@` (no pop3s).
    pub fn pop3(self) -> Self {
        self.login_service("pop3")
    }

    /// IMAP on 127.0.0.1:`@port:imap@` (no imaps); mail in maildirs under the temp dir.
    pub fn imap(self) -> Self {
        self.login_service("imap")
    }

    /// Serves `proto` through its login service on `@listen@:@port:<proto>@`, without the
    /// TLS port.
    fn login_service(self, proto: &str) -> Self {
        let block = format!(
            "service {proto}-login {{
  inet_listener {proto} {{
    address = @listen@
    port = @port:{proto}@
  }}
  inet_listener {proto}s {{
    port = 0
  }}
}}
"
        );
        self.protocol(proto).port(proto).config(&block)
    }
}

/// The config every instance starts from; `@PROTOCOLS@` is filled in by [`Dovecot::start`].
const BASE_CONFIG: &str = "\
# Written by the e2e-tests harness (tests/src/dovecot.rs); /etc/dovecot is not read.
# instance_name tells these processes from a system Dovecot's in ps.
instance_name = @INSTANCE@
base_dir = @run_dir@
state_dir = @dir@/state
log_path = @log_dir@/dovecot.log
protocols = @PROTOCOLS@
listen = @listen@
ssl = no
# Tests authenticate in clear over loopback (smtpd and IMAP without TLS).
disable_plaintext_auth = no
auth_mechanisms = plain login
# Logs each failed login with its reason.
auth_verbose = yes
# Failed logins answer at once instead of after 2 s: tests send several on purpose.
auth_failure_delay = 0
mail_location = maildir:~/Maildir
# Mail processes run as Debian's `mail` user (uid 8), below the default limit of 500.
first_valid_uid = 1
@AUTH@service auth {
  unix_listener auth-smtp {
    mode = 0666
  }
}
# No auth penalty: anvil would otherwise delay every attempt from 127.0.0.1 by up to 15 s
# after a failure. Mode 0 is Dovecot's documented way to turn it off.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
";

/// The passdb and userdb of every instance: the passwd-file with [`TEST_USERS`] and
/// [`DovecotOptions::user`]'s; left out by [`DovecotOptions::no_default_auth`].
const AUTH_CONFIG: &str = "\
passdb {
  driver = passwd-file
  args = @config_dir@/users
}
userdb {
  driver = passwd-file
  args = @config_dir@/users
  default_fields = uid=mail gid=mail home=@dir@/mail/%u
}
";

/// A running Dovecot (`dovecot -F -c FILE`), stopped by PID (SIGTERM to the master, which
/// stops its children) on drop.
#[derive(Debug)]
pub struct Dovecot {
    users: Vec<(String, String)>,
    inst: Instance,
}

impl Dovecot {
    /// Writes the config and the passwd-file, starts the master in the foreground and waits
    /// until the auth socket exists and every reserved port is listening.
    pub fn start(opts: DovecotOptions) -> Result<Dovecot> {
        let mut builder = InstanceBuilder::new("dovecot")
            .dir("state")
            .dir("mail")
            .log_file("dovecot.log");
        for key in &opts.ports {
            builder = builder.port(key);
        }
        let protocols = if opts.protocols.is_empty() {
            "none".to_string()
        } else {
            opts.protocols.join(" ")
        };
        let auth = if opts.no_default_auth {
            ""
        } else {
            AUTH_CONFIG
        };
        let mut config = BASE_CONFIG
            .replace("@PROTOCOLS@", &protocols)
            .replace("@AUTH@", auth)
            .replace(
                "@INSTANCE@",
                opts.instance_name.as_deref().unwrap_or("e2e-dovecot"),
            );
        for block in &opts.config {
            config.push('\n');
            config.push_str(block);
        }
        let listen = opts.listen.unwrap_or(std::net::Ipv4Addr::LOCALHOST);
        let config = config.replace("@listen@", &listen.to_string());
        let mut inst = builder.config_file("dovecot.conf", &config).build()?;
        // Homes are created on first login by the `mail` user.
        {
            use std::os::unix::fs::PermissionsExt;
            let mail = inst.dir().join("mail");
            std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o1777))
                .with_context(|| format!("chmod 1777 {}", mail.display()))?;
        }

        let users: Vec<(String, String)> = TEST_USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .chain(opts.users.iter().cloned())
            .collect();
        let conf = inst.config_path("dovecot.conf");
        let mut passwd = String::new();
        for (user, password) in &users {
            if [user, password]
                .iter()
                .any(|s| s.contains([':', '\n']) || s.is_empty())
            {
                bail!("dovecot: user {user:?}: names and passwords must be non-empty, without ':'");
            }
            let stored = match opts.scheme {
                PasswordScheme::Plain => format!("{{PLAIN}}{password}"),
                PasswordScheme::Sha512Crypt => inst
                    .run(Command::new("doveadm").arg("-c").arg(&conf).args([
                        "pw",
                        "-s",
                        "SHA512-CRYPT",
                        "-p",
                        password,
                    ]))?
                    .trim()
                    .to_string(),
            };
            // user:password:uid:gid:gecos:home:shell:extra (uid, gid, home from default_fields).
            let extra: Vec<&str> = opts
                .extra_fields
                .iter()
                .filter(|(u, _)| u == user)
                .map(|(_, f)| f.as_str())
                .collect();
            passwd.push_str(&format!("{user}:{stored}::::::{}\n", extra.join(" ")));
        }
        inst.write_config("users", &passwd)?;

        let mut cmd = Command::new("dovecot");
        cmd.arg("-F").arg("-c").arg(&conf);
        // Its stdout/stderr file must not be dovecot.log, the log_path.
        inst.spawn("dovecot-master", cmd)
            .context("starting dovecot (apt-get install dovecot-core)")?;
        let socket = inst.run_dir().join(AUTH_SOCKET);
        let mut ports: Vec<u16> = opts
            .ports
            .iter()
            .map(|k| inst.port(k))
            .collect::<Result<_>>()?;
        ports.extend(&opts.fixed_ports);
        let what = format!(
            "auth socket {} and listeners on {ports:?}",
            socket.display()
        );
        // Listening, not connectable: a test connection would be a line in the log and a
        // count in Dovecot's stats that an exporter test would then have to allow for.
        inst.wait_until(&what, START_TIMEOUT, |_| {
            socket.exists() && ports.iter().all(|p| net::tcp_listening_on(listen, *p))
        })?;
        Ok(Dovecot { users, inst })
    }

    /// The auth client socket for Postfix's `smtpd_sasl_path` (an absolute path).
    pub fn auth_socket_path(&self) -> PathBuf {
        self.inst.run_dir().join(AUTH_SOCKET)
    }

    /// Every user with its password: [`TEST_USERS`] first, then [`DovecotOptions::user`]'s.
    pub fn users(&self) -> &[(String, String)] {
        &self.users
    }

    /// The port reserved under `key` ([`DovecotOptions::port`]; `imap` for IMAP).
    pub fn port(&self, key: &str) -> Result<u16> {
        self.inst.port(key)
    }

    /// `127.0.0.1:<port key>`.
    pub fn addr(&self, key: &str) -> Result<SocketAddr> {
        self.inst.addr(key)
    }

    /// The IMAP listener, when [`DovecotOptions::imap`] was set.
    pub fn imap_addr(&self) -> Option<SocketAddr> {
        self.inst.addr("imap").ok()
    }

    /// The config file passed to `-c`.
    pub fn config_path(&self) -> PathBuf {
        self.inst.config_path("dovecot.conf")
    }

    /// The temp dir holding everything.
    pub fn dir(&self) -> &Path {
        self.inst.dir()
    }

    /// The daemon-neutral instance (temp dir, ports, log, stop).
    pub fn instance(&self) -> &Instance {
        &self.inst
    }

    /// Dovecot's `log_path`.
    pub fn log_path(&self) -> Option<&Path> {
        self.inst.log_path()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.inst.log()
    }

    /// `doveadm -c FILE <args>`; returns stdout, fails unless it exits 0.
    pub fn doveadm(&self, args: &[&str]) -> Result<String> {
        self.inst.run(
            Command::new("doveadm")
                .arg("-c")
                .arg(self.config_path())
                .args(args),
        )
    }

    /// `doveadm auth test USER PASSWORD` through the auth server: true when it accepts,
    /// false when it refuses (exit 77), an error otherwise.
    pub fn auth_test(&self, user: &str, password: &str) -> Result<bool> {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.config_path())
            .args(["auth", "test", user, password])
            .output()
            .context("running doveadm auth test")?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(77) => Ok(false),
            _ => bail!(
                "doveadm auth test failed ({}): {}",
                out.status,
                crate::instance::output_text(&out)
            ),
        }
    }

    /// The mechanisms the auth socket offers, from the client handshake Postfix does
    /// (`VERSION` and `CPID` out, `MECH` lines back until `DONE`).
    pub fn auth_mechanisms(&self) -> Result<Vec<String>> {
        let path = self.auth_socket_path();
        let stream =
            UnixStream::connect(&path).with_context(|| format!("connecting to {path:?}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut w = stream.try_clone()?;
        w.write_all(format!("VERSION\t1\t2\nCPID\t{}\n", std::process::id()).as_bytes())?;
        let mut mechs = Vec::new();
        for line in BufReader::new(stream).lines() {
            let line = line?;
            if line == "DONE" {
                return Ok(mechs);
            }
            if let Some(rest) = line.strip_prefix("MECH\t") {
                mechs.push(rest.split('\t').next().unwrap_or(rest).to_string());
            }
        }
        bail!("{}: closed before DONE", path.display())
    }

    /// One IMAP session on [`DovecotOptions::imap`]'s listener: LOGIN, SELECT INBOX (OK),
    /// SELECT of a missing mailbox (NO), LOGOUT. Fails unless each reply is the expected one.
    pub fn imap_session(&self, user: &str, password: &str) -> Result<()> {
        let addr = self.imap_addr().context("no IMAP listener")?;
        let s = TcpStream::connect(addr).context("connect imap")?;
        Self::imap_session_on(&s, user, password)
    }

    /// [`Dovecot::imap_session`] on a connection made by the caller (to a proxy, say).
    pub fn imap_session_on(s: &TcpStream, user: &str, password: &str) -> Result<()> {
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut r = BufReader::new(s.try_clone()?);
        let mut w = s;
        let mut line = String::new();
        r.read_line(&mut line)?;
        if !line.starts_with("* OK") {
            bail!("imap greeting: {line}");
        }
        for (tag, cmd, want) in [
            ("a1", format!("LOGIN {user} {password}"), "a1 OK"),
            ("a2", "SELECT INBOX".to_string(), "a2 OK"),
            ("a3", "SELECT Nonexistent".to_string(), "a3 NO"),
            ("a4", "LOGOUT".to_string(), "a4 OK"),
        ] {
            write!(w, "{tag} {cmd}\r\n")?;
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 {
                    bail!("{tag}: connection closed");
                }
                if line.starts_with(&format!("{tag} ")) {
                    if !line.starts_with(want) {
                        bail!("{tag}: {line}");
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    /// An IMAP connection logged in as `user` and left open (the session lasts until the
    /// stream is dropped).
    pub fn imap_logged_in(&self, user: &str, password: &str) -> Result<TcpStream> {
        let addr = self.imap_addr().context("no IMAP listener")?;
        let s = TcpStream::connect(addr).context("connect imap")?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut r = BufReader::new(s.try_clone()?);
        let mut line = String::new();
        r.read_line(&mut line)?;
        write!(&s, "l1 LOGIN {user} {password}\r\n")?;
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                bail!("imap login: connection closed");
            }
            if line.starts_with("l1 ") {
                if !line.starts_with("l1 OK") {
                    bail!("imap login: {line}");
                }
                return Ok(s);
            }
        }
    }

    /// A POP3 connection logged in as `user` (USER/PASS) and left open.
    pub fn pop3_logged_in(&self, user: &str, password: &str) -> Result<TcpStream> {
        let addr = self.addr("pop3")?;
        let s = TcpStream::connect(addr).context("connect pop3")?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut r = BufReader::new(s.try_clone()?);
        let mut line = String::new();
        for cmd in [
            None,
            Some(format!("USER {user}")),
            Some(format!("PASS {password}")),
        ] {
            if let Some(c) = &cmd {
                write!(&s, "{c}\r\n")?;
            }
            line.clear();
            r.read_line(&mut line)?;
            if !line.starts_with("+OK") {
                bail!(
                    "pop3 {:?}: {line}",
                    cmd.as_deref().map(|c| c.split(' ').next())
                );
            }
        }
        Ok(s)
    }

    /// `doveadm stats dump` (tab formatter) once two reads 100 ms apart agree: the stats
    /// process gets events asynchronously, so counts settle a moment after the traffic.
    pub fn settled_stats_dump(&self) -> Result<String> {
        let mut last = self.doveadm(&["stats", "dump"])?;
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            let again = self.doveadm(&["stats", "dump"])?;
            if again == last {
                return Ok(again);
            }
            last = again;
        }
        bail!("doveadm stats dump still changing after 5 s")
    }

    /// Runs `tests/python/dovecot_traffic.py` against this instance (built with
    /// [`DovecotOptions::python_clients`]): LMTP deliveries, an unknown recipient, a
    /// delivery over quota, IMAP and POP3 logins that succeed and fail for each reason.
    /// Returns the replies the clients saw.
    pub fn python_traffic(&self) -> Result<serde_json::Value> {
        let [(alice, apw), (bob, bpw)] = TEST_USERS;
        let cfg = serde_json::json!({
            "ok": [alice, apw], "pop": [bob, bpw], "quota_user": QUOTA_USER.0,
            "disabled": [DISABLED_USER.0, DISABLED_USER.1], "unknown": "nobody@test.local",
        });
        let script = crate::exporter::workspace_root().join("tests/python/dovecot_traffic.py");
        let out = Command::new(crate::tools::venv_python()?)
            .arg(script)
            .args([
                self.port("imap")?.to_string(),
                self.port("pop3")?.to_string(),
                self.port("lmtp")?.to_string(),
                cfg.to_string(),
            ])
            .output()
            .context("running dovecot_traffic.py")?;
        if !out.status.success() {
            bail!(
                "dovecot_traffic.py: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout).context("dovecot_traffic.py output")
    }

    /// `--dovecot.stats-reader.address=127.0.0.1:<stats port>` for the exporter.
    pub fn stats_reader_flag(&self) -> Result<String> {
        Ok(format!(
            "--dovecot.stats-reader.address=127.0.0.1:{}",
            self.port("stats")?
        ))
    }

    /// `--dovecot.config=<this instance's dovecot.conf>` for the exporter.
    pub fn config_flag(&self) -> String {
        format!("--dovecot.config={}", self.config_path().display())
    }

    /// The master's pid (the process spawned with `-F`).
    pub fn master_pid(&mut self) -> Option<u32> {
        self.inst.pid()
    }

    /// Stops the master (SIGTERM, SIGKILL after the grace period).
    pub fn stop(&mut self) -> Result<()> {
        self.inst.stop()
    }
}
