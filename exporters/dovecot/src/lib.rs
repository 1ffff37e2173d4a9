//! Dovecot exporter, being built: so far the client of Dovecot's stats-reader socket (the
//! protocol `doveadm stats dump` speaks) and the parser of its `DUMP` reply. The collector,
//! the labels rebuilt from the metric definitions and the binary come next.

pub mod stats;
