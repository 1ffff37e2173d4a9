//! Logged-in sessions and users per protocol: from anvil's `CONNECT-DUMP` (what `doveadm
//! who` asks) or from `doveadm who` output. Anvil only knows authenticated sessions;
//! connections still at the login prompt are not in it.
//!
//! Anvil's reply is one line per (session identity, process) and an empty line:
//! - 2.3: `service/ip/user` (LMTP: `service/user`), the pid and a reference count, the
//!   number of that identity's connections in that process;
//! - 2.4: the pid, the user, the service, the ip, the connection GUID, the destination ip
//!   and optionally alternative user names, one line per connection.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use crate::wire::{Address, Session, WireError};

/// Largest anvil reply accepted: a million sessions of about 60 bytes each.
pub const MAX_ANVIL_BYTES: usize = 64 << 20;

/// The anvil protocol to speak.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnvilVersion {
    /// Dovecot 2.3 (`VERSION anvil 1 0`).
    #[value(name = "2.3")]
    V23,
    /// Dovecot 2.4 (`VERSION anvil-client 2 0`).
    #[value(name = "2.4")]
    V24,
}

/// One line of a session listing: `count` sessions of `user` over `protocol`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    /// The service (`imap`, `pop3`, `lmtp`, `submission`, ...).
    pub protocol: String,
    /// The user name.
    pub user: String,
    /// How many sessions the line stands for.
    pub count: u64,
}

/// A line of a listing that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session listing line {line}: {reason}")]
pub struct ListingError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong (without the line: it holds a user name).
    pub reason: &'static str,
}

/// Sessions and distinct users per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCounts {
    /// protocol → (sessions, distinct users).
    pub by_protocol: BTreeMap<String, (u64, u64)>,
    /// Distinct users over all protocols.
    pub users: u64,
}

impl SessionCounts {
    /// Counts `lines`.
    pub fn of(lines: &[SessionLine]) -> Self {
        let mut per: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
        let mut all = BTreeSet::new();
        for l in lines {
            let e = per.entry(l.protocol.as_str()).or_default();
            e.0 += l.count;
            e.1.insert(l.user.as_str());
            all.insert(l.user.as_str());
        }
        SessionCounts {
            by_protocol: per
                .into_iter()
                .map(|(p, (s, u))| (p.to_string(), (s, u.len() as u64)))
                .collect(),
            users: all.len() as u64,
        }
    }
}

/// Protocol label values are bounded: a service name is a short lowercase word.
fn valid_protocol(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Parses anvil's `CONNECT-DUMP` reply (without its final empty line), 2.3 or 2.4 rows.
pub fn parse_connect_dump(text: &str) -> (Vec<SessionLine>, Vec<ListingError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        match connect_dump_row(line) {
            Ok(l) => out.push(l),
            Err(reason) => errors.push(ListingError {
                line: i + 1,
                reason,
            }),
        }
    }
    (out, errors)
}

fn connect_dump_row(line: &str) -> Result<SessionLine, &'static str> {
    let cols: Vec<&str> = line.split('\t').collect();
    let number = |s: &str| s.parse::<u64>().map_err(|_| "not a number");
    match cols[..] {
        // 2.3: ident, pid, refcount.
        [ident, pid, refcount] => {
            number(pid)?;
            let count = number(refcount)?;
            let (service, rest) = ident.split_once('/').ok_or("identity without a service")?;
            // service/ip/user, or service/user for LMTP (a user name may hold '/').
            let user = match rest.split_once('/') {
                Some((ip, user)) if ip.parse::<IpAddr>().is_ok() => user,
                _ => rest,
            };
            if !valid_protocol(service) {
                return Err("not a service name");
            }
            Ok(SessionLine {
                protocol: service.to_string(),
                user: crate::stats::unescape(user).into_owned(),
                count,
            })
        }
        // 2.4: pid, user, service, ip, conn-guid, dest-ip[, alt usernames].
        [pid, user, service, _ip, _guid, _dest, ..] => {
            number(pid)?;
            if !valid_protocol(service) {
                return Err("not a service name");
            }
            Ok(SessionLine {
                protocol: service.to_string(),
                user: crate::stats::unescape(user).into_owned(),
                count: 1,
            })
        }
        _ => Err("unexpected number of columns"),
    }
}

