//! The client's address, as rate limits must count it.
//!
//! Behind HAProxy or nginx every request comes from the proxy's address, so
//! a limit per socket peer would count the whole bureau as one client (and
//! lock everyone out after a few wrong passwords). A proxy the operator
//! names in `trusted_proxies` is believed about `X-Forwarded-For`; anyone
//! else is not, since a client can send that header itself. Of the
//! forwarded chain the right-most address that is not a trusted proxy is
//! the client: the entries left of it were written by the client and may
//! be invented.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// Addresses (single addresses or CIDR blocks) of the proxies whose
/// `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list such as `127.0.0.1, 10.0.0.0/8, ::1`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut blocks = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{item}' is not an IP address or CIDR block"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("'{item}': the prefix length must be 0..={max}"))?,
            };
            blocks.push((addr, bits));
        }
        Ok(Self(blocks))
    }
}

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, bits)| within(ip, canonical(net), bits))
    }

    /// The client a request counts as: `peer` unless `peer` is a trusted
    /// proxy that forwarded the request.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        chain
            .iter()
            .rev()
            .copied()
            .find(|a| !self.trusts(*a))
            // Every hop trusted: the first one is as close to the client
            // as anyone knows.
            .or_else(|| chain.first().copied())
            .unwrap_or(peer)
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn within(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix_eq(&a.octets(), &n.octets(), bits),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix_eq(&a.octets(), &n.octets(), bits),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_blocks_and_names_a_bad_item() {
        let t: TrustedProxies = "127.0.0.1, 10.0.0.0/8, ::1".parse().unwrap();
        assert!(t.trusts(ip("10.200.3.4")));
        assert!(t.trusts(ip("::ffff:127.0.0.1")));
        assert!(!t.trusts(ip("11.0.0.1")));
        assert!(!t.trusts(ip("127.0.0.2")));
        let e = "10.0.0.0/33".parse::<TrustedProxies>().unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
        let e = "proxy.local".parse::<TrustedProxies>().unwrap_err();
        assert!(e.contains("proxy.local"), "{e}");
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn only_a_trusted_peer_is_believed_and_the_rightmost_untrusted_hop_counts() {
        let t: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        // Not through a trusted proxy: the header is the client's own claim.
        assert_eq!(
            t.client(ip("192.0.2.7"), &headers(&["198.51.100.1"])),
            ip("192.0.2.7")
        );
        // Through the proxy: the address it saw.
        assert_eq!(
            t.client(ip("127.0.0.1"), &headers(&["198.51.100.1"])),
            ip("198.51.100.1")
        );
        // A forged entry left of the real one is ignored, across headers too.
        assert_eq!(
            t.client(
                ip("127.0.0.1"),
                &headers(&["6.6.6.6, 198.51.100.1", "10.1.1.1"])
            ),
            ip("198.51.100.1")
        );
        // Trusted proxy without a header: the proxy itself.
        assert_eq!(t.client(ip("127.0.0.1"), &headers(&[])), ip("127.0.0.1"));
        // Nobody trusted: always the peer.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), &headers(&["198.51.100.1"])),
            ip("127.0.0.1")
        );
    }
}
