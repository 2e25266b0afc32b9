//! Header helpers shared by the tiers: hop-by-hop stripping (RFC 9110 §7.6.1) and
//! `X-Forwarded-For` building.

use http::header::{HeaderMap, HeaderName, HeaderValue};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The hop-by-hop headers every proxy removes, beside those named in `Connection`.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// The position of `name` in [`HOP_BY_HOP`], if it is there.
fn hop_index(name: &HeaderName) -> Option<usize> {
    Some(match name.as_str() {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "te" => 3,
        "trailer" => 4,
        "transfer-encoding" => 5,
        "upgrade" => 6,
        "proxy-authenticate" => 7,
        "proxy-authorization" => 8,
        _ => return None,
    })
}

/// [`HOP_BY_HOP`] as names, in the same order.
const HOP_NAMES: [HeaderName; 9] = [
    http::header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    http::header::TE,
    http::header::TRAILER,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::header::PROXY_AUTHENTICATE,
    http::header::PROXY_AUTHORIZATION,
];

/// Whether `name` is one of [`HOP_BY_HOP`].
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    hop_index(name).is_some()
}

/// The headers a `Connection` header names that a proxy removes (never Host, `x-amz*` or
/// `X-Forwarded-For`, which a client must not strip). Names the map does not hold, and
/// hop-by-hop names (removed anyway), are left out. Empty without `Connection`.
pub fn connection_named(h: &HeaderMap) -> Vec<HeaderName> {
    let mut values = h.get_all(http::header::CONNECTION).iter().peekable();
    if values.peek().is_none() {
        return Vec::new();
    }
    // The usual values name nothing to remove: no token scan, no lookups.
    if h.get_all(http::header::CONNECTION).iter().all(|v| {
        let v = v.as_bytes();
        v.eq_ignore_ascii_case(b"keep-alive") || v.eq_ignore_ascii_case(b"close")
    }) {
        return Vec::new();
    }
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        // `connection` and `upgrade` stay: a WebSocket handshake keeps them.
        .filter(|t| {
            HOP_BY_HOP.iter().all(|n| !n.eq_ignore_ascii_case(t))
                || t.eq_ignore_ascii_case("connection")
                || t.eq_ignore_ascii_case("upgrade")
        })
        .filter(|t| h.contains_key(*t))
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .filter(|n| {
            !(*n == http::header::HOST
                || n.as_str().starts_with("x-amz")
                || n.as_str() == "x-forwarded-for")
        })
        .collect()
}

/// Removes hop-by-hop headers and every header the `Connection` header names.
/// `keep_upgrade` keeps `Upgrade` (and `Connection: upgrade`) for a WebSocket handshake.
pub fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    // One pass over the fields notes which hop-by-hop names are present (most maps hold none,
    // or `connection`) and whether a `Connection` value names more than keep-alive or close;
    // only then are its tokens looked at. Each present name is removed by its constant.
    let mut present = 0u16;
    let mut names_more = false;
    for (n, v) in h.iter() {
        if let Some(i) = hop_index(n) {
            present |= 1 << i;
            if i == 0 {
                let v = v.as_bytes();
                names_more |=
                    !(v.eq_ignore_ascii_case(b"keep-alive") || v.eq_ignore_ascii_case(b"close"));
            }
        }
    }
    if names_more {
        for n in connection_named(h) {
            if keep_upgrade && n == http::header::UPGRADE {
                continue;
            }
            h.remove(&n);
        }
    }
    if keep_upgrade {
        present &= !(1 << 0 | 1 << 6);
    }
    for (i, name) in HOP_NAMES.iter().enumerate() {
        if present & (1 << i) != 0 {
            h.remove(name);
        }
    }
}

/// `ip` as text (what `to_string` gives), without the formatting machinery for IPv4.
pub fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut buf = [0u8; 15];
    let n = ipv4_text(v4, &mut buf);
    String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
}

/// An IPv4 address in dotted decimal into `buf` (what `to_string` gives); returns its length.
pub fn ipv4_text(ip: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> usize {
    let mut n = 0;
    let mut push = |b: u8| {
        if let Some(slot) = buf.get_mut(n) {
            *slot = b;
            n += 1;
        }
    };
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            push(b'.');
        }
        if octet >= 100 {
            push(b'0' + octet / 100);
        }
        if octet >= 10 {
            push(b'0' + octet / 10 % 10);
        }
        push(b'0' + octet % 10);
    }
    n
}

/// `ip` as a header value, as [`ip_text`] writes it (IPv4 without an intermediate `String`).
pub fn ip_value(ip: std::net::IpAddr) -> Option<HeaderValue> {
    let std::net::IpAddr::V4(v4) = ip else {
        return HeaderValue::from_str(&ip.to_string()).ok();
    };
    let mut buf = [0u8; 15];
    let n = ipv4_text(v4, &mut buf);
    HeaderValue::from_bytes(buf.get(..n).unwrap_or_default()).ok()
}

/// Whether a request asks for a protocol upgrade (WebSocket).
pub fn is_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(http::header::UPGRADE)
        && h.get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Appends `addr` to `X-Forwarded-For` (joining duplicates first) with `sep` (`", "` for ALB,
/// `","` for CloudFront). Returns the number of addresses it now holds.
pub fn append_forwarded_for(h: &mut HeaderMap, addr: &str, sep: &str) -> usize {
    if !h.contains_key(&X_FORWARDED_FOR) {
        if let Ok(v) = HeaderValue::from_str(addr) {
            h.insert(X_FORWARDED_FOR, v);
        }
        return addr.split(',').count();
    }
    let existing: Vec<String> = h
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let mut value = existing.join(sep);
    if !value.is_empty() {
        value.push_str(sep);
    }
    value.push_str(addr);
    let count = value.split(',').count();
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(X_FORWARDED_FOR, v);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));

        // A name in a second `Connection` field, behind a plain keep-alive.
        let mut h = HeaderMap::new();
        h.append("connection", HeaderValue::from_static("keep-alive"));
        h.append("connection", HeaderValue::from_static("X-Secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("2"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-kept"));

        // A WebSocket handshake keeps Upgrade and its Connection, not what else it names.
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("Upgrade, x-secret"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h.len(), 2, "{h:?}");
        assert!(h.contains_key("connection") && h.contains_key("upgrade"));
    }

    #[test]
    fn ip_text_is_to_string() {
        let ips = [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.100.9",
            "9.10.99.100",
            "::1",
            "2001:db8::7",
        ];
        for ip in ips {
            let parsed: std::net::IpAddr = ip
                .parse()
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            assert_eq!(ip_text(parsed), parsed.to_string());
            assert_eq!(
                ip_value(parsed).as_ref().and_then(|v| v.to_str().ok()),
                Some(parsed.to_string().as_str())
            );
        }
    }

    #[test]
    fn appends_forwarded_for() {
        let mut h = HeaderMap::new();
        assert_eq!(append_forwarded_for(&mut h, "1.1.1.1", ", "), 1);
        assert_eq!(h["x-forwarded-for"], "1.1.1.1");
        h.append("x-forwarded-for", HeaderValue::from_static("2.2.2.2"));
        assert_eq!(append_forwarded_for(&mut h, "3.3.3.3", ","), 3);
        assert_eq!(h["x-forwarded-for"], "1.1.1.1,2.2.2.2,3.3.3.3");
    }
}
