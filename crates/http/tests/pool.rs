//! The upstream client's pool over real sockets: kept connections are reused, a half-read body
//! never puts its connection back, connections the server closed are skipped, idle ones are
//! closed after the idle timeout, HTTP/1.1 gets the Host and origin-form target it needs, and
//! HTTP/2 requests share one connection; a turn's requests on kept connections leave in one
//! io_uring submission.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use edgeway_http::{empty, ClientOptions, SystemResolve, UpstreamClient};
use edgeway_testkit::eventually;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn options(idle: Duration) -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        pool_idle_timeout: idle,
        pool_max_idle_per_host: 8,
        tls: edgeway_http::tls::insecure_client_config().unwrap(),
        resolver: Arc::new(SystemResolve),
    }
}

/// A server answering `conn=<n> host=<Host> target=<request target>`; `/big` answers 256 KiB.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

async fn server(h2: bool) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| async move {
                let body = if req.uri().path() == "/big" {
                    Bytes::from(vec![b'x'; 256 * 1024])
                } else {
                    let host = req
                        .headers()
                        .get(http::header::HOST)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string();
                    Bytes::from(format!("conn={n} host={host} target={}", req.uri()))
                };
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(body)))
            });
            tokio::spawn(async move {
                let io = TokioIo::new(s);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                }
            });
        }
    });
    Server { addr, accepted }
}

async fn text(c: &UpstreamClient, url: String) -> String {
    let resp = c
        .send(
            Request::get(url).body(empty()).unwrap(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn kept_connections_are_reused_with_host_and_origin_form() {
    let s = server(false).await;
    let c = UpstreamClient::new(options(Duration::from_secs(30)));
    for i in 0..5 {
        let got = text(&c, format!("http://{}/p/{i}?q=1", s.addr)).await;
        assert_eq!(
            got,
            format!("conn=1 host={} target=/p/{i}?q=1", s.addr),
            "request {i}"
        );
    }
    assert_eq!(c.connections_opened(), 1);
    assert_eq!(s.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(c.idle_connections(), 1);
}

#[tokio::test]
async fn a_half_read_body_does_not_go_back_to_the_pool() {
    let s = server(false).await;
    let c = UpstreamClient::new(options(Duration::from_secs(30)));
    let mut resp = c
        .send(
            Request::get(format!("http://{}/big", s.addr))
                .body(empty())
                .unwrap(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let first = resp.body_mut().frame().await.unwrap().unwrap();
    assert!(first.data_ref().is_some_and(|d| !d.is_empty()));
    drop(resp);
    assert_eq!(c.idle_connections(), 0);
    // The next request gets a new connection and a whole, correct answer.
    let got = text(&c, format!("http://{}/after", s.addr)).await;
    assert_eq!(got, format!("conn=2 host={} target=/after", s.addr));
    // A body read to its end returns its connection.
    assert_eq!(
        text(&c, format!("http://{}/big", s.addr)).await.len(),
        256 * 1024
    );
    let got = text(&c, format!("http://{}/again", s.addr)).await;
    assert!(got.starts_with("conn=2 "), "{got}");
    assert_eq!(c.connections_opened(), 2);
}

#[tokio::test]
async fn connections_the_server_closed_are_skipped() {
    // Answers one request per connection, then closes it without saying so.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    let c = UpstreamClient::new(options(Duration::from_secs(30)));
    assert_eq!(text(&c, format!("http://{addr}/1")).await, "ok");
    eventually(
        Duration::from_secs(5),
        "the closed connection leaves the pool",
        || async { (c.idle_connections() == 0).then_some(()) },
    )
    .await;
    assert_eq!(text(&c, format!("http://{addr}/2")).await, "ok");
    assert_eq!(c.connections_opened(), 2);
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    let s = server(false).await;
    let c = UpstreamClient::new(options(Duration::from_millis(200)));
    text(&c, format!("http://{}/", s.addr)).await;
    assert_eq!(c.idle_connections(), 1);
    eventually(
        Duration::from_secs(5),
        "the idle connection is closed",
        || async { (c.idle_connections() == 0).then_some(()) },
    )
    .await;
    let got = text(&c, format!("http://{}/", s.addr)).await;
    assert!(got.starts_with("conn=2 "), "{got}");
}

#[tokio::test]
async fn http2_requests_share_one_connection() {
    let s = server(true).await;
    let c = UpstreamClient::http2(options(Duration::from_secs(30)));
    let first = text(&c, format!("http://{}/one", s.addr)).await;
    assert!(first.starts_with("conn=1 "), "{first}");
    let mut all = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        let url = format!("http://{}/many/{i}", s.addr);
        all.push(tokio::spawn(async move { text(&c, url).await }));
    }
    for (i, t) in all.into_iter().enumerate() {
        let got = t.await.unwrap();
        assert!(got.starts_with("conn=1 "), "{i}: {got}");
    }
    assert_eq!(c.connections_opened(), 1);
    assert_eq!(s.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_turn_of_requests_on_kept_connections_leaves_in_one_submission() {
    let s = server(false).await;
    let c = UpstreamClient::new(options(Duration::from_secs(30)));
    let burst = || {
        futures_util::future::join_all(
            (0..8).map(|i| text(&c, format!("http://{}/burst/{i}", s.addr))),
        )
    };
    // The first burst opens the connections; the second finds them kept.
    burst().await;
    assert_eq!(c.connections_opened(), 8);
    let before = edgeway_uring::counts();
    let got = burst().await;
    let after = edgeway_uring::counts();
    for (i, g) in got.iter().enumerate() {
        assert!(g.ends_with(&format!("target=/burst/{i}")), "{g}");
    }
    assert_eq!(c.connections_opened(), 8);
    assert_eq!(after.writes - before.writes, 8, "{before:?} {after:?}");
    assert_eq!(
        after.submissions - before.submissions,
        1,
        "{before:?} {after:?}"
    );
}
