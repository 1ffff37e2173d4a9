//! postsuper(1) per-message actions.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::{Shared, SvcActionLabels};
use crate::parse::log::PostsuperAction;

/// postsuper counters.
#[derive(Debug)]
pub(super) struct PostsuperMetrics {
    postsuper_actions: Family<SvcActionLabels, Counter>,
}

impl PostsuperMetrics {
    pub(super) fn new() -> Self {
        Self {
            postsuper_actions: Family::default(),
        }
    }

    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "postfix_postsuper_actions",
            "postsuper per-message actions",
            self.postsuper_actions.clone(),
        );
    }

    pub(super) fn action(&self, a: PostsuperAction, inst: Shared, svc: Shared) {
        let l = SvcActionLabels {
            postfix_instance: inst,
            service: svc,
            action: a.as_str(),
        };
        self.postsuper_actions.get_or_create(&l).inc();
    }
}
