//! POP3 and POP3S: greeting, CAPA, STLS, USER/PASS (or AUTH PLAIN), STAT, optional RETR
//! of the newest message, QUIT.

use crate::config::{Mechanism, Pop3Section, TlsMode};
use crate::reply::pop3::{parse_stat, parse_status, unstuff};
use crate::session::{Fail, Reason, Session, Step};

use super::{open, password, sasl_plain};

/// The most bytes of a multi-line response (RETR, CAPA, UIDL).
pub const MAX_MULTILINE_BYTES: usize = 16 << 20;

/// Reads a status line; `-ERR` becomes a failure with `reason`.
pub async fn status(s: &mut Session, what: &str, reason: Reason) -> Step<String> {
    let line = s.read_line().await?;
    let st = parse_status(&line).map_err(|e| Fail::new(Reason::Protocol, e))?;
    if st.ok {
        Ok(st.text)
    } else {
        Err(Fail::new(
            reason,
            format!("{what}: -ERR {}", crate::reply::excerpt(&st.text)),
        ))
    }
}

/// Sends `cmd` and reads its status line.
pub async fn command(s: &mut Session, cmd: &str, reason: Reason) -> Step<String> {
    s.send(cmd).await?;
    status(s, cmd.split(' ').next().unwrap_or(cmd), reason).await
}

/// Reads the lines of a multi-line response up to its `.`; their total size in bytes.
pub async fn multiline(s: &mut Session, keep: bool) -> Step<(Vec<String>, u64)> {
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    loop {
        let line = s.read_line().await?;
        let Some(l) = unstuff(&line) else {
            return Ok((lines, bytes));
        };
        bytes += l.len() as u64 + 2;
        if bytes > MAX_MULTILINE_BYTES as u64 {
            return Err(Fail::new(
                Reason::TooLarge,
                format!("response longer than {MAX_MULTILINE_BYTES} bytes"),
            ));
        }
        if keep {
            lines.push(l.to_string());
        }
    }
}

/// Greeting, CAPA, STLS and login; the connection is left in the TRANSACTION state.
pub async fn login(s: &mut Session, cfg: &Pop3Section) -> Step {
    open(s, cfg.tls, &cfg.tls_config).await?;
    s.phase("banner");
    status(s, "greeting", Reason::UnexpectedReply).await?;
    let mut caps = Vec::new();
    if cfg.tls == TlsMode::Starttls || cfg.auth.is_some() {
        s.phase("capability");
        caps = capa(s).await?;
    }
    if cfg.tls == TlsMode::Starttls {
        if caps.iter().any(|c| c == "STLS") {
            s.phase("starttls");
            command(s, "STLS", Reason::Tls).await?;
            s.start_tls(&cfg.tls_config, &[]).await?;
            s.phase("capability");
            caps = capa(s).await?;
        } else {
            super::tls_not_offered(s, cfg.tls_required, "STLS")?;
        }
    }
    let _ = caps;
    if let Some(auth) = &cfg.auth {
        s.phase("login");
        let pw = password(s, auth)?;
        match auth.mechanism.unwrap_or(Mechanism::Login) {
            Mechanism::Login => {
                command(s, &format!("USER {}", auth.username), Reason::Auth).await?;
                s.send_masked(&format!("PASS {pw}"), "PASS <masked>")
                    .await?;
                status(s, "PASS", Reason::Auth).await?;
            }
            Mechanism::Plain => {
                let line = format!("AUTH PLAIN {}", sasl_plain(&auth.username, &pw));
                s.send_masked(&line, "AUTH PLAIN <masked>").await?;
                status(s, "AUTH", Reason::Auth).await?;
            }
        }
    }
    Ok(())
}

/// CAPA's capability names, upper-cased (an `-ERR` means none: CAPA is optional).
async fn capa(s: &mut Session) -> Step<Vec<String>> {
    s.send("CAPA").await?;
    let line = s.read_line().await?;
    let st = parse_status(&line).map_err(|e| Fail::new(Reason::Protocol, e))?;
    if !st.ok {
        return Ok(Vec::new());
    }
    let (lines, _) = multiline(s, true).await?;
    Ok(lines
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_ascii_uppercase)
        .collect())
}

/// STAT: message count and total size.
pub async fn stat(s: &mut Session) -> Step<(u64, u64)> {
    s.phase("stat");
    let text = command(s, "STAT", Reason::UnexpectedReply).await?;
    parse_stat(&text).ok_or_else(|| {
        Fail::new(
            Reason::Protocol,
            format!("STAT: {}", crate::reply::excerpt(&text)),
        )
    })
}

/// QUIT.
pub async fn quit(s: &mut Session) -> Step {
    s.phase("quit");
    s.send("QUIT").await?;
    let answer = status(s, "QUIT", Reason::UnexpectedReply).await;
    s.end_quit(answer).await
}

/// The `pop3` prober.
pub async fn run(s: &mut Session) -> Step {
    let module = std::sync::Arc::clone(&s.module);
    let cfg = &module.pop3;
    login(s, cfg).await?;
    if cfg.auth.is_some() {
        let (n, size) = stat(s).await?;
        s.gauge(
            "probe_pop3_messages",
            "Messages in the maildrop (STAT)",
            n as f64,
        );
        s.gauge(
            "probe_pop3_size_bytes",
            "Size of the maildrop in bytes (STAT)",
            size as f64,
        );
        if cfg.retr && n > 0 {
            s.phase("retr");
            command(s, &format!("RETR {n}"), Reason::UnexpectedReply).await?;
            let (_, bytes) = multiline(s, false).await?;
            s.gauge(
                "probe_pop3_retr_bytes",
                "Size of the message retrieved by RETR in bytes",
                bytes as f64,
            );
        }
    }
    quit(s).await
}
