//! qmgr and oqmgr: messages entering the active queue, removed, expired.
use common::text::{rsplit_pat, split_pat, split1};

use super::{Event, split_queue_id_or_field};

pub(super) fn parse_qmgr(body: &str) -> Event<'_> {
    let Some((queue_id, rest)) = split_queue_id_or_field(body, "from=") else {
        return Event::Unsupported;
    };
    if rest == "removed" {
        return Event::QmgrRemoved { queue_id };
    }
    if rest.starts_with("skipped, still being delivered") {
        return Event::Info;
    }
    let Some(after) = rest.strip_prefix("from=") else {
        return Event::Unsupported;
    };
    // The sender may hold `>, ` itself (it is client-chosen), so the last one ends it; a
    // bare address (no brackets: some shippers strip them) ends at the first `, `.
    let tail = match after.strip_prefix('<') {
        Some(inner) => rsplit_pat(inner, b">, ").map(|(_, t)| t),
        None => split_pat(after, b", ").map(|(_, t)| t),
    };
    let Some(tail) = tail else {
        return Event::Unsupported;
    };
    if let Some(status) = tail.strip_prefix("status=") {
        return match status {
            "expired, returned to sender" => Event::QmgrExpired {
                queue_id,
                forced: false,
            },
            "force-expired, returned to sender" => Event::QmgrExpired {
                queue_id,
                forced: true,
            },
            _ => Event::Unsupported,
        };
    }
    let parsed = (|| {
        let size_rest = tail.strip_prefix("size=")?;
        let (size, rest) = split_pat(size_rest, b", nrcpt=")?;
        let (nrcpt, _) = split1(rest, b' ').unwrap_or((rest, ""));
        Some(Event::QmgrActive {
            queue_id,
            size: size.parse().ok()?,
            nrcpt: nrcpt.parse().ok()?,
        })
    })();
    parsed.unwrap_or(Event::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::{Severity, ev, parse_message};

    #[test]
    fn qmgr_lines() {
        assert_eq!(
            ev(
                "qmgr",
                "43E78CE0A6: from=<alice@mx.test.local>, size=275, nrcpt=1 (queue active)"
            ),
            Event::QmgrActive {
                queue_id: "43E78CE0A6",
                size: 275,
                nrcpt: 1
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "43E78CE0A6: from=<>, size=2202, nrcpt=3 (queue active)"
            ),
            Event::QmgrActive {
                queue_id: "43E78CE0A6",
                size: 2202,
                nrcpt: 3
            }
        );
        assert_eq!(
            ev("qmgr", "43E78CE0A6: removed"),
            Event::QmgrRemoved {
                queue_id: "43E78CE0A6"
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "5D39CCE0B0: from=<alice@mx.test.local>, status=force-expired, returned to sender"
            ),
            Event::QmgrExpired {
                queue_id: "5D39CCE0B0",
                forced: true
            }
        );
        assert_eq!(
            ev(
                "qmgr",
                "5D39CCE0B0: from=<a, b>, status=expired, returned to sender"
            ),
            Event::QmgrExpired {
                queue_id: "5D39CCE0B0",
                forced: false
            }
        );
        let m = parse_message(
            "qmgr",
            "warning: mail for [1.2.3.4] is using up 4001 of 4001 active queue entries",
        );
        assert_eq!(
            (m.severity, m.event),
            (Some(Severity::Warning), Event::Info)
        );
    }
}
