//! What the aggregator reads from one message, as a trait: the parsed listings (showq,
//! `postqueue -j`, `mailq`) hand over whole [`QueuedMessage`]s, while the spool source hands
//! over compact cached summaries (no address strings), and both go through the same
//! aggregation code, so their metrics cannot drift apart.

use std::collections::BTreeMap;

use super::qshape::qshape_domain;
use super::reasons::REASONS;
use crate::parse::QueuedMessage;

/// The facts of one queued message that the queue metrics are built from.
pub trait MessageFacts {
    /// Queue name (`deferred`, `hold`, …).
    fn queue(&self) -> &str;
    /// Content size in bytes, when known.
    fn size(&self) -> Option<u64>;
    /// Arrival time (unix seconds), when known.
    fn arrival_time(&self) -> Option<i64>;
    /// Whether the message is marked for forced expiry (`postsuper -e`).
    fn forced_expire(&self) -> bool;
    /// Recipients still queued.
    fn recipient_count(&self) -> u64;
    /// Calls `f(class, n)` for `n` recipients whose delay reason falls in `class` (an index
    /// in [`REASONS`]). `classify` turns a reason text into its class, for facts that still
    /// hold the text; the aggregator passes a cached [`super::classify_reason`].
    fn reason_classes(
        &self,
        classify: &mut dyn FnMut(Option<&str>) -> usize,
        f: &mut dyn FnMut(usize, u64),
    );
    /// Calls `f(domain, n)` for `n` recipients whose qshape domain is `domain`.
    fn recipient_domains(&self, f: &mut dyn FnMut(&str, u64));
    /// Calls `f` once with the sender's qshape domain.
    fn sender_domain(&self, f: &mut dyn FnMut(&str));
}

impl MessageFacts for QueuedMessage {
    fn queue(&self) -> &str {
        &self.queue
    }
    fn size(&self) -> Option<u64> {
        self.size
    }
    fn arrival_time(&self) -> Option<i64> {
        self.arrival_time
    }
    fn forced_expire(&self) -> bool {
        self.forced_expire
    }
    fn recipient_count(&self) -> u64 {
        self.recipients.len() as u64
    }
    fn reason_classes(
        &self,
        classify: &mut dyn FnMut(Option<&str>) -> usize,
        f: &mut dyn FnMut(usize, u64),
    ) {
        for r in &self.recipients {
            f(classify(r.reason.as_deref()), 1);
        }
    }
    fn recipient_domains(&self, f: &mut dyn FnMut(&str, u64)) {
        for r in &self.recipients {
            f(&qshape_domain(&r.address), 1);
        }
    }
    fn sender_domain(&self, f: &mut dyn FnMut(&str)) {
        f(&qshape_domain(&self.sender));
    }
}

/// Everything [`MessageFacts`] says about one message, owned and comparable: what the tests
/// use to hold two sources (or two walks) to the same per-message result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageDigest {
    /// Queue ID (given by the caller: the facts do not carry it).
    pub queue_id: String,
    /// Queue name.
    pub queue: String,
    /// Arrival time, unix seconds.
    pub arrival_time: Option<i64>,
    /// Content size in bytes.
    pub size: Option<u64>,
    /// Marked for forced expiry.
    pub forced_expire: bool,
    /// Recipients still queued.
    pub recipients: u64,
    /// Recipients per reason class, in [`REASONS`] order.
    pub reasons: Vec<u64>,
    /// Recipients per qshape domain.
    pub domains: BTreeMap<String, u64>,
    /// The sender's qshape domain.
    pub sender_domain: String,
}

impl MessageDigest {
    /// The digest of `facts`, with reason texts classified by [`super::classify_reason`].
    pub fn of(queue_id: &str, facts: &(impl MessageFacts + ?Sized)) -> Self {
        let mut reasons = vec![0u64; REASONS.len()];
        facts.reason_classes(&mut |r| super::classify_reason(r), &mut |c, n| {
            if let Some(x) = reasons.get_mut(c) {
                *x += n;
            }
        });
        let mut domains = BTreeMap::new();
        facts.recipient_domains(&mut |d, n| *domains.entry(d.to_string()).or_insert(0) += n);
        let mut sender_domain = String::new();
        facts.sender_domain(&mut |d| sender_domain = d.to_string());
        Self {
            queue_id: queue_id.to_string(),
            queue: facts.queue().to_string(),
            arrival_time: facts.arrival_time(),
            size: facts.size(),
            forced_expire: facts.forced_expire(),
            recipients: facts.recipient_count(),
            reasons,
            domains,
            sender_domain,
        }
    }
}
