//! Dovecot exporter, being built: so far the client of Dovecot's stats-reader socket (the
//! protocol `doveadm stats dump` speaks), the parser of its `DUMP` reply, and the reader of
//! the `metric` definitions in a Dovecot config. The labels and histograms rebuilt from
//! those definitions, the other sources, the collector and the binary come next.

pub mod config;
pub mod stats;
