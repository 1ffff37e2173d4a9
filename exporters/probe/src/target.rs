//! Probe targets (`host:port`, `[v6]:port`, a bare host with the prober's default port)
//! and the list of targets a module may reach (`allowed_targets`), which keeps `/probe`
//! from being an open proxy into the pod network.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

/// The host part of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP literal.
    Ip(IpAddr),
    /// A DNS name (lower-cased, without a trailing dot).
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl Host {
    /// The name as TLS SNI and certificate checks want it (IPs without brackets).
    pub fn server_name(&self) -> String {
        match self {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => n.clone(),
        }
    }
}

/// A parsed `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host.
    pub host: Host,
    /// Port.
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Why a target string is not a target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Nothing given.
    #[error("the target is empty")]
    Empty,
    /// The port is not a number from 1 to 65535.
    #[error("invalid port {0:?}")]
    Port(String),
    /// The host is not an IP address or DNS name.
    #[error("invalid host {0:?}")]
    Host(String),
}

fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

fn parse_port(p: &str) -> Result<u16, TargetError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(TargetError::Port(shown(p))),
    }
}

/// Parses a host name: letters, digits, `-`, `_` and dots, labels of 1-63 characters.
fn parse_name(h: &str) -> Result<Host, TargetError> {
    let n = h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(Host::Name(n))
    } else {
        Err(TargetError::Host(shown(h)))
    }
}

impl Target {
    /// Parses `host`, `host:port`, `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`; a missing
    /// port is `default_port`.
    pub fn parse(s: &str, default_port: u16) -> Result<Target, TargetError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| TargetError::Host(shown(s)))?;
            let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| TargetError::Host(shown(s)))?;
            let port = match after {
                "" => default_port,
                p => parse_port(p.strip_prefix(':').ok_or(TargetError::Port(shown(p)))?)?,
            };
            return Ok(Target {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        // A bare IPv6 address has several colons and no port.
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Target {
                host: Host::Ip(ip),
                port: default_port,
            });
        }
        let (h, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, parse_port(p)?),
            None => (s, default_port),
        };
        let host = match h.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Host::Ip(IpAddr::V4(ip)),
            // `::1:25` is ambiguous; IPv6 with a port needs brackets.
            Ok(IpAddr::V6(_)) => return Err(TargetError::Host(shown(s))),
            Err(_) => parse_name(h)?,
        };
        Ok(Target { host, port })
    }
}

/// One `allowed_targets` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A network (`10.0.0.0/8`, or an IP as a /32 or /128), with an optional port.
    Net(IpNet, Option<u16>),
    /// A host name, with an optional port.
    Name(String, Option<u16>),
}

/// The targets one module may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Entry>,
}

