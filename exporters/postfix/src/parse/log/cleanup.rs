//! cleanup: `message-id=` lines, header/body-check actions and milter actions.
use super::action::{ActionKind, ActionLine, parse_action, split_reply};
use super::{Event, split_queue_id};

/// cleanup header/body checks: `ACTION: header|body …`.
pub(super) fn cleanup_check(rest: &str) -> bool {
    rest.split_once(": ").is_some_and(|(word, tail)| {
        ActionKind::parse(word).is_some()
            && (tail.starts_with("header ")
                || tail.starts_with("body ")
                || tail.starts_with("mime-header ")
                || tail.starts_with("nested-header "))
    })
}

pub(super) fn parse_cleanup(body: &str) -> Event<'_> {
    let Some((queue_id, rest)) = split_queue_id(body) else {
        return Event::Unsupported;
    };
    if rest.starts_with("message-id=") {
        return Event::CleanupMessageId { queue_id };
    }
    if rest.starts_with("resent-message-id=") {
        return Event::Info;
    }
    if rest.starts_with("milter-") {
        return parse_action(Some(queue_id), rest).map_or(Event::Unsupported, Event::Action);
    }
    // `reject: header Subject: X from CLIENT; from=<…> to=<…> proto=P helo=<H>: 5.7.1 text`
    let parsed = (|| {
        let (word, tail) = rest.split_once(": ")?;
        let action = ActionKind::parse(word)?;
        let (stage, _) = tail.split_once(' ')?;
        if !matches!(stage, "header" | "body" | "mime-header" | "nested-header") {
            return None;
        }
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
