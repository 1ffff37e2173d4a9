//! SMTP clients for tests: a minimal client over `std::net` (EHLO, AUTH PLAIN and LOGIN,
//! one message, QUIT), and swaks for what that one does not speak (STARTTLS, XCLIENT).
//!
//! Daemon-neutral: Postfix's smtpd today, Dovecot's LMTP/submission later.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// One SMTP session to `addr`: EHLO, MAIL, RCPT per recipient, DATA if any recipient was
/// accepted (dot-stuffed `body`), QUIT.
///
/// Returns the transcript, one `"<command> -> <reply>"` line per step (multi-line replies
/// joined with ` | `). Rejections are not errors: they are in the transcript.
pub fn smtp_session(
    addr: SocketAddr,
    from: &str,
    rcpts: &[&str],
    body: &str,
) -> Result<Vec<String>> {
    let mut c = SmtpClient::connect(addr)?;
    c.ehlo()?;
    c.send_mail(from, rcpts, body)?;
    c.quit()?;
    Ok(c.into_transcript())
}

/// A SASL mechanism [`SmtpClient::auth`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `AUTH PLAIN <base64(\0user\0password)>`, the initial response on the command line.
    Plain,
    /// `AUTH LOGIN`, then the user name and the password, each answering a 334 challenge.
    Login,
}

impl SaslMechanism {
    /// The name on the wire and in Postfix's log (`PLAIN`, `LOGIN`).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Login => "LOGIN",
        }
    }
}

/// An SMTP client session over `std::net`, one command at a time, keeping a transcript of
/// `"<command> -> <reply>"` lines. Replies with any code are returned, not errors: only
/// I/O failures and a closed connection are.
#[derive(Debug)]
pub struct SmtpClient {
    w: TcpStream,
    r: BufReader<TcpStream>,
    transcript: Vec<String>,
}

impl SmtpClient {
    /// Connects and reads the greeting (the transcript's `<connect>` line).
    pub fn connect(addr: SocketAddr) -> Result<SmtpClient> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let w = stream.try_clone()?;
        let mut c = SmtpClient {
            w,
            r: BufReader::new(stream),
            transcript: Vec::new(),
        };
        c.step(None, "<connect>")?;
        Ok(c)
    }

    /// Sends `cmd` and returns the reply code and text (multi-line replies joined with
    /// ` | `).
    pub fn command(&mut self, cmd: &str) -> Result<(u16, String)> {
        let shown = if cmd.len() > 60 {
            format!("{}...", cmd.get(..60).unwrap_or(cmd))
        } else {
            cmd.to_string()
        };
        self.step(Some(cmd), &shown)
    }

    fn step(&mut self, cmd: Option<&str>, shown: &str) -> Result<(u16, String)> {
        if let Some(c) = cmd {
            self.w.write_all(format!("{c}\r\n").as_bytes())?;
        }
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line)? == 0 {
                bail!("connection closed after {shown:?}");
            }
            reply.push_str(line.trim_end());
            // Multi-line replies have '-' after the code; the last line has ' '.
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
            reply.push_str(" | ");
        }
        let code = reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        self.transcript.push(format!("{shown} -> {reply}"));
        Ok((code, reply))
    }

    /// `EHLO client.test.local`; returns the reply code.
    pub fn ehlo(&mut self) -> Result<u16> {
        Ok(self.command("EHLO client.test.local")?.0)
    }

    /// Authenticates with `mechanism`; true on 235. The credentials go out base64-encoded
    /// (the transcript shows `AUTH <mechanism> ...` and `<credentials>` instead).
    pub fn auth(&mut self, mechanism: SaslMechanism, user: &str, password: &str) -> Result<bool> {
        let code = match mechanism {
            SaslMechanism::Plain => {
                let token = B64.encode(format!("\0{user}\0{password}"));
                self.step(Some(&format!("AUTH PLAIN {token}")), "AUTH PLAIN ...")?
                    .0
            }
            SaslMechanism::Login => {
                let (code, _) = self.command("AUTH LOGIN")?;
                if code != 334 {
                    return Ok(false);
                }
                let (code, _) = self.step(Some(&B64.encode(user)), "<user>")?;
                if code != 334 {
                    return Ok(false);
                }
                self.step(Some(&B64.encode(password)), "<password>")?.0
            }
        };
        Ok(code == 235)
    }

    /// MAIL, RCPT per recipient (even after a rejected MAIL, so smtpd logs each), DATA if
    /// any recipient was accepted (dot-stuffed `body`); true when the message was queued
    /// (250 after the final dot).
    pub fn send_mail(&mut self, from: &str, rcpts: &[&str], body: &str) -> Result<bool> {
        self.command(&format!("MAIL FROM:<{from}>"))?;
        let mut accepted = 0;
        for rc in rcpts {
            if self.command(&format!("RCPT TO:<{rc}>"))?.0 / 100 == 2 {
                accepted += 1;
            }
        }
        if accepted == 0 || self.command("DATA")?.0 != 354 {
            return Ok(false);
        }
        let mut data = String::new();
        for l in body.lines() {
            if l.starts_with('.') {
                data.push('.');
            }
            data.push_str(l);
            data.push_str("\r\n");
        }
        data.push('.');
        Ok(self.command(&data)?.0 == 250)
    }

    /// `QUIT`; returns the reply code.
    pub fn quit(&mut self) -> Result<u16> {
        Ok(self.command("QUIT")?.0)
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// The transcript, consuming the client (the connection closes).
    pub fn into_transcript(self) -> Vec<String> {
        self.transcript
    }
}

/// Runs `swaks --server ADDR <args>` (scripts/install-deps.sh installs it) and returns its
/// transcript (stdout). A failed SMTP transaction is not an error, so tests can assert on
/// the rejection; only failing to run swaks is.
pub fn swaks(server: SocketAddr, args: &[&str]) -> Result<String> {
    let out = Command::new("swaks")
        .arg("--server")
        .arg(server.to_string())
        .args(args)
        .output()
        .context("running swaks (scripts/install-deps.sh installs it)")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
