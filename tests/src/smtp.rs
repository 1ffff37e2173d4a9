//! SMTP clients for tests: a minimal session over `std::net`, and swaks for what that one
//! does not speak (STARTTLS, XCLIENT, AUTH).
//!
//! Daemon-neutral: Postfix's smtpd today, Dovecot's LMTP/submission later.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

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
