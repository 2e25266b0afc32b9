//! edgeway's own HTTP/1.1 viewer connection, over real sockets and read byte by byte: framing
//! (length, chunked, HEAD), HTTP/1.0 keep-alive, streamed bodies flushed as they come, a failed
//! body cutting the connection, the hand-over to hyper at the first request with content, a
//! viewer that leaves cancelling its request, and the idle timeout between requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use edgeway_http::body::boxed;
use edgeway_http::{full, serve, Body, BoxError, ConnInfo, Handler, RequestBody, ServeOptions};
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

/// A body fed through a channel: an `Err` item fails it.
struct Chan(mpsc::Receiver<Result<Bytes, String>>);

impl http_body::Body for Chan {
    type Data = Bytes;
    type Error = BoxError;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data).map_err(BoxError::from)))
    }
}

/// Counts when dropped: a request's handling that was cancelled.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct App {
    held: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
    next_chunk: Arc<Notify>,
}

impl Handler for App {
    fn handle(
        &self,
        req: Request<RequestBody>,
        _conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let cancelled = self.cancelled.clone();
        let held = self.held.clone();
        let next_chunk = self.next_chunk.clone();
        Box::pin(async move {
            match req.uri().path() {
                "/stream" => {
                    let (tx, rx) = mpsc::channel(4);
                    tokio::spawn(async move {
                        let _ = tx.send(Ok(Bytes::from_static(b"a"))).await;
                        next_chunk.notified().await;
                        let _ = tx.send(Ok(Bytes::from_static(b"bb"))).await;
                    });
                    Response::new(boxed(Chan(rx)))
                }
                "/fail" => {
                    let (tx, rx) = mpsc::channel(4);
                    let _ = tx.send(Ok(Bytes::from_static(b"part"))).await;
                    let _ = tx.send(Err("the origin went away".into())).await;
                    Response::new(boxed(Chan(rx)))
                }
                "/echo" => {
                    let n = req
                        .into_body()
                        .collect()
                        .await
                        .map_or(0, |b| b.to_bytes().len());
                    Response::new(full(format!("got {n}")))
                }
                "/hold" => {
                    let _guard = Dropped(cancelled);
                    held.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<Response<Body>>().await
                }
                _ => Response::new(full("hello")),
            }
        })
    }
}

