//! Sending the origin request: HTTP/1.1, absolute URL, up to `connection_attempts` tries on
//! connection failures (any method, when the body can be resent) and on read timeouts
//! (GET/HEAD only), each bounded by `origin_read_timeout` for the response head.

use crate::body::RequestBody;
use crate::origin::Origin;
use edgeway_http::metrics::Counter;
use edgeway_http::UpstreamBody;
use edgeway_http::UpstreamError;
use http::{HeaderMap, Method, Request, Response, Uri, Version};

/// Whether a failed attempt is tried again.
pub fn should_retry(
    err: &UpstreamError,
    method: &Method,
    attempt: u32,
    attempts: u32,
    body_replayable: bool,
) -> bool {
    if attempt >= attempts || !body_replayable {
        return false;
    }
    if err.is_connect() {
        // A certificate that does not cover the origin will not start covering it.
        return !matches!(err, UpstreamError::Tls(_));
    }
    matches!(err, UpstreamError::Timeout) && (*method == Method::GET || *method == Method::HEAD)
}

/// One origin request, ready to send.
pub struct OriginRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: RequestBody,
}

/// Sends `req` to `origin`, retrying as CloudFront does; `attempts_counter` counts every try.
/// The first try takes `req.headers`; a retry gets its headers from `rebuild` (the same fields,
/// built again from the viewer's request), so the common single try copies nothing.
pub async fn send(
    origin: &Origin,
    mut req: OriginRequest,
    rebuild: &(dyn Fn() -> HeaderMap + Sync),
    attempts_counter: &Counter,
) -> Result<Response<UpstreamBody>, UpstreamError> {
    let uri = req.uri;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let Some(body) = req.body.for_attempt() else {
            return Err(UpstreamError::Protocol(
                "the request body cannot be resent".into(),
            ));
        };
        let mut r = Request::new(body);
        *r.method_mut() = req.method.clone();
        *r.uri_mut() = uri.clone();
        *r.version_mut() = Version::HTTP_11;
        *r.headers_mut() = if attempt == 1 {
            std::mem::take(&mut req.headers)
        } else {
            rebuild()
        };
        attempts_counter.inc();
        // Pinned where it is built (awaiting the call would move its state, over a KiB).
        let sent = std::pin::pin!(origin.client.send(r, origin.read_timeout));
        match sent.await {
            Ok(resp) => return Ok(resp),
            Err(e) => {
                if !should_retry(
                    &e,
                    &req.method,
                    attempt,
                    origin.connection_attempts,
                    req.body.replayable(),
                ) {
                    return Err(e);
                }
                tracing::debug!(origin = %origin.id, attempt, error = %e, "origin attempt failed; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries() {
        let refused = || UpstreamError::Connect("refused".into());
        let table: Vec<(UpstreamError, Method, u32, u32, bool, bool)> = vec![
            (refused(), Method::GET, 1, 3, true, true),
            (refused(), Method::POST, 1, 3, true, true),
            (refused(), Method::POST, 1, 3, false, false),
            (refused(), Method::GET, 3, 3, true, false),
            (UpstreamError::ConnectTimeout, Method::PUT, 2, 3, true, true),
            (
                UpstreamError::Resolve("nx".into()),
                Method::GET,
                1,
                2,
                true,
                true,
            ),
            (
                UpstreamError::Tls("bad certificate".into()),
                Method::GET,
                1,
                3,
                true,
                false,
            ),
            (UpstreamError::Timeout, Method::GET, 1, 3, true, true),
            (UpstreamError::Timeout, Method::HEAD, 2, 3, true, true),
            (UpstreamError::Timeout, Method::POST, 1, 3, true, false),
            (UpstreamError::Timeout, Method::OPTIONS, 1, 3, true, false),
            (
                UpstreamError::Protocol("closed".into()),
                Method::GET,
                1,
                3,
                true,
                false,
            ),
            (UpstreamError::Timeout, Method::GET, 1, 1, true, false),
        ];
        for (i, (e, m, attempt, attempts, replay, want)) in table.iter().enumerate() {
            assert_eq!(
                should_retry(e, m, *attempt, *attempts, *replay),
                *want,
                "row {i}: {e}"
            );
        }
    }
}
