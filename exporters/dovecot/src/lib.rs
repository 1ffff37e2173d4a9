//! Dovecot exporter, being built: so far the client of Dovecot's stats-reader socket (the
//! protocol `doveadm stats dump` speaks), the parser of its `DUMP` reply, and the reader of
//! the `metric` definitions in a Dovecot config, and the labelled series and histograms
//! rebuilt from them. The other sources, the collector and the binary come next.

pub mod config;
pub mod stats;
