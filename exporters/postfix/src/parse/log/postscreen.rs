//! postscreen: connects, passes, DNSBL ranks, pregreet/hangup, access lists, protocol
//! test violations (its rejects use the `action` form).
use super::Event;
use super::action::parse_action;

/// postscreen access-list outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessListAction {
    /// `DENYLISTED` / `BLACKLISTED` (before 3.6)
    Denylisted,
    /// `ALLOWLISTED` / `WHITELISTED` (before 3.6)
    Allowlisted,
}

impl AccessListAction {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessListAction::Denylisted => "deny",
            AccessListAction::Allowlisted => "allow",
        }
    }
}

/// postscreen protocol-test violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Violation {
    /// `COMMAND PIPELINING`
    Pipelining,
    /// `COMMAND TIME LIMIT`
    TimeLimit,
    /// `COMMAND COUNT LIMIT`
    CountLimit,
    /// `COMMAND LENGTH LIMIT`
    LengthLimit,
    /// `BARE NEWLINE`
    BareNewline,
    /// `NON-SMTP COMMAND`
    NonSmtpCommand,
}

impl Violation {
    /// Hsn723's `test` label value of `postfix_postscreen_tests_failed_total`: the
    /// logged words with `_` for space and `-`.
    pub fn test_name(self) -> &'static str {
        match self {
            Violation::Pipelining => "COMMAND_PIPELINING",
            Violation::TimeLimit => "COMMAND_TIME_LIMIT",
            Violation::CountLimit => "COMMAND_COUNT_LIMIT",
            Violation::LengthLimit => "COMMAND_LENGTH_LIMIT",
            Violation::BareNewline => "BARE_NEWLINE",
            Violation::NonSmtpCommand => "NON_SMTP_COMMAND",
        }
    }

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Pipelining => "pipelining",
            Violation::TimeLimit => "time_limit",
            Violation::CountLimit => "count_limit",
            Violation::LengthLimit => "length_limit",
            Violation::BareNewline => "bare_newline",
            Violation::NonSmtpCommand => "non_smtp_command",
        }
    }
}

/// postscreen events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostscreenEvent {
    /// `CONNECT from [ip]:port to [ip]:port`
    Connect,
    /// `PASS NEW [ip]:port`
    PassNew,
    /// `PASS OLD [ip]:port`
    PassOld,
    /// `DNSBL rank N for [ip]:port`
    DnsblRank(u32),
    /// `PREGREET N after S from [ip]:port: …`
    Pregreet,
    /// `HANGUP after S from [ip]:port in …`
    Hangup,
    /// `DENYLISTED|ALLOWLISTED [ip]:port`
    AccessList(AccessListAction),
    /// A protocol-test violation.
    Violation(Violation),
}

