//! Forwarding to a target: the HTTP/1.1 request the target sees (X-Forwarded-*, trace id, Host),
//! the streamed response back, and WebSocket tunnels.

use crate::error::AlbError;
use crate::headers::{headers_bytes, join_cookies, new_trace_id, set_forwarded_for, set_forwarded_proto_port, target_host, trace_header};
use crate::load_balancer::LoadBalancer;
use crate::target_group::Target;
use edgeway_http::headers::{is_upgrade, strip_hop_by_hop};
use edgeway_http::{Body, ConnInfo};
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What the request path knows about where a request came in.
#[derive(Clone, Copy)]
pub struct Downstream<'a> {
    pub conn: &'a ConnInfo,
    /// The listener's port (X-Forwarded-Port, the Host port rule).
    pub listener_port: u16,
}

/// Counts a request as outstanding on its target until dropped (with the response body).
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(n: &Arc<AtomicUsize>) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sends `req` to `target` and streams its response back.
pub async fn forward(lb: &LoadBalancer, down: Downstream<'_>, https: bool, target: &Target, mut req: Request<Incoming>) -> Result<Response<Body>, AlbError> {
    let client = lb.client.as_ref().ok_or_else(|| AlbError::Internal("no TLS client configuration".into()))?;
    let downstream_upgrade = is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let bytes_in = lb.bytes_in.clone();
    let body = body
        .map_frame(move |f| {
            if let Some(d) = f.data_ref() {
                bytes_in.add(d.len() as u64);
            }
            f
        })
        .map_err(Into::into)
        .boxed();
    let up = target_request(lb, down, https, target.addr, parts, body)?;
    target.requests.inc();
    let in_flight = InFlight::new(&target.in_flight);
    let mut resp = client.send(up, lb.idle_timeout).await.map_err(AlbError::Upstream)?;
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching {
        if let Some(down_upgrade) = downstream_upgrade {
            let up_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(tunnel(down_upgrade, up_upgrade, in_flight));
            let (mut parts, _) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers, true);
            return Ok(Response::from_parts(parts, edgeway_http::empty()));
        }
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let bytes_out = lb.bytes_out.clone();
    let body = body
        .map_frame(move |f| {
            let _outstanding = &in_flight;
            if let Some(d) = f.data_ref() {
                bytes_out.add(d.len() as u64);
            }
            f
        })
        .map_err(Into::into)
        .boxed();
    Ok(Response::from_parts(parts, body))
}

/// Copies bytes both ways between the viewer and the target once both sides have upgraded.
async fn tunnel(down: hyper::upgrade::OnUpgrade, up: hyper::upgrade::OnUpgrade, in_flight: InFlight) {
    let _outstanding = in_flight;
    let (down, up) = tokio::join!(down, up);
    let (Ok(down), Ok(up)) = (down, up) else {
        tracing::debug!("WebSocket upgrade failed on one side");
        return;
    };
    let mut down = TokioIo::new(down);
    let mut up = TokioIo::new(up);
    if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
        tracing::debug!(error = %e, "WebSocket tunnel ended with an error");
    }
}

/// The request the target receives: absolute-form URI to the target, HTTP/1.1, end-to-end
/// headers plus X-Forwarded-For/-Proto/-Port, X-Amzn-Trace-Id and the Host rule.
pub fn target_request(lb: &LoadBalancer, down: Downstream<'_>, https: bool, addr: SocketAddr, parts: Parts, body: Body) -> Result<Request<Body>, AlbError> {
    let Parts { method, uri, mut headers, .. } = parts;
    let upgrade = is_upgrade(&headers);
    let client_host: Option<String> = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).map(str::to_string));
    strip_hop_by_hop(&mut headers, upgrade);
    join_cookies(&mut headers);

    if !(lb.preserve_host && headers.contains_key(http::header::HOST)) {
        let host = match &client_host {
            Some(h) if lb.preserve_host => Some(h.clone()),
            Some(h) => Some(target_host(h, down.listener_port)),
            None => None,
        };
        match host.and_then(|h| HeaderValue::from_str(&h).ok()) {
            Some(v) => {
                headers.insert(http::header::HOST, v);
            }
            None => {
                headers.remove(http::header::HOST);
            }
        }
    }

    set_forwarded_for(&mut headers, lb.xff, down.conn.peer, lb.xff_client_port);
    set_forwarded_proto_port(&mut headers, down.conn.is_tls(), down.listener_port);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let id = new_trace_id(now, rand::random());
    let size = headers_bytes(&headers);
    let trace = trace_header(headers.get("x-amzn-trace-id").and_then(|v| v.to_str().ok()), &id, size);
    if let Ok(v) = HeaderValue::from_str(&trace) {
        headers.insert("x-amzn-trace-id", v);
    }

    let scheme = if https { "https" } else { "http" };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{scheme}://{addr}{path}"))
        .version(Version::HTTP_11)
        .body(body)
        .map_err(|e| AlbError::Internal(format!("cannot build the target request: {e}")))?;
    *req.headers_mut() = headers;
    Ok(req)
}
