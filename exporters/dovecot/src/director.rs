//! The director-admin socket of a Dovecot 2.3 director (removed in 2.4): what `doveadm
//! director status` and `doveadm director ring status` ask. Only the two listing commands
//! are ever sent; the socket also takes commands that move users and take backends down.
//!
//! Both sides send `VERSION\tdirector-doveadm\t1\t0`; the server sends its line as soon as
//! the client connects. `HOST-LIST` answers one line per backend (mail host),
//! `<ip>\t<vhosts>\t<users>\t<tag>\t<U|D>\t<last up/down change>`; `DIRECTOR-LIST` one line
//! per ring member or connection: the director itself as `<ip>\t<port>\tself\t<last
//! failed>\t<ring status>\t<last sync ms>`, a connection to a peer as `<ip>\t<port>\t<left|
//! right|in|out>\t<last failed>\t<status>\t<ping ms>\t<bytes in>\t<bytes out>\t<buffered>\t
//! <peak buffered>\t<last read>\t<last write>`, a known peer without a connection with an
//! empty (or `removed`) type. Each list ends with an empty line. A request the server does
//! not like closes the connection without a reply.

use std::time::Duration;

use crate::wire::{Address, Session, WireError};

/// Largest reply accepted.
pub const MAX_DIRECTOR_BYTES: usize = 16 << 20;

/// One backend (mail host) of the director.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// Its IP address.
    pub ip: String,
    /// Its tag (empty when untagged).
    pub tag: String,
    /// Virtual hosts: its weight in the user hash.
    pub vhosts: f64,
    /// Users the director has assigned to it (kept until `director_user_expire`).
    pub users: f64,
    /// Whether it is up.
    pub up: bool,
    /// Unix time of its last up/down change (0: never).
    pub last_change: f64,
}

/// One row of the ring listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RingRow {
    /// `ip:port` of the director.
    pub director: String,
    /// `self`, `left`, `right`, `in`, `out`, or `` / `removed` for a peer with no connection.
    pub kind: String,
    /// Unix time of its last failure (0: never).
    pub last_failed: f64,
    /// The status text (`ring synced`, `synced`, `handshaking - …`, `syncing - …`).
    pub status: String,
    /// Milliseconds: the last ping of a connection, the last sync of `self`.
    pub ms: Option<f64>,
}

impl RingRow {
    /// Whether this row is a live connection to another director.
    pub fn connected(&self) -> bool {
        matches!(self.kind.as_str(), "left" | "right" | "in" | "out")
    }

    /// Whether the row's status says synced (`ring synced` for `self`).
    pub fn synced(&self) -> bool {
        self.status == "ring synced" || self.status.starts_with("synced")
    }

    /// Whether the row's status says handshaking.
    pub fn handshaking(&self) -> bool {
        self.status.contains("handshaking")
    }
}

/// A line of a listing that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("director listing line {line}: {reason}")]
pub struct DirectorError {
    /// 1-based line within its listing.
    pub line: usize,
    /// What was wrong.
    pub reason: &'static str,
}

fn number(s: &str) -> Result<f64, &'static str> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or("not a number")
}

fn valid_ip(s: &str) -> Result<&str, &'static str> {
    s.parse::<std::net::IpAddr>()
        .map(|_| s)
        .map_err(|_| "not an IP address")
}

/// Parses a `HOST-LIST` reply (without its final empty line).
pub fn parse_hosts(text: &str) -> (Vec<Backend>, Vec<DirectorError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let row = || -> Result<Backend, &'static str> {
            let c: Vec<&str> = line.split('\t').collect();
            let [ip, vhosts, users, tag, state, change, ..] = c[..] else {
                return Err("fewer than 6 columns");
            };
            Ok(Backend {
                ip: valid_ip(ip)?.to_string(),
                tag: crate::stats::unescape(tag).into_owned(),
                vhosts: number(vhosts)?,
                users: number(users)?,
                up: match state {
                    "U" => true,
                    "D" => false,
                    _ => return Err("state is neither U nor D"),
                },
                last_change: number(change)?,
            })
        };
        match row() {
            Ok(b) => out.push(b),
            Err(reason) => errors.push(DirectorError {
                line: i + 1,
                reason,
            }),
        }
    }
    (out, errors)
}

