//! Restriction, access-table, header/body-check and milter actions (`reject`, `hold`,
//! `milter-reject`, …): the smtpd/postscreen line form and the reply-text helpers that
//! cleanup's header/body form shares.
use super::is_dsn;
use common::text::{contains_pat, split_pat};

/// What a restriction, header/body check or milter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// `reject`
    Reject,
    /// `reject_warning` (`warn_if_reject`)
    RejectWarning,
    /// `hold`
    Hold,
    /// `discard`
    Discard,
    /// `filter`
    Filter,
    /// `redirect`
    Redirect,
    /// `milter-reject`
    MilterReject,
    /// `milter-discard`
    MilterDiscard,
    /// `milter-hold`
    MilterHold,
    /// cleanup header/body check `warning`
    Warning,
    /// cleanup header/body check `info`
    Info,
    /// cleanup header/body check `replace`
    Replace,
    /// cleanup header/body check `prepend`
    Prepend,
    /// cleanup header/body check `strip`
    Strip,
}

impl ActionKind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Reject => "reject",
            ActionKind::RejectWarning => "reject_warning",
            ActionKind::Hold => "hold",
            ActionKind::Discard => "discard",
            ActionKind::Filter => "filter",
            ActionKind::Redirect => "redirect",
            ActionKind::MilterReject => "milter_reject",
            ActionKind::MilterDiscard => "milter_discard",
            ActionKind::MilterHold => "milter_hold",
            ActionKind::Warning => "warning",
            ActionKind::Info => "info",
            ActionKind::Replace => "replace",
            ActionKind::Prepend => "prepend",
            ActionKind::Strip => "strip",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reject" => ActionKind::Reject,
            "reject_warning" => ActionKind::RejectWarning,
            "hold" => ActionKind::Hold,
            "discard" => ActionKind::Discard,
            "filter" => ActionKind::Filter,
            "redirect" => ActionKind::Redirect,
            "milter-reject" => ActionKind::MilterReject,
            "milter-discard" => ActionKind::MilterDiscard,
            "milter-hold" => ActionKind::MilterHold,
            "warning" => ActionKind::Warning,
            "info" => ActionKind::Info,
            "replace" => ActionKind::Replace,
            "prepend" => ActionKind::Prepend,
            "strip" => ActionKind::Strip,
            _ => return None,
        })
    }

    /// Whether this is one of the milter actions.
    pub fn is_milter(self) -> bool {
        matches!(
            self,
            ActionKind::MilterReject | ActionKind::MilterDiscard | ActionKind::MilterHold
        )
    }
}

/// `QUEUEID|NOQUEUE: ACTION: WHERE from CLIENT: [CODE] [X.Y.Z] TEXT; from=<…> …` (smtpd,
/// postscreen) or `QUEUEID: ACTION: header|body TEXT from CLIENT; from=<…> …: [X.Y.Z] TEXT`
/// (cleanup).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLine<'a> {
    /// Queue ID; `None` for `NOQUEUE`.
    pub queue_id: Option<&'a str>,
    /// The action.
    pub action: ActionKind,
    /// Where: `CONNECT`, `RCPT`, `END-OF-MESSAGE`, … (smtpd) or `header`/`body` (cleanup).
    pub stage: &'a str,
    /// SMTP reply code (`550`), when the line has one.
    pub code: Option<u16>,
    /// Enhanced status code (`5.1.1`), when the line has one.
    pub enhanced_code: Option<&'a str>,
    /// Reply text without codes and without the `; from=<…> to=<…>` tail.
    pub text: &'a str,
}

pub(super) fn starts_with_action(rest: &str, smtpd: bool) -> bool {
    split_pat(rest, b": ").is_some_and(|(word, tail)| {
        ActionKind::parse(word).is_some() && (!smtpd || contains_pat(tail, b" from "))
    })
}

/// smtpd/postscreen form: `ACTION: WHERE from CLIENT: [CODE ][X.Y.Z ]TEXT[; from=<…> …]`.
pub(super) fn parse_action<'a>(queue_id: Option<&'a str>, rest: &'a str) -> Option<ActionLine<'a>> {
    let (word, rest) = split_pat(rest, b": ")?;
    let action = ActionKind::parse(word)?;
    let (stage, rest) = split_pat(rest, b" from ")?;
    if stage.is_empty() || stage.contains(' ') {
        return None;
    }
    // CLIENT is `name[addr]` (smtpd) or `[addr]:port` (postscreen); both contain `]` then `: `.
    let bracket = rest.find(']')?;
    let after_client = rest.get(bracket..)?;
    let (_, reply) = split_pat(after_client, b": ")?;
    let (code, enhanced_code, text) = split_reply(reply);
    let text = reply_text_end(text);
    Some(ActionLine {
        queue_id,
        action,
        stage,
        code,
        enhanced_code,
        text,
    })
}

/// `550 5.1.1 text` → (Some(550), Some("5.1.1"), "text"); either code may be absent.
pub(super) fn split_reply(reply: &str) -> (Option<u16>, Option<&str>, &str) {
    let mut text = reply;
    let mut code = None;
    if let Some((c, t)) = text.split_once(' ')
        && c.len() == 3
        && matches!(c.as_bytes().first(), Some(b'2'..=b'5'))
        && let Ok(n) = c.parse::<u16>()
    {
        code = Some(n);
        text = t;
    }
    let mut enhanced = None;
    if let Some((e, t)) = text.split_once(' ')
        && is_dsn(e)
        && matches!(e.as_bytes().first(), Some(b'2' | b'4' | b'5'))
    {
        enhanced = Some(e);
        text = t;
    }
    (code, enhanced, text)
}

/// Cuts the envelope tail `; from=<…> to=<…> proto=… helo=<…>` off a reply text.
fn reply_text_end(text: &str) -> &str {
    for tail in ["; from=<", "; to=<", "; proto=", "; helo=<"] {
        if let Some(i) = text.find(tail) {
            return text.get(..i).unwrap_or(text);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::{Event, ev};

    #[test]
    fn smtpd_action_lines() {
        let e = ev(
            "smtpd",
            "NOQUEUE: reject: RCPT from client.example.net[192.0.2.10]: 454 4.7.1 <victim@example.org>: Relay access denied; from=<spammer@example.net> to=<victim@example.org> proto=ESMTP helo=<vm>",
        );
        assert_eq!(
            e,
            Event::Action(ActionLine {
                queue_id: None,
                action: ActionKind::Reject,
                stage: "RCPT",
                code: Some(454),
                enhanced_code: Some("4.7.1"),
                text: "<victim@example.org>: Relay access denied",
            })
        );
        let e = ev(
            "smtpd",
            "NOQUEUE: hold: RCPT from localhost[127.0.0.1]: <h@hold.test>: Recipient address triggers HOLD action; from=<a@s> to=<h@hold.test> proto=ESMTP helo=<c>",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!(
            (a.action, a.code, a.enhanced_code),
            (ActionKind::Hold, None, None)
        );
        assert_eq!(
            a.text,
            "<h@hold.test>: Recipient address triggers HOLD action"
        );
        let e = ev(
            "smtpd",
            "NOQUEUE: reject: CONNECT from x[2001:db8::1]: 554 5.7.1 Service unavailable; Client host [2001:db8::1] blocked using zen.spamhaus.org; from=<> proto=SMTP",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!((a.stage, a.code), ("CONNECT", Some(554)));
        assert_eq!(
            a.text,
            "Service unavailable; Client host [2001:db8::1] blocked using zen.spamhaus.org"
        );
    }
}
