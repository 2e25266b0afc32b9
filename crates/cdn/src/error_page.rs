//! Every failure the edge answers itself, mapped in one place to CloudFront's status, its
//! "The request could not be satisfied" page, and the log result type.

use edgeway_http::{full, Body, UpstreamError};
use http::{HeaderValue, Response, StatusCode};

/// Why the edge answers a request itself.
#[derive(Debug)]
pub enum CdnError {
    /// No distribution serves this Host (or it is disabled).
    UnknownHost,
    Disabled,
    /// `https-only` behavior reached over HTTP.
    HttpsOnly,
    /// `redirect-to-https` with a non-GET/HEAD method over HTTP/1.0.
    RedirectNotPossible,
    /// The method is not in the behavior's allowed methods.
    MethodNotAllowed,
    /// A GET or HEAD that carries a body.
    GetWithBody,
    /// The viewer's request body could not be read.
    BadRequestBody,
    /// The origin could not be reached or did not answer.
    Origin(UpstreamError),
}

impl CdnError {
    /// The status the viewer gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownHost
            | Self::Disabled
            | Self::HttpsOnly
            | Self::RedirectNotPossible
            | Self::MethodNotAllowed
            | Self::GetWithBody => StatusCode::FORBIDDEN,
            Self::BadRequestBody => StatusCode::BAD_REQUEST,
            Self::Origin(UpstreamError::ConnectTimeout | UpstreamError::Timeout) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Origin(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The access log's `x-edge-detailed-result-type` style name; also the counter `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownHost => "InvalidHost",
            Self::Disabled => "DistributionDisabled",
            Self::HttpsOnly => "HttpsRequired",
            Self::RedirectNotPossible => "HttpsRequired",
            Self::MethodNotAllowed | Self::GetWithBody => "InvalidRequestMethod",
            Self::BadRequestBody => "ClientCommError",
            Self::Origin(UpstreamError::Resolve(_)) => "OriginDnsError",
            Self::Origin(UpstreamError::Connect(_)) => "OriginConnectError",
            Self::Origin(UpstreamError::ConnectTimeout) => "OriginConnectTimeout",
            Self::Origin(UpstreamError::Tls(_)) => "OriginSslError",
            Self::Origin(UpstreamError::Timeout) => "OriginReadError",
            Self::Origin(UpstreamError::Protocol(_)) => "OriginCommError",
        }
    }

    /// The status-specific text of the error page.
    fn text(&self) -> &'static str {
        match self {
            Self::UnknownHost | Self::Disabled => "Bad request.\nWe can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.",
            Self::HttpsOnly | Self::RedirectNotPossible => "Bad request.\nThis distribution accepts only HTTPS requests.",
            Self::MethodNotAllowed => "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests.",
            Self::GetWithBody => "Bad request.\nA GET or HEAD request cannot have a body.",
            Self::BadRequestBody => "Bad request.\nThe request body could not be read.",
            Self::Origin(UpstreamError::Resolve(_)) => "CloudFront wasn't able to resolve the origin domain name.",
            Self::Origin(UpstreamError::Tls(_)) => "CloudFront wasn't able to connect to the origin.\nThe origin's SSL certificate is not valid for the origin domain name, or the SSL handshake failed.",
            Self::Origin(UpstreamError::Connect(_) | UpstreamError::Protocol(_)) => "CloudFront wasn't able to connect to the origin.\nWe can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.",
            Self::Origin(UpstreamError::ConnectTimeout | UpstreamError::Timeout) => "We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.",
        }
    }
}

/// CloudFront's HTML error page.
pub fn page(status: StatusCode, text: &str, request_id: &str) -> String {
    let code = status.as_u16();
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
<TITLE>ERROR: The request could not be satisfied</TITLE>\n\
</HEAD><BODY>\n\
<H1>{code} ERROR</H1>\n\
<H2>The request could not be satisfied.</H2>\n\
<HR noshade size=\"1px\">\n\
{text}\n\
<BR clear=\"all\">\n\
If you provide content to customers through CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing the CloudFront documentation.\n\
<BR clear=\"all\">\n\
<HR noshade size=\"1px\">\n\
<PRE>\n\
Generated by cloudfront (CloudFront)\n\
Request ID: {request_id}\n\
</PRE>\n\
<ADDRESS>\n\
</ADDRESS>\n\
</BODY></HTML>"
    )
}

/// The one error → response mapping: status, page, `Server: CloudFront`,
/// `X-Cache: Error from cloudfront`. The caller adds `Via`, `X-Amz-Cf-Id`, `X-Amz-Cf-Pop`.
pub fn error_response(err: &CdnError, request_id: &str, head_only: bool) -> Response<Body> {
    let status = err.status();
    let html = page(status, err.text(), request_id);
    let len = html.len();
    let mut r = Response::new(if head_only {
        edgeway_http::empty()
    } else {
        full(html)
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(http::header::SERVER, HeaderValue::from_static("CloudFront"));
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert("x-cache", HeaderValue::from_static("Error from cloudfront"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let table: &[(CdnError, u16)] = &[
            (CdnError::UnknownHost, 403),
            (CdnError::Disabled, 403),
            (CdnError::HttpsOnly, 403),
            (CdnError::RedirectNotPossible, 403),
            (CdnError::MethodNotAllowed, 403),
            (CdnError::GetWithBody, 403),
            (CdnError::BadRequestBody, 400),
            (CdnError::Origin(UpstreamError::Resolve("x".into())), 502),
            (
                CdnError::Origin(UpstreamError::Connect("refused".into())),
                502,
            ),
            (CdnError::Origin(UpstreamError::Tls("bad cert".into())), 502),
            (
                CdnError::Origin(UpstreamError::Protocol("closed".into())),
                502,
            ),
            (CdnError::Origin(UpstreamError::ConnectTimeout), 504),
            (CdnError::Origin(UpstreamError::Timeout), 504),
        ];
        for (e, code) in table {
            assert_eq!(e.status().as_u16(), *code, "{e:?}");
            let r = error_response(e, "id==", false);
            assert_eq!(r.status().as_u16(), *code);
            assert_eq!(r.headers()["x-cache"], "Error from cloudfront");
            assert_eq!(r.headers()["server"], "CloudFront");
        }
    }

    #[test]
    fn the_page_names_the_request() {
        let p = page(
            StatusCode::BAD_GATEWAY,
            "CloudFront wasn't able to connect to the origin.",
            "abc==",
        );
        assert!(p.contains("<TITLE>ERROR: The request could not be satisfied</TITLE>"));
        assert!(p.contains("<H1>502 ERROR</H1>"));
        assert!(p.contains("Request ID: abc=="));
    }
}
