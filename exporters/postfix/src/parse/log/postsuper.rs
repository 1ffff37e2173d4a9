//! postsuper(1): per-message hold, release, delete, expire and requeue.
use super::{Event, split_queue_id};

/// postsuper(1) per-message actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostsuperAction {
    /// `placed on hold` (`-h`)
    Hold,
    /// `released from hold` (`-H`)
    Release,
    /// `removed` (`-d`)
    Delete,
    /// `expired` (`-e`/`-f`)
    Expire,
    /// `requeued` (`-r`)
    Requeue,
}

impl PostsuperAction {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PostsuperAction::Hold => "hold",
            PostsuperAction::Release => "release",
            PostsuperAction::Delete => "delete",
            PostsuperAction::Expire => "expire",
            PostsuperAction::Requeue => "requeue",
        }
    }
}

pub(super) fn postsuper_action(rest: &str) -> Option<PostsuperAction> {
    Some(match rest {
        "placed on hold" => PostsuperAction::Hold,
        "released from hold" => PostsuperAction::Release,
        "removed" => PostsuperAction::Delete,
        "expired" => PostsuperAction::Expire,
        "requeued" => PostsuperAction::Requeue,
        _ => return None,
    })
}

pub(super) fn parse_postsuper(body: &str) -> Event<'_> {
    if let Some((_, rest)) = split_queue_id(body) {
        return postsuper_action(rest).map_or(Event::Unsupported, Event::Postsuper);
    }
    // Summary lines (`Deleted: 3 messages`) repeat the per-message lines: recognised only.
    const SUMMARY: [&str; 5] = [
        "Placed on hold: ",
        "Released from hold: ",
        "Deleted: ",
        "Requeued: ",
        "Force-expired: ",
    ];
    if SUMMARY.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::ev;

    #[test]
    fn postsuper_lines() {
        assert_eq!(
            ev("postsuper", "5D39CCE0B0: placed on hold"),
            Event::Postsuper(PostsuperAction::Hold)
        );
        assert_eq!(
            ev("postsuper", "5D39CCE0B0: released from hold"),
            Event::Postsuper(PostsuperAction::Release)
        );
        assert_eq!(
            ev("postsuper", "5D39CCE0B0: removed"),
            Event::Postsuper(PostsuperAction::Delete)
        );
        assert_eq!(ev("postsuper", "Deleted: 3 messages"), Event::Info);
    }
}
