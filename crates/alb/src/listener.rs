//! A listener's request path: accept → checks → rule match → action → target selection →
//! forward → map failures. Each step is a named function elsewhere; this file only strings them.

use crate::action::{Action, RedirectParts};
use crate::condition::{strip_port, RequestView};
use crate::error::{error_response, AlbError};
use crate::forward::{forward, Downstream};
use crate::headers::check_request;
use crate::load_balancer::LoadBalancer;
use crate::rules::RuleSet;
use edgeway_http::metrics::{Counter, Metrics};
use edgeway_http::{Body, ConnInfo, Handler};
use futures_util::future::BoxFuture;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
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
}

impl Listener {
    pub fn new(lb: Arc<LoadBalancer>, port: u16, rules: RuleSet, metrics: &Metrics) -> Self {
        let requests = metrics.counter(
            "edgeway_alb_requests_total",
            "Requests received by a load balancer listener.",
            &[("lb", &lb.name), ("listener", &port.to_string())],
        );
        Self { lb, port, rules, requests, codes: (100..1000).map(|_| OnceLock::new()).collect(), metrics: metrics.clone() }
    }

    fn count_response(&self, status: StatusCode) {
        let code = status.as_u16();
        let Some(slot) = self.codes.get(usize::from(code).saturating_sub(100)) else { return };
        slot.get_or_init(|| {
            self.metrics.counter(
                "edgeway_alb_responses_total",
                "Responses sent by a load balancer listener, by status code.",
                &[("lb", &self.lb.name), ("listener", &self.port.to_string()), ("code", &code.to_string())],
            )
        })
        .inc();
    }

    async fn serve(&self, req: Request<Incoming>, conn: &ConnInfo) -> Response<Body> {
        self.requests.inc();
        let resp = match self.route(req, conn).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(lb = %self.lb.name, listener = self.port, peer = %conn.peer, error = %e, "request failed");
                self.lb.count_error(&e);
                error_response(&e)
            }
        };
        self.count_response(resp.status());
        resp
    }

    async fn route(&self, req: Request<Incoming>, conn: &ConnInfo) -> Result<Response<Body>, AlbError> {
        check_request(req.method(), req.headers())?;
        let rule = self.rules.select(&view(&req, conn));
        match &rule.action {
            Action::Fixed(f) => Ok(f.response()),
            Action::Redirect(r) => {
                let host = request_host(&req).map(strip_port).map(str::to_string).unwrap_or_else(|| conn.local.ip().to_string());
                let parts = RedirectParts {
                    protocol: if conn.is_tls() { "https" } else { "http" },
                    host: &host,
                    port: self.port,
                    path: req.uri().path(),
                    query: req.uri().query().unwrap_or(""),
                };
                Ok(r.response(&parts))
            }
            Action::Forward(f) => {
                let tg = f.pick().ok_or(AlbError::NoTargets)?;
                let target = tg.select().ok_or(AlbError::NoTargets)?;
                let down = Downstream { conn, listener_port: self.port };
                forward(&self.lb, down, tg.https, target, req).await
            }
        }
    }
}

/// The host rules see: the `:authority` / absolute-form URI host, else the first Host header.
fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.uri().authority().map(|a| a.as_str()).or_else(|| req.headers().get(http::header::HOST).and_then(|v| v.to_str().ok()))
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
    fn handle(&self, req: Request<Incoming>, conn: &Arc<ConnInfo>) -> BoxFuture<'static, Response<Body>> {
        let listener = self.0.clone();
        let conn = conn.clone();
        Box::pin(async move { listener.serve(req, &conn).await })
    }
}
