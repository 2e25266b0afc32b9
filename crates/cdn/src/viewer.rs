//! Viewer-side decisions: the viewer protocol policy (serve, redirect, or refuse) and the
//! behavior's allowed methods.

use crate::error_page::CdnError;
use http::{Method, StatusCode, Version};

/// `viewer_protocol_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewerProtocolPolicy {
    AllowAll,
    RedirectToHttps,
    HttpsOnly,
}

impl ViewerProtocolPolicy {
    pub fn parse(s: &str) -> Self {
        match s {
            "redirect-to-https" => Self::RedirectToHttps,
            "https-only" => Self::HttpsOnly,
            _ => Self::AllowAll,
        }
    }
}

/// What the viewer protocol policy says about a request.
#[derive(Debug, PartialEq)]
pub enum ViewerVerdict {
    Serve,
    /// 301 or 307 to this `Location`.
    Redirect(StatusCode, String),
    Refuse(ViewerRefusal),
}

/// Why the policy refuses (each maps to a [`CdnError`]).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum ViewerRefusal {
    HttpsOnly,
    RedirectNotPossible,
}

impl From<ViewerRefusal> for CdnError {
    fn from(r: ViewerRefusal) -> Self {
        match r {
            ViewerRefusal::HttpsOnly => CdnError::HttpsOnly,
            ViewerRefusal::RedirectNotPossible => CdnError::RedirectNotPossible,
        }
    }
}

/// The viewer request facts the protocol policy looks at.
pub struct ViewerRequest<'a> {
    pub https: bool,
    pub method: &'a Method,
    pub version: Version,
    /// The Host header value (port is dropped in the redirect).
    pub host: &'a str,
    /// Path and query as the viewer sent them.
    pub path_and_query: &'a str,
}

/// Applies `policy`: `https_port` is the distribution's HTTPS listener port (omitted from the
/// `Location` when 443).
pub fn viewer_protocol(
    policy: ViewerProtocolPolicy,
    req: &ViewerRequest<'_>,
    https_port: u16,
) -> ViewerVerdict {
    if req.https {
        return ViewerVerdict::Serve;
    }
    match policy {
        ViewerProtocolPolicy::AllowAll => ViewerVerdict::Serve,
        ViewerProtocolPolicy::HttpsOnly => ViewerVerdict::Refuse(ViewerRefusal::HttpsOnly),
        ViewerProtocolPolicy::RedirectToHttps => {
            let safe = *req.method == Method::GET || *req.method == Method::HEAD;
            let status = if safe {
                StatusCode::MOVED_PERMANENTLY
            } else if req.version == Version::HTTP_10 || req.version == Version::HTTP_09 {
                return ViewerVerdict::Refuse(ViewerRefusal::RedirectNotPossible);
            } else {
                StatusCode::TEMPORARY_REDIRECT
            };
            ViewerVerdict::Redirect(
                status,
                https_location(req.host, https_port, req.path_and_query),
            )
        }
    }
}

/// `https://host[:port]/path?query` with the viewer's port replaced.
pub fn https_location(host: &str, https_port: u16, path_and_query: &str) -> String {
    let host = crate::distribution::host_without_port(host);
    let pq = if path_and_query.starts_with('/') {
        path_and_query.to_string()
    } else {
        format!("/{path_and_query}")
    };
    if https_port == 443 {
        format!("https://{host}{pq}")
    } else {
        format!("https://{host}:{https_port}{pq}")
    }
}

/// Whether `method` is in the behavior's `allowed_methods`.
pub fn method_allowed(allowed: &[Method], method: &Method) -> bool {
    allowed.contains(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ViewerProtocolPolicy::*;

    #[test]
    fn protocol_policy() {
        let r = |https, method: &'static Method, version| ViewerRequest {
            https,
            method,
            version,
            host: "Example.com:8080",
            path_and_query: "/a/b?x=1",
        };
        static GET: Method = Method::GET;
        static HEAD: Method = Method::HEAD;
        static POST: Method = Method::POST;
        static DELETE: Method = Method::DELETE;
        let table: Vec<(ViewerProtocolPolicy, ViewerRequest<'_>, u16, ViewerVerdict)> = vec![
            (
                AllowAll,
                r(false, &GET, Version::HTTP_11),
                443,
                ViewerVerdict::Serve,
            ),
            (
                AllowAll,
                r(true, &POST, Version::HTTP_2),
                443,
                ViewerVerdict::Serve,
            ),
            (
                HttpsOnly,
                r(false, &GET, Version::HTTP_11),
                443,
                ViewerVerdict::Refuse(ViewerRefusal::HttpsOnly),
            ),
            (
                HttpsOnly,
                r(true, &GET, Version::HTTP_11),
                443,
                ViewerVerdict::Serve,
            ),
            (
                RedirectToHttps,
                r(true, &GET, Version::HTTP_11),
                443,
                ViewerVerdict::Serve,
            ),
            (
                RedirectToHttps,
                r(false, &GET, Version::HTTP_11),
                443,
                ViewerVerdict::Redirect(
                    StatusCode::MOVED_PERMANENTLY,
                    "https://example.com/a/b?x=1".into(),
                ),
            ),
            (
                RedirectToHttps,
                r(false, &HEAD, Version::HTTP_10),
                8443,
                ViewerVerdict::Redirect(
                    StatusCode::MOVED_PERMANENTLY,
                    "https://example.com:8443/a/b?x=1".into(),
                ),
            ),
            (
                RedirectToHttps,
                r(false, &POST, Version::HTTP_11),
                8443,
                ViewerVerdict::Redirect(
                    StatusCode::TEMPORARY_REDIRECT,
                    "https://example.com:8443/a/b?x=1".into(),
                ),
            ),
            (
                RedirectToHttps,
                r(false, &DELETE, Version::HTTP_2),
                8443,
                ViewerVerdict::Redirect(
                    StatusCode::TEMPORARY_REDIRECT,
                    "https://example.com:8443/a/b?x=1".into(),
                ),
            ),
            (
                RedirectToHttps,
                r(false, &POST, Version::HTTP_10),
                8443,
                ViewerVerdict::Refuse(ViewerRefusal::RedirectNotPossible),
            ),
        ];
        for (i, (policy, req, port, want)) in table.iter().enumerate() {
            assert_eq!(viewer_protocol(*policy, req, *port), *want, "row {i}");
        }
    }

    #[test]
    fn locations() {
        assert_eq!(https_location("[::1]:80", 8443, "/"), "https://[::1]:8443/");
        assert_eq!(https_location("a.test", 443, "/x"), "https://a.test/x");
    }

    #[test]
    fn methods() {
        let two = [Method::GET, Method::HEAD];
        assert!(method_allowed(&two, &Method::GET));
        assert!(!method_allowed(&two, &Method::POST));
        assert!(!method_allowed(&two, &Method::OPTIONS));
        assert!(!method_allowed(
            &two,
            &Method::from_bytes(b"PROPFIND").unwrap_or(Method::TRACE)
        ));
    }
}
