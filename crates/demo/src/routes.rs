//! The storefront's routes: one function that turns a request into a response.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::CACHE_CONTROL;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;

use crate::assets::Assets;
use crate::instance::Instance;
use crate::{conditional, echo, reply};

/// Largest request body `/api/echo` reads.
pub const ECHO_BODY_LIMIT: usize = 1 << 20;
/// Largest body `POST /_demo/health` reads.
const SWITCH_BODY_LIMIT: usize = 1024;
/// Longest `/api/slow` wait.
pub const SLOW_CAP_MS: u64 = 60_000;

const GET_HEAD: &str = "GET, HEAD";

/// Answer one request on behalf of `instance`, which counts it.
pub async fn handle<B>(
    instance: &Instance,
    peer: SocketAddr,
    req: Request<B>,
) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    instance.count_request();
    let head = req.method() == Method::HEAD;
    let mut resp = route(instance, peer, req).await;
    reply::finish(&mut resp, instance.id_header(), head);
    resp
}

async fn route<B>(instance: &Instance, peer: SocketAddr, req: Request<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let assets = Assets::get();
    let readable = req.method() == Method::GET || req.method() == Method::HEAD;
    let path = req.uri().path();

    match path {
        "/api/echo" => return echo(instance, peer, req).await,
        "/_demo/health" => return switch_health(instance, req).await,
        "/api/slow" => return slow(instance, req.uri().query()).await,
        _ => {}
    }
    if let Some(code) = path.strip_prefix("/api/status/") {
        return status(code);
    }

    // Everything below is a static resource: look it up, then insist on GET or HEAD.
    let resource = match path {
        "/" | "/index.html" => Resource::Index,
        "/health" => Resource::Health,
        "/static/app.css" => Resource::Asset(&assets.css, "max-age=3600"),
        "/static/app.js" => Resource::Asset(&assets.js, "max-age=3600"),
        _ => {
            let found = if let Some(file) = path.strip_prefix("/images/") {
                assets
                    .image(file)
                    .map(|a| Resource::Asset(a, "max-age=86400"))
            } else if let Some(name) = path.strip_prefix("/media/") {
                assets
                    .media(name)
                    .map(|a| Resource::Asset(a, "max-age=86400"))
            } else {
                None
            };
            match found {
                Some(resource) => resource,
                None => return reply::not_found(path),
            }
        }
    };
    if !readable {
        return reply::method_not_allowed(GET_HEAD);
    }
    match resource {
        Resource::Index => {
            let mut resp = reply::html(StatusCode::OK, instance.index_page());
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        Resource::Health => health(instance),
        Resource::Asset(asset, cache_control) => {
            conditional::respond(asset, req.headers(), cache_control)
        }
    }
}

/// A GET/HEAD-only resource.
enum Resource<'a> {
    Index,
    Health,
    Asset(&'a crate::assets::Asset, &'static str),
}

