//! Heap allocations per request on the edge's pass-through path and per cache hit. Prints
//! counts, times nothing.
//!
//! End to end over loopback in one current-thread runtime: (client → edge → origin) minus
//! (client → origin), divided by the number of requests, is what the edge allocates per passed
//! request (its server side, its handler and its origin client). For a hit, (client → edge)
//! minus (client → a server that writes the edge's own hit response, byte for byte, from one
//! buffer and allocates nothing per request) is what the edge allocates per hit; the origin must
//! have seen the object once. Then the per-request pure functions alone.
//! `cargo bench -p edgeway-cdn --bench allocations`.
//!
//! The counting global allocator is `stats_alloc`'s: its `unsafe impl GlobalAlloc` lives in that
//! crate, so this file holds no unsafe code and the workspace's `forbid(unsafe_code)` is kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use edgeway_cdn::behavior::{self, Behavior};
use edgeway_cdn::cache_key::{cache_key, KeyInput};
use edgeway_cdn::headers::{
    clean_origin_response, origin_request_headers, stamp_viewer_response, OriginHeaderInput,
    ViewerStamp,
};
use edgeway_cdn::{ids, CdnTier};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARMUP: usize = 200;
const REQUESTS: usize = 2000;

fn config(origin_port: u16) -> String {
    format!(
        r#"
[[distribution]]
id = "bench"
listen = ["http://127.0.0.1:0"]
[[distribution.origin]]
origin_id = "o"
domain_name = "127.0.0.1"
custom_origin_config = {{ http_port = {origin_port}, origin_protocol_policy = "http-only" }}
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
[[distribution.ordered_cache_behavior]]
path_pattern = "/images/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "UseOriginCacheControlHeaders"
"#
    )
}

/// A minimal origin: 10 KiB for every request, keep-alive; `/images/*` cacheable for an hour.
/// Counts the requests for `/images/*` in `image_requests`.
async fn origin(listener: TcpListener, image_requests: Arc<AtomicUsize>) {
    let body = Bytes::from(vec![b'x'; 10240]);
    for _ in 0..1_000_000 {
        let Ok((s, _)) = listener.accept().await else {
            return;
        };
        let _ = s.set_nodelay(true);
        let body = body.clone();
        let image_requests = image_requests.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                let image = req.uri().path().starts_with("/images/");
                if image {
                    image_requests.fetch_add(1, Ordering::Relaxed);
                }
                async move {
                    let mut r = Response::new(Full::new(body));
                    r.headers_mut()
                        .insert("content-type", HeaderValue::from_static("text/html"));
                    if image {
                        r.headers_mut()
                            .insert("cache-control", HeaderValue::from_static("max-age=3600"));
                    }
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(s), svc)
                .await;
        });
    }
}

/// One whole response to a GET of `path` on a fresh connection, as bytes off the wire.
async fn raw_response(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nuser-agent: wrk\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "the edge closed before a whole response");
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("a content-length");
        if got.len() >= end + 4 + len {
            got.truncate(end + 4 + len);
            return got;
        }
    }
}

/// A server that answers every request on a connection with `response`, written from one
/// buffer: no allocation per request, so a client's allocations against it are its own.
async fn canned(listener: TcpListener, response: Arc<Vec<u8>>) {
    for _ in 0..1_000 {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let _ = s.set_nodelay(true);
        let response = response.clone();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(65536);
            let mut chunk = [0u8; 16384];
            loop {
                let Ok(n) = s.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..end + 4);
                    if s.write_all(&response).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// Sends `n` GETs on one keep-alive connection and reads every body.
async fn client(port: u16, path: &str, n: usize) -> usize {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(s))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut bytes = 0;
    for _ in 0..n {
        let req = Request::get(path)
            .header("host", "localhost")
            .header("user-agent", "wrk")
            .body(Empty::new())
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        bytes += resp.into_body().collect().await.unwrap().to_bytes().len();
    }
    bytes
}

/// Allocations of `n` requests from a fresh client connection to `port`.
async fn count(port: u16, path: &str, n: usize) -> (usize, usize) {
    client(port, path, WARMUP).await;
    let region = Region::new(GLOBAL);
    let bytes = client(port, path, n).await;
    let c = region.change();
    assert_eq!(bytes, n * 10240);
    (c.allocations + c.reallocations, c.bytes_allocated)
}

fn end_to_end() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ol = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_port = ol.local_addr().unwrap().port();
        let image_requests = Arc::new(AtomicUsize::new(0));
        tokio::spawn(origin(ol, image_requests.clone()));
        let cfg = edgeway_config::parse("bench.toml", &config(origin_port))
            .map_err(|e| e.to_string())
            .unwrap();
        let el = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let edge_port = el.local_addr().unwrap().port();
        let tier = CdnTier::new(
            &cfg,
            Arc::new(edgeway_http::SystemResolve),
            Vec::new(),
            edgeway_http::metrics::Metrics::new(),
        )
        .unwrap();
        let handler = tier.handler("bench", false, edge_port).unwrap();
        tokio::spawn(edgeway_http::serve(
            el,
            handler,
            edgeway_http::ServeOptions::new("bench", &cfg.limits),
            std::future::pending(),
        ));

        let (direct, direct_bytes) = count(origin_port, "/page10k.html", REQUESTS).await;
        let (via_edge, via_bytes) = count(edge_port, "/page10k.html", REQUESTS).await;
        let per = (via_edge as f64 - direct as f64) / REQUESTS as f64;
        let per_bytes = (via_bytes as f64 - direct_bytes as f64) / REQUESTS as f64;
        println!("pass-through, HTTP/1.1 keep-alive, 10 KiB, {REQUESTS} requests:");
        println!(
            "  client -> origin          {:8.1} allocations/request",
            direct as f64 / REQUESTS as f64
        );
        println!(
            "  client -> edge -> origin  {:8.1} allocations/request",
            via_edge as f64 / REQUESTS as f64
        );
        println!(
            "  the edge's own            {per:8.1} allocations/request, {:.0} bytes/request",
            per_bytes
        );

        // A cache hit: the first request fills the cache, `count`'s warm-up and count hit it.
        let hit_path = "/images/hit.bin";
        client(edge_port, hit_path, 1).await;
        let hit_response = raw_response(edge_port, hit_path).await;
        let head = String::from_utf8_lossy(&hit_response);
        assert!(head.contains("Hit from cloudfront"), "not a hit:\n{head}");
        let cl = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let canned_port = cl.local_addr().unwrap().port();
        tokio::spawn(canned(cl, Arc::new(hit_response)));
        let (alone, alone_bytes) = count(canned_port, hit_path, REQUESTS).await;
        let (hits, hit_bytes) = count(edge_port, hit_path, REQUESTS).await;
        assert_eq!(
            image_requests.load(Ordering::Relaxed),
            1,
            "every request after the first must be a hit"
        );
        let per = (hits as f64 - alone as f64) / REQUESTS as f64;
        let per_bytes = (hit_bytes as f64 - alone_bytes as f64) / REQUESTS as f64;
        println!(
            "cache hit, HTTP/1.1 keep-alive, 10 KiB, {REQUESTS} requests (origin asked once):"
        );
        println!(
            "  client -> canned response {:8.1} allocations/request",
            alone as f64 / REQUESTS as f64
        );
        println!(
            "  client -> edge            {:8.1} allocations/request",
            hits as f64 / REQUESTS as f64
        );
        println!(
            "  the edge's own            {per:8.1} allocations/hit, {:.0} bytes/hit",
            per_bytes
        );
    });
}

