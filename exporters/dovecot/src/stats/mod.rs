//! Dovecot's "new" statistics (2.3+): the stats-reader socket and its `DUMP` reply.

pub mod doveadm;
pub mod dump;
pub mod reader;
pub mod resets;
pub mod series;

pub use dump::{DumpError, DumpRow, Stat, StatValues, parse_dump, unescape};
pub use reader::{Dump, StatsReader};