/// Parses `doveadm who` output: the grouped listing (`username # proto (pids) (ips)`, in the
/// table or tab formatter) or `doveadm who -1` (`username proto pid ip`, one session each).
pub fn parse_who(text: &str) -> Result<(Vec<SessionLine>, Vec<ListingError>), &'static str> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let head: Vec<&str> = header.split_whitespace().collect();
    let grouped = match head[..] {
        ["username", "#", "proto", ..] => true,
        ["username", "proto", "pid", ..] => false,
        _ => {
            return Err(
                "not doveadm who output (header username # proto … or username proto pid ip)",
            );
        }
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in lines {
        // A user name may hold spaces in the tab formatter only; split on tabs there.
        let cols: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        let row = if grouped {
            match cols[..] {
                [user, count, proto, ..] => count
                    .parse::<u64>()
                    .map(|c| (user, proto, c))
                    .map_err(|_| "session count is not a number"),
                _ => Err("too few columns"),
            }
        } else {
            match cols[..] {
                [user, proto, pid, ..] if pid.parse::<u64>().is_ok() => Ok((user, proto, 1)),
                [_, _, _, ..] => Err("pid is not a number"),
                _ => Err("too few columns"),
            }
        };
        match row {
            Ok((_, proto, _)) if !valid_protocol(proto) => errors.push(ListingError {
                line: i + 1,
                reason: "not a service name",
            }),
            Ok((user, proto, count)) => out.push(SessionLine {
                protocol: proto.to_string(),
                user: user.to_string(),
                count,
            }),
            Err(reason) => errors.push(ListingError {
                line: i + 1,
                reason,
            }),
        }
    }
    Ok((out, errors))
}

/// Asks anvil at `addr` for its connection dump, within `timeout`.
pub fn anvil_dump(
    addr: &Address,
    version: AnvilVersion,
    timeout: Duration,
) -> Result<String, WireError> {
    let mut s = Session::connect(addr, "anvil", timeout, MAX_ANVIL_BYTES)?;
    let hello: &[u8] = match version {
        AnvilVersion::V23 => b"VERSION\tanvil\t1\t0\nCONNECT-DUMP\n",
        AnvilVersion::V24 => b"VERSION\tanvil-client\t2\t0\nCONNECT-DUMP\n",
    };
    s.send(hello)?;
    let block = s.read_block()?;
    // A server that answers the handshake with its own VERSION line (2.4 may) has it
    // before the rows; 2.3 sends none.
    Ok(match block.strip_prefix("VERSION\t") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, r)| r).to_string(),
        None => block,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connect_dump_rows_of_both_versions() {
        let text = "imap/127.0.0.1/bob@example.test\t18853\t1\n\
                    imap/127.0.0.1/alice@example.test\t18851\t2\n\
                    pop3/::1/alice@example.test\t18856\t1\n\
                    lmtp/carol/with/slashes\t18857\t1\n\
                    17852\tdave\timap\t127.0.0.1\tguid\t127.0.0.1\n\
                    garbage\n\
                    imap/127.0.0.1/x\tnotapid\t1\n\
                    IMAP/127.0.0.1/x\t1\t1\n";
        let (lines, errors) = parse_connect_dump(text);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[3].user, "carol/with/slashes");
        assert_eq!(lines[3].protocol, "lmtp");
        assert_eq!(lines[2].user, "alice@example.test");
        let c = SessionCounts::of(&lines);
        assert_eq!(c.by_protocol["imap"], (4, 3));
        assert_eq!(c.by_protocol["pop3"], (1, 1));
        assert_eq!(c.by_protocol["lmtp"], (1, 1));
        assert_eq!(c.users, 4);
        let at: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(at, [6, 7, 8]);
    }

    #[test]
    fn doveadm_who_in_each_layout() {
        let table = "username           # proto (pids)  (ips)\n\
                     alice@example.test 1 pop3  (17854) (127.0.0.1)\n\
                     alice@example.test 2 imap  (17850 17847) (127.0.0.1)\n\
                     bob@example.test   1 imap  (17852) (127.0.0.1)\n";
        let tab = "username\t#\tproto\t(pids)\t(ips)\n\
                   alice@example.test\t1\tpop3\t(17854)\t(127.0.0.1)\n\
                   alice@example.test\t2\timap\t(17850 17847)\t(127.0.0.1)\n\
                   bob@example.test\t1\timap\t(17852)\t(127.0.0.1)\n";
        let one = "username                               proto pid   ip\n\
                   alice@example.test                     pop3  17854 127.0.0.1\n\
                   alice@example.test                     imap  17850 127.0.0.1\n\
                   alice@example.test                     imap  17847 127.0.0.1\n\
                   bob@example.test                       imap  17852 127.0.0.1\n";
        let want = SessionCounts {
            by_protocol: [("imap".to_string(), (3, 2)), ("pop3".to_string(), (1, 1))].into(),
            users: 2,
        };
        for text in [table, tab, one] {
            let (lines, errors) = parse_who(text).unwrap();
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(SessionCounts::of(&lines), want, "{text}");
        }
        assert!(parse_who("something else\n").is_err());
        assert_eq!(parse_who("").unwrap().0, []);
        let (_, errors) = parse_who("username # proto\nx y imap\nz 1\n").unwrap();
        assert_eq!(errors.len(), 2);
    }
}
