//! Collectors of the ProFTPd exporter: one file per collector, each owning its name, its
//! flags and how it is built, and one list of them.

pub mod log;
pub mod scoreboard;

use common::CollectorDef;

/// Every collector of the ProFTPd exporter, in the order they are built and listed.
pub const COLLECTORS: &[&dyn CollectorDef] = &[&log::COLLECTOR, &scoreboard::COLLECTOR];
