//! What the ALB checks in and adds to a request (pure): the desync/limit checks, X-Forwarded-*,
//! X-Amzn-Trace-Id and the Host sent to the target.

use crate::condition::strip_port;
use crate::error::AlbError;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::net::SocketAddr;

/// Most addresses an incoming X-Forwarded-For may hold.
pub const MAX_FORWARDED_FOR: usize = 30;
/// Above this size of all request headers, the trace header is rewritten with only a Root.
const TRACE_REWRITE_BYTES: usize = 7 * 1024;

/// The checks before any rule runs: TRACE (405), Transfer-Encoding (501), XFF length (463).
pub fn check_request(method: &Method, h: &HeaderMap) -> Result<(), AlbError> {
    if method == Method::TRACE {
        return Err(AlbError::Trace);
    }
    let bad_te = h.get_all(http::header::TRANSFER_ENCODING).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .map(str::trim)
                .any(|t| !t.eq_ignore_ascii_case("chunked") && !t.eq_ignore_ascii_case("identity"))
        })
    });
    if bad_te {
        return Err(AlbError::UnsupportedTransferEncoding);
    }
    if forwarded_for_count(h) > MAX_FORWARDED_FOR {
        return Err(AlbError::TooManyForwardedFor);
    }
    Ok(())
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// The header name the trace id travels in.
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The number of addresses in every X-Forwarded-For header.
pub fn forwarded_for_count(h: &HeaderMap) -> usize {
    h.get_all(X_FORWARDED_FOR)
        .iter()
        .map(|v| {
            v.as_bytes()
                .split(|b| *b == b',')
                .filter(|p| p.iter().any(|b| !b.is_ascii_whitespace()))
                .count()
        })
        .sum()
}

/// `xff_header_processing_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XffMode {
    Append,
    Preserve,
    Remove,
}

impl XffMode {
    pub fn from_config(s: &str) -> Self {
        match s {
            "preserve" => Self::Preserve,
            "remove" => Self::Remove,
            _ => Self::Append,
        }
    }
}

/// Applies the X-Forwarded-For mode for a client at `peer`.
pub fn set_forwarded_for(h: &mut HeaderMap, mode: XffMode, peer: SocketAddr, client_port: bool) {
    match mode {
        XffMode::Preserve => {}
        XffMode::Remove => {
            h.remove(X_FORWARDED_FOR);
        }
        XffMode::Append => {
            let ip = peer.ip().to_canonical();
            // The usual case: an IPv4 client, no port, no X-Forwarded-For yet. One lookup, the
            // address written on the stack (the same text `ip_text` gives).
            if let (false, std::net::IpAddr::V4(v4)) = (client_port, ip) {
                if let http::header::Entry::Vacant(e) = h.entry(X_FORWARDED_FOR) {
                    let mut buf = [0u8; 15];
                    let n = edgeway_http::headers::ipv4_text(v4, &mut buf);
                    if let Ok(v) = HeaderValue::from_bytes(buf.get(..n).unwrap_or_default()) {
                        e.insert(v);
                    }
                    return;
                }
            }
            let addr = match (client_port, ip) {
                (false, ip) => edgeway_http::headers::ip_text(ip),
                (true, ip) => SocketAddr::new(ip, peer.port()).to_string(),
            };
            edgeway_http::headers::append_forwarded_for(h, &addr, ", ");
        }
    }
}

/// Sets X-Forwarded-Proto and X-Forwarded-Port for the client→ALB connection.
pub fn set_forwarded_proto_port(h: &mut HeaderMap, https: bool, port: u16) {
    set_forwarded_proto_port_value(h, https, HeaderValue::from(port));
}

/// [`set_forwarded_proto_port`] with the port's header value already made (a listener keeps
/// one).
pub fn set_forwarded_proto_port_value(h: &mut HeaderMap, https: bool, port: HeaderValue) {
    h.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    h.insert(X_FORWARDED_PORT, port);
}

