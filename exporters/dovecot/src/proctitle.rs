//! Dovecot's process titles: with `verbose_proctitle = yes` every process shows what it is
//! doing in brackets after its name (`dovecot/anvil [12 connections]`, `dovecot/auth [0
//! wait, 0 passdb, 0 userdb]`, `dovecot/imap-login [127.0.0.1 pre-login]`,
//! `dovecot/director [8 users, 3 moving, 75+0 req/s, 0+0 kB/s]`). The names are
//! `dovecot/<service>` for the default instance and `dovecot-<instance_name>/<service>`
//! otherwise; without `verbose_proctitle` only the process counts are there.

use std::collections::BTreeMap;

use crate::log::{SERVICES, bounded};

/// What the titles of one instance's processes add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Titles {
    /// service → processes.
    pub processes: BTreeMap<String, u64>,
    /// service → summed `[N connections]`.
    pub connections: BTreeMap<String, u64>,
    /// Auth requests in flight: `wait`, `passdb`, `userdb`.
    pub auth: BTreeMap<&'static str, u64>,
    /// (protocol, state) → login clients (`pre_login`, `proxy`, `tls_proxy`, `other`).
    pub login: BTreeMap<(String, &'static str), u64>,
    /// The director's title: users, delayed, moving, kicking, and requests per second from
    /// logins and from the ring.
    pub director: Option<DirectorTitle>,
    /// Processes whose bracket text could not be read.
    pub unreadable: u64,
}

/// The numbers of a director's title.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DirectorTitle {
    /// Users in the director's table.
    pub users: f64,
    /// Users whose login waits.
    pub delayed: f64,
    /// Users being moved between backends.
    pub moving: f64,
    /// Users being kicked.
    pub kicking: f64,
    /// Login requests per second.
    pub login_requests: f64,
    /// Requests per second from the ring.
    pub ring_requests: f64,
}

/// The service and bracket text of a title of `instance` (`dovecot` for the default),
/// `None` for another program's or instance's process.
pub fn split_title<'a>(title: &'a str, instance: &str) -> Option<(&'a str, Option<&'a str>)> {
    let rest = if instance == "dovecot" {
        title.strip_prefix("dovecot/")?
    } else {
        title
            .strip_prefix("dovecot-")?
            .strip_prefix(instance)?
            .strip_prefix('/')?
    };
    let (service, info) = match rest.split_once(' ') {
        Some((s, i)) => (s, Some(i.trim())),
        None => (rest, None),
    };
    let info = info.and_then(|i| i.strip_prefix('[')?.strip_suffix(']'));
    Some((service, info))
}

fn num(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// Adds up the titles of `instance` among `cmdlines`.
pub fn parse_titles<'a>(cmdlines: impl IntoIterator<Item = &'a str>, instance: &str) -> Titles {
    let mut t = Titles::default();
    for title in cmdlines {
        let Some((service, info)) = split_title(title, instance) else {
            continue;
        };
        let svc = bounded(service, &SERVICES).to_string();
        *t.processes.entry(svc.clone()).or_default() += 1;
        let Some(info) = info else {
            continue;
        };
        let ok = if let Some(proto) = service.strip_suffix("-login") {
            login_title(&mut t, bounded(proto, &crate::log::PROTOCOLS), info)
        } else if service == "auth" {
            auth_title(&mut t, info)
        } else if service == "director" {
            director_title(&mut t, info)
        } else if let Some(n) = info.strip_suffix(" connections").and_then(num) {
            *t.connections.entry(svc).or_default() += n;
            true
        } else {
            // Mail processes show `[user ip]` or a command; nothing to add up.
            true
        };
        if !ok {
            t.unreadable += 1;
        }
    }
    t
}

fn auth_title(t: &mut Titles, info: &str) -> bool {
    for part in info.split(", ") {
        let Some((n, what)) = part.split_once(' ') else {
            return false;
        };
        let Some(n) = num(n) else { return false };
        let key = match what {
            "wait" => "wait",
            "passdb" => "passdb",
            "userdb" => "userdb",
            _ => continue,
        };
        *t.auth.entry(key).or_default() += n;
    }
    true
}

fn login_state(words: &str) -> &'static str {
    let w = words.to_ascii_lowercase();
    if w.contains("pre-login") {
        "pre_login"
    } else if w.contains("tls") || w.contains("ssl") {
        "tls_proxy"
    } else if w.contains("prox") {
        "proxy"
    } else {
        "other"
    }
}

