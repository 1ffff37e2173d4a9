//! SMTP, submission, SMTPS and LMTP: banner, EHLO (HELO when refused), STARTTLS, AUTH
//! PLAIN/LOGIN, then optionally MAIL, RCPT and DATA with a generated message. Every
//! reply is checked as it comes: an unexpected 4xx/5xx ends the probe at once.

use crate::config::{Mechanism, SmtpSection, TlsMode};
use crate::reply::smtp::{Reply, ReplyBuilder};
use crate::reply::{MAX_REPLY_LINES, ReplyError, ReplyLines};
use crate::session::{Fail, Reason, Session, Step};

use super::{b64, decode_challenge, open, password, sasl_plain};

/// The most bytes of one reply (a real EHLO reply is well under 1 KiB).
const MAX_REPLY_BYTES: usize = 1 << 20;

/// SMTP or LMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// EHLO/HELO, one reply to DATA.
    Smtp,
    /// LHLO, one reply per accepted recipient after DATA.
    Lmtp,
}

/// What a successful transaction gave back.
#[derive(Debug, Default, Clone)]
pub struct Sent {
    /// The queue id from the DATA reply (`queued as ...`), when there was one.
    pub queue_id: Option<String>,
}

/// Reads one complete reply, recording its code.
pub async fn read_reply(s: &mut Session) -> Step<Reply> {
    read_reply_with::<ReplyBuilder>(s).await
}

/// Reads one complete reply assembled by `B` (SMTP's or FTP's multi-line rule), within the
/// size limits, recording its code.
pub async fn read_reply_with<B: ReplyLines>(s: &mut Session) -> Step<Reply> {
    let mut b = B::default();
    let mut bytes = 0usize;
    loop {
        let line = s.read_line().await?;
        bytes += line.len();
        if bytes > MAX_REPLY_BYTES {
            return Err(Fail::new(
                Reason::TooLarge,
                format!("reply longer than {MAX_REPLY_BYTES} bytes"),
            ));
        }
        match b.push_line(&line) {
            Ok(Some(r)) => {
                s.last_code = Some(r.code);
                return Ok(r);
            }
            Ok(None) => {}
            Err(ReplyError::TooManyLines) => {
                return Err(Fail::new(
                    Reason::TooLarge,
                    format!("reply longer than {MAX_REPLY_LINES} lines"),
                ));
            }
            Err(e) => return Err(Fail::new(Reason::Protocol, e.to_string())),
        }
    }
}

/// Checks `r` against the expected code (`None`: any 2xx).
pub fn expect(r: &Reply, want: Option<u16>, what: &str) -> Step {
    let ok = match want {
        Some(c) => r.code == c,
        None => (200..300).contains(&r.code),
    };
    if ok {
        return Ok(());
    }
    let want = want.map_or("2xx".to_string(), |c| c.to_string());
    Err(Fail::new(
        Reason::UnexpectedReply,
        format!("{what}: expected {want}, got {}", r.summary()),
    ))
}

async fn command(s: &mut Session, line: &str) -> Step<Reply> {
    s.send(line).await?;
    read_reply(s).await
}

/// Runs the whole dialogue; `Sent` describes the message when one was sent.
pub async fn run(s: &mut Session, dialect: Dialect) -> Step<Sent> {
    let module = std::sync::Arc::clone(&s.module);
    run_with(s, dialect, &module.smtp, None).await
}