/// A trace id part: `1-<8 hex epoch seconds>-<24 hex random>`.
pub fn new_trace_id(epoch_secs: u64, random: [u8; 12]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
        for b in bytes {
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
    let mut out = Vec::with_capacity(35);
    out.extend_from_slice(b"1-");
    push_hex(&mut out, &((epoch_secs & 0xffff_ffff) as u32).to_be_bytes());
    out.push(b'-');
    push_hex(&mut out, &random);
    String::from_utf8(out).unwrap_or_default()
}

/// The X-Amzn-Trace-Id to send: a new Root when there is none; with a Root, `Self=<id>;` in front
/// (replacing an existing Self), keeping Root and custom fields.
pub fn trace_header(existing: Option<&str>, id: &str, headers_bytes: usize) -> String {
    let Some(existing) = existing.filter(|_| headers_bytes <= TRACE_REWRITE_BYTES) else {
        let mut out = String::with_capacity(5 + id.len());
        out.push_str("Root=");
        out.push_str(id);
        return out;
    };
    let fields: Vec<&str> = existing
        .split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty() && !f.get(..5).is_some_and(|k| k.eq_ignore_ascii_case("self=")))
        .collect();
    let has_root = fields
        .iter()
        .any(|f| f.get(..5).is_some_and(|k| k.eq_ignore_ascii_case("root=")));
    let lead = if has_root { "Self" } else { "Root" };
    let mut out = format!("{lead}={id}");
    for f in fields {
        out.push(';');
        out.push_str(f);
    }
    out
}

/// The X-Amzn-Trace-Id value for a request with headers `h`, at `epoch_secs`, with `random` for
/// the id: the same text as [`trace_header`] over [`new_trace_id`], built as a header value. The
/// usual case (no incoming trace header) is written on the stack: no `String`s.
pub fn trace_value(h: &HeaderMap, epoch_secs: u64, random: [u8; 12]) -> Option<HeaderValue> {
    let existing = h.get(X_AMZN_TRACE_ID).and_then(|v| v.to_str().ok());
    match existing {
        Some(e) => {
            let id = new_trace_id(epoch_secs, random);
            HeaderValue::from_str(&trace_header(Some(e), &id, headers_bytes(h))).ok()
        }
        None => {
            let mut buf = [0u8; 40];
            write_root(&mut buf, epoch_secs, random);
            HeaderValue::from_bytes(&buf).ok()
        }
    }
}

/// `Root=1-<8 hex epoch seconds>-<24 hex random>` (40 bytes).
fn write_root(buf: &mut [u8; 40], epoch_secs: u64, random: [u8; 12]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let secs = ((epoch_secs & 0xffff_ffff) as u32).to_be_bytes();
    let (head, rest) = buf.split_at_mut(7);
    head.copy_from_slice(b"Root=1-");
    let (secs_hex, rest) = rest.split_at_mut(8);
    for (pair, b) in secs_hex.chunks_exact_mut(2).zip(secs) {
        pair.copy_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
    }
    let (dash, rand_hex) = rest.split_at_mut(1);
    dash.copy_from_slice(b"-");
    for (pair, b) in rand_hex.chunks_exact_mut(2).zip(random) {
        pair.copy_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
    }
}

/// The total size of the request headers (names and values).
pub fn headers_bytes(h: &HeaderMap) -> usize {
    h.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum()
}

/// The Host for the target: the client's host with the listener's port unless it is 80 or 443.
pub fn target_host(client_host: &str, listener_port: u16) -> String {
    let host = strip_port(client_host);
    if listener_port == 80 || listener_port == 443 {
        host.to_string()
    } else {
        format!("{host}:{listener_port}")
    }
}

/// Whether [`target_host`] of `client_host` is `client_host` itself (then a Host header holding
/// it can stay as it is).
pub fn target_host_unchanged(client_host: &str, listener_port: u16) -> bool {
    let host = strip_port(client_host);
    if listener_port == 80 || listener_port == 443 {
        return host.len() == client_host.len();
    }
    let mut digits = [0u8; 5];
    let port = port_text(listener_port, &mut digits);
    client_host.len() == host.len() + 1 + port.len()
        && client_host.as_bytes().get(host.len()) == Some(&b':')
        && client_host.as_bytes().get(host.len() + 1..) == Some(port)
}

/// [`target_host`] as a header value, written without `format!`.
pub fn target_host_value(client_host: &str, listener_port: u16) -> Option<HeaderValue> {
    let host = strip_port(client_host);
    if listener_port == 80 || listener_port == 443 {
        return HeaderValue::from_str(host).ok();
    }
    let mut digits = [0u8; 5];
    let port = port_text(listener_port, &mut digits);
    let mut v = Vec::with_capacity(host.len() + 1 + port.len());
    v.extend_from_slice(host.as_bytes());
    v.push(b':');
    v.extend_from_slice(port);
    HeaderValue::from_maybe_shared(bytes::Bytes::from(v)).ok()
}

