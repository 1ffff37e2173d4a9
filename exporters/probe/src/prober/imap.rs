//! IMAP and IMAPS: greeting, CAPABILITY, STARTTLS, LOGIN or AUTHENTICATE PLAIN, EXAMINE
//! of a mailbox for its message count, LOGOUT.

use crate::config::{ImapSection, Mechanism, TlsMode};
use crate::reply::imap::{Response, capabilities, exists, literal_size, parse_line, quote};
use crate::session::{Fail, Reason, Session, Step};

use super::{open, password, sasl_plain};

/// The most bytes of untagged data accepted for one command (literals included).
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// A tagged command's outcome: status, its text, and the untagged lines before it.
#[derive(Debug)]
pub struct Done {
    /// OK, NO or BAD.
    pub status: String,
    /// The text after the status.
    pub text: String,
    /// Untagged lines (literals appended in place).
    pub untagged: Vec<String>,
}

/// A logged-in IMAP connection's state: the next tag number.
#[derive(Debug, Default)]
pub struct Imap {
    tag: u32,
    /// The capabilities last seen.
    pub caps: Vec<String>,
}

impl Imap {
    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("p{}", self.tag)
    }

    /// Sends `cmd` with a fresh tag (showing `shown` instead when given) and reads up to
    /// its tagged reply.
    pub async fn command(&mut self, s: &mut Session, cmd: &str, shown: Option<&str>) -> Step<Done> {
        let tag = self.next_tag();
        let line = format!("{tag} {cmd}");
        match shown {
            Some(sh) => s.send_masked(&line, &format!("{tag} {sh}")).await?,
            None => s.send(&line).await?,
        }
        read_until_tagged(s, &tag).await
    }

    /// Sends `cmd` expecting OK; NO and BAD end the probe with `reason`.
    pub async fn ok(&mut self, s: &mut Session, cmd: &str, reason: Reason) -> Step<Done> {
        let d = self.command(s, cmd, None).await?;
        check_ok(&d, cmd.split(' ').next().unwrap_or(cmd), reason)?;
        Ok(d)
    }
}

fn check_ok(d: &Done, what: &str, reason: Reason) -> Step {
    if d.status == "OK" {
        return Ok(());
    }
    let reason = if d.status == "BAD" {
        Reason::UnexpectedReply
    } else {
        reason
    };
    Err(Fail::new(
        reason,
        format!("{what}: {} {}", d.status, crate::reply::excerpt(&d.text)),
    ))
}

/// Reads lines (and literals) until the tagged reply of `tag`.
pub async fn read_until_tagged(s: &mut Session, tag: &str) -> Step<Done> {
    let mut untagged = Vec::new();
    let mut bytes = 0usize;
    loop {
        let mut line = s.read_line().await?;
        // A line ending in {N} is followed by N bytes, then the rest of the line.
        while let Some(n) = literal_size(&line) {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > MAX_RESPONSE_BYTES - bytes.min(MAX_RESPONSE_BYTES) {
                return Err(Fail::new(Reason::TooLarge, format!("literal of {n} bytes")));
            }
            let lit = s.read_bytes(n).await?;
            bytes += n;
            line.push_str(&String::from_utf8_lossy(&lit));
            let rest = s.read_line().await?;
            line.push_str(&rest);
        }
        bytes += line.len();
        if bytes > MAX_RESPONSE_BYTES {
            return Err(Fail::new(
                Reason::TooLarge,
                format!("response longer than {MAX_RESPONSE_BYTES} bytes"),
            ));
        }
        match parse_line(&line).map_err(|e| Fail::new(Reason::Protocol, e))? {
            Response::Tagged {
                tag: t,
                status,
                text,
            } if t == tag => {
                return Ok(Done {
                    status,
                    text,
                    untagged,
                });
            }
            Response::Tagged { tag: t, .. } => {
                return Err(Fail::new(
                    Reason::Protocol,
                    format!("reply to tag {t:?}, expected {tag}"),
                ));
            }
            Response::Untagged(u) => {
                if u.len() >= 3 && u[..3].eq_ignore_ascii_case("BYE") {
                    return Err(Fail::new(
                        Reason::Closed,
                        format!("the server said BYE: {}", crate::reply::excerpt(&u)),
                    ));
                }
                untagged.push(u);
            }
            Response::Continue(c) => untagged.push(format!("+ {c}")),
        }
    }
}

