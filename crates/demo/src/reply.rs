//! Building responses: bodies with their media types, and the headers every response carries.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::page;

/// The header naming the instance that answered.
pub const INSTANCE_ID: HeaderName = HeaderName::from_static("x-instance-id");

/// A response with `body` of media type `content_type`.
pub fn bytes(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    bytes(status, "text/plain; charset=utf-8", body)
}

pub fn html(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    bytes(status, "text/html; charset=utf-8", body)
}

/// A JSON document, never stored by caches.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string();
    body.push('\n');
    let mut resp = bytes(status, "application/json", body);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn not_found(path: &str) -> Response<Full<Bytes>> {
    html(StatusCode::NOT_FOUND, page::not_found(path))
}

/// 405 listing the methods the resource does allow.
pub fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

/// A header value from text, with anything but visible ASCII, space and tab replaced by `_`.
pub fn header_value(text: &str) -> HeaderValue {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c == '\t' || (' '..='~').contains(&c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    HeaderValue::from_str(&cleaned).unwrap_or_else(|_| HeaderValue::from_static("_"))
}

/// Whether a response with this status never has a body (1xx, 204, 304).
pub fn is_bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// Add what every response carries: `X-Instance-Id` and an exact `Content-Length`. For HEAD the body
/// is dropped but the headers, `Content-Length` included, stay those of the GET.
pub fn finish(resp: &mut Response<Full<Bytes>>, instance: &HeaderValue, head: bool) {
    let len = hyper::body::Body::size_hint(resp.body())
        .exact()
        .unwrap_or(0);
    let status = resp.status();
    let headers = resp.headers_mut();
    headers.insert(INSTANCE_ID, instance.clone());
    if is_bodiless(status) {
        headers.remove(CONTENT_LENGTH);
        *resp.body_mut() = Full::new(Bytes::new());
        return;
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if head {
        *resp.body_mut() = Full::new(Bytes::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_sanitised() {
        assert_eq!(header_value("web-1"), "web-1");
        assert_eq!(header_value("a\nb"), "a_b");
        assert_eq!(header_value("caf\u{e9}"), "caf_");
    }

    #[test]
    fn bodiless_statuses() {
        assert!(is_bodiless(StatusCode::SWITCHING_PROTOCOLS));
        assert!(is_bodiless(StatusCode::NO_CONTENT));
        assert!(is_bodiless(StatusCode::NOT_MODIFIED));
        assert!(!is_bodiless(StatusCode::OK));
        assert!(!is_bodiless(StatusCode::NOT_FOUND));
    }
}