/// A port's decimal digits in `buf`.
fn port_text(port: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut n = port;
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// `drop_invalid_header_fields`: removes headers whose names are not `[-A-Za-z0-9]+`.
pub fn drop_invalid_fields(h: &mut HeaderMap) {
    let bad: Vec<http::header::HeaderName> = h
        .keys()
        .filter(|n| {
            !n.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .cloned()
        .collect();
    for n in bad {
        h.remove(n);
    }
}

/// HTTP/2 splits cookies over several headers; HTTP/1.1 targets expect one, joined by `; `.
pub fn join_cookies(h: &mut HeaderMap) {
    if h.get_all(http::header::COOKIE).iter().count() < 2 {
        return;
    }
    let joined: Vec<&[u8]> = h
        .get_all(http::header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    if let Ok(v) = HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
        h.insert(http::header::COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn checks() {
        let thirty = vec!["1.1.1.1"; 30].join(", ");
        let thirty_one = vec!["1.1.1.1"; 31].join(",");
        let cases: Vec<(Method, HeaderMap, Option<u16>)> = vec![
            (Method::GET, headers(&[]), None),
            (Method::TRACE, headers(&[]), Some(405)),
            (
                Method::POST,
                headers(&[("transfer-encoding", "chunked")]),
                None,
            ),
            (
                Method::POST,
                headers(&[("transfer-encoding", "identity, chunked")]),
                None,
            ),
            (
                Method::POST,
                headers(&[("transfer-encoding", "gzip, chunked")]),
                Some(501),
            ),
            (
                Method::GET,
                HeaderMap::from_iter([(
                    http::header::HeaderName::from_static("x-forwarded-for"),
                    HeaderValue::from_str(&thirty).unwrap(),
                )]),
                None,
            ),
            (
                Method::GET,
                HeaderMap::from_iter([(
                    http::header::HeaderName::from_static("x-forwarded-for"),
                    HeaderValue::from_str(&thirty_one).unwrap(),
                )]),
                Some(463),
            ),
        ];
        for (m, h, want) in cases {
            let got = check_request(&m, &h).err().map(|e| e.status().as_u16());
            assert_eq!(got, want, "{m} {h:?}");
        }
    }

    #[test]
    fn forwarded_for_counts_over_headers() {
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "3.3.3.3"),
            ("x-forwarded-for", " "),
        ]);
        assert_eq!(forwarded_for_count(&h), 3);
    }

    #[test]
    fn forwarded_for_modes() {
        let peer: SocketAddr = "10.0.0.9:5555".parse().unwrap();
        let peer6: SocketAddr = "[2001:db8::1]:5555".parse().unwrap();
        let cases: Vec<(XffMode, bool, SocketAddr, Option<&str>, Option<&str>)> = vec![
            (XffMode::Append, false, peer, None, Some("10.0.0.9")),
            (
                XffMode::Append,
                false,
                peer,
                Some("1.2.3.4"),
                Some("1.2.3.4, 10.0.0.9"),
            ),
            (
                XffMode::Append,
                true,
                peer,
                Some("1.2.3.4"),
                Some("1.2.3.4, 10.0.0.9:5555"),
            ),
            (
                XffMode::Append,
                true,
                peer6,
                None,
                Some("[2001:db8::1]:5555"),
            ),
            (
                XffMode::Preserve,
                true,
                peer,
                Some("1.2.3.4"),
                Some("1.2.3.4"),
            ),
            (XffMode::Preserve, false, peer, None, None),
            (XffMode::Remove, true, peer, Some("1.2.3.4"), None),
        ];
        for (mode, port, peer, incoming, want) in cases {
            let mut h = HeaderMap::new();
            if let Some(v) = incoming {
                h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
            }
            set_forwarded_for(&mut h, mode, peer, port);
            assert_eq!(
                h.get("x-forwarded-for").map(|v| v.to_str().unwrap()),
                want,
                "{mode:?} {port} {incoming:?}"
            );
        }
    }

    #[test]
    fn trace_ids() {
        let id = new_trace_id(
            0x5833_7262,
            [
                0x36, 0xd2, 0x28, 0xad, 0x5d, 0x99, 0x92, 0x31, 0x22, 0xbb, 0xe3, 0x54,
            ],
        );
        assert_eq!(id, "1-58337262-36d228ad5d99923122bbe354");
        let cases = [
            (None, 0, "Root=N"),
            (Some("Root=1-a-b"), 0, "Self=N;Root=1-a-b"),
            (
                Some("Self=1-old;Root=1-a-b;CalledFrom=app"),
                0,
                "Self=N;Root=1-a-b;CalledFrom=app",
            ),
            (Some("Root=1-a-b"), 8000, "Root=N"),
            (Some("CalledFrom=app"), 0, "Root=N;CalledFrom=app"),
        ];
        for (existing, size, want) in cases {
            assert_eq!(trace_header(existing, "N", size), want, "{existing:?}");
        }
    }

    #[test]
    fn hosts() {
        let cases = [
            ("shop.com", 80, "shop.com"),
            ("shop.com:80", 80, "shop.com"),
            ("shop.com:443", 443, "shop.com"),
            ("shop.com", 8080, "shop.com:8080"),
            ("shop.com:1234", 8080, "shop.com:8080"),
            ("[::1]:8080", 8080, "[::1]:8080"),
        ];
        for (h, p, want) in cases {
            assert_eq!(target_host(h, p), want);
        }
    }

    #[test]
    fn host_helpers_agree_with_target_host() {
        let hosts = [
            "shop.com",
            "shop.com:80",
            "shop.com:443",
            "shop.com:8080",
            "shop.com:1234",
            "[::1]:8080",
            "[::1]",
            "a:0",
            "a:65535",
            "a:",
            "",
        ];
        for h in hosts {
            for p in [80, 443, 8080, 0, 1, 9, 10, 65535, 1234] {
                let want = target_host(h, p);
                assert_eq!(target_host_unchanged(h, p), want == h, "{h} {p}");
                assert_eq!(
                    target_host_value(h, p).map(|v| v.to_str().unwrap().to_string()),
                    HeaderValue::from_str(&want)
                        .ok()
                        .map(|v| v.to_str().unwrap().to_string()),
                    "{h} {p}"
                );
            }
        }
    }

    #[test]
    fn trace_values_match_trace_header() {
        let random = [
            0x36, 0xd2, 0x28, 0xad, 0x5d, 0x99, 0x92, 0x31, 0x22, 0xbb, 0xe3, 0x54,
        ];
        let id = new_trace_id(0x1_5833_7262, random);
        for existing in [
            None,
            Some("Root=1-a-b"),
            Some("Self=1-old;Root=1-a-b;CalledFrom=app"),
            Some("CalledFrom=app"),
        ] {
            let h = match existing {
                Some(e) => headers(&[("x-amzn-trace-id", e)]),
                None => headers(&[("host", "a.com")]),
            };
            let want = trace_header(existing, &id, headers_bytes(&h));
            let got = trace_value(&h, 0x1_5833_7262, random).unwrap();
            assert_eq!(got.to_str().unwrap(), want, "{existing:?}");
        }
    }

    #[test]
    fn forwarded_for_ipv4_fast_path_matches_ip_text() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.100.255.9",
            "255.255.255.255",
            "99.9.19.200",
        ] {
            let peer: SocketAddr = format!("{ip}:1").parse().unwrap();
            let mut h = HeaderMap::new();
            set_forwarded_for(&mut h, XffMode::Append, peer, false);
            assert_eq!(
                h.get("x-forwarded-for").unwrap().to_str().unwrap(),
                edgeway_http::headers::ip_text(peer.ip())
            );
        }
        let mapped: SocketAddr = "[::ffff:10.0.0.9]:5555".parse().unwrap();
        let mut h = HeaderMap::new();
        set_forwarded_for(&mut h, XffMode::Append, mapped, false);
        assert_eq!(h["x-forwarded-for"], "10.0.0.9");
    }

    #[test]
    fn drops_invalid_fields() {
        let mut h = headers(&[("x_a", "1"), ("x-b", "2"), ("x.c", "3"), ("X9", "4")]);
        drop_invalid_fields(&mut h);
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["x-b", "x9"]);
    }

    #[test]
    fn joins_cookies() {
        let mut h = headers(&[("cookie", "a=1"), ("cookie", "b=2")]);
        join_cookies(&mut h);
        assert_eq!(h.get_all("cookie").iter().count(), 1);
        assert_eq!(h["cookie"], "a=1; b=2");
    }
}
