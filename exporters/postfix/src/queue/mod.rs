//! Aggregation of queued messages into the queue metrics: per-queue depth, size and
//! oldest age, the qshape matrix (age bucket × domain), deferral reason classes and
//! kumina-compatible size/age histograms.
//!
//! Messages are fed one at a time from a streaming parser, so memory grows with the
//! number of distinct domains, never with the number of messages.
//!
//! `facts` is what the aggregation reads of a message (parsed or cached), `aggregate`
//! walks the messages, `reasons` is the closed set of deferral reason
//! classes, `qshape` the age-bucket arithmetic and matrix cells shared with the qshape
//! collector.

mod aggregate;
mod facts;
mod qshape;
mod reasons;

pub use aggregate::{AGE_BOUNDS, QueueAggregator, QueueStats, SIZE_BOUNDS};
pub use facts::{MessageDigest, MessageFacts};
pub use qshape::{ShapeOptions, ShapeRow, add_qshape_cells, qshape_domain};
pub use reasons::{REASONS, classify_reason};