fn pure_functions() {
    let cfg = edgeway_config::parse("bench.toml", &config(8080))
        .map_err(|e| e.to_string())
        .unwrap();
    let d = &cfg.distributions[0];
    let ids_: Vec<&str> = d.origins.iter().map(|o| o.origin_id.as_str()).collect();
    let ordered: Vec<Behavior> = d
        .ordered_cache_behavior
        .iter()
        .map(|b| Behavior::new(&cfg, b, &ids_).unwrap())
        .collect();
    let default = Behavior::new(&cfg, &d.default_cache_behavior, &ids_).unwrap();
    let mut viewer = HeaderMap::new();
    viewer.insert("host", HeaderValue::from_static("localhost"));
    viewer.insert("user-agent", HeaderValue::from_static("wrk"));
    let mut origin_resp = HeaderMap::new();
    for (n, v) in [
        ("server", "nginx"),
        ("date", "Wed, 26 Nov 2025 04:00:00 GMT"),
        ("content-type", "text/html"),
        ("content-length", "10240"),
        ("connection", "keep-alive"),
    ] {
        origin_resp.insert(n, HeaderValue::from_static(v));
    }
    let custom: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let edge_host = ids::edge_host();
    let peer = "127.0.0.1:40000".parse().unwrap();

    println!("per-request functions (wrk-like request: Host, User-Agent):");
    let measure = |name: &str, f: &mut dyn FnMut()| {
        f();
        let region = Region::new(GLOBAL);
        f();
        let c = region.change();
        println!(
            "  {name:28} {:3} allocations",
            c.allocations + c.reallocations
        );
    };
    let mut rid = String::new();
    let mut via = String::new();
    measure("ids::request_id", &mut || rid = ids::request_id());
    measure("ids::via", &mut || {
        via = ids::via(Version::HTTP_11, &edge_host)
    });
    measure("behavior::select", &mut || {
        std::hint::black_box(behavior::select(&ordered, &default, "/page10k.html"));
    });
    let b = behavior::select(&ordered, &default, "/page10k.html");
    measure("cache_key", &mut || {
        let i = KeyInput {
            distribution: "bench",
            method: &Method::GET,
            version: Version::HTTP_11,
            path: "/page10k.html",
            query: None,
            headers: &viewer,
            host: Some("localhost"),
        };
        std::hint::black_box(cache_key(&i, b));
    });
    measure("origin_request_headers", &mut || {
        let i = OriginHeaderInput {
            method: &Method::GET,
            https: false,
            version: Version::HTTP_11,
            peer,
            viewer_host: Some("localhost"),
            tls: None,
            behavior: b,
            origin_domain: "127.0.0.1",
            custom_headers: &custom,
            via: &via,
            request_id: &rid,
        };
        std::hint::black_box(origin_request_headers(&viewer, &i));
    });
    measure("clean + stamp response", &mut || {
        let mut h = origin_resp.clone();
        clean_origin_response(&mut h, b);
        stamp_viewer_response(
            &mut h,
            &ViewerStamp {
                via: &via,
                request_id: &rid,
                pop: "LOCAL1-C1",
                x_cache: "Miss from cloudfront",
            },
        );
        std::hint::black_box(h);
    });
}

fn main() {
    // `cargo bench` passes `--bench`; with `--test` (smoke) do the same, it is quick.
    end_to_end();
    pure_functions();
}
