//! The cache key: distribution + path (+ method for OPTIONS) + the cache policy's headers,
//! cookies, query strings and normalized Accept-Encoding. Nothing is stored yet; the cache tier
//! slots in between behavior selection and the origin fetch using this key.

use crate::behavior::Behavior;
use crate::headers::normalized_accept_encoding;
use crate::params;
use http::{HeaderMap, Method, Version};

/// What the key is made from.
pub struct KeyInput<'a> {
    pub distribution: &'a str,
    pub method: &'a Method,
    pub version: Version,
    /// The path as sent to the origin (after the default root object).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The viewer's Host (used when Host is a key header).
    pub host: Option<&'a str>,
}

/// The cache key for a request under `behavior`, as one string (fields separated by `\n`).
pub fn cache_key(i: &KeyInput<'_>, behavior: &Behavior) -> String {
    cache_key_with_room(i, behavior, 0)
}

/// [`cache_key`] in a string with room for `extra` more bytes after the key.
pub(crate) fn cache_key_with_room(i: &KeyInput<'_>, behavior: &Behavior, extra: usize) -> String {
    let key = &behavior.cache_policy.key;
    // Room for the usual key, so it is not reallocated while it grows.
    let names: usize = key.headers.iter().map(|h| h.len() + 2).sum();
    let mut k = String::with_capacity(
        64 + extra
            + i.distribution.len()
            + i.path.len()
            + i.query.map_or(0, str::len)
            + names
            + i.host.map_or(0, str::len),
    );
    k.push_str(i.distribution);
    k.push('\n');
    if *i.method == Method::OPTIONS {
        k.push_str("OPTIONS ");
    }
    k.push_str(i.path);
    if let Some(q) = params::filter_query(i.query, &key.query_strings, None) {
        k.push('?');
        k.push_str(&q);
    }
    for name in &key.headers {
        k.push('\n');
        k.push_str(name);
        k.push(':');
        if name == "host" {
            if let Some(h) = i.host {
                let start = k.len();
                k.push_str(h);
                if let Some(lowered) = k.get_mut(start..) {
                    lowered.make_ascii_lowercase();
                }
            }
            continue;
        }
        let mut first = true;
        // A scan by name instead of `get_all`, which would parse the name on every request.
        for v in i
            .headers
            .iter()
            .filter(|(n, _)| n.as_str() == name.as_str())
            .filter_map(|(_, v)| v.to_str().ok())
        {
            if !first {
                k.push(',');
            }
            k.push_str(v);
            first = false;
        }
    }
    if let Some(c) = params::filter_cookies(i.headers, &key.cookies, None) {
        k.push_str("\ncookie:");
        k.push_str(&c);
    }
    if key.normalizes_accept_encoding() {
        let ae = normalized_accept_encoding(
            i.headers,
            key.accept_encoding_gzip,
            key.accept_encoding_brotli,
            key.accept_encoding_zstd,
            i.version,
        );
        if ae != "identity" {
            k.push_str("\naccept-encoding:");
            k.push_str(ae);
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{CachePolicyResolved, KeyConfig, NameSet};
    use crate::viewer::ViewerProtocolPolicy;
    use http::HeaderValue;

    fn behavior(key: KeyConfig) -> Behavior {
        Behavior {
            pattern: None,
            origin: 0,
            failover: None,
            viewer_protocol_policy: ViewerProtocolPolicy::AllowAll,
            allowed_methods: vec![Method::GET, Method::HEAD, Method::OPTIONS],
            cached_methods: vec![Method::GET, Method::HEAD, Method::OPTIONS],
            cache_policy: CachePolicyResolved {
                name: "k".into(),
                min_ttl: 0,
                default_ttl: 60,
                max_ttl: 60,
                key,
            },
            origin_request_policy: None,
            compress: false,
        }
    }

    fn key(
        b: &Behavior,
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: &[(&'static str, &'static str)],
    ) -> String {
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.append(*n, HeaderValue::from_static(v));
        }
        cache_key(
            &KeyInput {
                distribution: "web",
                method: &method,
                version: Version::HTTP_11,
                path,
                query,
                headers: &h,
                host: Some("A.example.com"),
            },
            b,
        )
    }

    #[test]
    fn default_key_is_distribution_and_path() {
        let b = behavior(KeyConfig::default());
        let base = key(&b, Method::GET, "/a", None, &[]);
        assert_eq!(base, "web\n/a");
        // Query strings, cookies, User-Agent are not in the default key.
        assert_eq!(
            key(
                &b,
                Method::GET,
                "/a",
                Some("x=1"),
                &[("cookie", "s=1"), ("user-agent", "u")]
            ),
            base
        );
        assert_eq!(key(&b, Method::HEAD, "/a", None, &[]), base);
        assert_ne!(key(&b, Method::OPTIONS, "/a", None, &[]), base);
        assert_ne!(key(&b, Method::GET, "/A", None, &[]), base);
    }

    #[test]
    fn policy_items_in_the_key() {
        let b = behavior(KeyConfig {
            headers: vec!["x-device".into(), "host".into()],
            cookies: NameSet::Whitelist(vec!["s".into()]),
            query_strings: NameSet::All,
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            accept_encoding_zstd: false,
        });
        let table: &[(Option<&str>, &[(&'static str, &'static str)], &str)] = &[
            (None, &[], "web\n/a\nx-device:\nhost:a.example.com"),
            (
                Some("b=2&a=1"),
                &[],
                "web\n/a?b=2&a=1\nx-device:\nhost:a.example.com",
            ),
            (
                Some("a=1&b=2"),
                &[("x-device", "Mobile")],
                "web\n/a?a=1&b=2\nx-device:Mobile\nhost:a.example.com",
            ),
            (
                None,
                &[("cookie", "t=9; s=1")],
                "web\n/a\nx-device:\nhost:a.example.com\ncookie:s=1",
            ),
            (
                None,
                &[("accept-encoding", "gzip, br")],
                "web\n/a\nx-device:\nhost:a.example.com\naccept-encoding:br,gzip",
            ),
            (
                None,
                &[("accept-encoding", "deflate")],
                "web\n/a\nx-device:\nhost:a.example.com",
            ),
        ];
        for (q, h, want) in table {
            assert_eq!(key(&b, Method::GET, "/a", *q, h), *want, "{q:?} {h:?}");
        }
    }
}
