//! The admin listener: `/metrics` (Prometheus text), `/healthz`, and read-only views that the
//! wiring registers (target health, DNS health checks, ...). It knows no tier: views are closures.
#![forbid(unsafe_code)]

use edgeway_http::metrics::Metrics;
use edgeway_http::{full, Body, ConnInfo, Handler};
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::Arc;

/// A view: returns (content type, body) when asked.
pub type View = Arc<dyn Fn() -> (&'static str, String) + Send + Sync>;

/// The admin listener's state.
#[derive(Clone)]
pub struct Admin {
    metrics: Metrics,
    views: Vec<(String, &'static str, View)>,
}

impl Admin {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics, views: Vec::new() }
    }

    /// Serves `view` at `path` (GET), listed on the index page with `about`.
    pub fn add_view(&mut self, path: &str, about: &'static str, view: View) {
        self.views.push((path.to_string(), about, view));
    }

    pub fn handler(self) -> Arc<dyn Handler> {
        Arc::new(self)
    }

    fn route(&self, method: &Method, path: &str) -> Response<Body> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "only GET and HEAD\n".into());
        }
        match path {
            "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
            "/metrics" => text(StatusCode::OK, "text/plain; version=0.0.4", self.metrics.render()),
            "/" => {
                let mut s = String::from("edgeway admin\n\n/metrics  Prometheus counters\n/healthz  liveness\n");
                for (p, about, _) in &self.views {
                    s.push_str(&format!("{p}  {about}\n"));
                }
                text(StatusCode::OK, "text/plain", s)
            }
            _ => match self.views.iter().find(|(p, _, _)| p == path) {
                Some((_, _, v)) => {
                    let (ct, body) = v();
                    text(StatusCode::OK, ct, body)
                }
                None => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
            },
        }
    }
}

fn text(status: StatusCode, ct: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl Handler for Admin {
    fn handle(&self, req: Request<Incoming>, _conn: &Arc<ConnInfo>) -> BoxFuture<'static, Response<Body>> {
        let r = self.route(req.method(), req.uri().path());
        Box::pin(async move { r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let m = Metrics::new();
        m.counter("edgeway_x_total", "X.", &[]).inc();
        let mut a = Admin::new(m);
        a.add_view("/targets", "target health", Arc::new(|| ("application/json", "[]".to_string())));
        assert_eq!(a.route(&Method::GET, "/healthz").status(), StatusCode::OK);
        assert_eq!(a.route(&Method::GET, "/metrics").status(), StatusCode::OK);
        assert_eq!(a.route(&Method::GET, "/targets").headers()["content-type"], "application/json");
        assert_eq!(a.route(&Method::GET, "/nope").status(), StatusCode::NOT_FOUND);
        assert_eq!(a.route(&Method::POST, "/metrics").status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