pub(super) fn parse_postscreen(body: &str) -> Event<'_> {
    use PostscreenEvent as P;
    let Some((first, rest)) = body.split_once(' ') else {
        return Event::Unsupported;
    };
    let ev = match first {
        "CONNECT" if rest.starts_with("from ") => P::Connect,
        "PASS" => match rest.split_once(' ') {
            Some(("NEW", _)) => P::PassNew,
            Some(("OLD", _)) => P::PassOld,
            _ => return Event::Unsupported,
        },
        "DNSBL" => {
            let rank = rest
                .strip_prefix("rank ")
                .and_then(|r| r.split_once(' '))
                .and_then(|(n, _)| n.parse::<u32>().ok());
            match rank {
                Some(n) => P::DnsblRank(n),
                None => return Event::Unsupported,
            }
        }
        "PREGREET" => P::Pregreet,
        "HANGUP" => P::Hangup,
        "DENYLISTED" | "BLACKLISTED" => P::AccessList(AccessListAction::Denylisted),
        "ALLOWLISTED" | "WHITELISTED" => P::AccessList(AccessListAction::Allowlisted),
        "COMMAND" => {
            if rest.starts_with("PIPELINING ") {
                P::Violation(Violation::Pipelining)
            } else if rest.starts_with("TIME LIMIT ") {
                P::Violation(Violation::TimeLimit)
            } else if rest.starts_with("COUNT LIMIT ") {
                P::Violation(Violation::CountLimit)
            } else if rest.starts_with("LENGTH LIMIT ") {
                P::Violation(Violation::LengthLimit)
            } else {
                return Event::Unsupported;
            }
        }
        "BARE" if rest.starts_with("NEWLINE ") => P::Violation(Violation::BareNewline),
        "NON-SMTP" if rest.starts_with("COMMAND ") => P::Violation(Violation::NonSmtpCommand),
        "NOQUEUE:" => return parse_action(None, rest).map_or(Event::Unsupported, Event::Action),
        // `DATA without valid RCPT from [ip]:port`: the dummy engine's 554 reply.
        "DATA" if rest.starts_with("without valid RCPT ") => return Event::Info,
        "DISCONNECT" | "cache" | "ALLOWLIST" | "DENYLIST" | "WHITELIST" | "BLACKLIST"
        | "NOQUEUE" | "BDAT" | "PIPELINING" => return Event::Info,
        _ => return Event::Unsupported,
    };
    Event::Postscreen(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::ev;

    #[test]
    fn postscreen_lines() {
        use PostscreenEvent as P;
        let p = |m: &str| ev("postscreen", m);
        assert_eq!(
            p("CONNECT from [192.0.2.1]:5678 to [192.0.2.2]:25"),
            Event::Postscreen(P::Connect)
        );
        assert_eq!(
            p("DATA without valid RCPT from [192.0.2.1]:5678"),
            Event::Info
        );
        assert_eq!(
            p("PASS NEW [192.0.2.1]:5678"),
            Event::Postscreen(P::PassNew)
        );
        assert_eq!(
            p("PASS OLD [192.0.2.1]:5678"),
            Event::Postscreen(P::PassOld)
        );
        assert_eq!(
            p("DNSBL rank 3 for [192.0.2.1]:5678"),
            Event::Postscreen(P::DnsblRank(3))
        );
        assert_eq!(
            p("PREGREET 11 after 0.1 from [192.0.2.1]:5678: EHLO x\\r\\n"),
            Event::Postscreen(P::Pregreet)
        );
        assert_eq!(
            p("HANGUP after 0.5 from [192.0.2.1]:5678 in tests before SMTP handshake"),
            Event::Postscreen(P::Hangup)
        );
        assert_eq!(
            p("BLACKLISTED [192.0.2.1]:5678"),
            Event::Postscreen(P::AccessList(AccessListAction::Denylisted))
        );
        assert_eq!(
            p("WHITELISTED [192.0.2.1]:5678"),
            Event::Postscreen(P::AccessList(AccessListAction::Allowlisted))
        );
        assert_eq!(
            p("COMMAND TIME LIMIT from [192.0.2.1]:5678 after RCPT"),
            Event::Postscreen(P::Violation(Violation::TimeLimit))
        );
        assert_eq!(
            p("COMMAND COUNT LIMIT from [192.0.2.1]:5678 after RCPT"),
            Event::Postscreen(P::Violation(Violation::CountLimit))
        );
        assert_eq!(
            p("COMMAND LENGTH LIMIT from [192.0.2.1]:5678 after RCPT"),
            Event::Postscreen(P::Violation(Violation::LengthLimit))
        );
        let e = p(
            "NOQUEUE: reject: RCPT from [192.0.2.1]:5678: 550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org; from=<a@b>, to=<c@d>, proto=ESMTP, helo=<x>",
        );
        let Event::Action(a) = e else { panic!() };
        assert_eq!(
            (a.code, a.text),
            (
                Some(550),
                "Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org"
            )
        );
        assert_eq!(p("DNSBL rank x for [192.0.2.1]:5678"), Event::Unsupported);
        assert_eq!(p("FUTURE THING"), Event::Unsupported);
    }
}
