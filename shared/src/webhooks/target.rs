//! Where a webhook may be sent: no way into the operator's network (docs/SECURITY.md).
//!
//! An endpoint URL is checked when it is registered or changed ([`check_url`]: `https` for
//! `live`; host and every address it resolves to public) and again at every attempt: the
//! delivery client resolves names only through [`CheckedResolver`], which refuses a name with
//! any non-public address and hands the client exactly the addresses it checked, so the
//! connection goes to a checked address (a name re-pointed at `127.0.0.1` after registration,
//! DNS rebinding, fails the attempt). An IP-literal host is checked by [`forbidden`] before the
//! request. `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` lifts both rules (development, tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// A URL longer than this is refused.
pub const MAX_URL_LEN: usize = 2048;
/// How long registration waits for a name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `ip` is an address a webhook must never reach: loopback, private (RFC 1918, unique
/// local), link-local (including `169.254.169.254`, the cloud metadata address), shared
/// (CGNAT), multicast, unspecified, broadcast, reserved, documentation or benchmarking ranges —
/// and any IPv6 form that embeds such an IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // IPv4-compatible (deprecated, ::a.b.c.d) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    if s[..6] == [0, 0, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return ip.is_unspecified() || ip.is_loopback() || forbidden_v4(v4);
    }
    // 6to4 (2002::/16) carries an IPv4 address in bits 16–48.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        if forbidden_v4(v4) {
            return true;
        }
    }
    ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
}

/// Why a URL is refused (the message of the 422 on `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// The host of `url` as an IP address, when it is one (`[::1]` unbracketed).
pub fn ip_host(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Checks an endpoint URL for `environment` (`live` | `sandbox`): absolute http(s), a host, no
/// credentials or fragment, at most [`MAX_URL_LEN`]; `https` for `live`; and, unless
/// `allow_private`, a host that is not, and does not resolve to, a [`forbidden`] address.
pub async fn check_url(
    raw: &str,
    environment: &str,
    allow_private: bool,
) -> Result<reqwest::Url, Refused> {
    let refuse = |m: &str| Err(Refused(m.to_owned()));
    if raw.len() > MAX_URL_LEN {
        return refuse("must be at most 2048 characters");
    }
    let Ok(url) = reqwest::Url::parse(raw.trim()) else {
        return refuse("must be an absolute http:// or https:// URL");
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_private || environment != "live" => {}
        "http" => return refuse("must use https for a live endpoint"),
        _ => return refuse("must be an absolute http:// or https:// URL"),
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return refuse("must name a host");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not carry a user name or password");
    }
    if url.fragment().is_some() {
        return refuse("must not have a fragment");
    }
    if allow_private {
        return Ok(url);
    }
    if let Some(ip) = ip_host(&url) {
        return if forbidden(ip) {
            refuse("must not be a loopback, private, link-local, multicast or otherwise non-public address")
        } else {
            Ok(url)
        };
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::net::lookup_host((host.to_owned(), port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => return refuse("names a host that does not resolve"),
    };
    if addrs.is_empty() {
        return refuse("names a host that does not resolve");
    }
    if addrs.iter().any(|a| forbidden(a.ip())) {
        return refuse(
            "names a host that resolves to a loopback, private, link-local, multicast or otherwise non-public address",
        );
    }
    Ok(url)
}

/// The delivery client's resolver: a name with any [`forbidden`] address is refused (the
/// attempt fails), and the client connects only to the addresses checked here.
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    pub allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the host resolves to a non-public address ({0}); refused")]
struct PrivateTarget(IpAddr);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if !allow_private {
                if let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
                    return Err(Box::new(PrivateTarget(bad.ip()))
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_forbidden_in_every_form() {
        for bad in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}");
        }
        for ok in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!forbidden(ok.parse().unwrap()), "{ok}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_shape_and_address() {
        let live = |u: &'static str| check_url(u, "live", false);
        assert!(live("http://93.184.215.14/hook").await.is_err());
        assert!(live("https://93.184.215.14/hook").await.is_ok());
        assert!(check_url("http://93.184.215.14/h", "sandbox", false)
            .await
            .is_ok());
        for bad in [
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://0x7f.1/",
            "https://2130706433/",
            "https://localhost/",
            "https://user:pw@93.184.215.14/",
            "https://93.184.215.14/#f",
            "ftp://93.184.215.14/",
            "not a url",
            "https:///nohost",
        ] {
            assert!(live(bad).await.is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/", "live", true).await.is_ok());
    }
}
