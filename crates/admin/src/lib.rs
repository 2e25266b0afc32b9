//! The admin listener: `/metrics` (Prometheus text), `/healthz`, read-only views and API routes
//! that the wiring registers (target health, the target registration API, ...). It knows no
//! tier: views and routes are closures.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use edgeway_http::metrics::Metrics;
use edgeway_http::RequestBody;
use edgeway_http::{full, Body, ConnInfo, Handler};
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;

/// Largest request body a route accepts.
pub const MAX_BODY: usize = 1024 * 1024;

/// A view: returns (content type, body) when asked.
pub type View = Arc<dyn Fn() -> (&'static str, String) + Send + Sync>;

/// What a route answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// A route: given (method, path, body), answers, or None when the path is not its own.
pub type Route = Arc<dyn Fn(&Method, &str, &[u8]) -> Option<Reply> + Send + Sync>;

/// The admin listener's state.
#[derive(Clone)]
pub struct Admin {
    metrics: Metrics,
    views: Vec<(String, &'static str, View)>,
    routes: Vec<(String, &'static str, Route)>,
}

impl Admin {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            views: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Sends every request whose path starts with `prefix` (any method, with its body) to
    /// `route`, listed on the index page with `about`.
    pub fn add_route(&mut self, prefix: &str, about: &'static str, route: Route) {
        self.routes.push((prefix.to_string(), about, route));
    }

    fn route_for(&self, path: &str) -> Option<Route> {
        self.routes
            .iter()
            .find(|(p, _, _)| path.starts_with(p.as_str()))
            .map(|(_, _, r)| r.clone())
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
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "only GET and HEAD\n".into(),
            );
        }
        match path {
            "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
            "/metrics" => text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.metrics.render(),
            ),
            "/" => {
                let mut s = String::from(
                    "edgeway admin\n\n/metrics  Prometheus counters\n/healthz  liveness\n",
                );
                for (p, about, _) in &self.views {
                    s.push_str(&format!("{p}  {about}\n"));
                }
                for (p, about, _) in &self.routes {
                    s.push_str(&format!("{p}...  {about}\n"));
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
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Runs a route with the request's body (at most [`MAX_BODY`] bytes, else 413).
async fn run_route(route: Route, req: Request<RequestBody>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "application/json",
                "{\"error\":{\"code\":\"PayloadTooLarge\",\"message\":\"body over 1 MiB\"}}".into(),
            )
        }
    };
    match route(&parts.method, parts.uri.path(), &body) {
        Some(r) => text(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r.content_type,
            r.body,
        ),
        None => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

impl Handler for Admin {
    fn handle(
        &self,
        req: Request<RequestBody>,
        _conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        if let Some(route) = self.route_for(req.uri().path()) {
            return Box::pin(run_route(route, req));
        }
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
        a.add_view(
            "/targets",
            "target health",
            Arc::new(|| ("application/json", "[]".to_string())),
        );
        assert_eq!(a.route(&Method::GET, "/healthz").status(), StatusCode::OK);
        assert_eq!(a.route(&Method::GET, "/metrics").status(), StatusCode::OK);
        assert_eq!(
            a.route(&Method::GET, "/targets").headers()["content-type"],
            "application/json"
        );
        assert_eq!(
            a.route(&Method::GET, "/nope").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            a.route(&Method::POST, "/metrics").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test]
    async fn routes_take_posts_with_bodies() {
        let mut a = Admin::new(Metrics::new());
        a.add_route(
            "/api/",
            "echo",
            Arc::new(|m: &Method, p: &str, b: &[u8]| {
                (p != "/api/none").then(|| Reply {
                    status: 201,
                    content_type: "application/json",
                    body: format!("{m} {p} {}", String::from_utf8_lossy(b)),
                })
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(edgeway_http::serve(
            listener,
            a.handler(),
            edgeway_http::ServeOptions::new("admin", &Default::default()),
            async {
                let _ = rx.await;
            },
        ));
        let send = |method: &'static str, path: &'static str, body: &'static str| async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut s, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", "admin")
                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                .unwrap();
            let r = s.send_request(req).await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec())
                    .unwrap(),
            )
        };
        assert_eq!(
            send("POST", "/api/x", "{}").await,
            (201, "POST /api/x {}".to_string())
        );
        assert_eq!(
            send("DELETE", "/api/y", "z").await,
            (201, "DELETE /api/y z".to_string())
        );
        assert_eq!(send("GET", "/api/none", "").await.0, 404);
        assert_eq!(send("GET", "/healthz", "").await.0, 200);
        assert!(send("GET", "/", "").await.1.contains("/api/...  echo"));
        let _ = tx.send(());
    }
}
