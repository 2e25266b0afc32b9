//! A viewer response from a stored entry: `Age`, the viewer's preconditions (304/412), Range
//! (206, multipart/byteranges, 416; bad or overlapping ranges get the whole object), HEAD.

use edgeway_cache::conditional::{self, Precondition};
use edgeway_cache::range::{self, RangeDecision};
use edgeway_cache::CachedResponse;
use edgeway_http::Body;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use std::time::SystemTime;

/// The response to `method` with viewer headers `viewer` from `entry`, at `now`.
pub fn from_entry(
    entry: &CachedResponse,
    method: &Method,
    viewer: &HeaderMap,
    now: SystemTime,
) -> Response<Body> {
    let head = method == Method::HEAD;
    let age = age_value(entry.freshness.age_header_secs(now));
    // Without preconditions or Range (most requests), `evaluate` proceeds and `plan` answers
    // in full: neither needs to run.
    let asks = asks_preconditions_or_range(viewer);
    if asks {
        match conditional::evaluate(method, viewer, entry.status, &entry.headers) {
            Precondition::NotModified => {
                let mut h = conditional::not_modified_headers(&entry.headers);
                h.insert(header::AGE, age);
                return build(StatusCode::NOT_MODIFIED, h, edgeway_http::empty());
            }
            Precondition::Failed => {
                let mut h = HeaderMap::new();
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                return build(StatusCode::PRECONDITION_FAILED, h, edgeway_http::empty());
            }
            Precondition::Proceed => {}
        }
    }
    let len = entry.body.len() as u64;
    let mut h = entry.headers.clone();
    // Room for Age, Content-Length and what the edge stamps, so the map grows at most once.
    h.reserve(6);
    h.insert(header::AGE, age);
    let decision = if asks {
        range::plan(method, viewer, entry.status, &entry.headers, len)
    } else {
        RangeDecision::Full
    };
    let (status, body) = match decision {
        RangeDecision::Full => (entry.status, entry.body.clone()),
        RangeDecision::Partial(ranges) if ranges.len() == 1 => {
            h.insert(header::CONTENT_RANGE, value(&ranges[0].content_range(len)));
            (
                StatusCode::PARTIAL_CONTENT,
                range::slice(&entry.body, ranges[0]),
            )
        }
        RangeDecision::Partial(ranges) => {
            let boundary = range::new_boundary();
            let body = range::multipart_body(
                &entry.body,
                &ranges,
                entry.headers.get(header::CONTENT_TYPE),
                &boundary,
            );
            h.insert(
                header::CONTENT_TYPE,
                value(&range::multipart_content_type(&boundary)),
            );
            (StatusCode::PARTIAL_CONTENT, body)
        }
        RangeDecision::NotSatisfiable => {
            h.insert(
                header::CONTENT_RANGE,
                value(&range::unsatisfied_content_range(len)),
            );
            h.remove(header::CONTENT_TYPE);
            (StatusCode::RANGE_NOT_SATISFIABLE, bytes::Bytes::new())
        }
    };
    let no_body = status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    if no_body {
        h.remove(header::CONTENT_LENGTH);
    } else if !has_exact_length(&h, body.len()) {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let body = if head || no_body {
        edgeway_http::empty()
    } else {
        edgeway_http::full(body)
    };
    build(status, h, body)
}

/// The response from `entry` in full with head `headers` (as [`from_entry`] answers a viewer
/// without preconditions or Range).
pub(crate) fn full_response(
    entry: &CachedResponse,
    method: &Method,
    headers: HeaderMap,
) -> Response<Body> {
    let status = entry.status;
    let no_body = status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    let body = if method == Method::HEAD || no_body {
        edgeway_http::empty()
    } else {
        edgeway_http::full(entry.body.clone())
    };
    build(status, headers, body)
}

/// Whether the viewer sent a precondition (`If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`) or `Range`: one pass over its header names instead of a hash lookup
/// per name.
pub(crate) fn asks_preconditions_or_range(viewer: &HeaderMap) -> bool {
    viewer.keys().any(|n| {
        n == header::IF_NONE_MATCH
            || n == header::IF_MODIFIED_SINCE
            || n == header::RANGE
            || n == header::IF_MATCH
            || n == header::IF_UNMODIFIED_SINCE
    })
}

/// Whether `h` holds exactly one `Content-Length`, and it is `len` written as
/// `HeaderValue::from(len)` would write it (then inserting that value changes nothing).
fn has_exact_length(h: &HeaderMap, len: usize) -> bool {
    let mut values = h.get_all(header::CONTENT_LENGTH).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return false;
    };
    let mut digits = [0u8; 20];
    !v.is_sensitive() && v.as_bytes() == decimal(len as u64, &mut digits)
}

/// `n` in decimal, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    buf.get(at..).unwrap_or_default()
}

/// Ages below this come from [`AGE_DIGITS`] (no allocation).
const AGE_TABLE: usize = 10_000;

/// 0 to 9,999 as four zero-padded digits each: an `Age` is a slice of it.
static AGE_DIGITS: [u8; 4 * AGE_TABLE] = {
    let mut t = [0u8; 4 * AGE_TABLE];
    let mut n = 0;
    while n < AGE_TABLE {
        t[4 * n] = b'0' + (n / 1000) as u8;
        t[4 * n + 1] = b'0' + (n / 100 % 10) as u8;
        t[4 * n + 2] = b'0' + (n / 10 % 10) as u8;
        t[4 * n + 3] = b'0' + (n % 10) as u8;
        n += 1;
    }
    t
};

