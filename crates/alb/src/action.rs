//! Rule actions: forward (one or weighted target groups), redirect, fixed-response.

use crate::cookie::{self, Codec, Pin};
use crate::error::alb_headers;
use crate::target_group::TargetGroup;
use edgeway_http::{full, Body};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A compiled action.
pub enum Action {
    Forward(Forward),
    Redirect(Redirect),
    Fixed(Fixed),
}

/// Weighted target groups; a weight of 0 gets no traffic.
pub struct Forward {
    pub groups: Vec<(Arc<TargetGroup>, u32)>,
    /// Group stickiness (`AWSALBTG`) and its duration.
    pub stickiness: Option<Duration>,
    ticket: AtomicUsize,
}

/// The group a request goes to.
pub struct Choice<'a> {
    pub group: &'a Arc<TargetGroup>,
    /// The request's `AWSALBTG` cookie could not be read (logged as `AWSALBTGCookieInvalid`).
    pub invalid_cookie: bool,
}

impl Forward {
    pub fn new(groups: Vec<(Arc<TargetGroup>, u32)>, stickiness: Option<Duration>) -> Self {
        Self {
            groups,
            stickiness,
            ticket: AtomicUsize::new(0),
        }
    }

    /// The group for a request: with group stickiness, the one its `AWSALBTG` cookie names (while
    /// that group still has weight); else by weight.
    pub fn choose(&self, h: &HeaderMap, codec: &Codec) -> Option<Choice<'_>> {
        let mut invalid_cookie = false;
        if self.stickiness.is_some() {
            if let Some(v) =
                cookie::find(h, cookie::TG).or_else(|| cookie::find(h, cookie::TG_CORS))
            {
                let pinned = codec
                    .open(v)
                    .filter(|p| p.kind == Pin::GROUP)
                    .and_then(|p| {
                        self.groups
                            .iter()
                            .find(|(g, w)| *w > 0 && g.index == p.group)
                            .map(|(g, _)| g)
                    });
                match pinned {
                    Some(group) => {
                        return Some(Choice {
                            group,
                            invalid_cookie,
                        })
                    }
                    None => invalid_cookie = codec.open(v).is_none(),
                }
            }
        }
        self.pick().map(|group| Choice {
            group,
            invalid_cookie,
        })
    }

    /// The `AWSALBTG` value for `group`.
    pub fn group_cookie(&self, group: &TargetGroup, codec: &Codec) -> String {
        codec.seal(&Pin {
            kind: Pin::GROUP,
            group: group.index,
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        })
    }

    /// The group for the next request: an exact weighted rotation (weights 3:1 → A A A B).
    pub fn pick(&self) -> Option<&Arc<TargetGroup>> {
        if self.groups.len() == 1 {
            return self.groups.first().map(|(g, _)| g);
        }
        let weights: u64 = self.groups.iter().map(|(_, w)| u64::from(*w)).sum();
        let t = self.ticket.fetch_add(1, Ordering::Relaxed) as u64;
        pick_weighted(self.groups.iter().map(|(_, w)| *w), t, weights)
            .and_then(|i| self.groups.get(i).map(|(g, _)| g))
    }
}

/// The index whose cumulative weight range holds `ticket % total`.
pub fn pick_weighted(weights: impl Iterator<Item = u32>, ticket: u64, total: u64) -> Option<usize> {
    if total == 0 {
        return None;
    }
    let mut slot = ticket % total;
    for (i, w) in weights.enumerate() {
        let w = u64::from(w);
        if slot < w {
            return Some(i);
        }
        slot -= w;
    }
    None
}

/// `redirect {}` with its placeholders kept as written.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub protocol: String,
    pub host: String,
    pub port: String,
    pub path: String,
    pub query: String,
    pub status: StatusCode,
}

/// The values the placeholders take for one request.
#[derive(Debug, Clone, Copy)]
pub struct RedirectParts<'a> {
    /// `http` or `https`.
    pub protocol: &'a str,
    /// The request host without its port.
    pub host: &'a str,
    pub port: u16,
    /// The request path with its leading `/`.
    pub path: &'a str,
    /// The raw query without `?`.
    pub query: &'a str,
}

impl Redirect {
    pub fn compile(r: &edgeway_config::Redirect) -> Self {
        Self {
            protocol: r.protocol.clone(),
            host: r.host.clone(),
            port: r.port.clone(),
            path: r.path.clone(),
            query: r.query.clone(),
            status: if r.status_code == "HTTP_301" {
                StatusCode::MOVED_PERMANENTLY
            } else {
                StatusCode::FOUND
            },
        }
    }

