//! Which client a request comes from, for per-client limits.
//!
//! The TCP peer is the only address nobody can forge. Behind a reverse proxy or load
//! balancer the peer is the proxy, and the client is in `X-Forwarded-For`, which each
//! proxy extends with the address that connected to it. Anyone can send that header,
//! so it is read only when the peer is a proxy the operator listed
//! (`--trusted-proxies`), and then from the right: the right-most entry was written
//! by the trusted peer; an entry written by a trusted proxy can be believed too; the
//! first entry that is not a trusted proxy is the client. Entries to its left were
//! written by the client (or proxies on its side) and are never used.
//!
//! Pure functions: no I/O, no clock. The rate limiter keys on [`limit_key`] of the
//! result.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// At most this many `X-Forwarded-For` entries are walked. Real proxy chains are a
/// few hops long; a longer walk would only spend time on what a client padded in.
const MAX_FORWARDED_HOPS: usize = 32;

/// The reverse proxies and load balancers whose `X-Forwarded-For` is believed:
/// addresses and CIDR blocks from `--trusted-proxies`. Empty by default, so the
/// header is ignored unless the operator says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Why a `--trusted-proxies` list was refused. A typo here either trusts an
/// attacker's header or misattributes every client, so nothing is guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTrustedProxies {
    #[error(
        "{0:?} is not an IP address or a CIDR block (expected e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32)"
    )]
    NotAnAddress(String),
    #[error("{given:?} has bits set after the prefix length; the block is {network}, write that")]
    HostBitsSet { given: String, network: IpNet },
    #[error("the list has an empty entry (two commas in a row, or one at an end)")]
    EmptyEntry,
}

impl TrustedProxies {
    /// A comma-separated list of IP addresses and CIDR blocks (`10.0.0.0/8,
    /// 2001:db8::/32, 192.0.2.7`); blank means none.
    pub fn parse(list: &str) -> Result<Self, InvalidTrustedProxies> {
        if list.trim().is_empty() {
            return Ok(Self::default());
        }
        list.split(',')
            .map(parse_block)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|block| block.contains(&ip))
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidTrustedProxies;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, block) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{block}")?;
        }
        Ok(())
    }
}

fn parse_block(entry: &str) -> Result<IpNet, InvalidTrustedProxies> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err(InvalidTrustedProxies::EmptyEntry);
    }
    if entry.contains('/') {
        let block = IpNet::from_str(entry)
            .map_err(|_| InvalidTrustedProxies::NotAnAddress(entry.to_owned()))?;
        if block.trunc() != block {
            return Err(InvalidTrustedProxies::HostBitsSet {
                given: entry.to_owned(),
                network: block.trunc(),
            });
        }
        return Ok(block);
    }
    IpAddr::from_str(entry)
        .map(|ip| IpNet::from(ip.to_canonical()))
        .map_err(|_| InvalidTrustedProxies::NotAnAddress(entry.to_owned()))
}

/// The client's address: the TCP `peer`, unless the peer is a trusted proxy, in
/// which case the right-most `X-Forwarded-For` entry that is not itself a trusted
/// proxy. `forwarded_for` holds the header's values in the order they arrived
/// (several header lines form one list, RFC 9110 §5.3).
///
/// An entry that is not an address stops the walk at the nearest hop already
/// believed: garbage never earns a client a bucket of its own. When every entry is a
/// trusted proxy, the left-most is the best knowledge there is.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &TrustedProxies) -> IpAddr {
    let mut nearest = peer.to_canonical();
    if !trusted.contains(nearest) {
        return nearest;
    }
    let entries = forwarded_for.iter().flat_map(|value| value.split(','));
    for entry in entries.rev().take(MAX_FORWARDED_HOPS) {
        match parse_forwarded_entry(entry) {
            Some(ip) if trusted.contains(ip) => nearest = ip,
            Some(ip) => return ip,
            None => return nearest,
        }
    }
    nearest
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (some load
/// balancers append `203.0.113.7:51234`; IPv6 then comes bracketed).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = IpAddr::from_str(entry) {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = SocketAddr::from_str(entry) {
        return Some(socket.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| Ipv6Addr::from_str(inner).ok())
        .map(|ip| IpAddr::V6(ip).to_canonical())
}

