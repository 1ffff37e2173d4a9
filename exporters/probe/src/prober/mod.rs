//! The probers: one protocol state machine per file, each a sequence of named phases on
//! a [`Session`]. A step that fails returns a [`Fail`]; the caller records it against the
//! phase that was running.

pub mod ftp;
pub mod http;
pub mod imap;
pub mod pop3;
pub mod smtp;

use base64::Engine;

use crate::config::{Auth, ProberKind, TlsConfig, TlsMode};
use crate::session::{Session, Step};

/// Runs the module's prober on `s` (target resolved and allowed).
pub async fn run(s: &mut Session) -> Step {
    match s.module.prober {
        ProberKind::Smtp => smtp::run(s, smtp::Dialect::Smtp).await.map(|_| ()),
        ProberKind::Lmtp => smtp::run(s, smtp::Dialect::Lmtp).await.map(|_| ()),
        ProberKind::Imap => imap::run(s).await,
        ProberKind::Pop3 => pop3::run(s).await,
        ProberKind::Ftp => ftp::run(s).await,
        ProberKind::Http => http::run(s).await,
        ProberKind::Delivery => crate::delivery::probe(s).await,
    }
}

/// Connects, with TLS from the first byte for `tls: implicit`.
pub async fn open(s: &mut Session, mode: TlsMode, cfg: &TlsConfig) -> Step {
    s.connect().await?;
    if mode == TlsMode::Implicit {
        s.start_tls(cfg, &[]).await?;
    }
    Ok(())
}

/// What happens when the server does not offer the TLS upgrade (`what`: STARTTLS, STLS,
/// AUTH TLS): with `tls_required` the probe fails (`tls`), else it goes on in plain text.
pub fn tls_not_offered(s: &mut Session, required: bool, what: &str) -> Step {
    if required {
        return Err(crate::session::Fail::new(
            crate::session::Reason::Tls,
            format!("the server does not offer {what}"),
        ));
    }
    s.note(&format!(
        "the server does not offer {what}; going on in plain text (tls_required: false)"
    ));
    Ok(())
}

/// The password of `auth`, registered as a secret of the session.
pub fn password(s: &mut Session, auth: &Auth) -> Step<String> {
    let p = crate::secret::password(auth)?;
    s.add_secret(&p);
    Ok(p)
}

/// base64 of `bytes`.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The SASL PLAIN response for `user` and `password` (no authorization identity).
pub fn sasl_plain(user: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    b64(&raw)
}

/// Decodes a server's base64 challenge; `None` when it is not base64 (a hostile or
/// broken server).
pub fn decode_challenge(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.len() > 4096 {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(t).ok()
}

/// The name this host gives in EHLO when the module and the request name none.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        })
        .unwrap_or_else(|| "mailprobe.localdomain".into())
}
