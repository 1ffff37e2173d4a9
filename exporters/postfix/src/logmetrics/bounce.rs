//! bounce(8) notifications by type, plus kumina's non-delivery counter.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{Shared, SvcTypeLabels};
use crate::parse::log::NotificationKind;

/// bounce counters.
#[derive(Debug)]
pub(super) struct BounceMetrics {
    bounce_notifications: Family<SvcTypeLabels, Counter>,
    bounce_non_delivery: Counter,
}

impl BounceMetrics {
    pub(super) fn new() -> Self {
        Self {
            bounce_notifications: Family::default(),
            bounce_non_delivery: Counter::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_bounce_notifications",
            "Notifications sent by bounce(8), by type",
            self.bounce_notifications.clone(),
        );
        r.register(
            "postfix_bounce_non_delivery_notification",
            "Sender non-delivery notifications (kumina-compatible)",
            self.bounce_non_delivery.clone(),
        );
    }

    pub(super) fn notification(&self, kind: NotificationKind, inst: Shared, svc: Shared) {
        let l = SvcTypeLabels {
            postfix_instance: inst,
            service: svc,
            r#type: kind.as_str(),
        };
        self.bounce_notifications.get_or_create(&l).inc();
        if kind == NotificationKind::NonDelivery {
            self.bounce_non_delivery.inc();
        }
    }
}
