//! The upstream fast path against scripted HTTP/1.1 servers on real sockets: every way a response
//! body can be framed, cut-short bodies as errors, the retry of an idempotent request whose kept
//! connection the server closed, and requests with bodies going through hyper on pooled
//! connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use edgeway_http::{empty, full, ClientOptions, SystemResolve, UpstreamClient, UpstreamError};
use http::{Method, Request};
use http_body_util::BodyExt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn client() -> UpstreamClient {
    UpstreamClient::new(ClientOptions {
        connect_timeout: Duration::from_secs(2),
        pool_idle_timeout: Duration::from_secs(30),
        pool_max_idle_per_host: 8,
        tls: edgeway_http::tls::insecure_client_config().unwrap(),
        resolver: Arc::new(SystemResolve),
    })
}

/// What the server does with request `n` (1-based, per connection) of connection `conn`;
/// returns false to close the connection.
type Script = Arc<
    dyn Fn(usize, usize, String, &mut TcpStream) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>
        + Send
        + Sync,
>;

/// Reads one request head (and a body of `Content-Length` bytes); returns its request line.
async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => got.push(b[0]),
        }
    }
    let text = String::from_utf8_lossy(&got).to_string();
    let len = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.ok()?;
    text.lines().next().map(str::to_string)
}

async fn scripted(script: Script) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let count = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let conn = count.fetch_add(1, Ordering::SeqCst) + 1;
            let script = script.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while let Some(line) = read_request(&mut s).await {
                    n += 1;
                    if !script(conn, n, line, &mut s).await {
                        return;
                    }
                }
            });
        }
    });
    (addr, conns)
}

async fn send(c: &UpstreamClient, method: Method, url: String) -> Result<(u16, Bytes), String> {
    let body = if method == Method::POST {
        full("abc")
    } else {
        empty()
    };
    let req = Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .unwrap();
    let resp = c
        .send(req, Duration::from_secs(5))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok((status, body.to_bytes()))
}

#[tokio::test]
async fn chunked_close_delimited_and_head_responses() {
    let script: Script = Arc::new(|conn, _n, line, s| {
        Box::pin(async move {
            let reply: String = if line.starts_with("GET /chunked") {
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\nconn\r\n3\r\n=ok\r\n0\r\nx-trailer: t\r\n\r\n".into()
            } else if line.starts_with("GET /until-close") {
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\n\r\nuntil close on {conn}").as_bytes())
                    .await;
                return false;
            } else if line.starts_with("HEAD") {
                "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n".into()
            } else {
                format!("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nconn={conn}")
            };
            s.write_all(reply.as_bytes()).await.is_ok()
        })
    });
    let (addr, conns) = scripted(script).await;
    let c = client();
    let url = |p: &str| format!("http://{addr}{p}");
    assert_eq!(
        send(&c, Method::GET, url("/chunked")).await.unwrap(),
        (200, Bytes::from("conn=ok"))
    );
    assert_eq!(
        send(&c, Method::HEAD, url("/head")).await.unwrap(),
        (200, Bytes::new())
    );
    assert_eq!(
        send(&c, Method::GET, url("/plain")).await.unwrap(),
        (200, Bytes::from("conn=1"))
    );
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "chunked and HEAD responses keep the connection"
    );
    assert_eq!(
        send(&c, Method::GET, url("/until-close")).await.unwrap(),
        (200, Bytes::from("until close on 1"))
    );
    assert_eq!(
        send(&c, Method::GET, url("/plain")).await.unwrap(),
        (200, Bytes::from("conn=2"))
    );
    assert_eq!(c.connections_opened(), 2);
}

#[tokio::test]
async fn cut_short_and_malformed_bodies_are_errors() {
    let script: Script = Arc::new(|_conn, _n, line, s| {
        Box::pin(async move {
            let reply = if line.starts_with("GET /short") {
                "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345"
            } else if line.starts_with("GET /no-last-chunk") {
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n"
            } else if line.starts_with("GET /bad-chunk") {
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"
            };
            let _ = s.write_all(reply.as_bytes()).await;
            false
        })
    });
    let (addr, _) = scripted(script).await;
    let c = client();
    for p in ["/short", "/no-last-chunk", "/bad-chunk"] {
        let e = send(&c, Method::GET, format!("http://{addr}{p}"))
            .await
            .unwrap_err();
        assert!(e.starts_with("body: "), "{p}: {e}");
    }
    let req = Request::get(format!("http://{addr}/two-lengths"))
        .body(empty())
        .unwrap();
    let e = c.send(req, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, UpstreamError::Protocol(_)), "{e:?}");
    assert_eq!(c.idle_connections(), 0);
}

#[tokio::test]
async fn a_kept_connection_closed_under_a_request_is_retried_only_when_idempotent() {
    // Each connection answers its first request and closes on the second without answering.
    let script: Script = Arc::new(|conn, n, _line, s| {
        Box::pin(async move {
            if n > 1 {
                return false;
            }
            let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nconn={conn}");
            s.write_all(reply.as_bytes()).await.is_ok()
        })
    });
    let (addr, conns) = scripted(script).await;
    let c = client();
    let url = format!("http://{addr}/");
    assert_eq!(
        send(&c, Method::GET, url.clone()).await.unwrap().1,
        "conn=1"
    );
    // The kept connection is taken, the server closes it: the GET goes again on a new one.
    assert_eq!(
        send(&c, Method::GET, url.clone()).await.unwrap().1,
        "conn=2"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // A POST without a body (non-idempotent) is not sent twice.
    let req = Request::post(url).body(empty()).unwrap();
    let e = c.send(req, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(e, UpstreamError::Protocol(_)), "{e:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn requests_with_bodies_are_pooled_too() {
    let script: Script = Arc::new(|conn, _n, line, s| {
        Box::pin(async move {
            let text = format!("{conn} {line}");
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}",
                text.len()
            );
            s.write_all(reply.as_bytes()).await.is_ok()
        })
    });
    let (addr, conns) = scripted(script).await;
    let c = client();
    for i in 0..3 {
        let (status, body) = send(&c, Method::POST, format!("http://{addr}/p{i}"))
            .await
            .unwrap();
        assert_eq!(
            (status, body),
            (200, Bytes::from(format!("1 POST /p{i} HTTP/1.1")))
        );
    }
    let (_, body) = send(&c, Method::GET, format!("http://{addr}/g"))
        .await
        .unwrap();
    assert_eq!(
        body,
        Bytes::from("2 GET /g HTTP/1.1"),
        "the fast path keeps its own connections"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}
