//! The client's address, the one rule for both services.
//!
//! Behind a load balancer the TCP peer is the balancer, and every client would share its
//! address: one client's junk would throttle everyone (the per-source failure throttles),
//! and the audit trail would name the balancer. `TRUSTED_PROXIES` names the balancers'
//! networks. From a peer in them, the client is the rightmost `X-Forwarded-For` address that
//! is not in them: each trusted proxy appends the address it saw, so everything to the left
//! of the rightmost untrusted entry was written by the client itself and proves nothing. A
//! peer that is not trusted is the client, whatever headers it sends. The PROXY protocol's
//! source address, when a trusted balancer sends one, stands in for the TCP peer
//! ([`crate::proxy_protocol`]).
//!
//! Invariant: code reads the client address only through [`client_ip`]; the telemetry
//! middleware both services install resolves it first, once per request, and keeps it in the
//! request's extensions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpMessage, HttpRequest};
use ipnet::IpNet;

/// The header a proxy appends the address it saw to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// `TRUSTED_PROXIES`: the networks of the load balancers whose `X-Forwarded-For` (or PROXY
/// protocol header) names the client. Empty by default: the TCP peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// No trusted proxy: every peer is the client.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Comma-separated CIDRs (`10.0.0.0/8`, `fd00::/8`); a bare address is one host (`/32`,
    /// `/128`). An entry with host bits set (`10.0.0.1/8`) is refused rather than widened or
    /// narrowed, since either reading of such a typo could be the wrong one, and so is a `/0`:
    /// trusting every address would let any client choose its own. The error names the entry
    /// (`shared::config` reports it as `TRUSTED_PROXIES`'s).
    pub fn parse(raw: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let shown: String = item.chars().take(80).collect();
            let bad = |why: &str| {
                format!("`{shown}` {why} (comma-separated CIDRs like 10.0.0.0/8 or addresses like 10.0.0.7)")
            };
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(addr) => IpNet::from(addr),
                    Err(_) => return Err(bad("is not a CIDR or an IP address")),
                },
            };
            if net.prefix_len() == 0 {
                return Err(bad(
                    "trusts every address, so any client could choose its own",
                ));
            }
            if net.trunc() != net {
                return Err(bad(&format!(
                    "has host bits set: the network is {}",
                    net.trunc()
                )));
            }
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (IPv4-mapped IPv6 counted as IPv4) is in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

/// The client of a connection from `peer` (the TCP peer, or the PROXY protocol's source)
/// whose request carried the `X-Forwarded-For` fields `forwarded_for`, in the order received
/// (`None` for a value that is not visible ASCII).
///
/// - A peer that is not trusted is the client; its headers are ignored.
/// - From a trusted peer, the entries (every field's comma-separated list, in order) are read
///   right to left, skipping trusted addresses: the first untrusted one is the client.
/// - All trusted: the leftmost (the farthest hop any trusted proxy saw).
/// - An entry that is not an address stops the walk, and the client is the last address a
///   trusted hop vouched for (the nearest trusted hop, or the peer): nothing left of a broken
///   entry can be attributed to a trusted writer, so requests are then charged to that hop,
///   never to an address the client could have chosen.
///
/// Ports and brackets as proxies write them (`1.2.3.4:5678`, `[::1]:80`) are removed and
/// IPv4-mapped IPv6 addresses read as IPv4. Empty list elements are skipped (RFC 9110 §5.6.1).
pub fn client_from<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = Option<&'a str>>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let fields: Vec<Option<&str>> = forwarded_for.into_iter().collect();
    let mut vouched = peer;
    for field in fields.into_iter().rev() {
        let Some(field) = field else {
            return vouched;
        };
        for entry in field.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some(ip) = parse_forwarded_entry(entry) else {
                return vouched;
            };
            if !trusted.contains(ip) {
                return ip;
            }
            vouched = ip;
        }
    }
    vouched
}

/// One `X-Forwarded-For` entry: an address, with or without a port (`[v6]:port`,
/// `v4:port`), IPv4-mapped addresses as IPv4. Anything else (`unknown`, a host name, a zone
/// id) is `None`.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let is_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let ip = if let Some(rest) = entry.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(inner.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = entry.parse::<IpAddr>() {
        ip
    } else {
        // Only IPv4 takes a port without brackets: in a bare IPv6 address the last colon is
        // part of the address.
        let (host, port) = entry.rsplit_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
    };
    Some(ip.to_canonical())
}

