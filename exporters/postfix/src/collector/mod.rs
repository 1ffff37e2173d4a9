//! Collectors of the Postfix exporter: one file per collector, each owning its name, its
//! flags and how it is built, and one list of them.

pub mod log;
pub mod qshape;
pub mod queue;
pub mod spool;

use common::CollectorDef;

/// Every collector of the Postfix exporter, in the order they are built and listed.
pub const COLLECTORS: &[&dyn CollectorDef] =
    &[&queue::COLLECTOR, &log::COLLECTOR, &qshape::COLLECTOR];
