//! Collectors of the Postfix exporter: one file per collector.

pub mod qshape;
pub mod queue;
pub mod spool;
