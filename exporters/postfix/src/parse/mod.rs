//! Pure parsers for everything Postfix prints about its queue and its log.
//!
//! Parsers take bytes or text and never do I/O; they are tested on real captured
//! output in `tests/fixtures/postfix-<version>/`.

pub mod log;
pub mod mailq;
pub mod postqueue_json;
pub mod qshape;
pub mod queuefile;
pub mod showq;

/// The five Postfix queues the exporter always reports, in showq's scan order.
pub const QUEUES: [&str; 5] = ["maildrop", "active", "incoming", "deferred", "hold"];

/// One recipient of a queued message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    /// Recipient address as Postfix quoted it.
    pub address: String,
    /// Deferral reason (`delay_reason` / showq `reason`), when there is one.
    pub reason: Option<String>,
    /// Original recipient (Postfix 3.11+).
    pub orig_address: Option<String>,
    /// `defer` or `bounce` (Postfix 3.11+ `log_class`).
    pub log_class: Option<String>,
}

/// One queued message, as listed by showq, `postqueue -j` or `mailq`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Queue name (`maildrop`, `incoming`, `active`, `deferred`, `hold`, or another name).
    pub queue: String,
    /// Queue ID (short or long form).
    pub queue_id: String,
    /// Arrival time, unix seconds, when known.
    pub arrival_time: Option<i64>,
    /// Message content size in bytes, when known.
    pub size: Option<u64>,
    /// Whether the message was force-expired (Postfix 3.5+).
    pub forced_expire: bool,
    /// Envelope sender (`MAILER-DAEMON` for the null sender in showq output).
    pub sender: String,
    /// Recipients still queued.
    pub recipients: Vec<Recipient>,
}