/// Greeting, capabilities, STARTTLS and login; the connection is left logged in.
pub async fn login(s: &mut Session, cfg: &ImapSection) -> Step<Imap> {
    open(s, cfg.tls, &cfg.tls_config).await?;
    s.phase("banner");
    let greeting = s.read_line().await?;
    let mut imap = Imap::default();
    match parse_line(&greeting).map_err(|e| Fail::new(Reason::Protocol, e))? {
        Response::Untagged(u) if starts_ci(&u, "OK") || starts_ci(&u, "PREAUTH") => {
            imap.caps = capabilities(&u).unwrap_or_default();
        }
        _ => {
            return Err(Fail::new(
                Reason::UnexpectedReply,
                format!("greeting: {}", crate::reply::excerpt(&greeting)),
            ));
        }
    }
    if imap.caps.is_empty() {
        s.phase("capability");
        refresh_caps(s, &mut imap).await?;
    }
    if cfg.tls == TlsMode::Starttls {
        if imap.caps.iter().any(|c| c == "STARTTLS") {
            s.phase("starttls");
            imap.ok(s, "STARTTLS", Reason::Tls).await?;
            s.start_tls(&cfg.tls_config, &[]).await?;
            // Capabilities learnt before TLS must not be trusted after it (RFC 9051 6.2.1).
            s.phase("capability");
            refresh_caps(s, &mut imap).await?;
        } else {
            super::tls_not_offered(s, cfg.tls_required, "STARTTLS")?;
        }
    }
    if let Some(auth) = &cfg.auth {
        s.phase("login");
        let pw = password(s, auth)?;
        let d = match auth.mechanism.unwrap_or(Mechanism::Login) {
            Mechanism::Login => {
                if imap.caps.iter().any(|c| c == "LOGINDISABLED") {
                    return Err(Fail::new(
                        Reason::Auth,
                        "the server disables LOGIN here (LOGINDISABLED; use TLS)",
                    ));
                }
                let cmd = format!("LOGIN {} {}", quote(&auth.username), quote(&pw));
                imap.command(
                    s,
                    &cmd,
                    Some(&format!("LOGIN {} <masked>", quote(&auth.username))),
                )
                .await?
            }
            Mechanism::Plain => {
                let resp = sasl_plain(&auth.username, &pw);
                if imap.caps.iter().any(|c| c == "SASL-IR") {
                    imap.command(
                        s,
                        &format!("AUTHENTICATE PLAIN {resp}"),
                        Some("AUTHENTICATE PLAIN <masked>"),
                    )
                    .await?
                } else {
                    let tag = imap.next_tag();
                    s.send(&format!("{tag} AUTHENTICATE PLAIN")).await?;
                    let line = s.read_line().await?;
                    if !matches!(parse_line(&line), Ok(Response::Continue(_))) {
                        return Err(Fail::new(
                            Reason::UnexpectedReply,
                            format!("AUTHENTICATE: {}", crate::reply::excerpt(&line)),
                        ));
                    }
                    s.send_masked(&resp, "<masked>").await?;
                    read_until_tagged(s, &tag).await?
                }
            }
        };
        check_ok(&d, "login", Reason::Auth)?;
        // The OK of a login may carry the new capabilities.
        if let Some(c) = capabilities(&d.text) {
            imap.caps = c;
        }
    }
    Ok(imap)
}

async fn refresh_caps(s: &mut Session, imap: &mut Imap) -> Step {
    let d = imap.ok(s, "CAPABILITY", Reason::UnexpectedReply).await?;
    imap.caps = d
        .untagged
        .iter()
        .find_map(|u| capabilities(u))
        .unwrap_or_default();
    Ok(())
}

fn starts_ci(s: &str, p: &str) -> bool {
    s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p))
}

/// EXAMINE `mailbox` (read-only: the probe changes no flags); the EXISTS count.
pub async fn examine(s: &mut Session, imap: &mut Imap, mailbox: &str) -> Step<u64> {
    s.phase("select");
    let d = imap
        .ok(
            s,
            &format!("EXAMINE {}", quote(mailbox)),
            Reason::UnexpectedReply,
        )
        .await?;
    Ok(d.untagged.iter().find_map(|u| exists(u)).unwrap_or(0))
}

/// LOGOUT.
pub async fn logout(s: &mut Session, imap: &mut Imap) -> Step {
    s.phase("quit");
    let tag = imap.next_tag();
    s.send(&format!("{tag} LOGOUT")).await?;
    // `* BYE` comes first; a server that hangs up after it is fine.
    let answer = read_until_tagged(s, &tag).await;
    s.end_quit(answer).await
}

/// The `imap` prober.
pub async fn run(s: &mut Session) -> Step {
    let module = std::sync::Arc::clone(&s.module);
    let cfg = &module.imap;
    let mut imap = login(s, cfg).await?;
    if let Some(mb) = &cfg.mailbox {
        let n = examine(s, &mut imap, mb).await?;
        s.gauge(
            "probe_imap_mailbox_messages",
            "Messages in the examined mailbox",
            n as f64,
        );
    }
    logout(s, &mut imap).await
}
