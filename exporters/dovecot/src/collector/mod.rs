//! Collectors of the Dovecot exporter: one file per collector, each owning its name, its
//! flags and how it is built, and one list of them.

pub mod director;
pub mod log;
pub mod oldstats;
pub mod proctitle;
pub mod service;
pub mod sessions;
pub mod stats;

use common::CollectorDef;

/// Every collector of the Dovecot exporter, in the order they are built and listed.
pub const COLLECTORS: &[&dyn CollectorDef] = &[
    &stats::COLLECTOR,
    &sessions::COLLECTOR,
    &log::COLLECTOR,
    &oldstats::COLLECTOR,
    &service::COLLECTOR,
    &director::COLLECTOR,
    &proctitle::COLLECTOR,
];
