//! smtpd: connections, disconnect command statistics, lost sessions, received
//! messages, SASL failures and reverse-DNS warnings (actions are in `action`, TLS in
//! `tls`).
use super::action::parse_action;
use super::tls::parse_tls;
use super::{Event, Severity, split_queue_id};
use common::text::{split_pat, split1, words};

/// The `name=success[/total]` list of an smtpd `disconnect from` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandStats<'a>(&'a str);

impl<'a> CommandStats<'a> {
    /// Iterates `(command, success, total)`; `commands=` (the sum) is included as written.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, u32, u32)> + 'a {
        words(self.0).filter_map(parse_command_stat)
    }
}

fn parse_command_stat(token: &str) -> Option<(&str, u32, u32)> {
    let (name, counts) = split1(token, b'=')?;
    match split1(counts, b'/') {
        Some((ok, total)) => Some((name, ok.parse().ok()?, total.parse().ok()?)),
        None => {
            let n = counts.parse().ok()?;
            Some((name, n, n))
        }
    }
}

/// `WORD after STAGE[ (N bytes)] from CLIENT` → STAGE.
fn stage_after(rest: &str) -> Option<&str> {
    let (stage, tail) = split1(rest, b' ')?;
    // `DATA (0 bytes) from …`: the byte count sits between the stage and `from`.
    let tail = match tail.strip_prefix('(') {
        Some(t) => split_pat(t, b") ")?.1,
        None => tail,
    };
    (!stage.is_empty() && tail.starts_with("from ")).then_some(stage)
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
        // Counted by severity all the same (see `parse_message`).
        return Event::Unsupported;
    }
    match body.as_bytes().first() {
        Some(b'c') if body.starts_with("connect from ") => return Event::SmtpdConnect,
        Some(b'd') => {
            if let Some(rest) = body.strip_prefix("disconnect from ") {
                // Postfix before 3.0 wrote no command counts: an empty list.
                let stats = split1(rest, b' ').map_or("", |(_, s)| s);
                if stats.is_empty() || words(stats).all(|t| parse_command_stat(t).is_some()) {
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
        Some(b'b') => {
            // `bare <LF> received after DATA from CLIENT` (smtpd_forbid_bare_newline).
            if let Some(stage) = body
                .strip_prefix("bare <LF> received after ")
                .and_then(stage_after)
            {
                return Event::SmtpdBareLf { stage };
            }
        }
        Some(b'N') => {
            if let Some(rest) = body.strip_prefix("NOQUEUE: ") {
                // A before-queue content filter (smtpd_proxy_filter): the queue ID comes
                // from the smtpd behind the filter.
                if rest.starts_with("client=") {
                    return Event::SmtpdProxyClient;
                }
                // Hsn723 counts these with the lost connections; so does this parser.
                if let Some(stage) = rest
                    .strip_prefix("lost connection after ")
                    .and_then(stage_after)
                {
                    return Event::SmtpdLostConnection { stage };
                }
                return parse_action(None, rest).map_or(Event::Unsupported, Event::Action);
            }
        }
        _ => {}
    }
    if let Some((queue_id, rest)) = split_queue_id(body) {
        if let Some(client) = rest.strip_prefix("client=") {
            let sasl_method = split_pat(client, b", sasl_method=")
                .map(|(_, m)| split_pat(m, b", ").map_or(m, |(m, _)| m));
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
    const INFO: [&str; 5] = [
        "improper command pipelining after ",
        "SSL_accept error from ",
        "setting up TLS connection from ",
        "discarding EHLO keywords",
        "proxy-",
    ];
    if INFO.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

/// `NAME[ADDR]: SASL METHOD authentication failed: …` → METHOD. With
/// `smtpd_client_port_logging = yes` the client is `NAME[ADDR]:PORT`.
fn sasl_failure(body: &str) -> Option<&str> {
    let (client, rest) = split_pat(body, b": SASL ")?;
    let (_, after_addr) = client.rsplit_once(']')?;
    let port_ok = after_addr.is_empty()
        || after_addr
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let (method, _) = split_pat(rest, b" authentication failed")?;
    (port_ok && !method.is_empty() && !method.contains(' ')).then_some(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::{ActionLine, ev, parse_message};

    #[test]
    fn client_port_logging_and_old_shapes() {
        // smtpd_client_port_logging = yes: the client is NAME[ADDR]:PORT everywhere.
        for msg in [
            "warning: unknown[192.0.2.1]:55729: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "warning: mail.example.com[2001:db8::1]:55729: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob",
        ] {
            let m = parse_message("smtpd", msg);
            assert_eq!(m.event, Event::SaslAuthFailed { method: "LOGIN" }, "{msg}");
        }
        // Not a client: no brackets, or something else after them.
        for msg in [
            "warning: SASL authentication failure: Password verification failed",
            "warning: unknown[192.0.2.1]x: SASL LOGIN authentication failed: y",
        ] {
            let m = parse_message("smtpd", msg);
            assert_eq!((m.event, m.shape_known), (Event::Info, false), "{msg}");
        }
        assert_eq!(
            ev("smtpd", "connect from unknown[192.0.2.1]:55729"),
            Event::SmtpdConnect
        );
        assert_eq!(
            ev(
                "smtpd",
                "lost connection after AUTH from unknown[192.0.2.1]:55729"
            ),
            Event::SmtpdLostConnection { stage: "AUTH" }
        );
        assert!(matches!(
            ev(
                "smtpd",
                "disconnect from unknown[192.0.2.1]:55729 ehlo=1 auth=0/1 quit=1 commands=2/3"
            ),
            Event::SmtpdDisconnect(_)
        ));
        assert!(matches!(
            ev(
                "smtpd",
                "NOQUEUE: reject: RCPT from unknown[192.0.2.1]:55729: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@example.net> to=<x@example.org> proto=ESMTP helo=<x>"
            ),
            Event::Action(ActionLine {
                code: Some(554),
                ..
            })
        ));
        assert!(matches!(
            ev(
                "smtpd",
                "4A1B2C3D4E: client=unknown[192.0.2.1]:55729, sasl_method=PLAIN, sasl_username=bob"
            ),
            Event::SmtpdClient {
                sasl_method: Some("PLAIN"),
                ..
            }
        ));
        // Postfix before 3.0: no command counts on the disconnect line.
        let Event::SmtpdDisconnect(stats) =
            ev("smtpd", "disconnect from mail.example.com[192.0.2.7]")
        else {
            panic!()
        };
        assert_eq!(stats.iter().count(), 0);
        // Before-queue content filter, and lost connections logged under NOQUEUE.
        assert_eq!(
            ev("smtpd", "NOQUEUE: client=mail.example.com[192.0.2.7]"),
            Event::SmtpdProxyClient
        );
        assert_eq!(
            ev(
                "smtpd",
                "NOQUEUE: lost connection after CONNECT from unknown[192.0.2.25]"
            ),
            Event::SmtpdLostConnection { stage: "CONNECT" }
        );
        assert_eq!(
            ev(
                "smtpd",
                "bare <LF> received after DATA from mail.example.com[192.0.2.7]:41852"
            ),
            Event::SmtpdBareLf { stage: "DATA" }
        );
    }

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