impl Entry {
    fn parse(item: &str) -> Result<Entry, String> {
        if let Ok(net) = item.parse::<IpNet>() {
            return Ok(Entry::Net(net.trunc(), None));
        }
        if let Some((net, port)) = item
            .rsplit_once(':')
            .and_then(|(n, p)| Some((n.parse::<IpNet>().ok()?, p.parse::<u16>().ok()?)))
        {
            return Ok(Entry::Net(net.trunc(), Some(port)));
        }
        let t = Target::parse(item, 0).map_err(|e| {
            format!(
                "allowed_targets: {:?} is not a CIDR or host[:port] ({e})",
                shown(item)
            )
        })?;
        let port = (t.port != 0).then_some(t.port);
        Ok(match t.host {
            Host::Ip(ip) => Entry::Net(IpNet::from(ip), port),
            Host::Name(n) => Entry::Name(n, port),
        })
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Entry::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl AllowList {
    /// Loopback only: what a module without `allowed_targets` reaches.
    pub fn loopback() -> AllowList {
        AllowList {
            entries: ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .map(|n| Entry::Net(n, None))
                .collect(),
        }
    }

    /// Parses the entries: CIDRs, IPs, `host` or `host:port` (IPv6 with a port in brackets).
    pub fn parse(items: &[String]) -> Result<AllowList, String> {
        let entries = items
            .iter()
            .map(|i| Entry::parse(i))
            .collect::<Result<_, _>>()?;
        Ok(AllowList { entries })
    }

    /// Whether a target named `name` on `port` is allowed by name.
    pub fn allows_name(&self, name: &str, port: u16) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Name(n, p) => n.eq_ignore_ascii_case(name) && p.is_none_or(|p| p == port),
            Entry::Net(..) => false,
        })
    }

    /// Whether the address `ip` on `port` is allowed.
    pub fn allows_addr(&self, ip: IpAddr, port: u16) -> bool {
        let ip = canonical(ip);
        self.entries.iter().any(|e| match e {
            Entry::Net(n, p) => n.contains(&ip) && p.is_none_or(|p| p == port),
            Entry::Name(..) => false,
        })
    }

    /// Whether `target`, resolved to `addrs`, may be probed: by its name, or because every
    /// address it resolved to is allowed (the addresses checked are the ones connected to,
    /// so a name cannot be re-pointed between the check and the connection).
    pub fn allows(&self, target: &Target, addrs: &[IpAddr]) -> bool {
        if let Host::Name(n) = &target.host
            && self.allows_name(n, target.port)
        {
            return true;
        }
        !addrs.is_empty() && addrs.iter().all(|a| self.allows_addr(*a, target.port))
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address (`::ffff:10.0.0.1` must not slip past
/// a `10.0.0.0/8` rule, nor past a loopback-only list as something else).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl<'de> Deserialize<'de> for AllowList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Element by element, so an error points at the bad entry's line.
        let entries = Vec::<Entry>::deserialize(d)?;
        Ok(AllowList { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_forms() {
        let t = |s| Target::parse(s, 25);
        assert_eq!(t("127.0.0.1").unwrap().to_string(), "127.0.0.1:25");
        assert_eq!(t("127.0.0.1:2525").unwrap().port, 2525);
        assert_eq!(t("[::1]:587").unwrap().to_string(), "[::1]:587");
        assert_eq!(t("::1").unwrap().to_string(), "[::1]:25");
        assert_eq!(
            t("MX.Example.NET.:25").unwrap().to_string(),
            "mx.example.net:25"
        );
        assert_eq!(
            t("::1:25"),
            Ok(Target {
                host: Host::Ip("::1:25".parse().unwrap()),
                port: 25
            })
        );
        assert!(matches!(t("host:0"), Err(TargetError::Port(_))));
        assert!(matches!(t("host:99999"), Err(TargetError::Port(_))));
        assert!(matches!(t("bad host:25"), Err(TargetError::Host(_))));
        assert!(matches!(t("[::1"), Err(TargetError::Host(_))));
        assert!(t("http://x/").is_err());
        assert_eq!(t(""), Err(TargetError::Empty));
    }

    #[test]
    fn allow_list() {
        let l = AllowList::parse(&[
            "10.0.0.0/8".into(),
            "mx.example.net:25".into(),
            "192.0.2.7:587".into(),
            "[2001:db8::1]:993".into(),
        ])
        .unwrap();
        let tgt = |s| Target::parse(s, 25).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.allows(&tgt("10.1.2.3:25"), &[ip("10.1.2.3")]));
        assert!(l.allows(&tgt("mx.example.net"), &[ip("203.0.113.1")]));
        assert!(!l.allows(&tgt("mx.example.net:587"), &[ip("203.0.113.1")]));
        assert!(l.allows(&tgt("192.0.2.7:587"), &[ip("192.0.2.7")]));
        assert!(!l.allows(&tgt("192.0.2.7:25"), &[ip("192.0.2.7")]));
        assert!(l.allows(&tgt("[2001:db8::1]:993"), &[ip("2001:db8::1")]));
        // One address outside the list refuses the name.
        assert!(!l.allows(&tgt("other.example:25"), &[ip("10.0.0.1"), ip("8.8.8.8")]));
        assert!(!l.allows(&tgt("other.example:25"), &[]));
        let lo = AllowList::loopback();
        assert!(lo.allows(&tgt("127.0.0.1"), &[ip("127.0.0.1")]));
        assert!(lo.allows(&tgt("[::1]"), &[ip("::1")]));
        assert!(!lo.allows(&tgt("10.0.0.1"), &[ip("10.0.0.1")]));
        // Mapped addresses are judged as the IPv4 address they carry.
        assert!(lo.allows_addr(ip("::ffff:127.0.0.1"), 25));
        assert!(!lo.allows_addr(ip("::ffff:10.0.0.1"), 25));
        assert!(AllowList::parse(&["not a host!".into()]).is_err());
    }
}
