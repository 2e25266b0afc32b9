//! Origins resolved from the config: address, ports, protocol policy, timeouts, custom headers,
//! and a pooled HTTP/1.1 client each.

use edgeway_http::{ClientOptions, Resolve, UpstreamClient};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Uri};
use std::sync::Arc;
use std::time::Duration;

/// `origin_protocol_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginProtocolPolicy {
    HttpOnly,
    HttpsOnly,
    MatchViewer,
}

impl OriginProtocolPolicy {
    pub fn parse(s: &str) -> Self {
        match s {
            "http-only" => Self::HttpOnly,
            "match-viewer" => Self::MatchViewer,
            _ => Self::HttpsOnly,
        }
    }
}

/// An origin, ready for the request path.
#[derive(Clone)]
pub struct Origin {
    pub id: String,
    /// Lower-cased `domain_name`: the Host CloudFront sends and the name the certificate must cover.
    pub domain_name: String,
    /// `origin_path` (starts with `/`, no trailing `/`) or empty.
    pub origin_path: String,
    pub http_port: u16,
    pub https_port: u16,
    pub protocol: OriginProtocolPolicy,
    /// Total tries on connection failures (and on read timeouts for GET/HEAD).
    pub connection_attempts: u32,
    pub read_timeout: Duration,
    pub custom_headers: Vec<(HeaderName, HeaderValue)>,
    /// `domain_name` as a `Host` value (None when it is not a valid value), built once; its
    /// clones share one buffer.
    pub host_value: Option<HeaderValue>,
    pub client: UpstreamClient,
    /// `domain:port` for HTTP and HTTPS, parsed once (None when it does not parse).
    http_authority: Option<Authority>,
    https_authority: Option<Authority>,
}

impl Origin {
    pub fn new(
        o: &edgeway_config::Origin,
        tls: Arc<rustls::ClientConfig>,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, String> {
        let cc = o.custom_origin_config.clone().unwrap_or_default();
        let mut custom_headers = Vec::with_capacity(o.custom_header.len());
        for h in &o.custom_header {
            let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|e| {
                format!("origin `{}`: custom header `{}`: {e}", o.origin_id, h.name)
            })?;
            let value = HeaderValue::from_str(&h.value).map_err(|e| {
                format!("origin `{}`: custom header `{}`: {e}", o.origin_id, h.name)
            })?;
            custom_headers.push((name, value));
        }
        let client = UpstreamClient::new(ClientOptions {
            connect_timeout: Duration::from_secs(o.connection_timeout.max(1)),
            pool_idle_timeout: Duration::from_secs(cc.origin_keepalive_timeout.max(1)),
            pool_max_idle_per_host: 64,
            tls,
            resolver,
        });
        let domain_name = o.domain_name.trim_end_matches('.').to_ascii_lowercase();
        let authority = |port: u16| {
            edgeway_config::join_host_port(&domain_name, port)
                .parse::<Authority>()
                .ok()
        };
        let host_value = HeaderValue::from_str(&domain_name).ok().and_then(|_| {
            HeaderValue::from_maybe_shared(
                bytes::Bytes::copy_from_slice(domain_name.as_bytes()).slice(..),
            )
            .ok()
        });
        Ok(Self {
            host_value,
            id: o.origin_id.clone(),
            http_authority: authority(cc.http_port),
            https_authority: authority(cc.https_port),
            domain_name,
            origin_path: o
                .origin_path
                .clone()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            http_port: cc.http_port,
            https_port: cc.https_port,
            protocol: OriginProtocolPolicy::parse(&cc.origin_protocol_policy),
            connection_attempts: o.connection_attempts.max(1),
            read_timeout: Duration::from_secs(cc.origin_read_timeout.max(1)),
            custom_headers,
            client,
        })
    }

    /// The absolute URL of the origin request for a viewer `path` and forwarded `query`.
    pub fn url(&self, viewer_https: bool, path: &str, query: Option<&str>) -> String {
        origin_url(
            self.protocol,
            &self.domain_name,
            self.http_port,
            self.https_port,
            &self.origin_path,
            viewer_https,
            path,
            query,
        )
    }

