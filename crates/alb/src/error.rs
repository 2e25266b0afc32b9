//! Every way a request can fail at the ALB, and the one function that turns a failure into the
//! response ALB itself sends (`Server: awselb/2.0`, a small HTML page).

use edgeway_http::{full, Body, UpstreamError};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// Why the ALB answers a request itself.
#[derive(Debug)]
pub enum AlbError {
    /// Downstream: `TRACE` (405).
    Trace,
    /// Downstream: more than 30 addresses in X-Forwarded-For (463).
    TooManyForwardedFor,
    /// Downstream: desync mitigation blocked the request (400, connection closed); the reason.
    Desync(&'static str),
    /// Downstream: the request's protocol does not fit the group's `protocol_version` (464).
    ProtocolMismatch,
    /// Downstream: a Transfer-Encoding other than chunked or identity (501).
    UnsupportedTransferEncoding,
    /// The chosen target group(s) have no registered targets (503).
    NoTargets,
    /// Upstream: the target failed (502 or 504).
    Upstream(UpstreamError),
    /// Internal: something edgeway could not do (500).
    Internal(String),
}

impl AlbError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Trace => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyForwardedFor => {
                StatusCode::from_u16(463).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::Desync(_) => StatusCode::BAD_REQUEST,
            Self::ProtocolMismatch => StatusCode::from_u16(464).unwrap_or(StatusCode::BAD_REQUEST),
            Self::UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            Self::NoTargets => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(UpstreamError::ConnectTimeout | UpstreamError::Timeout) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `kind` label of `edgeway_alb_upstream_errors_total` (None for non-upstream errors).
    pub fn upstream_kind(&self) -> Option<&'static str> {
        match self {
            Self::Upstream(e) => Some(match e {
                UpstreamError::Resolve(_) => "resolve",
                UpstreamError::Connect(_) => "connect",
                UpstreamError::ConnectTimeout => "connect_timeout",
                UpstreamError::Tls(_) => "tls",
                UpstreamError::Timeout => "timeout",
                UpstreamError::Protocol(_) => "protocol",
            }),
            Self::NoTargets => Some("no_targets"),
            _ => None,
        }
    }
}

impl std::fmt::Display for AlbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Trace => f.write_str("TRACE is not supported"),
            Self::TooManyForwardedFor => f.write_str("more than 30 addresses in X-Forwarded-For"),
            Self::Desync(r) => write!(f, "desync mitigation blocked the request ({r})"),
            Self::ProtocolMismatch => {
                f.write_str("the request protocol does not fit the target group's protocol version")
            }
            Self::UnsupportedTransferEncoding => f.write_str("unsupported Transfer-Encoding"),
            Self::NoTargets => f.write_str("no registered targets"),
            Self::Upstream(e) => write!(f, "{e}"),
            Self::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

/// The one failure → response mapping of the ALB tier.
pub fn error_response(e: &AlbError) -> Response<Body> {
    html_response(e.status())
}

/// ALB's own small HTML page for `status`.
pub fn html_response(status: StatusCode) -> Response<Body> {
    // ALB's pages use nginx's wording for these two.
    let reason = match status.as_u16() {
        503 => Some("Service Temporarily Unavailable"),
        504 => Some("Gateway Time-out"),
        _ => status.canonical_reason(),
    };
    let title = match reason {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    };
    let body = format!("<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n");
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    alb_headers(r.headers_mut(), HeaderValue::from_static("text/html"));
    r
}

/// The headers on every response the ALB makes itself.
pub fn alb_headers(h: &mut HeaderMap, content_type: HeaderValue) {
    h.insert(http::header::SERVER, HeaderValue::from_static("awselb/2.0"));
    h.insert(http::header::CONTENT_TYPE, content_type);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (AlbError::Trace, 405),
            (AlbError::TooManyForwardedFor, 463),
            (AlbError::Desync("MultipleContentLength"), 400),
            (AlbError::ProtocolMismatch, 464),
            (AlbError::UnsupportedTransferEncoding, 501),
            (AlbError::NoTargets, 503),
            (
                AlbError::Upstream(UpstreamError::Connect("refused".into())),
                502,
            ),
            (AlbError::Upstream(UpstreamError::Tls("bad".into())), 502),
            (
                AlbError::Upstream(UpstreamError::Protocol("reset".into())),
                502,
            ),
            (AlbError::Upstream(UpstreamError::ConnectTimeout), 504),
            (AlbError::Upstream(UpstreamError::Timeout), 504),
            (AlbError::Internal("x".into()), 500),
        ];
        for (e, code) in cases {
            let r = error_response(&e);
            assert_eq!(r.status().as_u16(), code, "{e}");
            assert_eq!(r.headers()["server"], "awselb/2.0");
        }
    }

    #[tokio::test]
    async fn body_is_albs_page() {
        use http_body_util::BodyExt;
        let r = error_response(&AlbError::Upstream(UpstreamError::Connect("x".into())));
        let b = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &b[..],
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
        );
    }
}
