//! Forwarding to a target: the HTTP/1.1 request the target sees (X-Forwarded-*, trace id, Host),
//! the streamed response back, and WebSocket tunnels.

use crate::counters;
use crate::error::AlbError;
use crate::headers::{
    join_cookies, set_forwarded_for, set_forwarded_proto_port_value, target_host_unchanged,
    target_host_value, X_AMZN_TRACE_ID,
};
use crate::load_balancer::LoadBalancer;
use crate::record::Record;
use crate::stream::{cut_future, Guarded};
use crate::target_group::{ProtocolVersion, Target, TargetGroup};
use edgeway_http::headers::{is_upgrade, strip_hop_by_hop};
use edgeway_http::metrics::Gauge;
use edgeway_http::RequestBody;
use edgeway_http::{Body, ConnInfo, UpstreamError};
use http::request::Parts;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// What the request path knows about where a request came in.
#[derive(Clone, Copy)]
pub struct Downstream<'a> {
    pub conn: &'a ConnInfo,
    /// The listener's port (X-Forwarded-Port, the Host port rule).
    pub listener_port: u16,
    /// `listener_port` as a header value, when the listener keeps one made (else it is made per
    /// request).
    pub port_value: Option<&'a HeaderValue>,
}

/// Counts a request as outstanding on its target (and the active-request gauges) until dropped
/// (with the response body).
struct InFlight(Arc<AtomicUsize>, [Gauge; 2]);

impl InFlight {
    fn new(t: &Target, g: &TargetGroup) -> Self {
        t.in_flight.fetch_add(1, Ordering::Relaxed);
        let gauges = [t.stats.active.clone(), g.stats.active.clone()];
        for gauge in &gauges {
            gauge.inc();
        }
        Self(t.in_flight.clone(), gauges)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        for g in &self.1 {
            g.dec();
        }
    }
}

/// The client's request body as it goes to the target: counted, and cut when the client sends
/// nothing for the idle timeout.
pub fn request_body(
    body: RequestBody,
    lb: &LoadBalancer,
    received: Option<Arc<AtomicU64>>,
) -> Body {
    // Nothing to count or time out (GET and the like): no wrapper, no timer.
    if http_body::Body::is_end_stream(&body) {
        return edgeway_http::empty();
    }
    let bytes_in = lb.bytes_in.clone();
    Guarded::new(body.map_err(Into::into).boxed())
        .idle(lb.idle_timeout)
        .on_data(move |n| {
            bytes_in.add(n as u64);
            if let Some(r) = &received {
                r.fetch_add(n as u64, Ordering::Relaxed);
            }
        })
        .boxed()
}

/// Sends `req` to `target` of `tg` and streams its response back. The response head must come
/// within the idle timeout (else 504); the body is cut after an idle timeout without bytes, or
/// when the target's deregistration delay ends (a request waiting for its head then gets 502).
/// With `unsent`, a request that could not be sent because connecting failed is put there, as
/// the target would have got it, for [`forward_again`] (not for upgrades).
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    lb: &LoadBalancer,
    down: Downstream<'_>,
    tg: &TargetGroup,
    target: &Arc<Target>,
    mut req: Request<Body>,
    trace: Option<&HeaderValue>,
    rec: &mut Record,
    unsent: Option<&mut Option<Request<Body>>>,
) -> Result<Response<Body>, AlbError> {
    let upgrade = is_upgrade(req.headers());
    let downstream_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let up = build_target_request(
        lb,
        down,
        tg.https,
        target.addr,
        target.authority.as_ref(),
        parts,
        body,
        trace,
        upgrade,
    )?;
    let unsent = if upgrade { None } else { unsent };
    send_to(lb, tg, target, up, downstream_upgrade, rec, unsent).await
}

/// Sends a request that [`forward`] could not send (connecting to its target failed) to
/// `target` instead: the same head, with the URI pointed at `target`.
pub async fn forward_again(
    lb: &LoadBalancer,
    tg: &TargetGroup,
    target: &Arc<Target>,
    mut up: Request<Body>,
    rec: &mut Record,
) -> Result<Response<Body>, AlbError> {
    *up.uri_mut() = target_uri(tg.https, target.addr, target.authority.as_ref(), up.uri())?;
    send_to(lb, tg, target, up, None, rec, None).await
}

