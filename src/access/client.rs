//! Where a request came from: the client address and whether it arrived over
//! TLS, as the policy condition keys `aws:SourceIp` and `aws:SecureTransport`
//! see them.
//!
//! Coffer itself speaks plain HTTP; TLS is terminated by a reverse proxy.
//! The proxy's `X-Forwarded-For` and `X-Forwarded-Proto` headers are believed
//! only when the TCP peer is one of the configured trusted proxies; from any
//! other peer they are ignored, so a client cannot claim another address.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// The client as the access-control checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    pub addr: IpAddr,
    /// The request reached the first hop over TLS.
    pub secure: bool,
}

fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    let addr = canonical(addr);
    trusted.iter().any(|net| net.contains(&addr))
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl ClientInfo {
    /// Resolves the client of a request received from `peer`.
    ///
    /// From a trusted proxy, the client is the right-most `X-Forwarded-For`
    /// address that is not itself a trusted proxy (entries further left were
    /// written by the client and prove nothing), and the scheme is the
    /// proxy's `X-Forwarded-Proto`. A header that does not parse leaves the
    /// peer as the client.
    pub fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientInfo {
        let peer_ip = canonical(peer.ip());
        if !is_trusted(peer_ip, trusted) {
            return ClientInfo { addr: peer_ip, secure: false };
        }
        let mut addr = peer_ip;
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        for hop in forwarded.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    addr = ip;
                    if !is_trusted(ip, trusted) {
                        break;
                    }
                }
                None => break,
            }
        }
        let secure = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        ClientInfo { addr, secure }
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:567`, `::1`, `[::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(http::HeaderName::from_bytes(n.as_bytes()).expect("name"), v.parse().expect("header"));
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().expect("net")).collect()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "10.9.9.9"), ("x-forwarded-proto", "https")]);
        let c = ClientInfo::resolve("192.0.2.7:5000".parse().expect("addr"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(c, ClientInfo { addr: "192.0.2.7".parse().expect("ip"), secure: false });
    }

    #[test]
    fn trusted_proxy_gives_client_and_scheme() {
        let h = headers(&[("x-forwarded-for", "198.51.100.4"), ("x-forwarded-proto", "https")]);
        let c = ClientInfo::resolve("127.0.0.1:5000".parse().expect("addr"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(c, ClientInfo { addr: "198.51.100.4".parse().expect("ip"), secure: true });
    }

    #[test]
    fn spoofed_left_entries_do_not_count() {
        // The client sent "X-Forwarded-For: 10.0.0.1"; nginx appended the real address.
        let h = headers(&[("x-forwarded-for", "10.0.0.1, 203.0.113.9")]);
        let c = ClientInfo::resolve("127.0.0.1:1".parse().expect("addr"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(c.addr, "203.0.113.9".parse::<IpAddr>().expect("ip"));
        assert!(!c.secure);
        // Two trusted hops: skip both.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.1.1")]);
        let c = ClientInfo::resolve("127.0.0.1:1".parse().expect("addr"), &h, &nets(&["127.0.0.1/32", "10.0.0.0/8"]));
        assert_eq!(c.addr, "203.0.113.9".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn garbage_and_mapped_addresses() {
        let h = headers(&[("x-forwarded-for", "not-an-ip")]);
        let c = ClientInfo::resolve("[::ffff:127.0.0.1]:1".parse().expect("addr"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(c.addr, "127.0.0.1".parse::<IpAddr>().expect("ip"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        let c = ClientInfo::resolve("127.0.0.1:1".parse().expect("addr"), &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(c.addr, "2001:db8::1".parse::<IpAddr>().expect("ip"));
    }
}