/// Runs the dialogue with `cfg`; `message` (headers and body, CR LF lines, not yet
/// dot-stuffed) replaces the generated one when given (delivery probes).
pub async fn run_with(
    s: &mut Session,
    dialect: Dialect,
    cfg: &SmtpSection,
    message: Option<&str>,
) -> Step<Sent> {
    open(s, cfg.tls, &cfg.tls_config).await?;
    s.phase("banner");
    let banner = read_reply(s).await?;
    expect(&banner, cfg.expect_banner_code, "banner")?;
    let name = cfg
        .ehlo
        .clone()
        .or_else(|| s.hostname.clone())
        .unwrap_or_else(super::local_hostname);
    s.phase("ehlo");
    let mut caps = hello(s, dialect, &name).await?;
    if cfg.tls == TlsMode::Starttls {
        if caps.has_keyword("STARTTLS") {
            s.phase("starttls");
            let r = command(s, "STARTTLS").await?;
            expect(&r, Some(220), "STARTTLS")?;
            s.start_tls(&cfg.tls_config, &[]).await?;
            s.phase("ehlo");
            caps = hello(s, dialect, &name).await?;
        } else {
            super::tls_not_offered(s, cfg.tls_required, "STARTTLS")?;
        }
    }
    if let Some(auth) = &cfg.auth {
        s.phase("auth");
        let offered = caps.keyword_params("AUTH");
        let mech = auth.mechanism.unwrap_or(Mechanism::Plain);
        let name = match mech {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        };
        if !offered.iter().any(|m| m == name) {
            let why = if offered.is_empty() {
                "the server offers no AUTH here (Postfix offers it only over TLS by default)"
                    .to_string()
            } else {
                format!(
                    "the server does not offer AUTH {name} (offers {})",
                    offered.join(" ")
                )
            };
            return Err(Fail::new(Reason::Auth, why));
        }
        let pw = password(s, auth)?;
        let r = match mech {
            Mechanism::Plain => {
                let line = format!("AUTH PLAIN {}", sasl_plain(&auth.username, &pw));
                s.send_masked(&line, "AUTH PLAIN <masked>").await?;
                read_reply(s).await?
            }
            Mechanism::Login => {
                let r = command(s, "AUTH LOGIN").await?;
                challenge(&r)?;
                s.send_masked(&b64(auth.username.as_bytes()), "<username, base64>")
                    .await?;
                let r = read_reply(s).await?;
                challenge(&r)?;
                s.send_masked(&b64(pw.as_bytes()), "<masked>").await?;
                read_reply(s).await?
            }
        };
        match r.code {
            235 => {}
            535 | 534 | 538 => {
                return Err(Fail::new(
                    Reason::Auth,
                    format!("credentials refused: {}", r.summary()),
                ));
            }
            _ => expect(&r, Some(235), "AUTH")?,
        }
    }
    let mut sent = Sent::default();
    let transaction = cfg.mail_from.is_some() || !cfg.rcpt_to.is_empty();
    if transaction {
        s.phase("mail");
        let from = cfg
            .mail_from
            .as_deref()
            .unwrap_or(crate::config::defaults::MAIL_FROM);
        let r = command(s, &format!("MAIL FROM:<{from}>")).await?;
        expect(&r, cfg.expect_mail_code, "MAIL FROM")?;
        s.phase("rcpt");
        let mut accepted = 0usize;
        for rcpt in &cfg.rcpt_to {
            let r = command(s, &format!("RCPT TO:<{rcpt}>")).await?;
            expect(&r, cfg.expect_rcpt_code, "RCPT TO")?;
            if (200..300).contains(&r.code) {
                accepted += 1;
            }
        }
        let data = cfg.data || message.is_some();
        if data && accepted > 0 {
            s.phase("data");
            let r = command(s, "DATA").await?;
            expect(&r, Some(354), "DATA")?;
            let generated;
            let text = match message {
                Some(m) => m,
                None => {
                    generated = crate::message::generate(cfg, &crate::message::probe_id(), None);
                    &generated
                }
            };
            s.send_raw(&crate::message::dot_stuff(text), "message")
                .await?;
            // LMTP answers once per accepted recipient.
            let replies = if dialect == Dialect::Lmtp {
                accepted
            } else {
                1
            };
            for _ in 0..replies {
                let r = read_reply(s).await?;
                expect(&r, cfg.expect_data_code, "end of DATA")?;
                if let Some(id) = crate::reply::smtp::queue_id(&r) {
                    s.note(&format!("queued as {id}"));
                    sent.queue_id = Some(id.to_string());
                }
            }
        } else {
            // End the envelope without a message: nothing is queued.
            s.phase("quit");
            let r = command(s, "RSET").await?;
            expect(&r, Some(250), "RSET")?;
        }
    }
    s.phase("quit");
    s.send("QUIT").await?;
    let answer = read_reply(s).await;
    if let Ok(r) = &answer {
        expect(r, Some(221), "QUIT")?;
    }
    s.end_quit(answer).await?;
    Ok(sent)
}

/// EHLO (or LHLO); HELO when EHLO is refused with 5xx.
async fn hello(s: &mut Session, dialect: Dialect, name: &str) -> Step<Reply> {
    let verb = match dialect {
        Dialect::Smtp => "EHLO",
        Dialect::Lmtp => "LHLO",
    };
    let r = command(s, &format!("{verb} {name}")).await?;
    if dialect == Dialect::Smtp && (500..600).contains(&r.code) {
        let r = command(s, &format!("HELO {name}")).await?;
        expect(&r, Some(250), "HELO")?;
        return Ok(r);
    }
    expect(&r, Some(250), verb)?;
    Ok(r)
}

/// Checks a 334 challenge of AUTH LOGIN: base64 that decodes.
fn challenge(r: &Reply) -> Step {
    expect(r, Some(334), "AUTH LOGIN")?;
    let text = r.lines.last().map(String::as_str).unwrap_or("");
    if decode_challenge(text).is_none() {
        return Err(Fail::new(
            Reason::Protocol,
            format!("the AUTH LOGIN challenge is not base64: {}", r.summary()),
        ));
    }
    Ok(())
}
