//! cleanup: `message-id=` lines, header/body-check actions and milter actions.
use super::action::{ActionKind, ActionLine, parse_action, split_reply};
use super::{Event, split_queue_id_or_field};
use common::text::split_pat;

/// cleanup header/body checks: `ACTION: header|body …`.
pub(super) fn cleanup_check(rest: &str) -> bool {
    split_pat(rest, b": ").is_some_and(|(word, tail)| {
        ActionKind::parse(word).is_some()
            && (tail.starts_with("header ")
                || tail.starts_with("body ")
                || tail.starts_with("mime-header ")
                || tail.starts_with("nested-header "))
    })
}

pub(super) fn parse_cleanup(body: &str) -> Event<'_> {
    let Some((queue_id, rest)) = split_queue_id_or_field(body, "message-id=") else {
        return Event::Unsupported;
    };
    if rest.starts_with("message-id=") {
        return Event::CleanupMessageId { queue_id };
    }
    if rest.starts_with("resent-message-id=") {
        return Event::Info;
    }
    // `milter-header-ACTION: header …` / `milter-body-ACTION: body …`: milter_header_checks
    // applied to headers a milter added; the rest has the header/body-check form.
    let (rest, milter_part) = match rest
        .strip_prefix("milter-header-")
        .map(|r| (r, "milter_header"))
        .or_else(|| {
            rest.strip_prefix("milter-body-")
                .map(|r| (r, "milter_body"))
        }) {
        Some((r, part)) => (r, Some(part)),
        None => (rest, None),
    };
    if milter_part.is_none() && rest.starts_with("milter-") {
        return parse_action(Some(queue_id), rest).map_or(Event::Unsupported, Event::Action);
    }
    // `reject: header Subject: X from CLIENT; from=<…> to=<…> proto=P helo=<H>: 5.7.1 text`
    let parsed = (|| {
        let (word, tail) = split_pat(rest, b": ")?;
        let action = ActionKind::parse(word)?;
        let (part, _) = tail.split_once(' ')?;
        if !matches!(part, "header" | "body" | "mime-header" | "nested-header") {
            return None;
        }
        let stage = milter_part.unwrap_or(part);
        let reply = tail
            .rfind(">: ")
            .and_then(|i| tail.get(i + 3..))
            .filter(|_| tail.contains("; from=<"))
            .unwrap_or("");
        let (code, enhanced_code, text) = split_reply(reply);
        Some(ActionLine {
            queue_id: Some(queue_id),
            action,
            stage,
            code,
            enhanced_code,
            text,
        })
    })();
    parsed.map_or(Event::Unsupported, Event::Action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::ev;

    #[test]
    fn cleanup_action_lines() {
        let e = ev(
            "cleanup",
            "4jXlM143Kmz6LS4: reject: header Subject: REJECTME now from localhost[127.0.0.1]; from=<alice@sink.test> to=<root@mx.test.local> proto=ESMTP helo=<vm>: 5.7.1 spam subject",
        );
        assert_eq!(
            e,
            Event::Action(ActionLine {
                queue_id: Some("4jXlM143Kmz6LS4"),
                action: ActionKind::Reject,
                stage: "header",
                code: None,
                enhanced_code: Some("5.7.1"),
                text: "spam subject",
            })
        );
        let e = ev(
            "cleanup",
            "ABC123: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Command rejected; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!(
            (a.action, a.stage, a.enhanced_code, a.text),
            (
                ActionKind::MilterReject,
                "END-OF-MESSAGE",
                Some("5.7.1"),
                "Command rejected"
            )
        );
        // milter_header_checks on a header a milter added.
        let e = ev(
            "cleanup",
            "4104E3D: milter-header-redirect: header X-Spam-Flag: YES from mail.example.net[192.0.2.8]; from=<a@example.net> to=<b@example.org> proto=ESMTP helo=<mail.example.net>: quarantine@example.org",
        );
        let Event::Action(a) = e else { panic!("{e:?}") };
        assert_eq!(
            (a.action, a.stage, a.text),
            (
                ActionKind::Redirect,
                "milter_header",
                "quarantine@example.org"
            )
        );
        let e = ev(
            "cleanup",
            "4104E3D: milter-body-reject: body spam spam from mail.example.net[192.0.2.8]; from=<a@example.net> to=<b@example.org> proto=ESMTP helo=<mail.example.net>: 5.7.1 no",
        );
        let Event::Action(a) = e else { panic!("{e:?}") };
        assert_eq!(
            (a.action, a.stage, a.enhanced_code),
            (ActionKind::Reject, "milter_body", Some("5.7.1"))
        );
        assert_eq!(
            ev(
                "cleanup",
                "4104E3D: milter-header-frob: header X: y from a[1.2.3.4]; from=<a> to=<b>: z"
            ),
            Event::Unsupported
        );
        assert_eq!(
            ev("cleanup", "ABC123: message-id=<x@y>"),
            Event::CleanupMessageId { queue_id: "ABC123" }
        );
        assert_eq!(
            ev("cleanup", "ABC123: message-id="),
            Event::CleanupMessageId { queue_id: "ABC123" }
        );
    }
}
