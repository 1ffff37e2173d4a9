//! The probe message: headers that make it findable (`X-Mailprobe-Id`) and harmless
//! (`Auto-Submitted`, so autoresponders stay quiet), and SMTP dot-stuffing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::SmtpSection;

/// The header that carries a probe message's id.
pub const ID_HEADER: &str = "X-Mailprobe-Id";

/// A fresh id, unique per process run and message: time, pid and a counter. Not a secret;
/// it only has to be unlikely to appear in a real message.
pub fn probe_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}.{:x}.{n:x}", std::process::id())
}

/// The message text (CR LF lines, not dot-stuffed) for `cfg`, tagged with `id`; `route`
/// names the delivery route in the subject when there is one.
pub fn generate(cfg: &SmtpSection, id: &str, route: Option<&str>) -> String {
    let from = cfg.mail_from.as_deref().unwrap_or("");
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    let subject = match (&cfg.subject, route) {
        (Some(s), _) => s.clone(),
        (None, Some(r)) => format!("mailprobe delivery check {r}"),
        (None, None) => "mailprobe check".to_string(),
    };
    let mut m = String::with_capacity(512);
    let mut h = |k: &str, v: &str| {
        m.push_str(k);
        m.push_str(": ");
        m.push_str(v);
        m.push_str("\r\n");
    };
    h("From", &format!("<{from}>"));
    h(
        "To",
        &cfg.rcpt_to
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    h("Subject", &subject);
    h("Date", &date.to_string());
    h("Message-ID", &format!("<{id}@mailprobe.invalid>"));
    h(ID_HEADER, id);
    h("Auto-Submitted", "auto-generated");
    h("MIME-Version", "1.0");
    h("Content-Type", "text/plain; charset=us-ascii");
    for (k, v) in &cfg.headers {
        h(k, v);
    }
    m.push_str("\r\n");
    let body = cfg.body.clone().unwrap_or_else(|| {
        format!(
            "This is a monitoring message of mailprobe-exporter, id {id}.\r\nIt can be deleted.\r\n"
        )
    });
    m.push_str(&body);
    m
}

/// `text` with every line starting with `.` doubled, bare LFs made CR LF, and the
/// terminating `.` line.
pub fn dot_stuff(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // A text ending in a line break leaves an empty last piece: drop its CR LF.
    if text.ends_with('\n') {
        out.truncate(out.len() - 2);
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff("a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff("a\n."), b"a\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(""), b"\r\n.\r\n");
    }

    #[test]
    fn generated_message_carries_the_id() {
        let cfg = SmtpSection {
            mail_from: Some("probe@example.net".into()),
            rcpt_to: vec!["a@example.net".into(), "b@example.net".into()],
            ..Default::default()
        };
        let id = probe_id();
        assert_ne!(id, probe_id());
        let m = generate(&cfg, &id, Some("r1"));
        assert!(m.contains(&format!("\r\nX-Mailprobe-Id: {id}\r\n")), "{m}");
        assert!(m.contains("To: <a@example.net>, <b@example.net>\r\n"));
        assert!(m.contains("Subject: mailprobe delivery check r1\r\n"));
        assert!(m.starts_with("From: <probe@example.net>\r\n"));
    }
}
