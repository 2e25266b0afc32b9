//! Delivery while storing, over real sockets with a raw-TCP origin: the viewer gets the first
//! bytes of a miss before the origin has sent the rest (the body is not gathered first), the
//! stored copy is whole; an origin body cut short is never stored and the viewer's response
//! ends in an error, not in a short "complete" body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{ca, start_edge, Edge};
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How long any single step may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

type Script = Arc<dyn Fn(usize, String, TcpStream) -> BoxFuture<'static, ()> + Send + Sync>;

/// An origin that reads each request head and hands the connection to `script` with the
/// request's number (from 1) and path; counts requests.
async fn raw_origin(script: Script) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (h, script) = (h.clone(), script.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let path = line.split(' ').nth(1).unwrap_or("/").to_string();
                let n = h.fetch_add(1, Ordering::SeqCst) + 1;
                script(n, path, s).await;
            });
        }
    });
    (addr, hits)
}

fn config(http: u16, https: u16, origin: u16) -> String {
    format!(
        r#"
[[distribution]]
id = "web"
listen = ["http://127.0.0.1:{http}", "https://127.0.0.1:{https}"]
aliases = ["www.example.com"]

[[distribution.origin]]
origin_id = "o"
domain_name = "origin.test"
connection_attempts = 1
custom_origin_config = {{ http_port = {origin}, https_port = {origin}, origin_protocol_policy = "http-only", origin_read_timeout = 30 }}

[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
"#
    )
}

async fn edge(origin: SocketAddr) -> Edge {
    start_edge("web", ca(), move |h, s| config(h, s, origin.port())).await
}

/// Sends GET `path` and returns the response head with its body still streaming.
async fn open(e: &Edge, path: &str) -> hyper::Response<Incoming> {
    let stream = TcpStream::connect(e.http).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", "www.example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    tokio::time::timeout(DEADLINE, tx.send_request(req))
        .await
        .expect("response head in time")
        .unwrap()
}

fn head(len: usize, extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {len}\r\ncache-control: max-age=600\r\nconnection: close\r\n{extra}\r\n")
}

#[tokio::test]
async fn the_viewer_gets_the_first_bytes_before_the_origin_sends_the_rest() {
    const HALF: usize = 32 * 1024;
    let release = Arc::new(Notify::new());
    let r = release.clone();
    let script: Script = Arc::new(move |n, _path, mut s| {
        let r = r.clone();
        Box::pin(async move {
            let _ = s.write_all(head(2 * HALF, "").as_bytes()).await;
            let _ = s.write_all(&[b'a'; HALF]).await;
            let _ = s.flush().await;
            // The first request holds the rest back until the test has seen the first half.
            if n == 1 {
                r.notified().await;
            }
            let _ = s.write_all(&[b'b'; HALF]).await;
            let _ = s.shutdown().await;
        })
    });
    let (origin, hits) = raw_origin(script).await;
    let e = edge(origin).await;

    let resp = open(&e, "/big.bin").await;
    assert_eq!(
        (
            resp.status().as_u16(),
            resp.headers()["x-cache"].to_str().unwrap()
        ),
        (200, "Miss from cloudfront")
    );
    let mut body = resp.into_body();
    let mut got = Vec::new();
    // The first half arrives while the origin is still holding the second back.
    while got.len() < HALF {
        let frame = tokio::time::timeout(DEADLINE, body.frame())
            .await
            .expect("the first chunk reaches the viewer before the rest is sent");
        let frame = frame.expect("the body goes on").expect("no error");
        if let Some(d) = frame.data_ref() {
            got.extend_from_slice(d);
        }
    }
    assert!(
        got.iter().all(|b| *b == b'a'),
        "only the first half has been sent"
    );
    release.notify_one();
    let rest = tokio::time::timeout(DEADLINE, body.collect())
        .await
        .expect("the rest in time")
        .unwrap()
        .to_bytes();
    got.extend_from_slice(&rest);
    assert_eq!(got.len(), 2 * HALF);
    assert!(got[HALF..].iter().all(|b| *b == b'b'));

    // Stored whole while it streamed: the next request is a hit with the full body.
    let hit = open(&e, "/big.bin").await;
    assert_eq!(hit.headers()["x-cache"], "Hit from cloudfront");
    let hit = tokio::time::timeout(DEADLINE, hit.into_body().collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(&hit[..], &got[..]);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_truncated_origin_body_is_never_stored_and_the_viewer_sees_an_error() {
    const FULL: usize = 4000;
    // Each path is asked twice in a row: the first answer is cut short, the second is whole.
    let script: Script = Arc::new(move |n, path, mut s| {
        Box::pin(async move {
            let first = n % 2 == 1;
            match (path.starts_with("/length"), first) {
                // Content-Length larger than what is sent, then the connection closes.
                (true, true) => {
                    let _ = s.write_all(head(FULL, "").as_bytes()).await;
                    let _ = s.write_all(&[b'x'; FULL / 2]).await;
                }
                // A chunked body without its last chunk.
                (false, true) => {
                    let h = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\ncache-control: max-age=600\r\nconnection: close\r\n\r\n";
                    let _ = s.write_all(h.as_bytes()).await;
                    let _ = s
                        .write_all(
                            format!("{:x}\r\n{}\r\n", FULL / 2, "x".repeat(FULL / 2)).as_bytes(),
                        )
                        .await;
                }
                (_, false) => {
                    let _ = s.write_all(head(FULL, "").as_bytes()).await;
                    let _ = s.write_all(&[b'x'; FULL]).await;
                }
            }
            let _ = s.flush().await;
            let _ = s.shutdown().await;
        })
    });
    let (origin, hits) = raw_origin(script).await;
    let e = edge(origin).await;
    for path in ["/length.bin", "/chunked.bin"] {
        let before = hits.load(Ordering::SeqCst);
        let cut = open(&e, path).await;
        assert_eq!(cut.headers()["x-cache"], "Miss from cloudfront", "{path}");
        let body = tokio::time::timeout(DEADLINE, cut.into_body().collect())
            .await
            .expect("the body ends in time");
        assert!(
            body.is_err(),
            "{path}: a cut body must end in an error, not as a short complete body: {:?}",
            body.map(|b| b.to_bytes().len())
        );
        // Not stored: the next request goes to the origin again.
        let again = open(&e, path).await;
        assert_eq!(
            again.headers()["x-cache"],
            "Miss from cloudfront",
            "{path}: the truncated body was stored"
        );
        let _ = tokio::time::timeout(DEADLINE, again.into_body().collect()).await;
        assert_eq!(hits.load(Ordering::SeqCst) - before, 2, "{path}");
    }
}