/// The `Age` header value for `secs` (the same text as `HeaderValue::from(secs)`).
pub(crate) fn age_value(secs: u64) -> HeaderValue {
    let n = secs as usize;
    if secs < AGE_TABLE as u64 {
        let width = match n {
            0..=9 => 1,
            10..=99 => 2,
            100..=999 => 3,
            _ => 4,
        };
        let end = 4 * n + 4;
        if let Some(text) = AGE_DIGITS.get(end - width..end) {
            if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from_static(text)) {
                return v;
            }
        }
    }
    HeaderValue::from(secs)
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""))
}

fn build(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use edgeway_cache::Freshness;
    use http_body_util::BodyExt;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry() -> CachedResponse {
        let mut h = HeaderMap::new();
        h.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        let f = Freshness {
            lifetime: Duration::from_secs(60),
            initial_age: Duration::from_secs(3),
            response_time: UNIX_EPOCH + Duration::from_secs(1000),
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: None,
            must_revalidate: false,
            no_cache: false,
        };
        CachedResponse::new(StatusCode::OK, h, Bytes::from_static(b"0123456789"), f)
    }

    async fn run(
        method: Method,
        headers: &[(&'static str, &'static str)],
    ) -> (u16, HeaderMap, Bytes) {
        let mut v = HeaderMap::new();
        for (k, val) in headers {
            v.append(*k, HeaderValue::from_static(val));
        }
        let r = from_entry(
            &entry(),
            &method,
            &v,
            UNIX_EPOCH + Duration::from_secs(1010),
        );
        let (p, b) = r.into_parts();
        (
            p.status.as_u16(),
            p.headers,
            b.collect().await.map(|c| c.to_bytes()).unwrap_or_default(),
        )
    }

    #[test]
    fn ages_and_lengths_read_as_from_would_write_them() {
        for n in (0..12_000u64).chain([99_999, 100_000, 86_400, u64::MAX]) {
            assert_eq!(age_value(n), HeaderValue::from(n), "{n}");
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
        let mut h = HeaderMap::new();
        assert!(!has_exact_length(&h, 10));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        assert!(has_exact_length(&h, 10));
        assert!(!has_exact_length(&h, 1));
        assert!(!has_exact_length(&h, 100));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("010"));
        assert!(!has_exact_length(&h, 10));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        h.append(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        assert!(!has_exact_length(&h, 10));
    }

    #[tokio::test]
    async fn conditionals_ranges_head() {
        // (method, headers, status, body)
        let rows: Vec<(Method, Vec<(&'static str, &'static str)>, u16, &str)> = vec![
            (Method::GET, vec![], 200, "0123456789"),
            (Method::HEAD, vec![], 200, ""),
            (Method::GET, vec![("if-none-match", "\"v1\"")], 304, ""),
            (
                Method::GET,
                vec![("if-none-match", "\"v2\"")],
                200,
                "0123456789",
            ),
            (Method::GET, vec![("if-match", "\"v2\"")], 412, ""),
            (
                Method::GET,
                vec![("if-unmodified-since", "Sat, 05 Nov 1994 08:49:37 GMT")],
                412,
                "",
            ),
            (
                Method::GET,
                vec![("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")],
                304,
                "",
            ),
            (Method::GET, vec![("range", "bytes=2-4")], 206, "234"),
            (Method::GET, vec![("range", "bytes=-3")], 206, "789"),
            (Method::GET, vec![("range", "bytes=5-1")], 200, "0123456789"),
            (
                Method::GET,
                vec![("range", "bytes=0-4,2-6")],
                200,
                "0123456789",
            ),
            (
                Method::GET,
                vec![("range", "bytes=6-7,0-1")],
                200,
                "0123456789",
            ),
            (Method::GET, vec![("range", "bytes=50-60")], 416, ""),
            (
                Method::GET,
                vec![("range", "bytes=0-1"), ("if-range", "\"v2\"")],
                200,
                "0123456789",
            ),
        ];
        for (m, h, status, body) in rows {
            let (s, headers, b) = run(m.clone(), &h).await;
            assert_eq!((s, &b[..]), (status, body.as_bytes()), "{m} {h:?}");
            if s != 412 {
                assert_eq!(
                    headers.get("age").and_then(|v| v.to_str().ok()),
                    Some("13"),
                    "{m} {h:?}"
                );
            }
        }
        let (s, h, b) = run(Method::GET, &[("range", "bytes=0-1,4-5")]).await;
        assert_eq!(s, 206);
        assert!(h["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("multipart/byteranges; boundary="));
        let text = String::from_utf8_lossy(&b);
        assert!(
            text.contains("Content-Range: bytes 0-1/10")
                && text.contains("Content-Range: bytes 4-5/10"),
            "{text}"
        );
        let (_, h, _) = run(Method::GET, &[("range", "bytes=50-60")]).await;
        assert_eq!(h["content-range"], "bytes */10");
        let (_, h, _) = run(Method::HEAD, &[]).await;
        assert_eq!(h["content-length"], "10");
    }
}
