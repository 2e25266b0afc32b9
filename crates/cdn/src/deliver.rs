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
    let age = HeaderValue::from(entry.freshness.age_header_secs(now));
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
    let len = entry.body.len() as u64;
    let mut h = entry.headers.clone();
    // Room for Age, Content-Length and what the edge stamps, so the map grows at most once.
    h.reserve(6);
    h.insert(header::AGE, age);
    let (status, body) = match range::plan(method, viewer, entry.status, &entry.headers, len) {
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
    } else {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let body = if head || no_body {
        edgeway_http::empty()
    } else {
        edgeway_http::full(body)
    };
    build(status, h, body)
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
