//! bounce, defer and trace: the notifications bounce(8) sends.
use super::{Event, split_queue_id_or_field};

/// bounce(8) notification types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// `sender non-delivery notification`
    NonDelivery,
    /// `sender delay notification`
    Delay,
    /// `sender delivery status notification` (success DSN)
    Success,
    /// `postmaster non-delivery notification`
    PostmasterNonDelivery,
    /// `postmaster delay notification`
    PostmasterDelay,
    /// `postmaster delivery status notification`
    PostmasterSuccess,
}

impl NotificationKind {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::NonDelivery => "non_delivery",
            NotificationKind::Delay => "delay",
            NotificationKind::Success => "success",
            NotificationKind::PostmasterNonDelivery => "postmaster_non_delivery",
            NotificationKind::PostmasterDelay => "postmaster_delay",
            NotificationKind::PostmasterSuccess => "postmaster_success",
        }
    }
}

pub(super) fn parse_bounce(body: &str) -> Event<'_> {
    let Some((_, rest)) = split_queue_id_or_field(body, "sender ") else {
        return Event::Unsupported;
    };
    let (who, rest) = match rest.split_once(' ') {
        Some(("sender", r)) => (false, r),
        Some(("postmaster", r)) => (true, r),
        _ => return Event::Unsupported,
    };
    let kind = if rest.starts_with("non-delivery notification: ") {
        if who {
            NotificationKind::PostmasterNonDelivery
        } else {
            NotificationKind::NonDelivery
        }
    } else if rest.starts_with("delay notification: ") {
        if who {
            NotificationKind::PostmasterDelay
        } else {
            NotificationKind::Delay
        }
    } else if rest.starts_with("delivery status notification: ") {
        if who {
            NotificationKind::PostmasterSuccess
        } else {
            NotificationKind::Success
        }
    } else {
        return Event::Unsupported;
    };
    Event::BounceNotification(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::ev;

    #[test]
    fn bounce_lines() {
        assert_eq!(
            ev(
                "bounce",
                "5125DCE0AC: sender non-delivery notification: 57D4ACE0B1"
            ),
            Event::BounceNotification(NotificationKind::NonDelivery)
        );
        assert_eq!(
            ev(
                "bounce",
                "5125DCE0AC: sender delay notification: 57D4ACE0B1"
            ),
            Event::BounceNotification(NotificationKind::Delay)
        );
        assert_eq!(
            ev(
                "bounce",
                "5125DCE0AC: postmaster non-delivery notification: 57D4ACE0B1"
            ),
            Event::BounceNotification(NotificationKind::PostmasterNonDelivery)
        );
    }
}
