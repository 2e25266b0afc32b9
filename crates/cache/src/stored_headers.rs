//! Which response header fields a shared cache keeps (RFC 9111 §3.1).

use http::header::{self, HeaderMap};

use crate::cache_control::CacheControl;

/// Hop-by-hop fields (RFC 9110 §7.6.1) and `Age` (recomputed on every reuse).
const NEVER_STORED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "age",
];

/// The headers of `response` to store: without hop-by-hop fields and those its `Connection`
/// names, without `Age`, and without the fields of qualified `private="…"` and `no-cache="…"`
/// (`directives` are the response's effective directives).
pub fn stored_headers(response: &HeaderMap, directives: &CacheControl) -> HeaderMap {
    let mut drop: Vec<String> = directives.fields_to_strip();
    for v in response.get_all(header::CONNECTION) {
        for name in String::from_utf8_lossy(v.as_bytes()).split(',') {
            let name = name.trim().to_ascii_lowercase();
            if !name.is_empty() {
                drop.push(name);
            }
        }
    }
    let mut out = HeaderMap::with_capacity(response.keys_len());
    for (name, value) in response {
        let n = name.as_str();
        if NEVER_STORED.contains(&n) || drop.iter().any(|d| d == n) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    #[test]
    fn stored_headers_table() {
        let rows: &[(&str, &[(&str, &str)], &[&str])] = &[
            (
                "",
                &[("content-type", "text/html"), ("etag", "\"1\"")],
                &["content-type", "etag"],
            ),
            (
                "",
                &[
                    ("connection", "close, x-hop"),
                    ("x-hop", "1"),
                    ("keep-alive", "5"),
                    ("x-a", "a"),
                ],
                &["x-a"],
            ),
            (
                "",
                &[
                    ("transfer-encoding", "chunked"),
                    ("age", "30"),
                    ("x-a", "a"),
                ],
                &["x-a"],
            ),
            (
                "no-cache=\"Set-Cookie\"",
                &[("set-cookie", "a=b"), ("x-a", "a")],
                &["x-a"],
            ),
            (
                "private=\"X-User, x-b\"",
                &[("x-user", "u"), ("x-b", "b"), ("x-a", "a")],
                &["x-a"],
            ),
            ("no-cache", &[("set-cookie", "a=b")], &["set-cookie"]),
        ];
        for (cc, hdrs, want) in rows {
            let mut h = HeaderMap::new();
            for (k, v) in hdrs.iter() {
                h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
            }
            let got = stored_headers(&h, &CacheControl::parse(cc));
            let names: Vec<&str> = got.keys().map(|k| k.as_str()).collect();
            assert_eq!(names, *want, "{cc:?} {hdrs:?}");
        }
    }
}
