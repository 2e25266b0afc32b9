//! Rule conditions, compiled from the config once and matched as pure functions of a
//! [`RequestView`]. Values inside one condition combine with OR; a rule ANDs its conditions.

use crate::wildcard::Wildcard;
use http::HeaderMap;
use std::net::IpAddr;

/// What a rule may look at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// The first Host header (or the `:authority` / absolute-form URI host), port included.
    pub host: Option<&'a str>,
    pub path: &'a str,
    /// The raw query, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The TCP peer (never X-Forwarded-For).
    pub peer: IpAddr,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    Host(Vec<Wildcard>),
    Path(Vec<Wildcard>),
    Header {
        name: http::HeaderName,
        values: Vec<Wildcard>,
    },
    Method(Vec<String>),
    Query(Vec<(Option<Wildcard>, Wildcard)>),
    SourceIp(Vec<ipnet::IpNet>),
    /// A condition the config could not express (validation rejects these; never matches).
    Never,
}

impl Condition {
    /// Compiles a validated config condition.
    pub fn compile(c: &edgeway_config::Condition) -> Self {
        if let Some(v) = &c.host_header {
            return Self::Host(
                v.values
                    .iter()
                    .map(|p| Wildcard::new(p, true, false))
                    .collect(),
            );
        }
        if let Some(v) = &c.path_pattern {
            return Self::Path(
                v.values
                    .iter()
                    .map(|p| Wildcard::new(p, false, false))
                    .collect(),
            );
        }
        if let Some(v) = &c.http_request_method {
            return Self::Method(v.values.clone());
        }
        if let Some(v) = &c.source_ip {
            return Self::SourceIp(v.values.iter().filter_map(|s| s.parse().ok()).collect());
        }
        if let Some(h) = &c.http_header {
            return match http::HeaderName::from_bytes(h.http_header_name.trim().as_bytes()) {
                Ok(name) => Self::Header {
                    name,
                    values: h
                        .values
                        .iter()
                        .map(|p| Wildcard::new(p, true, false))
                        .collect(),
                },
                Err(_) => Self::Never,
            };
        }
        if !c.query_string.is_empty() {
            return Self::Query(
                c.query_string
                    .iter()
                    .map(|q| {
                        (
                            q.key.as_deref().map(|k| Wildcard::new(k, true, true)),
                            Wildcard::new(&q.value, true, true),
                        )
                    })
                    .collect(),
            );
        }
        Self::Never
    }