struct Server {
    addr: std::net::SocketAddr,
    held: Arc<AtomicUsize>,
    app_cancelled: Arc<AtomicUsize>,
    next_chunk: Arc<Notify>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(opts: ServeOptions) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = App::default();
    let (held, app_cancelled, next_chunk) = (
        app.held.clone(),
        app.cancelled.clone(),
        app.next_chunk.clone(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(l, Arc::new(app), opts, async move {
        let _ = rx.await;
    }));
    Server {
        addr,
        held,
        app_cancelled,
        next_chunk,
        _stop: tx,
    }
}

fn opts() -> ServeOptions {
    ServeOptions::new("test", &edgeway_config::Limits::default())
}

/// Reads until `buf` holds `want`, the connection closes, or 5 s pass.
async fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, want: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if String::from_utf8_lossy(buf).contains(want) {
            return true;
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
}

/// Everything until the server closes (at most 5 s).
async fn rest(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The response heads in `text`, lower-cased, without their `date` lines.
fn heads(text: &str) -> Vec<String> {
    text.split("HTTP/")
        .skip(1)
        .map(|r| {
            let head = r.split("\r\n\r\n").next().unwrap_or_default();
            head.lines()
                .filter(|l| !l.starts_with("date: "))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[tokio::test]
async fn lengths_head_and_dates_on_one_kept_connection() {
    let s = start(opts()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /len HTTP/1.1\r\nHost: x\r\n\r\nHEAD /len HTTP/1.1\r\nHost: x\r\n\r\nGET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = rest(&mut c).await;
    assert_eq!(
        heads(&text),
        [
            "1.1 200 OK|content-length: 5",
            "1.1 200 OK|content-length: 5",
            "1.1 200 OK|content-length: 5|connection: close",
        ],
        "{text}"
    );
    // Bodies: two `hello`s; the HEAD response has none.
    assert_eq!(text.matches("\r\n\r\nhello").count(), 2, "{text}");
    assert_eq!(text.matches("\r\ndate: ").count(), 3, "{text}");
    let date = text
        .split("\r\ndate: ")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
}

#[tokio::test]
async fn http10_keeps_the_connection_only_when_asked() {
    let s = start(opts()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /len HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    assert!(read_until(&mut c, &mut buf, "hello").await);
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert_eq!(
        heads(&text),
        ["1.0 200 OK|content-length: 5|connection: keep-alive"],
        "{text}"
    );
    // Still open: a plain HTTP/1.0 request is answered, then the connection closes.
    c.write_all(b"GET /len HTTP/1.0\r\n\r\n").await.unwrap();
    let text = rest(&mut c).await;
    assert_eq!(heads(&text), ["1.0 200 OK|content-length: 5"], "{text}");
    assert!(text.ends_with("hello"), "{text}");
}

#[tokio::test]
async fn a_streamed_body_is_chunked_and_each_chunk_goes_out_as_it_comes() {
    let s = start(opts()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The first chunk arrives while the body has not ended.
    assert!(
        read_until(&mut c, &mut buf, "\r\n\r\n1\r\na\r\n").await,
        "{}",
        String::from_utf8_lossy(&buf)
    );
    assert!(!String::from_utf8_lossy(&buf).contains("0\r\n\r\n"));
    s.next_chunk.notify_one();
    assert!(read_until(&mut c, &mut buf, "2\r\nbb\r\n0\r\n\r\n").await);
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert_eq!(
        heads(&text),
        ["1.1 200 OK|transfer-encoding: chunked"],
        "{text}"
    );
    // The connection carries the next request.
    c.write_all(b"GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_until(&mut c, &mut buf, "hello").await);
}

#[tokio::test]
async fn a_body_that_fails_cuts_the_connection_without_a_last_chunk() {
    let s = start(opts()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let text = rest(&mut c).await;
    assert!(text.contains("\r\n\r\n4\r\npart\r\n"), "{text}");
    assert!(!text.contains("0\r\n\r\n"), "{text}");
}

#[tokio::test]
async fn hyper_takes_over_at_the_first_request_with_content() {
    let s = start(opts()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    // GET (edgeway's loop), POST with content (hyper from here), GET again (hyper), in one write.
    c.write_all(b"GET /len HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = rest(&mut c).await;
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    let hello = text.find("hello").unwrap();
    let got = text.find("got 3").unwrap();
    assert!(hello < got && text.rfind("hello").unwrap() > got, "{text}");
}

#[tokio::test]
async fn a_viewer_that_leaves_cancels_its_request() {
    let s = start(opts()).await;
    {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let held = s.held.clone();
        edgeway_testkit::eventually(Duration::from_secs(5), "the request held", || {
            let held = held.clone();
            async move { (held.load(Ordering::SeqCst) == 1).then_some(()) }
        })
        .await;
        assert_eq!(s.app_cancelled.load(Ordering::SeqCst), 0);
    }
    let n = s.app_cancelled.clone();
    edgeway_testkit::eventually(Duration::from_secs(5), "the held request cancelled", || {
        let n = n.clone();
        async move { (n.load(Ordering::SeqCst) == 1).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn an_idle_kept_connection_closes_quietly_after_the_timeout() {
    let mut o = opts();
    o.header_read_timeout = Duration::from_millis(300);
    let s = start(o).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let text = rest(&mut c).await;
    assert!(
        text.ends_with("hello"),
        "nothing after the response: {text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the idle connection stayed open"
    );
}

#[tokio::test]
async fn a_later_head_that_stalls_gets_408() {
    let mut o = opts();
    o.header_read_timeout = Duration::from_millis(300);
    let s = start(o).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    assert!(read_until(&mut c, &mut buf, "hello").await);
    c.write_all(b"GET /len HTTP/1.1\r\nHost:").await.unwrap();
    let text = rest(&mut c).await;
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.ends_with("408 Request Timeout\n"), "{text}");
}

#[tokio::test]
async fn the_first_request_may_have_content_and_hyper_serves_the_connection() {
    let s = start(opts()).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /len HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = rest(&mut c).await;
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.contains("got 5") && text.ends_with("hello"), "{text}");
}
