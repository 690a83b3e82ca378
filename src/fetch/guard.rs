//! Which addresses a URL taken from feed content may reach. A feed is written by a stranger:
//! an item link, a redirect or a discovered feed link on another host could point the daemon
//! at the operator's own network (a router's admin page, a cloud metadata service). Such URLs
//! are checked twice: a literal IP in the URL before the request, and every address a host
//! name resolves to in the client's resolver ([`GuardedResolver`]), so a name cannot pass
//! the check and then resolve elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an address may not be reached from content-derived URLs, or `None` when it may.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback")
            } else if v6.is_unspecified() {
                Some("an unspecified")
            } else if v6.is_multicast() {
                Some("a multicast")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private (unique local)")
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                Some("a link-local")
            } else if (first, v6.segments()[1]) == (0x2001, 0) {
                // Teredo hides an IPv4 address (obfuscated) behind a relay.
                Some("a Teredo tunnel")
            } else if (first, v6.segments()[1], v6.segments()[2]) == (0x64, 0xff9b, 1) {
                Some("a local NAT64")
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified")
    } else if ip.is_private() {
        Some("a private")
    } else if ip.is_link_local() {
        // 169.254.169.254, the metadata service of most clouds, is here.
        Some("a link-local (or cloud metadata)")
    } else if a == 100 && (64..128).contains(&b) {
        // Carrier-grade NAT; Alibaba's metadata service is 100.100.100.200.
        Some("a shared (carrier-grade NAT or metadata)")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast or reserved")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking (private)")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

/// Refuses a URL whose host is a literal forbidden address (the resolver never sees those).
pub fn check_literal(url: &Url) -> Result<(), String> {
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    match forbidden(ip) {
        Some(kind) => Err(format!("{ip} is {kind} address")),
        None => Ok(()),
    }
}

/// Whether two URLs name the same host (ports and schemes aside): a link discovered on the
/// host of a configured URL is as trusted as that URL.
pub fn same_host(a: &Url, b: &Url) -> bool {
    a.host_str().is_some() && a.host_str() == b.host_str()
}

/// A name whose every address is forbidden.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, which is {kind} address")]
pub struct Refusal {
    pub host: String,
    pub address: IpAddr,
    pub kind: &'static str,
}

/// The system resolver, with forbidden addresses taken out of every answer. A name left with
/// no address fails with a [`Refusal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| forbidden(addr.ip()).is_none())
                .collect();
            if allowed.is_empty()
                && let Some(first) = found.first()
            {
                let refusal = Refusal {
                    host,
                    address: first.ip(),
                    kind: forbidden(first.ip()).unwrap_or("a forbidden"),
                };
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        forbidden(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for address in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "198.18.0.1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a00:1",
        ] {
            assert!(reason(address).is_some(), "{address} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(reason(address), None, "{address} should be allowed");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(check_literal(&url("http://127.0.0.1:8080/feed")).is_err());
        assert!(check_literal(&url("http://[::1]/")).is_err());
        assert!(check_literal(&url("http://169.254.169.254/latest/meta-data/")).is_err());
        // Other spellings of 127.0.0.1 that the URL parser normalises to an IP host.
        for spelling in [
            "0x7f.1",
            "2130706433",
            "127.1",
            "017700000001",
            "[::ffff:7f00:1]",
        ] {
            let parsed = url(&format!("http://{spelling}/"));
            assert!(check_literal(&parsed).is_err(), "{spelling} → {parsed}");
        }
        assert!(check_literal(&url("https://example.com/")).is_ok());
        assert!(check_literal(&url("https://8.8.8.8/")).is_ok());
    }

    #[test]
    fn same_host_ignores_scheme_and_port() {
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(same_host(
            &url("http://news.example/feed"),
            &url("https://NEWS.example:8443/rss")
        ));
        assert!(!same_host(
            &url("http://news.example/feed"),
            &url("http://cdn.news.example/rss")
        ));
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_only_forbidden_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let error = match GuardedResolver.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(error) => error,
        };
        let refusal = error.downcast_ref::<Refusal>().expect("a Refusal");
        assert!(refusal.address.is_loopback(), "{refusal}");
    }
}
