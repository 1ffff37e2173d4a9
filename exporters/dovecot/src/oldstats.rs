//! Dovecot's old statistics (2.1/2.2's `stats`, 2.3's `old_stats` plugin and `old-stats`
//! service; removed in 2.4): the `EXPORT` protocol kumina/dovecot_exporter, telegraf and
//! netdata read.
//!
//! There is no handshake: the client sends `EXPORT\t<scope>\n` and the server answers with
//! a header line of column names, one line per key (user, domain, ip, session, command; a
//! single line for `global`), and an empty line. Values are tab-separated. An unknown
//! scope makes the server log an error and close the connection.

use std::time::Duration;

use crate::wire::{Address, Session, WireError};

/// Largest reply accepted.
pub const MAX_EXPORT_BYTES: usize = 64 << 20;

/// A level of the old statistics.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The whole server: one line, no key.
    Global,
    /// Per user (unbounded: one series per user and column).
    User,
    /// Per domain.
    Domain,
    /// Per client IP.
    Ip,
    /// Per session.
    Session,
    /// Per IMAP command.
    Command,
}

impl Scope {
    /// The server's name of the level, also the key label's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::User => "user",
            Scope::Domain => "domain",
            Scope::Ip => "ip",
            Scope::Session => "session",
            Scope::Command => "command",
        }
    }
}

/// Columns that hold names, not numbers, besides the key (session and command rows carry
/// the user, ip and service of the session).
const TEXT_COLUMNS: [&str; 6] = ["user", "ip", "service", "session", "command", "args"];

/// One scope's reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Export {
    /// The numeric columns, in order.
    pub columns: Vec<String>,
    /// Per row: the key (empty for `global`) and a value per numeric column (`None` when
    /// the cell was empty or not a number).
    pub rows: Vec<(String, Vec<Option<f64>>)>,
    /// Cells that should have been numbers and were not.
    pub bad_cells: usize,
}

/// A column name as a metric name part: anything but `[a-zA-Z0-9_]` becomes `_`.
fn metric_part(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Parses a reply (header, rows; without the final empty line) of `scope`.
pub fn parse_export(scope: Scope, text: &str) -> Result<Export, &'static str> {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let Some(header) = lines.next() else {
        // "Nothing matched" is a lone empty line.
        return Ok(Export::default());
    };
    let header: Vec<&str> = header.split('\t').collect();
    let keyed = scope != Scope::Global;
    if keyed && header.first() != Some(&scope.as_str()) {
        return Err("the header does not start with the scope's key column");
    }
    if header.iter().any(|h| h.is_empty()) {
        return Err("empty column name in the header");
    }
    // (index in the line, name) of the numeric columns.
    let numeric: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .skip(usize::from(keyed))
        .filter(|(_, h)| !TEXT_COLUMNS.contains(h))
        .map(|(i, h)| (i, metric_part(h)))
        .collect();
    let mut out = Export {
        columns: numeric.iter().map(|(_, n)| n.clone()).collect(),
        ..Export::default()
    };
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let key = if keyed {
            cells.first().copied().unwrap_or("").to_string()
        } else {
            String::new()
        };
        let values = numeric
            .iter()
            .map(|(i, _)| {
                let cell = cells.get(*i).copied().unwrap_or("");
                if cell.is_empty() {
                    return None;
                }
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => Some(v),
                    _ => {
                        out.bad_cells += 1;
                        None
                    }
                }
            })
            .collect();
        out.rows.push((key, values));
    }
    Ok(out)
}

/// Sends `EXPORT <scope>` to `addr` and returns the reply, within `timeout`.
pub fn export(addr: &Address, scope: Scope, timeout: Duration) -> Result<String, WireError> {
    let mut s = Session::connect(addr, "old-stats", timeout, MAX_EXPORT_BYTES)?;
    s.send(format!("EXPORT\t{}\n", scope.as_str()).as_bytes())?;
    s.read_block()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn global_user_and_session_replies() {
        let g = parse_export(
            Scope::Global,
            "reset_timestamp\tlast_update\tnum_logins\tauth_failures\n1795388409\t1795388419.461357\t4\t1\n",
        )
        .unwrap();
        assert_eq!(
            g.columns,
            [
                "reset_timestamp",
                "last_update",
                "num_logins",
                "auth_failures"
            ]
        );
        assert_eq!(
            g.rows,
            [(
                String::new(),
                vec![
                    Some(1795388409.0),
                    Some(1795388419.461357),
                    Some(4.0),
                    Some(1.0)
                ]
            )]
        );
        let u = parse_export(
            Scope::User,
            "user\treset_timestamp\tnum_logins\nbob@example.test\t1\t1\n\t1\t3\nx\t1\tNaN\n",
        )
        .unwrap();
        assert_eq!(u.columns, ["reset_timestamp", "num_logins"]);
        assert_eq!(u.rows[1].0, "");
        assert_eq!(u.rows[2].1, [Some(1.0), None]);
        assert_eq!(u.bad_cells, 1);
        let s = parse_export(
            Scope::Session,
            "session\tuser\tip\tservice\tpid\tconnected\tnum_cmds\nYRdh\talice\t127.0.0.1\tpop3\t17854\t1\t0\n",
        )
        .unwrap();
        assert_eq!(s.columns, ["pid", "connected", "num_cmds"]);
        assert_eq!(s.bad_cells, 0);
        assert_eq!(parse_export(Scope::User, "").unwrap(), Export::default());
        assert!(parse_export(Scope::User, "domain\tx\n").is_err());
        assert!(parse_export(Scope::Global, "a\t\tb\n").is_err());
        let odd = parse_export(Scope::Global, "a-b.c\n1\n").unwrap();
        assert_eq!(odd.columns, ["a_b_c"]);
    }
}