    /// The `Location` for a request with these parts.
    pub fn location(&self, p: &RedirectParts<'_>) -> String {
        let path_no_slash = p.path.strip_prefix('/').unwrap_or(p.path);
        let port = p.port.to_string();
        let fill = |s: &str| {
            s.replace("#{protocol}", p.protocol)
                .replace("#{host}", p.host)
                .replace("#{port}", &port)
                .replace("#{path}", path_no_slash)
                .replace("#{query}", p.query)
        };
        let protocol = fill(&self.protocol).to_ascii_lowercase();
        let mut loc = format!(
            "{protocol}://{}:{}{}",
            fill(&self.host),
            fill(&self.port),
            fill(&self.path)
        );
        let query = fill(&self.query);
        if !query.is_empty() {
            loc.push('?');
            loc.push_str(&query);
        }
        loc
    }

    pub fn response(&self, p: &RedirectParts<'_>) -> Response<Body> {
        let mut r = crate::error::html_response(self.status);
        if let Ok(v) = HeaderValue::from_str(&self.location(p)) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    }
}

/// `fixed_response {}`.
#[derive(Debug, Clone)]
pub struct Fixed {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: bytes::Bytes,
}

impl Fixed {
    pub fn compile(f: &edgeway_config::FixedResponse) -> Self {
        Self {
            status: f
                .status_code
                .parse::<u16>()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            content_type: HeaderValue::from_str(&f.content_type)
                .unwrap_or(HeaderValue::from_static("text/plain")),
            body: bytes::Bytes::from(f.message_body.clone().unwrap_or_default()),
        }
    }

    pub fn response(&self) -> Response<Body> {
        let mut r = Response::new(full(self.body.clone()));
        *r.status_mut() = self.status;
        alb_headers(r.headers_mut(), self.content_type.clone());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(
        protocol: &str,
        host: &str,
        port: &str,
        path: &str,
        query: &str,
        code: &str,
    ) -> Redirect {
        Redirect::compile(&edgeway_config::Redirect {
            protocol: protocol.into(),
            host: host.into(),
            port: port.into(),
            path: path.into(),
            query: query.into(),
            status_code: code.into(),
        })
    }

    #[test]
    fn locations() {
        let parts = RedirectParts {
            protocol: "http",
            host: "shop.example.com",
            port: 80,
            path: "/a/b",
            query: "x=1",
        };
        let no_query = RedirectParts { query: "", ..parts };
        let cases = [
            (
                redirect(
                    "HTTPS", "#{host}", "443", "/#{path}", "#{query}", "HTTP_301",
                ),
                parts,
                "https://shop.example.com:443/a/b?x=1",
            ),
            (
                redirect(
                    "HTTPS", "#{host}", "443", "/#{path}", "#{query}", "HTTP_301",
                ),
                no_query,
                "https://shop.example.com:443/a/b",
            ),
            (
                redirect(
                    "#{protocol}",
                    "new.#{host}",
                    "#{port}",
                    "/v2/#{path}",
                    "#{query}&r=1",
                    "HTTP_302",
                ),
                parts,
                "http://new.shop.example.com:80/v2/a/b?x=1&r=1",
            ),
            (
                redirect("#{protocol}", "other.com", "#{port}", "/", "", "HTTP_302"),
                parts,
                "http://other.com:80/",
            ),
        ];
        for (r, p, want) in cases {
            assert_eq!(r.location(&p), want);
        }
    }

    #[test]
    fn redirect_status_and_header() {
        let r = redirect(
            "HTTPS", "#{host}", "443", "/#{path}", "#{query}", "HTTP_301",
        );
        let p = RedirectParts {
            protocol: "http",
            host: "h.com",
            port: 80,
            path: "/",
            query: "",
        };
        let resp = r.response(&p);
        assert_eq!(resp.status(), 301);
        assert_eq!(resp.headers()["location"], "https://h.com:443/");
        assert_eq!(resp.headers()["server"], "awselb/2.0");
        assert_eq!(
            redirect("HTTPS", "#{host}", "443", "/", "", "HTTP_302").status,
            StatusCode::FOUND
        );
    }

    #[test]
    fn weighted_picks() {
        let got: Vec<_> = (0..8)
            .map(|t| pick_weighted([3u32, 1].into_iter(), t, 4))
            .collect();
        let a = Some(0);
        let b = Some(1);
        assert_eq!(got, vec![a, a, a, b, a, a, a, b]);
        assert_eq!(
            (0..5)
                .map(|t| pick_weighted([0u32, 2].into_iter(), t, 2))
                .collect::<Vec<_>>(),
            vec![b; 5]
        );
        assert_eq!(pick_weighted([0u32, 0].into_iter(), 0, 0), None);
    }
}