fn health(instance: &Instance) -> Response<Full<Bytes>> {
    let mut resp = if instance.is_healthy() {
        reply::text(StatusCode::OK, "ok")
    } else {
        reply::text(StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    };
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /_demo/health` with body `ok` or `fail`.
async fn switch_health<B>(instance: &Instance, req: Request<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if req.method() != Method::POST {
        return reply::method_not_allowed("POST");
    }
    let body = match read_body(req.into_body(), SWITCH_BODY_LIMIT).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    match body.trim_ascii() {
        b"ok" => instance.set_healthy(true),
        b"fail" => instance.set_healthy(false),
        _ => return reply::text(StatusCode::BAD_REQUEST, "body must be `ok` or `fail`\n"),
    }
    let mut resp = health(instance);
    *resp.status_mut() = StatusCode::OK;
    resp
}

async fn echo<B>(instance: &Instance, peer: SocketAddr, req: Request<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let body = match read_body(body, ECHO_BODY_LIMIT).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    reply::json(
        StatusCode::OK,
        &echo::document(instance.id(), peer, &parts, body.len()),
    )
}

/// `/api/slow?ms=N`: wait, then say so.
async fn slow(instance: &Instance, query: Option<&str>) -> Response<Full<Bytes>> {
    let ms = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "ms")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let Some(ms) = ms else {
        return reply::text(
            StatusCode::BAD_REQUEST,
            "usage: /api/slow?ms=N (N up to 60000)\n",
        );
    };
    let ms = ms.min(SLOW_CAP_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    reply::json(
        StatusCode::OK,
        &serde_json::json!({ "instance": instance.id(), "slept_ms": ms }),
    )
}

/// `/api/status/N`: answer with status N when 200 <= N < 600. Informational statuses (1xx) cannot be
/// a final response (hyper would turn 103 into a 500 and 101 into a broken upgrade), so they are 400.
fn status(code: &str) -> Response<Full<Bytes>> {
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|n| (200..600).contains(n))
        .and_then(|n| StatusCode::from_u16(n).ok());
    match status {
        Some(status) => {
            let reason = status.canonical_reason().unwrap_or("");
            reply::text(status, format!("{} {reason}\n", status.as_u16()))
        }
        None => reply::text(
            StatusCode::BAD_REQUEST,
            "status must be between 200 and 599\n",
        ),
    }
}

/// Read a body of at most `limit` bytes; 413 when larger, 400 when the body breaks off.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, Response<Full<Bytes>>>
where
    B: Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(reply::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        )),
        Err(_) => Err(reply::text(
            StatusCode::BAD_REQUEST,
            "could not read the request body\n",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, ETAG};

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5555))
    }

    async fn call(
        instance: &Instance,
        method: &str,
        uri: &str,
        body: &'static [u8],
    ) -> Response<Full<Bytes>> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::from_static(body)));
        match req {
            Ok(req) => handle(instance, peer(), req).await,
            Err(e) => panic!("bad test request: {e}"),
        }
    }

    async fn body_of(resp: Response<Full<Bytes>>) -> Bytes {
        match resp.into_body().collect().await {
            Ok(c) => c.to_bytes(),
            Err(never) => match never {},
        }
    }

    fn header<'a>(resp: &'a Response<Full<Bytes>>, name: &str) -> &'a str {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn route_table() {
        let i = Instance::new("t-1".into());
        let cases: &[(&str, &str, u16, &str)] = &[
            ("GET", "/", 200, "text/html; charset=utf-8"),
            ("GET", "/index.html", 200, "text/html; charset=utf-8"),
            ("HEAD", "/", 200, "text/html; charset=utf-8"),
            ("POST", "/", 405, "text/plain; charset=utf-8"),
            ("GET", "/static/app.css", 200, "text/css; charset=utf-8"),
            (
                "GET",
                "/static/app.js",
                200,
                "text/javascript; charset=utf-8",
            ),
            ("DELETE", "/static/app.js", 405, "text/plain; charset=utf-8"),
            ("GET", "/static/nope.js", 404, "text/html; charset=utf-8"),
            ("GET", "/images/hal.png", 200, "image/png"),
            ("GET", "/images/hal.jpg", 404, "text/html; charset=utf-8"),
            ("PUT", "/images/hal.png", 405, "text/plain; charset=utf-8"),
            ("GET", "/media/intro.bin", 200, "application/octet-stream"),
            ("GET", "/media/other.bin", 404, "text/html; charset=utf-8"),
            ("GET", "/api/echo", 200, "application/json"),
            ("PATCH", "/api/echo", 200, "application/json"),
            ("GET", "/api/slow?ms=0", 200, "application/json"),
            ("GET", "/api/slow", 400, "text/plain; charset=utf-8"),
            ("GET", "/api/slow?ms=-1", 400, "text/plain; charset=utf-8"),
            ("GET", "/api/status/418", 418, "text/plain; charset=utf-8"),
            ("GET", "/api/status/599", 599, "text/plain; charset=utf-8"),
            ("GET", "/api/status/100", 400, "text/plain; charset=utf-8"),
            ("GET", "/api/status/101", 400, "text/plain; charset=utf-8"),
            ("GET", "/api/status/199", 400, "text/plain; charset=utf-8"),
            ("GET", "/api/status/200", 200, "text/plain; charset=utf-8"),
            ("GET", "/api/status/600", 400, "text/plain; charset=utf-8"),
            ("GET", "/api/status/abc", 400, "text/plain; charset=utf-8"),
            ("GET", "/health", 200, "text/plain; charset=utf-8"),
            ("POST", "/health", 405, "text/plain; charset=utf-8"),
            ("GET", "/_demo/health", 405, "text/plain; charset=utf-8"),
            ("GET", "/nothing/here", 404, "text/html; charset=utf-8"),
            ("POST", "/nothing/here", 404, "text/html; charset=utf-8"),
        ];
        for (method, uri, status, content_type) in cases {
            let resp = call(&i, method, uri, b"").await;
            assert_eq!(resp.status().as_u16(), *status, "{method} {uri}");
            assert_eq!(
                header(&resp, "content-type"),
                *content_type,
                "{method} {uri}"
            );
            assert_eq!(header(&resp, "x-instance-id"), "t-1", "{method} {uri}");
            let len = header(&resp, "content-length").to_string();
            let body = body_of(resp).await;
            if *method == "HEAD" {
                assert!(body.is_empty());
                assert!(len.parse::<usize>().unwrap_or(0) > 0, "{method} {uri}");
            } else {
                assert_eq!(len, body.len().to_string(), "{method} {uri}");
            }
        }
        assert_eq!(i.requests(), cases.len() as u64);
    }

    #[tokio::test]
    async fn bodiless_statuses_have_no_body_or_length() {
        let i = Instance::new("t".into());
        for code in ["204", "304"] {
            let resp = call(&i, "GET", &format!("/api/status/{code}"), b"").await;
            assert!(resp.headers().get(CONTENT_LENGTH).is_none(), "{code}");
            assert!(body_of(resp).await.is_empty(), "{code}");
        }
    }

    #[tokio::test]
    async fn method_not_allowed_lists_methods() {
        let i = Instance::new("t".into());
        let resp = call(&i, "POST", "/static/app.css", b"x").await;
        assert_eq!(header(&resp, "allow"), "GET, HEAD");
        let resp = call(&i, "PUT", "/_demo/health", b"ok").await;
        assert_eq!(
            resp.headers().get(ALLOW).and_then(|v| v.to_str().ok()),
            Some("POST")
        );
    }

    #[tokio::test]
    async fn health_switch() {
        let i = Instance::new("t".into());
        assert_eq!(
            call(&i, "POST", "/_demo/health", b"fail\n").await.status(),
            200
        );
        assert_eq!(call(&i, "GET", "/health", b"").await.status(), 503);
        assert_eq!(
            call(&i, "POST", "/_demo/health", b"maybe").await.status(),
            400
        );
        assert!(!i.is_healthy());
        assert_eq!(call(&i, "POST", "/_demo/health", b"ok").await.status(), 200);
        assert_eq!(body_of(call(&i, "GET", "/health", b"").await).await, "ok");
        static LONG: [u8; 2000] = [b'o'; 2000];
        assert_eq!(call(&i, "POST", "/_demo/health", &LONG).await.status(), 413);
    }

    #[tokio::test]
    async fn echo_reports_body_size_and_rejects_huge_bodies() {
        let i = Instance::new("t".into());
        let resp = call(&i, "POST", "/api/echo?x=1", b"hello").await;
        let doc: serde_json::Value =
            serde_json::from_slice(&body_of(resp).await).unwrap_or_default();
        assert_eq!(doc["body_bytes"], 5);
        assert_eq!(doc["query"], "x=1");
        static BIG: [u8; ECHO_BODY_LIMIT + 1] = [0; ECHO_BODY_LIMIT + 1];
        assert_eq!(call(&i, "POST", "/api/echo", &BIG).await.status(), 413);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_waits_and_caps() {
        let i = Instance::new("t".into());
        let started = tokio::time::Instant::now();
        let resp = call(&i, "GET", "/api/slow?x=1&ms=250", b"").await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_millis(260),
            "{waited:?}"
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&body_of(resp).await).unwrap_or_default();
        assert_eq!(doc, serde_json::json!({"instance": "t", "slept_ms": 250}));

        let started = tokio::time::Instant::now();
        let resp = call(&i, "GET", "/api/slow?ms=999999999", b"").await;
        assert!(started.elapsed() >= Duration::from_millis(SLOW_CAP_MS));
        let doc: serde_json::Value =
            serde_json::from_slice(&body_of(resp).await).unwrap_or_default();
        assert_eq!(doc["slept_ms"], 60_000);
    }

    #[tokio::test]
    async fn static_assets_carry_validators() {
        let i = Instance::new("t".into());
        let resp = call(&i, "GET", "/static/app.css", b"").await;
        assert_eq!(header(&resp, "cache-control"), "max-age=3600");
        assert!(resp.headers().get(ETAG).is_some());
        let resp = call(&i, "GET", "/images/daisy.png", b"").await;
        assert_eq!(header(&resp, "cache-control"), "max-age=86400");
        let resp = call(&i, "GET", "/", b"").await;
        assert_eq!(header(&resp, "cache-control"), "no-cache");
        assert!(resp.headers().get(CONTENT_TYPE).is_some());
    }
}