fn login_title(t: &mut Titles, proto: &str, info: &str) -> bool {
    // Many clients per process: `N connections` or `N pre-login + M proxies` style
    // segments; one client per process: `<ip> <state>`.
    let segments: Vec<&str> = info.split([',', '+']).map(str::trim).collect();
    let counted: Vec<(u64, &str)> = segments
        .iter()
        .filter_map(|s| {
            let (n, words) = s.split_once(' ')?;
            Some((num(n)?, words))
        })
        .collect();
    if !counted.is_empty() && counted.len() == segments.len() {
        for (n, words) in counted {
            let state = if words == "connections" {
                "other"
            } else {
                login_state(words)
            };
            *t.login.entry((proto.to_string(), state)).or_default() += n;
        }
        return true;
    }
    match info.split_once(' ') {
        Some((ip, state)) if ip.parse::<std::net::IpAddr>().is_ok() => {
            *t.login
                .entry((proto.to_string(), login_state(state)))
                .or_default() += 1;
            true
        }
        _ => false,
    }
}

fn director_title(t: &mut Titles, info: &str) -> bool {
    let mut d = DirectorTitle::default();
    for part in info.split(", ") {
        let Some((n, what)) = part.split_once(' ') else {
            return false;
        };
        match what {
            "users" => d.users = num(n).unwrap_or(0) as f64,
            "delayed" => d.delayed = num(n).unwrap_or(0) as f64,
            "moving" => d.moving = num(n).unwrap_or(0) as f64,
            "kicking" => d.kicking = num(n).unwrap_or(0) as f64,
            "req/s" => {
                let Some((a, b)) = n.split_once('+') else {
                    return false;
                };
                d.login_requests = num(a).unwrap_or(0) as f64;
                d.ring_requests = num(b).unwrap_or(0) as f64;
            }
            _ => {}
        }
    }
    t.director = Some(d);
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn titles_of_one_instance() {
        // Seen on Dovecot 2.3.19 with verbose_proctitle (instance_name = capa), plus a
        // default-instance process and another program that must not count.
        let ps = [
            "/usr/sbin/dovecot -c /etc/dovecot/dovecot.conf",
            "dovecot-capa/anvil [0 connections]",
            "dovecot-capa/log",
            "dovecot-capa/config",
            "dovecot-capa/lmtp [127.0.0.1 READY]",
            "dovecot-capa/stats [6 connections]",
            "dovecot-capa/auth [1 wait, 0 passdb, 2 userdb]",
            "dovecot-capa/imap [alice@example.test 127.0.0.1]",
            "dovecot-capa/imap [bob@example.test 127.0.0.1]",
            "dovecot-capa/imap-login [127.0.0.1 pre-login]",
            "dovecot-capa/imap-login [127.0.0.1 proxy]",
            "dovecot-capa/pop3-login [3 pre-login + 2 proxies]",
            "dovecot-capa/director [8 users, 2 moving, 75+3 req/s, 0+0 kB/s]",
            "dovecot-capa/weird-thing [???]",
            "dovecot-capa/imap-login [garbage]",
            "dovecot/imap [carol 127.0.0.1]",
            "postfix/smtpd -n smtp",
        ];
        let t = parse_titles(ps, "capa");
        assert_eq!(t.processes["imap"], 2);
        assert_eq!(t.processes["imap-login"], 3);
        assert_eq!(t.processes["other"], 1);
        assert_eq!(t.processes.values().sum::<u64>(), 14);
        assert_eq!(t.connections["stats"], 6);
        assert_eq!(t.connections["anvil"], 0);
        assert_eq!(t.auth["wait"], 1);
        assert_eq!(t.auth["userdb"], 2);
        assert_eq!(t.login[&("imap".into(), "pre_login")], 1);
        assert_eq!(t.login[&("imap".into(), "proxy")], 1);
        assert_eq!(t.login[&("pop3".into(), "pre_login")], 3);
        assert_eq!(t.login[&("pop3".into(), "proxy")], 2);
        let d = t.director.unwrap();
        assert_eq!(
            (d.users, d.moving, d.login_requests, d.ring_requests),
            (8.0, 2.0, 75.0, 3.0)
        );
        assert_eq!(t.unreadable, 1);
        let default = parse_titles(ps, "dovecot");
        assert_eq!(default.processes.values().sum::<u64>(), 1);
    }
}