/// The target request `up` to `target`, its response streamed back (see [`forward`]).
async fn send_to(
    lb: &LoadBalancer,
    tg: &TargetGroup,
    target: &Arc<Target>,
    up: Request<Body>,
    downstream_upgrade: Option<hyper::upgrade::OnUpgrade>,
    rec: &mut Record,
    unsent: Option<&mut Option<Request<Body>>>,
) -> Result<Response<Body>, AlbError> {
    // HTTP2 and GRPC groups get HTTP/2 to their targets; HTTP1 groups HTTP/1.1.
    let client = match tg.protocol_version {
        ProtocolVersion::Http1 => lb.client.as_ref(),
        ProtocolVersion::Http2 | ProtocolVersion::Grpc => lb.client_h2.as_ref(),
    }
    .ok_or_else(|| AlbError::Internal("no TLS client configuration".into()))?;
    counters::both(&target.stats, &tg.stats, |s| s.requests.inc());
    let in_flight = InFlight::new(target, tg);
    rec.dispatch(&tg.arn, target.addr);
    let mut dropped = None;
    let slot = unsent.unwrap_or(&mut dropped);
    let sent = tokio::select! {
        r = client.send_or_return(up, lb.idle_timeout, slot) => r,
        _ = cut_future(target.cut_signal()) => Err(UpstreamError::Protocol("the deregistration delay ended".into())),
    };
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => {
            if e.is_connect() {
                counters::both(&target.stats, &tg.stats, |s| s.connection_errors.inc());
            }
            return Err(AlbError::Upstream(e));
        }
    };
    let status = resp.status();
    rec.target_head(status.as_u16());
    counters::both(&target.stats, &tg.stats, |s| s.response(status.as_u16()));
    if status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(down_upgrade) = downstream_upgrade {
            let up_upgrade = hyper::upgrade::on(&mut resp);
            let mut ws = rec.detach();
            ws.websocket();
            tokio::spawn(tunnel(down_upgrade, up_upgrade, in_flight, ws));
            let (mut parts, _) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers, true);
            return Ok(Response::from_parts(parts, edgeway_http::empty()));
        }
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let bytes_out = lb.bytes_out.clone();
    let body = Guarded::new(body.map_err(Into::into).boxed())
        .idle(lb.idle_timeout)
        .cut_by(target.cut_signal())
        .on_data(move |n| bytes_out.add(n as u64))
        .hold(in_flight)
        .boxed();
    Ok(Response::from_parts(parts, body))
}

/// Copies bytes both ways between the viewer and the target once both sides have upgraded; the
/// access log line is written when the tunnel closes.
async fn tunnel(
    down: hyper::upgrade::OnUpgrade,
    up: hyper::upgrade::OnUpgrade,
    in_flight: InFlight,
    rec: Record,
) {
    let _outstanding = in_flight;
    let (down, up) = tokio::join!(down, up);
    let (Ok(down), Ok(up)) = (down, up) else {
        tracing::debug!("WebSocket upgrade failed on one side");
        rec.close(101, 0);
        return;
    };
    let mut down = TokioIo::new(down);
    let mut up = TokioIo::new(up);
    match tokio::io::copy_bidirectional(&mut down, &mut up).await {
        Ok((_, to_client)) => rec.close(101, to_client),
        Err(e) => {
            tracing::debug!(error = %e, "WebSocket tunnel ended with an error");
            rec.close(101, 0);
        }
    }
}

/// The request the target receives: absolute-form URI to the target, HTTP/1.1, end-to-end
/// headers plus X-Forwarded-For/-Proto/-Port, X-Amzn-Trace-Id and the Host rule.
pub fn target_request(
    lb: &LoadBalancer,
    down: Downstream<'_>,
    https: bool,
    addr: SocketAddr,
    parts: Parts,
    body: Body,
    trace: &str,
) -> Result<Request<Body>, AlbError> {
    target_request_via(lb, down, https, addr, None, parts, body, trace)
}

