//! The serving layer's protection, over real sockets: URI and header limits, the header read
//! timeout, the connection cap, TLS with ALPN, and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_http::ca::LocalCa;
use edgeway_http::tls::{server_config, SniResolver};
use edgeway_http::RequestBody;
use edgeway_http::{full, serve, Body, ConnInfo, Handler, ServeOptions};
use edgeway_testkit::{eventually, get, Target};
use futures_util::future::BoxFuture;
use http::{Request, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Answers with the peer, the TLS facts, and waits `?ms=N` first; counts requests in flight.
#[derive(Default)]
struct Echo {
    inflight: Arc<AtomicUsize>,
}

impl Handler for Echo {
    fn handle(
        &self,
        req: Request<RequestBody>,
        conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let conn = conn.clone();
        let inflight = self.inflight.clone();
        inflight.fetch_add(1, Ordering::SeqCst);
        let wait = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("ms="))
            .and_then(|v| v.parse::<u64>().ok());
        Box::pin(async move {
            if let Some(ms) = wait {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            inflight.fetch_sub(1, Ordering::SeqCst);
            let sni = conn
                .tls
                .as_ref()
                .and_then(|t| t.sni.clone())
                .unwrap_or_default();
            let cipher = conn
                .tls
                .as_ref()
                .map(|t| t.cipher.clone())
                .unwrap_or_default();
            Response::new(full(format!(
                "peer={} sni={sni} version={:?} cipher={cipher}",
                conn.peer.ip(),
                req.version()
            )))
        })
    }
}

struct Server {
    addr: std::net::SocketAddr,
    inflight: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

async fn start(opts: ServeOptions) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let echo = Echo::default();
    let inflight = echo.inflight.clone();
    let done = tokio::spawn(serve(l, Arc::new(echo), opts, async move {
        let _ = rx.await;
    }));
    Server {
        addr,
        inflight,
        stop: Some(tx),
        done,
    }
}

async fn until_in_flight(s: &Server) {
    let n = s.inflight.clone();
    eventually(Duration::from_secs(5), "a request in flight", || {
        let n = n.clone();
        async move { (n.load(Ordering::SeqCst) >= 1).then_some(()) }
    })
    .await;
}

fn opts() -> ServeOptions {
    ServeOptions::new("test", &edgeway_config::Limits::default())
}

async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_long_uri_gets_414() {
    let mut o = opts();
    o.max_uri_bytes = 100;
    let s = start(o).await;
    let r = get(&Target::http(s.addr), "x", &format!("/{}", "a".repeat(200)))
        .await
        .unwrap();
    assert_eq!(r.status, 414);
    let r = get(&Target::http(s.addr), "x", "/short").await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn an_oversized_header_section_gets_431_and_a_closed_connection() {
    let mut o = opts();
    o.max_header_bytes = 8192;
    let s = start(o).await;
    let big = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    let out = raw(s.addr, big.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
}

#[tokio::test]
async fn a_malformed_request_gets_400() {
    let s = start(opts()).await;
    let out = raw(s.addr, b"GET / HTTP/1.1\r\nbad header line\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
}

#[tokio::test]
async fn a_slow_header_is_cut_off() {
    let mut o = opts();
    o.header_read_timeout = Duration::from_millis(300);
    let s = start(o).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    // Never finish the head: the server must close (with 408 or nothing) within its timeout.
    let mut out = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    assert!(
        r.is_ok(),
        "the connection stayed open past the header read timeout"
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn tls_with_sni_alpn_h2_and_the_servers_cipher_order() {
    let ca = LocalCa::ephemeral().unwrap();
    let mut r = SniResolver::new();
    r.add(&["a.test".into()], ca.issue(&["a.test".into()]).unwrap());
    r.add(
        &["*.b.test".into()],
        ca.issue(&["*.b.test".into()]).unwrap(),
    );
    let mut o = opts();
    o.tls = Some(server_config(r, true, None).unwrap());
    let s = start(o).await;
    let t = Target::https(s.addr, "a.test", ca.cert_pem());
    let reply = get(&t, "a.test", "/").await.unwrap();
    assert!(reply.text().contains("sni=a.test"), "{}", reply.text());
    // The client (rustls' default order) prefers AES-256-GCM; the listener picks by its own
    // order, AES-128-GCM first, as ALB's and CloudFront's policies do.
    assert!(
        reply.text().contains("cipher=TLS13_AES_128_GCM_SHA256"),
        "{}",
        reply.text()
    );
    let t = Target::https(s.addr, "x.b.test", ca.cert_pem()).h2();
    let reply = get(&t, "x.b.test", "/").await.unwrap();
    assert_eq!(reply.version, http::Version::HTTP_2);
    assert!(reply.text().contains("sni=x.b.test"));
    // A name no certificate covers gets the default one, which the client rejects.
    let t = Target::https(s.addr, "other.test", ca.cert_pem());
    assert!(get(&t, "other.test", "/")
        .await
        .unwrap_err()
        .contains("TLS"));
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_in_flight_requests_finish() {
    let mut s = start(opts()).await;
    let addr = s.addr;
    let slow = tokio::spawn(async move { get(&Target::http(addr), "x", "/?ms=300").await });
    until_in_flight(&s).await;
    s.stop.take().unwrap().send(()).unwrap();
    let reply = slow.await.unwrap().unwrap();
    assert_eq!(reply.status, 200, "the in-flight request finished");
    tokio::time::timeout(Duration::from_secs(5), s.done)
        .await
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn the_connection_cap_holds_extra_connections_back() {
    let mut o = opts();
    o.max_connections = 1;
    let s = start(o).await;
    let addr = s.addr;
    // The first connection holds the only slot while its request sleeps.
    let first = tokio::spawn(async move { get(&Target::http(addr), "x", "/?ms=400").await });
    until_in_flight(&s).await;
    let started = std::time::Instant::now();
    let second = get(&Target::http(addr), "x", "/").await.unwrap();
    assert_eq!(second.status, 200);
    assert!(first.await.unwrap().is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the second connection waited for a slot"
    );
}

#[tokio::test]
async fn unsupported_versions_get_505() {
    let s = start(opts()).await;
    let out = raw(s.addr, b"GET / HTTP/2.0\r\nhost: x\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 505"), "{out}");
    let out = raw(s.addr, b"GET / HTTP/1.0\r\nhost: x\r\n\r\n").await;
    assert!(
        out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
        "{out}"
    );
    // An HTTP/2 preface where HTTP/2 is off.
    let mut o = opts();
    o.h2 = false;
    let s = start(o).await;
    let out = raw(s.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 505"), "{out}");
}

#[tokio::test]
async fn pipelined_and_keep_alive_requests_still_work_after_the_first_head() {
    let s = start(opts()).await;
    let out = raw(s.addr, b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_and_requests_in_flight_finish() {
    let mut o = opts();
    o.header_read_timeout = Duration::from_millis(300);
    let s = start(o).await;
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    let get = |path: &str| {
        Request::get(format!("http://{}{path}", s.addr))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap()
    };
    // Busy for longer than the idle timeout: requests every 100 ms keep it open.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(700) {
        let r = tx.send_request(get("/busy")).await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A request whose answer takes longer than the idle timeout, with nothing on the wire
    // meanwhile: the connection is told to go away, and the answer still arrives.
    let r = tx.send_request(get("/slow?ms=800")).await.unwrap();
    assert_eq!(r.status(), 200);
    let body = http_body_util::BodyExt::collect(r.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(body.starts_with(b"peer=127.0.0.1"), "{body:?}");
    // Then, idle, the connection ends.
    tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the idle connection is closed")
        .unwrap()
        .unwrap();
}
