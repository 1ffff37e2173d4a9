//! smtpd: connections, disconnect command statistics, lost sessions, received
//! messages, SASL failures and reverse-DNS warnings (actions are in `action`, TLS in
//! `tls`).
use super::action::parse_action;
use super::tls::parse_tls;
use super::{Event, Severity, split_queue_id};

/// The `name=success[/total]` list of an smtpd `disconnect from` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandStats<'a>(&'a str);

impl<'a> CommandStats<'a> {
    /// Iterates `(command, success, total)`; `commands=` (the sum) is included as written.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u32, u32)> + 'a {
        self.0.split(' ').filter_map(parse_command_stat)
    }
}

fn parse_command_stat(token: &str) -> Option<(&str, u32, u32)> {
    let (name, counts) = token.split_once('=')?;
    match counts.split_once('/') {
        Some((ok, total)) => Some((name, ok.parse().ok()?, total.parse().ok()?)),
        None => {
            let n = counts.parse().ok()?;
            Some((name, n, n))
        }
    }
}

/// `WORD after STAGE[ (N bytes)] from CLIENT` → STAGE.
fn stage_after(rest: &str) -> Option<&str> {
    let (stage, _) = rest.split_once(" from ")?;
    let stage = stage.split_once(" (").map_or(stage, |(s, _)| s);
    (!stage.is_empty() && !stage.contains(' ')).then_some(stage)
}

pub(super) fn parse_smtpd<'a>(body: &'a str, severity: Option<Severity>) -> Event<'a> {
    if let Some(sev) = severity {
        if sev == Severity::Warning {
            if let Some(method) = sasl_failure(body) {
                return Event::SaslAuthFailed { method };
            }
            if body.starts_with("hostname ") && body.contains(" does not resolve to address ") {
                return Event::ReverseDnsMismatch;
            }
        }
        return Event::Info;
    }
    match body.as_bytes().first() {
        Some(b'c') if body.starts_with("connect from ") => return Event::SmtpdConnect,
        Some(b'd') => {
            if let Some(rest) = body.strip_prefix("disconnect from ") {
                let stats = rest.split_once(' ').map_or("", |(_, s)| s);
                if stats.split(' ').all(|t| parse_command_stat(t).is_some()) {
                    return Event::SmtpdDisconnect(CommandStats(stats));
                }
                return Event::Unsupported;
            }
        }
        Some(b'l') => {
            if let Some(stage) = body
                .strip_prefix("lost connection after ")
                .and_then(stage_after)
            {
                return Event::SmtpdLostConnection { stage };
            }
        }
        Some(b't') => {
            if let Some(stage) = body.strip_prefix("timeout after ").and_then(stage_after) {
                return Event::SmtpdTimeout { stage };
            }
            if let Some(stage) = body
                .strip_prefix("too many errors after ")
                .and_then(stage_after)
            {
                return Event::SmtpdTooManyErrors { stage };
            }
        }
        Some(b'N') => {
            if let Some(rest) = body.strip_prefix("NOQUEUE: ") {
                return parse_action(None, rest).map_or(Event::Unsupported, Event::Action);
            }
        }
        _ => {}
    }
    if let Some((queue_id, rest)) = split_queue_id(body) {
        if let Some(client) = rest.strip_prefix("client=") {
            let sasl_method = client
                .split_once(", sasl_method=")
                .map(|(_, m)| m.split_once(", ").map_or(m, |(m, _)| m));
            return Event::SmtpdClient {
                queue_id,
                sasl_method,
            };
        }
        return parse_action(Some(queue_id), rest).map_or(Event::Unsupported, Event::Action);
    }
    if let Some(tls) = parse_tls(body) {
        return Event::Tls(tls);
    }
    const INFO: [&str; 6] = [
        "improper command pipelining after ",
        "SSL_accept error from ",
        "setting up TLS connection from ",
        "NOQUEUE: lost connection after ",
        "discarding EHLO keywords",
        "proxy-",
    ];
    if INFO.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

/// `NAME[ADDR]: SASL METHOD authentication failed: …` → METHOD.
fn sasl_failure(body: &str) -> Option<&str> {
    let (_, rest) = body.split_once("]: SASL ")?;
    let (method, _) = rest.split_once(" authentication failed")?;
    (!method.is_empty() && !method.contains(' ')).then_some(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::{ev, parse_message};

    #[test]
    fn smtpd_lines() {
        assert_eq!(
            ev("smtpd", "connect from localhost[127.0.0.1]"),
            Event::SmtpdConnect
        );
        let e = ev(
            "smtpd",
            "disconnect from x[192.0.2.10] ehlo=2 xclient=0/1 mail=1 rcpt=0/1 quit=1 commands=4/6",
        );
        let Event::SmtpdDisconnect(stats) = e else {
            panic!()
        };
        let v: Vec<_> = stats.iter().collect();
        assert_eq!(
            v,
            vec![
                ("ehlo", 2, 2),
                ("xclient", 0, 1),
                ("mail", 1, 1),
                ("rcpt", 0, 1),
                ("quit", 1, 1),
                ("commands", 4, 6)
            ]
        );
        assert_eq!(
            ev("smtpd", "disconnect from x[1.2.3.4] ehlo=x"),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtpd",
                "lost connection after DATA (0 bytes) from x[1.2.3.4]"
            ),
            Event::SmtpdLostConnection { stage: "DATA" }
        );
        assert_eq!(
            ev("smtpd", "timeout after END-OF-MESSAGE from x[1.2.3.4]"),
            Event::SmtpdTimeout {
                stage: "END-OF-MESSAGE"
            }
        );
        assert_eq!(
            ev("smtpd", "too many errors after RCPT from x[1.2.3.4]"),
            Event::SmtpdTooManyErrors { stage: "RCPT" }
        );
        assert_eq!(
            ev("smtpd", "AB6B7CE0A4: client=localhost[127.0.0.1]"),
            Event::SmtpdClient {
                queue_id: "AB6B7CE0A4",
                sasl_method: None
            }
        );
        assert_eq!(
            ev(
                "smtpd",
                "AB6B7CE0A4: client=x[1.2.3.4], sasl_method=PLAIN, sasl_username=u@example.com"
            ),
            Event::SmtpdClient {
                queue_id: "AB6B7CE0A4",
                sasl_method: Some("PLAIN")
            }
        );
        let m = parse_message(
            "smtpd",
            "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        );
        assert_eq!(
            (m.severity, m.event),
            (
                Some(Severity::Warning),
                Event::SaslAuthFailed { method: "LOGIN" }
            )
        );
        assert_eq!(
            ev(
                "smtpd",
                "warning: hostname mail.example.com does not resolve to address 192.0.2.1: Name or service not known"
            ),
            Event::ReverseDnsMismatch
        );
    }
}