/// What the rate limiter counts against: an IPv4 address as it is, an IPv6 address
/// by its /64. One IPv6 subscriber or host is normally given a whole /64, so counting
/// single IPv6 addresses would hand each client 2^64 budgets.
pub fn limit_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).expect("valid list")
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(
            client_address(ip("198.51.100.9"), &["203.0.113.1"], &none),
            ip("198.51.100.9")
        );
        // The peer is not in the list: its header is a client's claim.
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            client_address(ip("198.51.100.9"), &["203.0.113.1, 10.0.0.5"], &proxies),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn from_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let proxies = trusted("10.0.0.0/8, 192.0.2.7");
        // A client that forged an entry of its own: the forgery is to the left.
        assert_eq!(
            client_address(
                ip("10.1.2.3"),
                &["1.1.1.1, 203.0.113.50, 192.0.2.7"],
                &proxies
            ),
            ip("203.0.113.50")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            client_address(
                ip("10.1.2.3"),
                &["1.1.1.1", "203.0.113.50", "10.9.9.9"],
                &proxies
            ),
            ip("203.0.113.50")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_header_is_its_own_client() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            client_address(ip("10.1.2.3"), &[], &proxies),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn when_every_entry_is_trusted_the_left_most_is_the_client() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            client_address(ip("10.0.0.1"), &["10.0.0.3, 10.0.0.2"], &proxies),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_nearest_believed_hop() {
        let proxies = trusted("10.0.0.0/8");
        for header in ["not-an-ip", "", "unknown", "203.0.113.1, , 10.0.0.9"] {
            let expected = if header.ends_with("10.0.0.9") {
                ip("10.0.0.9")
            } else {
                ip("10.0.0.1")
            };
            assert_eq!(
                client_address(ip("10.0.0.1"), &[header], &proxies),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn ports_and_brackets_are_read_and_mapped_addresses_are_ipv4() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            client_address(ip("10.0.0.1"), &["203.0.113.7:51234"], &proxies),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &["[2001:db8::1]:443"], &proxies),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &["[2001:db8::2]"], &proxies),
            ip("2001:db8::2")
        );
        // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &["::ffff:203.0.113.8"], &proxies),
            ip("203.0.113.8")
        );
    }

    #[test]
    fn the_walk_is_bounded() {
        let proxies = trusted("10.0.0.0/8");
        let padded = vec!["10.0.0.2"; MAX_FORWARDED_HOPS + 5];
        let mut header = vec!["203.0.113.1"];
        header.extend(padded);
        assert_eq!(
            client_address(ip("10.0.0.1"), &header, &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:2::2"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxy_lists_parse_strictly() {
        let list = trusted(" 10.0.0.0/8 ,192.0.2.7, 2001:db8::/32 ");
        assert!(list.contains(ip("10.200.0.1")));
        assert!(list.contains(ip("192.0.2.7")));
        assert!(!list.contains(ip("192.0.2.8")));
        assert!(list.contains(ip("2001:db8:ffff::1")));
        assert!(list.contains(ip("::ffff:10.0.0.1")));
        assert_eq!(list.to_string(), "10.0.0.0/8,192.0.2.7/32,2001:db8::/32");
        assert!(TrustedProxies::parse("").expect("blank").is_empty());
        assert!(TrustedProxies::parse("  ").expect("blank").is_empty());

        assert_eq!(
            TrustedProxies::parse("10.0.0.0/33"),
            Err(InvalidTrustedProxies::NotAnAddress("10.0.0.0/33".into()))
        );
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8,proxy.internal"),
            Err(InvalidTrustedProxies::NotAnAddress("proxy.internal".into()))
        );
        assert_eq!(
            TrustedProxies::parse("10.0.0.1/8"),
            Err(InvalidTrustedProxies::HostBitsSet {
                given: "10.0.0.1/8".into(),
                network: "10.0.0.0/8".parse().expect("net"),
            })
        );
        assert_eq!(
            TrustedProxies::parse("10.0.0.0/8,"),
            Err(InvalidTrustedProxies::EmptyEntry)
        );
        let message = TrustedProxies::parse("10.0.0.1/8")
            .expect_err("refused")
            .to_string();
        assert!(message.contains("10.0.0.0/8"), "{message}");
    }
}
