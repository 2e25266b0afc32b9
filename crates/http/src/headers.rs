//! Header helpers shared by the tiers: hop-by-hop stripping (RFC 9110 §7.6.1) and
//! `X-Forwarded-For` building.

use http::header::{HeaderMap, HeaderName, HeaderValue};

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

/// Removes hop-by-hop headers and every header the `Connection` header names.
/// `keep_upgrade` keeps `Upgrade` (and `Connection: upgrade`) for a WebSocket handshake.
pub fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = h
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        if keep_upgrade && n == http::header::UPGRADE {
            continue;
        }
        // Never let a client strip end-to-end headers a proxy relies on.
        if n == http::header::HOST || n.as_str().starts_with("x-amz") || n.as_str() == "x-forwarded-for" {
            continue;
        }
        h.remove(&n);
    }
    for n in HOP_BY_HOP {
        if keep_upgrade && (*n == "upgrade" || *n == "connection") {
            continue;
        }
        h.remove(*n);
    }
}

/// Whether a request asks for a protocol upgrade (WebSocket).
pub fn is_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(http::header::UPGRADE)
        && h.get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
}

/// Appends `addr` to `X-Forwarded-For` (joining duplicates first) with `sep` (`", "` for ALB,
/// `","` for CloudFront). Returns the number of addresses it now holds.
pub fn append_forwarded_for(h: &mut HeaderMap, addr: &str, sep: &str) -> usize {
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
        h.insert("x-forwarded-for", v);
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
