//! Who the client is: its address and whether it reached us over HTTPS.
//!
//! Behind a reverse proxy every connection comes from the proxy, so the address that counts
//! for throttling and the audit log is the one the proxy puts in `X-Forwarded-For`, and
//! the scheme the one in `X-Forwarded-Proto`. Those headers are believed only when the
//! peer is a configured trusted proxy (`trusted_proxies`); from anyone else they are
//! ignored, or any client could claim any address. `X-Forwarded-For` is read from the
//! right, skipping trusted proxies: the first address that is not one is the client (the
//! entries to its left were written by the client itself and prove nothing).

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address (`127.0.0.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parse `ADDR` or `ADDR/PREFIX`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Net, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network (like 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Net { addr, prefix })
    }

    /// Is `ip` inside this network? (IPv4-mapped IPv6 addresses count as IPv4.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The connection came over TLS served by this process (set per connection by the server).
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// The client of a request, as [`stamp`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// Its address, when known.
    pub ip: Option<IpAddr>,
    /// Did it reach us over HTTPS (here, or at a trusted proxy)?
    pub https: bool,
}

/// The client of a request from `peer`: see the module documentation.
pub fn resolve(
    peer: Option<IpAddr>,
    tls: bool,
    headers: &HeaderMap,
    trusted: &[Net],
    behind_tls_proxy: bool,
) -> ClientInfo {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let Some(peer) = peer else {
        return ClientInfo {
            ip: None,
            https: tls || behind_tls_proxy,
        };
    };
    if !is_trusted(peer) {
        return ClientInfo {
            ip: Some(peer),
            https: tls || behind_tls_proxy,
        };
    }
    // Every X-Forwarded-For header, in order, as one list; read from the right.
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        match v.to_str() {
            Ok(v) => hops.extend(v.split(',').map(str::trim)),
            // Unreadable: believe nothing beyond the proxy.
            Err(_) => hops.clear(),
        }
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => {
                client = ip;
                break;
            }
            None => break,
        }
    }
    let proto_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    ClientInfo {
        ip: Some(client),
        https: tls || behind_tls_proxy || proto_https,
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")) && !n.contains(ip("10.2.0.1")));
        assert!(Net::parse("127.0.0.1")
            .unwrap()
            .contains(ip("::ffff:127.0.0.1")));
        assert!(Net::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Net::parse("::/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "::1/129", "host.example", "10.0.0.0/x"] {
            assert!(Net::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted = [
            Net::parse("127.0.0.1").unwrap(),
            Net::parse("10.0.0.0/8").unwrap(),
        ];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        // (peer, tls, expected client, expected https)
        let cases = [
            ("127.0.0.1", false, "203.0.113.7", true),
            ("10.9.9.9", false, "203.0.113.7", true),
            ("198.51.100.1", false, "198.51.100.1", false),
            ("198.51.100.1", true, "198.51.100.1", true),
        ];
        for (peer, tls, client, https) in cases {
            let c = resolve(Some(ip(peer)), tls, &h, &trusted, false);
            assert_eq!(c.ip, Some(ip(client)), "{peer}");
            assert_eq!(c.https, https, "{peer}");
        }
        // No trusted proxies: the header is ignored.
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), false, &h, &[], false).ip,
            Some(ip("127.0.0.1"))
        );
        // Garbage in the header: stop at the proxy.
        let mut g = HeaderMap::new();
        g.insert("x-forwarded-for", HeaderValue::from_static("nonsense"));
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), false, &g, &trusted, false).ip,
            Some(ip("127.0.0.1"))
        );
        // Ports are allowed.
        let mut p = HeaderMap::new();
        p.insert(
            "x-forwarded-for",
            HeaderValue::from_static("[2001:db8::1]:443"),
        );
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), false, &p, &trusted, false).ip,
            Some(ip("2001:db8::1"))
        );
        assert!(resolve(Some(ip("198.51.100.1")), false, &p, &trusted, true).https);
    }
}
