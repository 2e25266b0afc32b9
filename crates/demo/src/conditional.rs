//! Serving an [`Asset`] with validators: `If-None-Match` (304), `If-Range` and `Range` (206/416).

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, IF_RANGE, RANGE,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::assets::Asset;
use crate::range::{self, RangeOutcome};
use crate::reply;

/// The response to a GET for `asset`, honouring the request's conditional and range headers.
pub fn respond(
    asset: &Asset,
    request: &HeaderMap,
    cache_control: &'static str,
) -> Response<Full<Bytes>> {
    let etag = asset.etag.as_bytes();
    let validators = |status: StatusCode, body: Bytes| {
        let mut resp = reply::bytes(status, asset.content_type, body);
        let headers = resp.headers_mut();
        headers.insert(ETAG, asset.etag.clone());
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        resp
    };

    if none_match(request, etag) {
        let mut resp = validators(StatusCode::NOT_MODIFIED, Bytes::new());
        resp.headers_mut().remove(CONTENT_TYPE);
        return resp;
    }

    let len = asset.body.len() as u64;
    let range_header = single_value(request, RANGE);
    let outcome = if range_header.is_some() && if_range_allows(request, etag) {
        range::evaluate(range_header, len)
    } else {
        RangeOutcome::Full
    };
    match outcome {
        RangeOutcome::Full => validators(StatusCode::OK, asset.body.clone()),
        RangeOutcome::Partial { start, end } => {
            // evaluate() guarantees start <= end < len, and len came from a usize.
            let body = asset.body.slice(start as usize..=end as usize);
            let mut resp = validators(StatusCode::PARTIAL_CONTENT, body);
            resp.headers_mut().insert(
                CONTENT_RANGE,
                reply::header_value(&format!("bytes {start}-{end}/{len}")),
            );
            resp
        }
        RangeOutcome::Unsatisfiable => {
            let mut resp =
                reply::text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            let headers = resp.headers_mut();
            headers.insert(
                CONTENT_RANGE,
                reply::header_value(&format!("bytes */{len}")),
            );
            headers.insert(ETAG, asset.etag.clone());
            headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            resp
        }
    }
}

/// Whether `If-None-Match` matches `etag` (weak comparison, `*` matches anything).
pub fn none_match(request: &HeaderMap, etag: &[u8]) -> bool {
    let ours = strip_weak(etag);
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim)
        .any(|tag| tag == b"*" || (!tag.is_empty() && strip_weak(tag) == ours))
}

/// Whether `If-Range` (if any) lets a `Range` apply: it must be our strong ETag. Dates never match,
/// as the demo sends no `Last-Modified`.
fn if_range_allows(request: &HeaderMap, etag: &[u8]) -> bool {
    let mut values = request.get_all(IF_RANGE).iter();
    match (values.next(), values.next()) {
        (None, _) => true,
        (Some(v), None) => {
            let tag = trim(v.as_bytes());
            !tag.starts_with(b"W/") && tag == etag
        }
        (Some(_), Some(_)) => false,
    }
}

/// The header's value when it occurs exactly once and is text.
fn single_value(request: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    let mut values = request.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    }
}

fn strip_weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn if_none_match_table() {
        let tag = b"\"abc\"";
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("if-none-match", "\"abc\"")], true),
            (&[("if-none-match", "W/\"abc\"")], true),
            (&[("if-none-match", "\"x\", \"abc\"")], true),
            (
                &[("if-none-match", "\"x\""), ("if-none-match", "\"abc\"")],
                true,
            ),
            (&[("if-none-match", "*")], true),
            (&[("if-none-match", "\"abcd\"")], false),
            (&[("if-none-match", "abc")], false),
            (&[("if-none-match", ",")], false),
        ];
        for (pairs, want) in cases {
            assert_eq!(none_match(&headers(pairs), tag), *want, "{pairs:?}");
        }
    }

    #[test]
    fn if_range_table() {
        let tag = b"\"abc\"";
        assert!(if_range_allows(&headers(&[]), tag));
        assert!(if_range_allows(&headers(&[("if-range", "\"abc\"")]), tag));
        assert!(!if_range_allows(
            &headers(&[("if-range", "W/\"abc\"")]),
            tag
        ));
        assert!(!if_range_allows(&headers(&[("if-range", "\"old\"")]), tag));
        assert!(!if_range_allows(
            &headers(&[("if-range", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            tag
        ));
    }

    #[test]
    fn respond_statuses() {
        let asset = Asset::new(&b"0123456789"[..], "application/octet-stream");
        let tag = asset.etag.to_str().unwrap_or_default().to_string();
        let full = respond(&asset, &headers(&[]), "max-age=1");
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.headers().get(ETAG), Some(&asset.etag));

        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, reply::header_value(&tag));
        let not_modified = respond(&asset, &h, "max-age=1");
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
        assert!(not_modified.headers().get(CONTENT_TYPE).is_none());

        let part = respond(&asset, &headers(&[("range", "bytes=2-4")]), "max-age=1");
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            part.headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok()),
            Some("bytes 2-4/10")
        );

        let stale = respond(
            &asset,
            &headers(&[("range", "bytes=2-4"), ("if-range", "\"old\"")]),
            "max-age=1",
        );
        assert_eq!(stale.status(), StatusCode::OK);

        let bad = respond(&asset, &headers(&[("range", "bytes=20-")]), "max-age=1");
        assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            bad.headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok()),
            Some("bytes */10")
        );

        let two = respond(
            &asset,
            &headers(&[("range", "bytes=0-0"), ("range", "bytes=1-1")]),
            "max-age=1",
        );
        assert_eq!(two.status(), StatusCode::OK);
    }
}