/// [`target_request`] with the target's address already parsed as a URI authority: the URI is
/// put together from parts (the request's own path and query reused) instead of formatted and
/// parsed again.
#[allow(clippy::too_many_arguments)]
pub fn target_request_via(
    lb: &LoadBalancer,
    down: Downstream<'_>,
    https: bool,
    addr: SocketAddr,
    authority: Option<&Authority>,
    parts: Parts,
    body: Body,
    trace: &str,
) -> Result<Request<Body>, AlbError> {
    let upgrade = is_upgrade(&parts.headers);
    let trace = HeaderValue::from_str(trace).ok();
    build_target_request(
        lb,
        down,
        https,
        addr,
        authority,
        parts,
        body,
        trace.as_ref(),
        upgrade,
    )
}

/// [`target_request_via`] with the trace header already a value and `is_upgrade` already known.
#[allow(clippy::too_many_arguments)]
fn build_target_request(
    lb: &LoadBalancer,
    down: Downstream<'_>,
    https: bool,
    addr: SocketAddr,
    authority: Option<&Authority>,
    parts: Parts,
    body: Body,
    trace: Option<&HeaderValue>,
    upgrade: bool,
) -> Result<Request<Body>, AlbError> {
    let Parts {
        method,
        uri,
        mut headers,
        ..
    } = parts;
    // The client's Host header as it came (a reference-count bump), read before hop-by-hop
    // stripping (which removes it if `Connection` names it).
    let host_in = match uri.authority() {
        Some(_) => None,
        None => headers.get(http::header::HOST).cloned(),
    };
    strip_hop_by_hop(&mut headers, upgrade);
    join_cookies(&mut headers);

    if !(lb.preserve_host && headers.contains_key(http::header::HOST)) {
        let client_host: Option<&str> = match uri.authority() {
            Some(a) => Some(a.as_str()),
            None => host_in.as_ref().and_then(|v| v.to_str().ok()),
        };
        let value = match client_host {
            Some(h) if lb.preserve_host => HeaderValue::from_str(h).ok().map(Some),
            // The Host the client sent is already what the target gets: leave it.
            Some(h)
                if target_host_unchanged(h, down.listener_port) && single_value_is(&headers, h) =>
            {
                Some(None)
            }
            Some(h) => target_host_value(h, down.listener_port).map(Some),
            None => None,
        };
        match value {
            Some(Some(v)) => {
                headers.insert(http::header::HOST, v);
            }
            Some(None) => {}
            None => {
                headers.remove(http::header::HOST);
            }
        }
    }

    set_forwarded_for(&mut headers, lb.xff, down.conn.peer, lb.xff_client_port);
    let port = match down.port_value {
        Some(v) => v.clone(),
        None => HeaderValue::from(down.listener_port),
    };
    set_forwarded_proto_port_value(&mut headers, down.conn.is_tls(), port);
    if let Some(v) = trace {
        headers.insert(X_AMZN_TRACE_ID, v.clone());
    }

    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = target_uri(https, addr, authority, &uri)?;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Ok(req)
}

/// The absolute URI of `uri`'s path and query at the target `addr` (its `authority` when
/// parsed already: put together from parts instead of formatted and parsed again).
fn target_uri(
    https: bool,
    addr: SocketAddr,
    authority: Option<&Authority>,
    uri: &Uri,
) -> Result<Uri, AlbError> {
    if let (Some(a), Some(pq)) = (authority, uri.path_and_query()) {
        if pq.as_str().starts_with('/') {
            let mut p = http::uri::Parts::default();
            p.scheme = Some(if https { Scheme::HTTPS } else { Scheme::HTTP });
            p.authority = Some(a.clone());
            p.path_and_query = Some(pq.clone());
            if let Ok(u) = Uri::from_parts(p) {
                return Ok(u);
            }
        }
    }
    let scheme = if https { "https" } else { "http" };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{addr}{path}")
        .parse::<Uri>()
        .map_err(|e| AlbError::Internal(format!("cannot build the target request: {e}")))
}

/// Whether `h` holds exactly one Host header and it is `host`.
fn single_value_is(h: &http::HeaderMap, host: &str) -> bool {
    let mut all = h.get_all(http::header::HOST).iter();
    matches!((all.next(), all.next()), (Some(v), None) if v.as_bytes() == host.as_bytes())
}
