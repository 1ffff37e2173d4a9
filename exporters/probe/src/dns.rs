//! Name resolution through hickory-resolver: addresses in the module's family order, and
//! MX lookups for a bare mail domain.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;

use crate::config::IpProtocol;
use crate::target::Host;

/// A shared resolver (its cache serves every probe).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<TokioResolver>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

/// Why a name did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name has no address of an allowed family.
    #[error("{0} has no {1} address")]
    NoAddress(String, &'static str),
    /// The lookup failed (NXDOMAIN, SERVFAIL, no server).
    #[error("looking up {0}: {1}")]
    Lookup(String, String),
}

impl Resolver {
    /// The system's resolver (`/etc/resolv.conf`, `/etc/hosts`), or, when there is no
    /// resolv.conf (a `FROM scratch` image run outside Kubernetes), hickory's defaults.
    pub fn system() -> Resolver {
        let mut builder = match TokioResolver::builder_tokio() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "no usable /etc/resolv.conf; using public defaults");
                TokioResolver::builder_with_config(
                    ResolverConfig::default(),
                    TokioConnectionProvider::default(),
                )
            }
        };
        *builder.options_mut() = opts(builder.options_mut().clone());
        Resolver {
            inner: Arc::new(builder.build()),
        }
    }

    /// A resolver asking only the server at `addr` (tests and `--dns.server`).
    pub fn with_server(addr: std::net::SocketAddr) -> Resolver {
        use hickory_resolver::config::NameServerConfig;
        use hickory_resolver::proto::xfer::Protocol;
        let mut cfg = ResolverConfig::new();
        cfg.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
        let mut builder =
            TokioResolver::builder_with_config(cfg, TokioConnectionProvider::default());
        *builder.options_mut() = opts(ResolverOpts::default());
        Resolver {
            inner: Arc::new(builder.build()),
        }
    }

    /// The addresses of `host`, the preferred family first; the other family only with
    /// `fallback`.
    pub async fn addresses(
        &self,
        host: &Host,
        prefer: IpProtocol,
        fallback: bool,
    ) -> Result<Vec<IpAddr>, DnsError> {
        let name = match host {
            Host::Ip(ip) => return Ok(vec![*ip]),
            Host::Name(n) => n,
        };
        let found = self
            .inner
            .lookup_ip(fqdn(name))
            .await
            .map_err(|e| DnsError::Lookup(name.clone(), short(&e.to_string())))?;
        order(found.iter().collect(), name, prefer, fallback)
    }

    /// The exchanger with the lowest preference value for mail domain `domain`.
    pub async fn mx(&self, domain: &str) -> Result<String, DnsError> {
        let found = self
            .inner
            .mx_lookup(fqdn(domain))
            .await
            .map_err(|e| DnsError::Lookup(domain.to_string(), short(&e.to_string())))?;
        let best = found
            .iter()
            .min_by_key(|mx| mx.preference())
            .map(|mx| mx.exchange().to_utf8());
        match best {
            Some(b) => Ok(b.trim_end_matches('.').to_ascii_lowercase()),
            None => Err(DnsError::NoAddress(domain.to_string(), "MX")),
        }
    }
}

/// A name with a trailing dot: no search-domain expansion (ndots in a pod would turn
/// `mx.example.net` into five lookups).
fn fqdn(name: &str) -> String {
    if name.contains('.') && !name.ends_with('.') {
        format!("{name}.")
    } else {
        name.to_string()
    }
}

fn opts(mut o: ResolverOpts) -> ResolverOpts {
    // Both families, ordered by the module afterwards.
    o.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    o.attempts = 2;
    o
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Orders `addrs` by family preference, dropping the other family without `fallback`.
pub fn order(
    mut addrs: Vec<IpAddr>,
    name: &str,
    prefer: IpProtocol,
    fallback: bool,
) -> Result<Vec<IpAddr>, DnsError> {
    let preferred = |a: &IpAddr| match prefer {
        IpProtocol::Ip4 => a.is_ipv4(),
        IpProtocol::Ip6 => a.is_ipv6(),
    };
    if !fallback {
        addrs.retain(preferred);
    }
    // Stable: the resolver's order within a family is kept.
    addrs.sort_by_key(|a| !preferred(a));
    if addrs.is_empty() {
        let fam = match (prefer, fallback) {
            (_, true) => "IP",
            (IpProtocol::Ip4, false) => "IPv4",
            (IpProtocol::Ip6, false) => "IPv6",
        };
        return Err(DnsError::NoAddress(name.to_string(), fam));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_order() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            order(vec![v6, v4], "x", IpProtocol::Ip4, true).unwrap(),
            vec![v4, v6]
        );
        assert_eq!(
            order(vec![v4, v6], "x", IpProtocol::Ip6, true).unwrap(),
            vec![v6, v4]
        );
        assert_eq!(
            order(vec![v4, v6], "x", IpProtocol::Ip6, false).unwrap(),
            vec![v6]
        );
        assert!(order(vec![v4], "x", IpProtocol::Ip6, false).is_err());
        assert_eq!(fqdn("mx.example.net"), "mx.example.net.");
        assert_eq!(fqdn("localhost"), "localhost");
    }
}
