//! A listener's request path: accept → checks → rule match → action → target selection →
//! forward → map failures. Each step is a named function elsewhere; this file only strings them.

use crate::action::{Action, Forward, RedirectParts};
use crate::condition::{strip_port, RequestView};
use crate::cookie::{self, Codec, Pin};
use crate::counters;
use crate::desync::{self, Verdict};
use crate::error::{error_response, AlbError};
use crate::forward::{forward, forward_again, request_body, Downstream};
use crate::headers::{check_request, drop_invalid_fields, trace_value};
use crate::load_balancer::LoadBalancer;
use crate::record::Record;
use crate::rules::RuleSet;
use crate::target_group::{ProtocolVersion, Stickiness, TargetGroup};
use edgeway_http::metrics::{Counter, Metrics};
use edgeway_http::RequestBody;
use edgeway_http::{Body, ConnInfo, Handler, UpstreamError};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use std::sync::{Arc, OnceLock};

/// One listener of a load balancer: the [`Handler`] `serve` calls.
pub struct Listener {
    pub lb: Arc<LoadBalancer>,
    pub port: u16,
    pub rules: RuleSet,
    requests: Counter,
    /// `edgeway_alb_responses_total` by status code (100-999), created on first use.
    codes: Vec<OnceLock<Counter>>,
    metrics: Metrics,
    /// `port` as an X-Forwarded-Port value (clones share one buffer).
    port_value: HeaderValue,
}

impl Listener {
    pub fn new(lb: Arc<LoadBalancer>, port: u16, rules: RuleSet, metrics: &Metrics) -> Self {
        let requests = metrics.counter(
            "edgeway_alb_requests_total",
            "Requests received by a load balancer listener.",
            &[("lb", &lb.name), ("listener", &port.to_string())],
        );
        Self {
            lb,
            port,
            rules,
            requests,
            codes: (100..1000).map(|_| OnceLock::new()).collect(),
            metrics: metrics.clone(),
            port_value: HeaderValue::from(port),
        }
    }

    fn count_response(&self, status: StatusCode) {
        let code = status.as_u16();
        let Some(slot) = self.codes.get(usize::from(code).saturating_sub(100)) else {
            return;
        };
        slot.get_or_init(|| {
            self.metrics.counter(
                "edgeway_alb_responses_total",
                "Responses sent by a load balancer listener, by status code.",
                &[
                    ("lb", &self.lb.name),
                    ("listener", &self.port.to_string()),
                    ("code", &code.to_string()),
                ],
            )
        })
        .inc();
    }

