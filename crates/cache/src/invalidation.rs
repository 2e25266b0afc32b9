//! Invalidation after unsafe methods (RFC 9111 §4.4): a non-error response to a POST, PUT,
//! DELETE, PATCH ... invalidates what is stored for the target URI, and for `Location` /
//! `Content-Location` when they name the same origin.

use http::header::{self, HeaderMap};
use http::{Method, StatusCode};

/// Does a response with `status` to `method` invalidate stored responses? Unsafe methods with
/// a 2xx or 3xx response do.
pub fn invalidates(method: &Method, status: StatusCode) -> bool {
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    !safe && (status.is_success() || status.is_redirection())
}

/// The paths (with query, when any) whose stored responses to invalidate: the request's
/// `path_and_query`, then `Location` and `Content-Location` when they are relative references or
/// absolute URIs on `authority` (the request's host\[:port\], compared case-insensitively).
/// Deduplicated, in that order.
pub fn invalidated_paths(
    path_and_query: &str,
    authority: &str,
    response: &HeaderMap,
) -> Vec<String> {
    let mut out = vec![path_and_query.to_string()];
    for name in [header::LOCATION, header::CONTENT_LOCATION] {
        let Some(v) = response.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Some(p) = same_origin_path(v.trim(), authority) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn same_origin_path(reference: &str, authority: &str) -> Option<String> {
    if reference.starts_with('/') && !reference.starts_with("//") {
        return Some(reference.to_string());
    }
    let rest = reference
        .strip_prefix("http://")
        .or_else(|| reference.strip_prefix("https://"))
        .or_else(|| reference.strip_prefix("HTTP://"))
        .or_else(|| reference.strip_prefix("HTTPS://"))?;
    let (host, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if !host.eq_ignore_ascii_case(authority) {
        return None;
    }
    Some(if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn invalidates_table() {
        let rows: &[(Method, u16, bool)] = &[
            (Method::POST, 200, true),
            (Method::PUT, 204, true),
            (Method::DELETE, 200, true),
            (Method::PATCH, 303, true),
            (Method::POST, 404, false),
            (Method::POST, 500, false),
            (Method::GET, 200, false),
            (Method::HEAD, 200, false),
            (Method::OPTIONS, 200, false),
        ];
        for (m, s, want) in rows {
            assert_eq!(
                invalidates(m, StatusCode::from_u16(*s).unwrap()),
                *want,
                "{m} {s}"
            );
        }
    }

    #[test]
    fn paths_table() {
        let rows: &[(&[(&str, &str)], &[&str])] = &[
            (&[], &["/cart?x=1"]),
            (&[("location", "/cart/2")], &["/cart?x=1", "/cart/2"]),
            (
                &[("location", "https://Shop.Example/a?b")],
                &["/cart?x=1", "/a?b"],
            ),
            (&[("location", "https://shop.example")], &["/cart?x=1", "/"]),
            (
                &[("location", "https://shop.example?q")],
                &["/cart?x=1", "/?q"],
            ),
            (&[("location", "https://other.example/a")], &["/cart?x=1"]),
            (&[("location", "//other.example/a")], &["/cart?x=1"]),
            (
                &[("content-location", "/cart?x=1"), ("location", "/b")],
                &["/cart?x=1", "/b"],
            ),
            (&[("location", "relative/path")], &["/cart?x=1"]),
        ];
        for (hdrs, want) in rows {
            let mut h = HeaderMap::new();
            for (k, v) in hdrs.iter() {
                h.insert(
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                );
            }
            assert_eq!(
                invalidated_paths("/cart?x=1", "shop.example", &h),
                *want,
                "{hdrs:?}"
            );
        }
    }
}