    pub fn matches(&self, r: &RequestView<'_>) -> bool {
        match self {
            Self::Host(pats) => {
                let host = r.host.map(strip_port).unwrap_or("");
                pats.iter().any(|p| p.matches(host))
            }
            Self::Path(pats) => pats.iter().any(|p| p.matches(r.path)),
            Self::Header { name, values } => r
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| values.iter().any(|p| p.matches(v))),
            Self::Method(ms) => ms.iter().any(|m| m == r.method),
            Self::Query(pairs) => {
                let Some(q) = r.query else { return false };
                query_pairs(q).any(|(k, v)| {
                    pairs.iter().any(|(pk, pv)| {
                        pk.as_ref().is_none_or(|pk| pk.matches(&k)) && pv.matches(&v)
                    })
                })
            }
            Self::SourceIp(nets) => {
                let ip = r.peer.to_canonical();
                nets.iter().any(|n| n.contains(&ip))
            }
            Self::Never => false,
        }
    }
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`; a bare host stays as is.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The decoded `key=value` pairs of a query (`+` is a space, `%XX` a byte).
pub fn query_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    })
}

/// Percent-decodes (and `+` → space) a query component; invalid escapes stay literal.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeway_config::{Condition as C, HttpHeaderCondition, QueryStringCondition, Values};

    fn vals(v: &[&str]) -> Option<Values> {
        Some(Values {
            values: v.iter().map(|s| s.to_string()).collect(),
        })
    }

    struct Req {
        method: &'static str,
        host: Option<&'static str>,
        path: &'static str,
        query: Option<&'static str>,
        headers: HeaderMap,
        peer: IpAddr,
    }

    fn req() -> Req {
        let mut headers = HeaderMap::new();
        headers.append("x-env", http::HeaderValue::from_static("Staging"));
        headers.append("x-env", http::HeaderValue::from_static("blue"));
        Req {
            method: "GET",
            host: Some("Shop.Example.com:8080"),
            path: "/img/Cat.jpg",
            query: Some("color=Red&size=big+one&flag&esc=%2A"),
            headers,
            peer: "10.1.2.3".parse().unwrap(),
        }
    }

    fn check(c: C, r: &Req) -> bool {
        let v = RequestView {
            method: r.method,
            host: r.host,
            path: r.path,
            query: r.query,
            headers: &r.headers,
            peer: r.peer,
        };
        Condition::compile(&c).matches(&v)
    }

    #[test]
    fn table() {
        let r = req();
        let host = |v: &[&str]| C {
            host_header: vals(v),
            ..C::default()
        };
        let path = |v: &[&str]| C {
            path_pattern: vals(v),
            ..C::default()
        };
        let method = |v: &[&str]| C {
            http_request_method: vals(v),
            ..C::default()
        };
        let ip = |v: &[&str]| C {
            source_ip: vals(v),
            ..C::default()
        };
        let header = |n: &str, v: &[&str]| C {
            http_header: Some(HttpHeaderCondition {
                http_header_name: n.into(),
                values: v.iter().map(|s| s.to_string()).collect(),
            }),
            ..C::default()
        };
        let query = |q: &[(Option<&str>, &str)]| C {
            query_string: q
                .iter()
                .map(|(k, v)| QueryStringCondition {
                    key: k.map(str::to_string),
                    value: v.to_string(),
                })
                .collect(),
            ..C::default()
        };
        let cases: Vec<(&str, C, bool)> = vec![
            (
                "host exact, case and port ignored",
                host(&["shop.example.com"]),
                true,
            ),
            ("host wildcard", host(&["*.example.com"]), true),
            ("host other", host(&["api.example.com"]), false),
            ("host OR", host(&["api.example.com", "shop.*"]), true),
            ("host ?", host(&["sho?.example.com"]), true),
            ("path wildcard", path(&["/img/*"]), true),
            ("path case-sensitive", path(&["/img/cat.jpg"]), false),
            ("path never the query", path(&["*color*"]), false),
            ("path OR", path(&["/x", "/img/C?t.jpg"]), true),
            ("method", method(&["GET"]), true),
            ("method exact case", method(&["get"]), false),
            ("method OR", method(&["POST", "GET"]), true),
            ("source ip", ip(&["10.0.0.0/8"]), true),
            ("source ip other", ip(&["192.168.0.0/16"]), false),
            ("source ip v6 only", ip(&["::/0"]), false),
            (
                "header any occurrence, ci",
                header("X-Env", &["BLUE"]),
                true,
            ),
            ("header wildcard", header("x-env", &["stag*"]), true),
            ("header missing", header("x-other", &["*"]), false),
            ("header no match", header("x-env", &["prod"]), false),
            ("query key value", query(&[(Some("color"), "red")]), true),
            ("query key wildcard", query(&[(Some("c*"), "r?d")]), true),
            ("query value only", query(&[(None, "RED")]), true),
            ("query decoded +", query(&[(Some("size"), "big one")]), true),
            (
                "query key without value",
                query(&[(Some("flag"), "")]),
                true,
            ),
            (
                "query escaped star is literal",
                query(&[(Some("esc"), "\\*")]),
                true,
            ),
            (
                "query escaped star no match",
                query(&[(Some("color"), "\\*")]),
                false,
            ),
            (
                "query OR",
                query(&[(Some("x"), "y"), (Some("size"), "big*")]),
                true,
            ),
            ("query no match", query(&[(Some("color"), "blue")]), false),
        ];
        for (name, c, want) in cases {
            assert_eq!(check(c, &r), want, "{name}");
        }
    }

    #[test]
    fn no_query_never_matches_query_condition() {
        let mut r = req();
        r.query = None;
        let c = C {
            query_string: vec![QueryStringCondition {
                key: None,
                value: "*".into(),
            }],
            ..C::default()
        };
        assert!(!check(c, &r));
    }

    #[test]
    fn ipv4_mapped_peer_matches_v4_cidr() {
        let mut r = req();
        r.peer = "::ffff:10.1.2.3".parse().unwrap();
        assert!(check(
            C {
                source_ip: vals(&["10.1.2.0/24"]),
                ..C::default()
            },
            &r
        ));
    }

    #[test]
    fn strips_ports() {
        for (h, want) in [
            ("a.com:80", "a.com"),
            ("a.com", "a.com"),
            ("[::1]:8080", "[::1]"),
            ("::1", "::1"),
            ("[::1]", "[::1]"),
        ] {
            assert_eq!(strip_port(h), want);
        }
    }

    #[test]
    fn decodes() {
        assert_eq!(decode("a%20b+c%2"), "a b c%2");
        assert_eq!(decode("%zz"), "%zz");
    }
}