    async fn serve(&self, req: Request<RequestBody>, conn: &ConnInfo) -> Response<Body> {
        self.requests.inc();
        let mut rec = Record::start(
            self.lb.access_log.as_ref(),
            &self.lb.elb_id,
            self.port,
            conn,
            &req,
        );
        let http1 = req.version() < Version::HTTP_2;
        let mut close = false;
        let mut resp = match self.route(req, conn, &mut rec, &mut close).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(lb = %self.lb.name, listener = self.port, peer = %conn.peer, error = %e, "request failed");
                self.lb.count_error(&e);
                error_response(&e)
            }
        };
        if close && http1 {
            resp.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        self.count_response(resp.status());
        rec.finish(resp)
    }

    async fn route(
        &self,
        mut req: Request<RequestBody>,
        conn: &ConnInfo,
        rec: &mut Record,
        close: &mut bool,
    ) -> Result<Response<Body>, AlbError> {
        let class = desync::classify(
            req.method(),
            req.uri().path_and_query().map_or("", |p| p.as_str()),
            req.headers(),
        );
        rec.classification(class);
        match desync::verdict(self.lb.desync, class.class) {
            Verdict::Block => {
                *close = true;
                return Err(AlbError::Desync(class.reason.unwrap_or("-")));
            }
            Verdict::ForwardThenClose => *close = true,
            Verdict::Forward => {}
        }
        check_request(req.method(), req.headers())?;
        if self.lb.drop_invalid_header_fields {
            drop_invalid_fields(req.headers_mut());
        }
        let rule = self.rules.select(&view(&req, conn));
        rec.rule(rule.priority);
        let trace = trace_for(req.headers());
        rec.trace_value(trace.as_ref());
        match &rule.action {
            Action::Fixed(f) => {
                rec.action("fixed-response");
                Ok(f.response())
            }
            Action::Redirect(r) => {
                rec.action("redirect");
                let host = request_host(&req)
                    .map(strip_port)
                    .map(str::to_string)
                    .unwrap_or_else(|| conn.local.ip().to_string());
                let parts = RedirectParts {
                    protocol: if conn.is_tls() { "https" } else { "http" },
                    host: &host,
                    port: self.port,
                    path: req.uri().path(),
                    query: req.uri().query().unwrap_or(""),
                };
                let resp = r.response(&parts);
                rec.redirect(
                    resp.headers()
                        .get(http::header::LOCATION)
                        .and_then(|v| v.to_str().ok()),
                );
                Ok(resp)
            }
            Action::Forward(f) => {
                rec.action("forward");
                self.forward_to(f, req, conn, rec, trace.as_ref()).await
            }
        }
    }

    /// The forward action: group (weights, group stickiness), protocol check, target (health,
    /// stickiness, algorithm), the request, one retry on another target when the first refused
    /// the connection and the request has no body, then the sticky cookies.
    async fn forward_to(
        &self,
        f: &Forward,
        req: Request<RequestBody>,
        conn: &ConnInfo,
        rec: &mut Record,
        trace: Option<&HeaderValue>,
    ) -> Result<Response<Body>, AlbError> {
        let codec = &self.lb.codec;
        let choice = f.choose(req.headers(), codec).ok_or(AlbError::NoTargets)?;
        if choice.invalid_cookie {
            rec.error_reason("AWSALBTGCookieInvalid");
        }
        let tg = choice.group.clone();
        check_protocol(&tg, &req)?;
        let pinned = sticky_pin(&tg, req.headers(), codec);
        let app_pinned = matches!(tg.stickiness, Some(Stickiness::AppCookie { .. }))
            && cookie::find(req.headers(), cookie::APP[0]).is_some();
        let (target, _) = tg.select(pinned).ok_or(AlbError::NoTargets)?;
        // One retry is possible for a request without a body in a group with another target:
        // the client hands back the request it could not send, so nothing is copied up front.
        let retryable = http_body::Body::is_end_stream(req.body()) && tg.has_other(target.addr);
        let received = rec.received_counter();
        let req = req.map(|b| request_body(b, &self.lb, received));
        let down = Downstream {
            conn,
            listener_port: self.port,
            port_value: Some(&self.port_value),
        };
        let mut unsent = None;
        let slot = retryable.then_some(&mut unsent);
        let mut served = target.clone();
        let mut result = forward(&self.lb, down, &tg, &target, req, trace, rec, slot).await;
        if let (Err(AlbError::Upstream(UpstreamError::Connect(_))), Some(up)) =
            (&result, unsent.take())
        {
            if let Some(other) = tg.select_other(target.addr) {
                counters::both(&tg.stats, &target.stats, |s| s.retries.inc());
                rec.retry();
                result = forward_again(&self.lb, &tg, &other, up, rec).await;
                served = other;
            }
        }
        let mut resp = result?;
        let h = resp.headers_mut();
        if let Some(d) = f.stickiness {
            cookie::append_pair(
                h,
                (cookie::TG, cookie::TG_CORS),
                &f.group_cookie(&tg, codec),
                d,
            );
        }
        match &tg.stickiness {
            Some(Stickiness::LbCookie { duration }) => {
                let v = codec.seal(&Pin {
                    kind: Pin::LB,
                    group: tg.index,
                    addr: served.addr,
                });
                cookie::append_pair(h, (cookie::LB, cookie::LB_CORS), &v, *duration);
            }
            Some(Stickiness::AppCookie { name, duration })
                if app_pinned || cookie::response_sets(h, name) =>
            {
                let v = codec.seal(&Pin {
                    kind: Pin::APP,
                    group: tg.index,
                    addr: served.addr,
                });
                cookie::append_app(h, &v, *duration);
            }
            _ => {}
        }
        Ok(resp)
    }
}

/// The target a request's sticky cookie pins in `tg` (None: no stickiness, no cookie, or a
/// cookie that does not open).
fn sticky_pin(tg: &TargetGroup, h: &HeaderMap, codec: &Codec) -> Option<std::net::SocketAddr> {
    let (names, kind): (&[&str], u8) = match tg.stickiness.as_ref()? {
        Stickiness::LbCookie { .. } => (&[cookie::LB, cookie::LB_CORS], Pin::LB),
        Stickiness::AppCookie { .. } => (&cookie::APP[..1], Pin::APP),
    };
    names
        .iter()
        .filter_map(|n| cookie::find(h, n))
        .filter_map(|v| codec.open(v))
        .find(|p| p.kind == kind && p.group == tg.index)
        .map(|p| p.addr)
}

/// 464 when the request's protocol does not fit the group's `protocol_version`: HTTP/1.x to
/// HTTP2 or GRPC, a non-POST to GRPC, gRPC to HTTP1.
fn check_protocol<B>(tg: &TargetGroup, req: &Request<B>) -> Result<(), AlbError> {
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let h2 = req.version() == Version::HTTP_2;
    let ok = match tg.protocol_version {
        ProtocolVersion::Http1 => !grpc,
        ProtocolVersion::Http2 => h2,
        ProtocolVersion::Grpc => h2 && req.method() == Method::POST,
    };
    if ok {
        Ok(())
    } else {
        Err(AlbError::ProtocolMismatch)
    }
}

/// The X-Amzn-Trace-Id the target gets (and the access log shows).
fn trace_for(h: &HeaderMap) -> Option<HeaderValue> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    trace_value(h, now, rand::random())
}

/// The host rules see: the `:authority` / absolute-form URI host, else the first Host header.
fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
    })
}

fn view<'a, B>(req: &'a Request<B>, conn: &ConnInfo) -> RequestView<'a> {
    RequestView {
        method: req.method().as_str(),
        host: request_host(req),
        path: req.uri().path(),
        query: req.uri().query(),
        headers: req.headers(),
        peer: conn.peer.ip(),
    }
}

/// The handler `serve` calls for this listener.
pub struct ListenerHandler(pub Arc<Listener>);

impl Handler for ListenerHandler {
    fn handle(
        &self,
        req: Request<RequestBody>,
        conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let listener = self.0.clone();
        let conn = conn.clone();
        edgeway_http::serve::boxed_future(move || async move { listener.serve(req, &conn).await })
    }
}