/// What [`client_ip`] keeps in the request's extensions. Private, so that no code can read (or
/// plant) the address any other way.
#[derive(Clone, Copy)]
struct ClientAddr(IpAddr);

/// The client address of `req`: the rule of [`client_from`] applied to the connection's peer
/// (or PROXY protocol source), its `X-Forwarded-For` fields and the `TRUSTED_PROXIES` the
/// service registered ([`crate::skeleton::Skeleton`]; none when it registered none). Resolved
/// once per request and kept in its extensions. A connection whose peer address the socket
/// could not report counts as `0.0.0.0`, one source for all such.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    if let Some(ClientAddr(ip)) = req.extensions().get::<ClientAddr>() {
        return *ip;
    }
    let trusted = req.app_data::<web::Data<TrustedProxies>>();
    let ip = resolve(
        req.peer_addr().map(|a| a.ip()),
        req.headers(),
        trusted.map(|t| t.get_ref()),
    );
    req.extensions_mut().insert(ClientAddr(ip));
    ip
}

fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: Option<&TrustedProxies>) -> IpAddr {
    let Some(peer) = peer else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    match trusted {
        Some(trusted) if !trusted.is_empty() => client_from(
            peer,
            headers.get_all(X_FORWARDED_FOR).map(|v| v.to_str().ok()),
            trusted,
        ),
        _ => peer.to_canonical(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).unwrap()
    }

    /// The client of a request from `peer` with the given `X-Forwarded-For` fields.
    fn client(peer: &str, xff: &[&str], proxies: &str) -> IpAddr {
        client_from(ip(peer), xff.iter().map(|v| Some(*v)), &trusted(proxies))
    }

    #[test]
    fn cidrs_and_bare_addresses_are_parsed_and_bad_entries_named() {
        let t = trusted(" 10.0.0.0/8, 192.168.1.7 ,, fd00::/8, ::1 ");
        assert_eq!(t.to_string(), "10.0.0.0/8,192.168.1.7/32,fd00::/8,::1/128");
        assert!(t.contains(ip("10.200.0.1")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(t.contains(ip("::1")));
        assert!(!t.contains(ip("2001:db8::1")));
        // An IPv4-mapped IPv6 peer (a dual-stack listener) is its IPv4 address.
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        for bad in [
            "not-a-cidr",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "0.0.0.0/0",
            "::/0",
            "10.0.0.0/8,proxy.internal",
            "10.0.0.0/8;10.1.0.0/16",
        ] {
            let e = TrustedProxies::parse(bad).unwrap_err();
            assert!(e.contains('`'), "the entry is named: {e}");
        }
        let e = TrustedProxies::parse("10.0.0.0/8, nope").unwrap_err();
        assert!(e.contains("`nope`"), "{e}");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        assert_eq!(
            client("198.51.100.1", &["203.0.113.7"], "10.0.0.0/8"),
            ip("198.51.100.1")
        );
        // No trusted proxies at all: the header is never read.
        let none = TrustedProxies::none();
        let c = client_from(ip("198.51.100.1"), [Some("203.0.113.7")], &none);
        assert_eq!(c, ip("198.51.100.1"));
    }

    #[test]
    fn from_a_trusted_peer_the_rightmost_untrusted_entry_is_the_client() {
        assert_eq!(
            client("10.0.0.2", &["203.0.113.7"], "10.0.0.0/8"),
            ip("203.0.113.7")
        );
        // Two trusted hops: a CDN edge (10.9.0.1) then the balancer (the peer).
        assert_eq!(
            client("10.0.0.2", &["203.0.113.7, 10.9.0.1"], "10.0.0.0/8"),
            ip("203.0.113.7")
        );
        // Several fields are one list, in order.
        assert_eq!(
            client(
                "10.0.0.2",
                &["198.51.100.9", "203.0.113.7, 10.9.0.1"],
                "10.0.0.0/8"
            ),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_client_cannot_choose_its_address_by_sending_its_own_forwarded_for() {
        // The client sends `X-Forwarded-For: 1.2.3.4`; the balancer appends what it saw.
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4, 203.0.113.7"], "10.0.0.0/8"),
            ip("203.0.113.7")
        );
        // Claiming to be a trusted hop itself does not help: its real address is still to the
        // right of its claims.
        assert_eq!(
            client(
                "10.0.0.2",
                &["1.2.3.4, 10.9.9.9, 203.0.113.7"],
                "10.0.0.0/8"
            ),
            ip("203.0.113.7")
        );
        // A field of its own, sent before the balancer's.
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4", "203.0.113.7"], "10.0.0.0/8"),
            ip("203.0.113.7")
        );
        // Junk it sends to the left of the balancer's entry is never reached.
        assert_eq!(
            client("10.0.0.2", &["garbage, [::1, 203.0.113.7"], "10.0.0.0/8"),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn when_every_entry_is_trusted_the_leftmost_is_the_client() {
        assert_eq!(
            client("10.0.0.2", &["10.1.0.1, 10.9.0.1"], "10.0.0.0/8"),
            ip("10.1.0.1")
        );
        // No header from a trusted peer: the peer (a balancer's own health check).
        assert_eq!(client("10.0.0.2", &[], "10.0.0.0/8"), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.2", &[" , "], "10.0.0.0/8"), ip("10.0.0.2"));
    }

    #[test]
    fn an_unparsable_entry_stops_the_walk_at_the_nearest_trusted_hop() {
        // The balancer's own entry is broken: the balancer.
        assert_eq!(
            client("10.0.0.2", &["203.0.113.7, unknown"], "10.0.0.0/8"),
            ip("10.0.0.2")
        );
        // Broken behind a trusted hop: that hop.
        assert_eq!(
            client("10.0.0.2", &["203.0.113.7, bad, 10.9.0.1"], "10.0.0.0/8"),
            ip("10.9.0.1")
        );
        // A field that is not visible ASCII counts as broken.
        let c = client_from(
            ip("10.0.0.2"),
            [Some("203.0.113.7"), None],
            &trusted("10.0.0.0/8"),
        );
        assert_eq!(c, ip("10.0.0.2"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_normalised() {
        let t = "10.0.0.0/8";
        assert_eq!(
            client("10.0.0.2", &["203.0.113.7:5678"], t),
            ip("203.0.113.7")
        );
        assert_eq!(
            client("10.0.0.2", &["[2001:db8::7]:443"], t),
            ip("2001:db8::7")
        );
        assert_eq!(client("10.0.0.2", &["[2001:db8::7]"], t), ip("2001:db8::7"));
        assert_eq!(client("10.0.0.2", &["2001:db8::7"], t), ip("2001:db8::7"));
        assert_eq!(
            client("10.0.0.2", &["::ffff:203.0.113.7"], t),
            ip("203.0.113.7")
        );
        // A mapped peer is trusted as its IPv4 address, and the client is IPv4.
        assert_eq!(
            client("::ffff:10.0.0.2", &["203.0.113.7"], t),
            ip("203.0.113.7")
        );
        // A trusted hop written with a port is still skipped.
        assert_eq!(
            client("10.0.0.2", &["203.0.113.7, 10.9.0.1:1234"], t),
            ip("203.0.113.7")
        );
        for broken in [
            "203.0.113.7:",
            "203.0.113.7:99999999",
            "[2001:db8::7",
            "[2001:db8::7]x",
            "2001:db8::7:443x",
            "fe80::1%eth0",
            "example.com:80",
            "\"203.0.113.7\"",
        ] {
            assert_eq!(client("10.0.0.2", &[broken], t), ip("10.0.0.2"), "{broken}");
        }
    }

    #[test]
    fn a_request_without_trusted_proxies_is_its_peer() {
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static(X_FORWARDED_FOR),
            actix_web::http::header::HeaderValue::from_static("203.0.113.7"),
        );
        let peer = Some(ip("127.0.0.1"));
        assert_eq!(resolve(peer, &headers, None), ip("127.0.0.1"));
        assert_eq!(
            resolve(peer, &headers, Some(&TrustedProxies::none())),
            ip("127.0.0.1")
        );
        assert_eq!(
            resolve(peer, &headers, Some(&trusted("127.0.0.1"))),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(None, &headers, Some(&trusted("127.0.0.1"))),
            ip("0.0.0.0")
        );
    }
}