    /// [`Origin::uri`], taking the viewer's own `viewer` path and query (a reference count, no
    /// parse) when the origin's would be the same text: no origin path, the same path and query.
    pub fn uri_from(
        &self,
        viewer_https: bool,
        path: &str,
        query: Option<&str>,
        viewer: Option<&PathAndQuery>,
    ) -> Result<Uri, String> {
        let Some(pq) = viewer
            .filter(|pq| self.origin_path.is_empty() && pq.path() == path && pq.query() == query)
        else {
            return self.uri(viewer_https, path, query);
        };
        let (scheme, authority) = self.scheme_and_authority(viewer_https);
        let Some(authority) = authority.clone() else {
            return self.uri(viewer_https, path, query);
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(scheme);
        parts.authority = Some(authority);
        parts.path_and_query = Some(pq.clone());
        Uri::from_parts(parts).or_else(|_| self.uri(viewer_https, path, query))
    }

    /// The scheme the origin protocol policy picks for a viewer (`viewer_https`), and the
    /// origin's authority for it, parsed at startup.
    fn scheme_and_authority(&self, viewer_https: bool) -> (Scheme, &Option<Authority>) {
        let https = match self.protocol {
            OriginProtocolPolicy::HttpOnly => false,
            OriginProtocolPolicy::HttpsOnly => true,
            OriginProtocolPolicy::MatchViewer => viewer_https,
        };
        if https {
            (Scheme::HTTPS, &self.https_authority)
        } else {
            (Scheme::HTTP, &self.http_authority)
        }
    }

    /// [`Origin::url`] as a URI, from the authority parsed at startup (only the path and query
    /// are parsed per request).
    pub fn uri(&self, viewer_https: bool, path: &str, query: Option<&str>) -> Result<Uri, String> {
        let (scheme, authority) = self.scheme_and_authority(viewer_https);
        let bad = |e: &dyn std::fmt::Display| {
            format!(
                "bad origin URL {}: {e}",
                self.url(viewer_https, path, query)
            )
        };
        let Some(authority) = authority.clone() else {
            return self
                .url(viewer_https, path, query)
                .parse()
                .map_err(|e| bad(&e));
        };
        let mut pq = String::with_capacity(
            self.origin_path.len() + path.len() + query.map_or(0, |q| q.len() + 1),
        );
        pq.push_str(&self.origin_path);
        pq.push_str(path);
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        let pq = PathAndQuery::from_maybe_shared(pq).map_err(|e| bad(&e))?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(scheme);
        parts.authority = Some(authority);
        parts.path_and_query = Some(pq);
        Uri::from_parts(parts).map_err(|e| bad(&e))
    }
}

/// `scheme://domain:port` + origin_path + path + `?query`.
#[allow(clippy::too_many_arguments)]
pub fn origin_url(
    policy: OriginProtocolPolicy,
    domain: &str,
    http_port: u16,
    https_port: u16,
    origin_path: &str,
    viewer_https: bool,
    path: &str,
    query: Option<&str>,
) -> String {
    let https = match policy {
        OriginProtocolPolicy::HttpOnly => false,
        OriginProtocolPolicy::HttpsOnly => true,
        OriginProtocolPolicy::MatchViewer => viewer_https,
    };
    let (scheme, port) = if https {
        ("https", https_port)
    } else {
        ("http", http_port)
    };
    let mut u = format!(
        "{scheme}://{}{origin_path}{path}",
        edgeway_config::join_host_port(domain, port)
    );
    if let Some(q) = query {
        u.push('?');
        u.push_str(q);
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use OriginProtocolPolicy::*;

    #[test]
    fn urls() {
        let table: &[(OriginProtocolPolicy, bool, &str, &str, Option<&str>, &str)] = &[
            (HttpOnly, true, "", "/a", None, "http://o.test:8080/a"),
            (
                HttpsOnly,
                false,
                "",
                "/a",
                Some("x=1"),
                "https://o.test:8443/a?x=1",
            ),
            (MatchViewer, false, "", "/a", None, "http://o.test:8080/a"),
            (MatchViewer, true, "", "/a", None, "https://o.test:8443/a"),
            (
                HttpOnly,
                false,
                "/production",
                "/acme/i.html",
                None,
                "http://o.test:8080/production/acme/i.html",
            ),
        ];
        for (policy, https, op, path, q, want) in table {
            assert_eq!(
                origin_url(*policy, "o.test", 8080, 8443, op, *https, path, *q),
                *want
            );
        }
        assert_eq!(
            origin_url(HttpOnly, "::1", 80, 443, "", false, "/", None),
            "http://[::1]:80/"
        );
    }

    /// Reusing the viewer's path and query gives the URI `uri` builds, or is not done.
    #[test]
    fn uri_from_the_viewers_path_is_the_same_uri() {
        let Ok(tls) = edgeway_http::tls::client_config(&[]) else {
            panic!("client config")
        };
        for (policy, origin_path) in [("http-only", None), ("match-viewer", Some("/prod"))] {
            let src = format!(
                r#"
[[distribution]]
id = "t"
listen = ["http://127.0.0.1:1"]
[[distribution.origin]]
origin_id = "o"
domain_name = "O.test"
{}
custom_origin_config = {{ http_port = 8080, origin_protocol_policy = "{policy}" }}
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
"#,
                origin_path.map_or(String::new(), |p| format!("origin_path = \"{p}\""))
            );
            let parsed = match edgeway_config::parse("t.toml", &src) {
                Ok(c) => c,
                Err(e) => panic!("{e}"),
            };
            let Some(cfg) = parsed.distributions.first().and_then(|d| d.origins.first()) else {
                panic!("no origin")
            };
            let o = match Origin::new(cfg, tls.clone(), Arc::new(edgeway_http::SystemResolve)) {
                Ok(o) => o,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(
                o.host_value.as_ref().and_then(|v| v.to_str().ok()),
                Some("o.test")
            );
            for viewer in ["/a", "/a?x=1", "/a?", "/", "/a%20b?q=%41&r", "/a?x=1&y=2"] {
                let Ok(pq) = viewer.parse::<PathAndQuery>() else {
                    panic!("{viewer}")
                };
                for (path, query) in [
                    (pq.path(), pq.query()),
                    (pq.path(), None),
                    ("/b", pq.query()),
                    (pq.path(), Some("x=1")),
                ] {
                    for https in [false, true] {
                        assert_eq!(
                            o.uri_from(https, path, query, Some(&pq)),
                            o.uri(https, path, query),
                            "{viewer} {path} {query:?}"
                        );
                    }
                }
            }
        }
    }
}
