//! Range requests served from a stored response (RFC 9110 §14): parsing `Range`, deciding
//! 206/416/200, `Content-Range`, and `multipart/byteranges` bodies.
//!
//! Bad syntax means the header is ignored (200 with the full body). Ranges that overlap or are
//! out of order also get the full body (200), as CloudFront does (RFC 9110 §14.2 allows a
//! server to ignore Range); too many ranges likewise.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

/// Beyond this many ranges the header is ignored (a defence against range amplification).
pub const MAX_RANGES: usize = 100;

/// One byte-range-spec as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last`.
    FromTo(u64, u64),
    /// `first-`.
    From(u64),
    /// `-suffix_length`.
    Suffix(u64),
}

/// A satisfiable range, inclusive at both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never true: a satisfiable range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` value for this range of a `complete_length`-byte representation.
    pub fn content_range(&self, complete_length: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, complete_length)
    }
}

/// Parses a `Range` header value; `None` when it must be ignored (not `bytes`, bad syntax,
/// `last < first`, an empty list, or more than [`MAX_RANGES`]).
pub fn parse_range(value: &str) -> Option<Vec<RangeSpec>> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut out = Vec::new();
    for spec in set.split(',') {
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        let (first, last) = spec.split_once('-')?;
        let (first, last) = (first.trim(), last.trim());
        let r = match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => RangeSpec::Suffix(digits(last)?),
            (false, true) => RangeSpec::From(digits(first)?),
            (false, false) => {
                let (a, b) = (digits(first)?, digits(last)?);
                if b < a {
                    return None;
                }
                RangeSpec::FromTo(a, b)
            }
        };
        out.push(r);
        if out.len() > MAX_RANGES {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl RangeSpec {
    /// The satisfiable part of this spec for a representation of `len` bytes.
    pub fn resolve(&self, len: u64) -> Option<ByteRange> {
        match *self {
            RangeSpec::FromTo(a, b) if a < len => Some(ByteRange {
                start: a,
                end: b.min(len - 1),
            }),
            RangeSpec::From(a) if a < len => Some(ByteRange {
                start: a,
                end: len - 1,
            }),
            RangeSpec::Suffix(n) if n > 0 && len > 0 => Some(ByteRange {
                start: len - n.min(len),
                end: len - 1,
            }),
            _ => None,
        }
    }
}

/// What to answer a range request with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeDecision {
    /// 200 with the full representation.
    Full,
    /// 206 with these ranges (one: a single part; several: multipart/byteranges).
    Partial(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */len`.
    NotSatisfiable,
}

impl RangeDecision {
    /// The status code to send.
    pub fn status(&self) -> StatusCode {
        match self {
            RangeDecision::Full => StatusCode::OK,
            RangeDecision::Partial(_) => StatusCode::PARTIAL_CONTENT,
            RangeDecision::NotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        }
    }
}

/// Decides 200/206/416 for parsed specs against a representation of `len` bytes.
pub fn decide(specs: &[RangeSpec], len: u64) -> RangeDecision {
    let ranges: Vec<ByteRange> = specs.iter().filter_map(|s| s.resolve(len)).collect();
    if ranges.is_empty() {
        return RangeDecision::NotSatisfiable;
    }
    if ranges.windows(2).any(|w| w[1].start <= w[0].end) {
        return RangeDecision::Full;
    }
    RangeDecision::Partial(ranges)
}

/// The whole decision for a request against a stored response: Range applies only to GET of a
/// stored 200, when `If-Range` (if any) matches.
pub fn plan(
    method: &Method,
    request: &HeaderMap,
    stored_status: StatusCode,
    stored: &HeaderMap,
    len: u64,
) -> RangeDecision {
    if method != Method::GET || stored_status != StatusCode::OK {
        return RangeDecision::Full;
    }
    let mut values = request.get_all(header::RANGE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return RangeDecision::Full;
    };
    let Some(specs) = value.to_str().ok().and_then(parse_range) else {
        return RangeDecision::Full;
    };
    if !crate::conditional::if_range_allows(request, stored) {
        return RangeDecision::Full;
    }
    decide(&specs, len)
}

/// The `Content-Range` of a 416.
pub fn unsatisfied_content_range(complete_length: u64) -> String {
    format!("bytes */{complete_length}")
}

/// A fresh multipart boundary (unique per process and call).
pub fn new_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("edgeway{:016x}", splitmix64(n ^ t.rotate_left(17)))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `Content-Type` of a multipart/byteranges response.
pub fn multipart_content_type(boundary: &str) -> String {
    format!("multipart/byteranges; boundary={boundary}")
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) for `ranges` of `body`; each part carries the
/// representation's `Content-Type` (when known) and its `Content-Range`.
pub fn multipart_body(
    body: &Bytes,
    ranges: &[ByteRange],
    content_type: Option<&HeaderValue>,
    boundary: &str,
) -> Bytes {
    let len = body.len() as u64;
    let mut out = BytesMut::new();
    for (i, r) in ranges.iter().enumerate() {
        if i > 0 {
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"--");
        out.put_slice(boundary.as_bytes());
        out.put_slice(b"\r\n");
        if let Some(ct) = content_type {
            out.put_slice(b"Content-Type: ");
            out.put_slice(ct.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"Content-Range: ");
        out.put_slice(r.content_range(len).as_bytes());
        out.put_slice(b"\r\n\r\n");
        out.put_slice(&slice(body, *r));
    }
    out.put_slice(b"\r\n--");
    out.put_slice(boundary.as_bytes());
    out.put_slice(b"--\r\n");
    out.freeze()
}

/// The bytes of one range (clamped to the body; empty when out of bounds).
pub fn slice(body: &Bytes, r: ByteRange) -> Bytes {
    let len = body.len() as u64;
    if r.start >= len {
        return Bytes::new();
    }
    let end = r.end.min(len - 1);
    // Both bounds fit in usize because they are below body.len().
    body.slice(r.start as usize..=end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeSpec::*;

    #[test]
    fn parse_table() {
        let rows: Vec<(&str, Option<Vec<RangeSpec>>)> = vec![
            ("bytes=0-499", Some(vec![FromTo(0, 499)])),
            ("Bytes = 0-499", Some(vec![FromTo(0, 499)])),
            ("bytes=500-", Some(vec![From(500)])),
            ("bytes=-500", Some(vec![Suffix(500)])),
            ("bytes=0-0,-1", Some(vec![FromTo(0, 0), Suffix(1)])),
            ("bytes= 0-1 , 5-6 ,", Some(vec![FromTo(0, 1), FromTo(5, 6)])),
            ("bytes=5-4", None),
            ("bytes=-", None),
            ("bytes=", None),
            ("bytes=,", None),
            ("bytes=a-b", None),
            ("bytes=1-2-3", None),
            ("bytes=0x1-2", None),
            ("bytes=+1-2", None),
            ("bytes 0-1", None),
            ("items=0-1", None),
            ("bytes=99999999999999999999999-", None),
            ("", None),
        ];
        for (v, want) in rows {
            assert_eq!(parse_range(v), want, "{v:?}");
        }
        let many = format!(
            "bytes={}",
            (0..=MAX_RANGES)
                .map(|i| format!("{}-{}", i * 2, i * 2))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(parse_range(&many), None);
    }

    #[test]
    fn decide_table() {
        let r = |s, e| ByteRange { start: s, end: e };
        let rows: Vec<(Vec<RangeSpec>, u64, RangeDecision)> = vec![
            (
                vec![FromTo(0, 9)],
                100,
                RangeDecision::Partial(vec![r(0, 9)]),
            ),
            (
                vec![FromTo(90, 200)],
                100,
                RangeDecision::Partial(vec![r(90, 99)]),
            ),
            (vec![From(50)], 100, RangeDecision::Partial(vec![r(50, 99)])),
            (
                vec![Suffix(10)],
                100,
                RangeDecision::Partial(vec![r(90, 99)]),
            ),
            (
                vec![Suffix(1000)],
                100,
                RangeDecision::Partial(vec![r(0, 99)]),
            ),
            (vec![Suffix(0)], 100, RangeDecision::NotSatisfiable),
            (vec![FromTo(100, 200)], 100, RangeDecision::NotSatisfiable),
            (vec![From(100)], 100, RangeDecision::NotSatisfiable),
            (vec![From(0)], 0, RangeDecision::NotSatisfiable),
            (vec![Suffix(5)], 0, RangeDecision::NotSatisfiable),
            // multiple, ordered, disjoint
            (
                vec![FromTo(0, 9), FromTo(20, 29)],
                100,
                RangeDecision::Partial(vec![r(0, 9), r(20, 29)]),
            ),
            (
                vec![FromTo(0, 9), FromTo(10, 19)],
                100,
                RangeDecision::Partial(vec![r(0, 9), r(10, 19)]),
            ),
            // unsatisfiable members are dropped
            (
                vec![FromTo(0, 9), FromTo(500, 600)],
                100,
                RangeDecision::Partial(vec![r(0, 9)]),
            ),
            // overlapping or unordered: the full object
            (vec![FromTo(0, 9), FromTo(5, 19)], 100, RangeDecision::Full),
            (vec![FromTo(20, 29), FromTo(0, 9)], 100, RangeDecision::Full),
            (vec![FromTo(0, 9), Suffix(95)], 100, RangeDecision::Full),
        ];
        for (specs, len, want) in rows {
            assert_eq!(decide(&specs, len), want, "{specs:?} / {len}");
        }
    }

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn plan_table() {
        let stored = hm(&[("etag", "\"v1\"")]);
        let part = RangeDecision::Partial(vec![ByteRange { start: 0, end: 0 }]);
        let rows: Vec<(Method, Vec<(&str, &str)>, u16, RangeDecision)> = vec![
            (Method::GET, vec![("range", "bytes=0-0")], 200, part.clone()),
            (
                Method::HEAD,
                vec![("range", "bytes=0-0")],
                200,
                RangeDecision::Full,
            ),
            (
                Method::GET,
                vec![("range", "bytes=0-0")],
                404,
                RangeDecision::Full,
            ),
            (Method::GET, vec![], 200, RangeDecision::Full),
            (
                Method::GET,
                vec![("range", "bytes=zz")],
                200,
                RangeDecision::Full,
            ),
            (
                Method::GET,
                vec![("range", "bytes=0-0"), ("range", "bytes=1-1")],
                200,
                RangeDecision::Full,
            ),
            (
                Method::GET,
                vec![("range", "bytes=0-0"), ("if-range", "\"v1\"")],
                200,
                part.clone(),
            ),
            (
                Method::GET,
                vec![("range", "bytes=0-0"), ("if-range", "\"v2\"")],
                200,
                RangeDecision::Full,
            ),
            (
                Method::GET,
                vec![("range", "bytes=500-")],
                200,
                RangeDecision::NotSatisfiable,
            ),
        ];
        for (m, req, status, want) in rows {
            let got = plan(
                &m,
                &hm(&req),
                StatusCode::from_u16(status).unwrap(),
                &stored,
                10,
            );
            assert_eq!(got, want, "{m} {req:?} {status}");
        }
        assert_eq!(
            RangeDecision::NotSatisfiable.status(),
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    }

    #[test]
    fn content_range_and_multipart() {
        let body = Bytes::from_static(b"0123456789");
        let r1 = ByteRange { start: 0, end: 2 };
        let r2 = ByteRange { start: 7, end: 9 };
        assert_eq!(r1.content_range(10), "bytes 0-2/10");
        assert_eq!(unsatisfied_content_range(10), "bytes */10");
        assert_eq!(slice(&body, r2), Bytes::from_static(b"789"));
        assert_eq!(slice(&body, ByteRange { start: 20, end: 30 }), Bytes::new());
        let ct = HeaderValue::from_static("text/plain");
        let got = multipart_body(&body, &[r1, r2], Some(&ct), "B");
        let want = "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-2/10\r\n\r\n012\r\n\
                    --B\r\nContent-Type: text/plain\r\nContent-Range: bytes 7-9/10\r\n\r\n789\r\n--B--\r\n";
        assert_eq!(std::str::from_utf8(&got).unwrap(), want);
        assert_eq!(
            multipart_content_type("B"),
            "multipart/byteranges; boundary=B"
        );
        assert_ne!(new_boundary(), new_boundary());
    }
}