/// Parses a `DIRECTOR-LIST` reply (without its final empty line).
pub fn parse_ring(text: &str) -> (Vec<RingRow>, Vec<DirectorError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let row = || -> Result<RingRow, &'static str> {
            let c: Vec<&str> = line.split('\t').collect();
            let [ip, port, kind, last_failed, rest @ ..] = &c[..] else {
                return Err("fewer than 4 columns");
            };
            valid_ip(ip)?;
            let port: u16 = port.parse().map_err(|_| "port is not a number")?;
            let status = rest.first().copied().unwrap_or("");
            let ms = match rest.get(1) {
                Some(v) if !v.is_empty() => Some(number(v)?),
                _ => None,
            };
            Ok(RingRow {
                director: if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                },
                kind: match *kind {
                    k @ ("self" | "left" | "right" | "in" | "out" | "removed" | "") => {
                        k.to_string()
                    }
                    _ => return Err("unknown connection type"),
                },
                last_failed: number(last_failed)?,
                status: status.to_string(),
                ms,
            })
        };
        match row() {
            Ok(r) => out.push(r),
            Err(reason) => errors.push(DirectorError {
                line: i + 1,
                reason,
            }),
        }
    }
    (out, errors)
}

/// Both listings, read on one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectorStatus {
    /// `HOST-LIST`.
    pub hosts: String,
    /// `DIRECTOR-LIST`.
    pub ring: String,
}

/// Handshakes with the director-admin socket at `addr` and reads `HOST-LIST` and
/// `DIRECTOR-LIST`, within `timeout`.
pub fn director_status(addr: &Address, timeout: Duration) -> Result<DirectorStatus, WireError> {
    let mut s = Session::connect(addr, "director-admin", timeout, MAX_DIRECTOR_BYTES)?;
    s.send(b"VERSION\tdirector-doveadm\t1\t0\nHOST-LIST\nDIRECTOR-LIST\n")?;
    let mut line = Vec::new();
    s.read_line(&mut line)?;
    if !line.starts_with(b"VERSION\tdirector-doveadm\t1\t") {
        return Err(WireError::Handshake {
            peer: s.peer().to_string(),
            want: "VERSION director-doveadm 1.x",
            got: String::from_utf8_lossy(&line).chars().take(100).collect(),
        });
    }
    let hosts = s.read_block()?;
    let ring = s.read_block()?;
    Ok(DirectorStatus { hosts, ring })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn host_and_ring_listings() {
        let (h, e) = parse_hosts(
            "127.0.0.2\t50\t7\t\tU\t0\n127.0.0.3\t100\t1\tssd\tD\t1796227929\n\
             bogus\t1\t1\t\tU\t0\n127.0.0.4\t1\t1\t\tX\t0\n127.0.0.5\t1\n",
        );
        assert_eq!(h.len(), 2);
        assert_eq!(
            h[1],
            Backend {
                ip: "127.0.0.3".into(),
                tag: "ssd".into(),
                vhosts: 100.0,
                users: 1.0,
                up: false,
                last_change: 1796227929.0
            }
        );
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        let (r, e) = parse_ring(
            "127.0.0.1\t21290\tself\t0\tring synced\t0\n\
             127.0.0.2\t21290\tleft\t0\tsynced\t3\t414\t110\t0\t18\t1796228005\t1796228005\n\
             127.0.0.3\t21290\t\t0\t\n\
             ::1\t21290\tremoved\t1796228052\t\n\
             127.0.0.4\t21290\tout\t0\thandshaking - 5 USERs received\t1\t0\t0\t0\t0\t0\t0\n\
             127.0.0.5\tport\tself\t0\t\n",
        );
        assert_eq!(e.len(), 1);
        assert_eq!(r.len(), 5);
        assert!(r[0].synced() && !r[0].connected());
        assert!(r[1].synced() && r[1].connected());
        assert_eq!(r[1].ms, Some(3.0));
        assert!(!r[2].connected() && r[2].ms.is_none());
        assert_eq!(r[3].director, "[::1]:21290");
        assert!(r[4].handshaking() && !r[4].synced());
    }
}
