//! `serve(listener, handler, options, shutdown)`: HTTP/1.1 and HTTP/2, over TCP or TLS, with
//! limits (header size, URI length, header read timeout, connection cap) and graceful shutdown.

use crate::activity::Activity;
use crate::body::{full, Body};
use crate::prelude::{self, Replay, RequestLimits};
use crate::request_body::RequestBody;
use crate::server_conn::{self, Outcome};
use futures_util::future::BoxFuture;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// What a handler knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub tls: Option<TlsInfo>,
}

/// The TLS session of a connection.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
    /// The IANA suite name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: String,
}

impl ConnInfo {
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// A tier's request handler. The future owns what it needs (clone an `Arc` of the tier's state).
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        req: Request<RequestBody>,
        conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>>;
}

/// Boxes the future `make` builds, allocating first so that the future is built in its box.
///
/// A request's future is several KiB (the largest state of every phase it may enter) while it
/// starts as a few captured values; `Box::pin(fut)` builds it on the stack and then copies all
/// of it into the allocation. Here the allocation comes first and the optimiser writes the
/// captured values straight into it.
#[inline(always)]
pub fn boxed_future<'a, F, T>(make: impl FnOnce() -> F) -> BoxFuture<'a, T>
where
    F: std::future::Future<Output = T> + Send + 'a,
{
    let slot = Box::<F>::new_uninit();
    let fut: Box<F> = Box::write(slot, make());
    Box::into_pin(fut)
}

/// How one listener serves.
#[derive(Clone)]
pub struct ServeOptions {
    /// For logs: `cdn web https://127.0.0.1:8443`.
    pub name: String,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// How long in-flight requests get at shutdown.
    pub shutdown_grace: Duration,
    /// HTTP/2 for cleartext prior-knowledge and TLS ALPN.
    pub h2: bool,
    /// CloudFront's request size limits (413 and close), for the edge's listeners; `None`
    /// keeps the limits above.
    pub request_limits: Option<RequestLimits>,
}

impl ServeOptions {
    pub fn new(name: impl Into<String>, limits: &edgeway_config::Limits) -> Self {
        Self {
            name: name.into(),
            tls: None,
            max_header_bytes: limits.max_header_bytes,
            max_uri_bytes: limits.max_uri_bytes,
            header_read_timeout: Duration::from_secs(limits.header_read_timeout),
            max_connections: limits.max_connections,
            shutdown_grace: Duration::from_secs(limits.shutdown_grace),
            h2: true,
            request_limits: None,
        }
    }
}

impl ServeOptions {
    /// The most head bytes read before giving up on a head: room for `max_header_bytes`, and
    /// past the request limits so that they are the ones that answer.
    pub(crate) fn head_buffer(&self) -> usize {
        let past_limits = self
            .request_limits
            .map_or(0, |l| l.max_head_bytes.saturating_mul(2));
        self.max_header_bytes.max(8192).max(past_limits)
    }
}

/// The status the serving layer answers `req` with itself (CloudFront's request limits: 413; a
/// target over `max_uri_bytes`: 414), or `None` to hand it to the tier.
pub(crate) fn admit<B>(
    req: &Request<B>,
    limits: Option<RequestLimits>,
    max_uri: usize,
) -> Option<StatusCode> {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if limits.is_some_and(|l| l.exceeded_by_request(req)) {
        Some(StatusCode::PAYLOAD_TOO_LARGE)
    } else if len > max_uri {
        Some(StatusCode::URI_TOO_LONG)
    } else {
        None
    }
}

/// Whether HTTP/1.1 connections are served by hyper alone (`EDGEWAY_HTTP1_SERVER=hyper`), for
/// comparing the two in benchmarks and when chasing a protocol bug.
fn hyper_only() -> bool {
    static HYPER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HYPER.get_or_init(|| std::env::var("EDGEWAY_HTTP1_SERVER").is_ok_and(|v| v == "hyper"))
}

/// A plain response the serving layer itself gives (limits).
pub fn status_response(status: StatusCode, server: &'static str) -> Response<Body> {
    let body = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    h.insert(http::header::SERVER, http::HeaderValue::from_static(server));
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}

/// Serves `listener` until `shutdown` resolves, then stops accepting and gives in-flight
/// requests `shutdown_grace` to finish.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let acceptor = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let opts = Arc::new(opts);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(listener = %opts.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        let handler = handler.clone();
        let opts = opts.clone();
        let acceptor = acceptor.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                None => {
                    let info = Arc::new(ConnInfo {
                        peer,
                        local,
                        tls: None,
                    });
                    let Some(io) = prelude::first_head(
                        stream,
                        opts.header_read_timeout,
                        opts.head_buffer(),
                        opts.h2,
                        opts.request_limits,
                    )
                    .await
                    else {
                        return;
                    };
                    if io.is_h2_preface() {
                        serve_conn(io, true, info, handler, &opts, stop).await;
                    } else {
                        serve_http1(io, info, handler, &opts, stop).await;
                    }
                }
                Some(acc) => {
                    let hs =
                        tokio::time::timeout(opts.header_read_timeout, acc.accept(stream)).await;
                    let Ok(Ok(tls)) = hs else {
                        tracing::debug!(listener = %opts.name, %peer, "TLS handshake failed or timed out");
                        return;
                    };
                    let (_, session) = tls.get_ref();
                    let info = TlsInfo {
                        sni: session.server_name().map(str::to_string),
                        alpn: session.alpn_protocol().map(<[u8]>::to_vec),
                        version: match session.protocol_version() {
                            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                            _ => "TLSv1.3",
                        },
                        cipher: session
                            .negotiated_cipher_suite()
                            .map(|s| format!("{:?}", s.suite()))
                            .unwrap_or_default(),
                    };
                    let h2 = info.alpn.as_deref() == Some(b"h2");
                    let info = Arc::new(ConnInfo {
                        peer,
                        local,
                        tls: Some(info),
                    });
                    if h2 {
                        serve_conn(tls, true, info, handler, &opts, stop).await;
                    } else {
                        let Some(io) = prelude::first_head(
                            tls,
                            opts.header_read_timeout,
                            opts.head_buffer(),
                            false,
                            opts.request_limits,
                        )
                        .await
                        else {
                            return;
                        };
                        serve_http1(io, info, handler, &opts, stop).await;
                    }
                }
            }
        });
    }
    drop(stop_rx);
    let _ = stop_tx.send(true);
    // Every connection holds a receiver; when the last one ends, `closed` resolves.
    let _ = tokio::time::timeout(opts.shutdown_grace, stop_tx.closed()).await;
}

/// Serves an HTTP/1.x connection: edgeway's own loop for requests without content, then hyper
/// from the first request that needs it.
async fn serve_http1<I>(
    io: Replay<I>,
    info: Arc<ConnInfo>,
    handler: Arc<dyn Handler>,
    opts: &ServeOptions,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if hyper_only() {
        return serve_conn(io, false, info, handler, opts, stop).await;
    }
    match server_conn::serve(io, &info, &handler, opts, &mut stop).await {
        Outcome::Done => {}
        Outcome::Hyper(io) => serve_conn(io, false, info, handler, opts, stop).await,
    }
}

/// Serves one connection whose protocol is known (the prelude saw the HTTP/2 preface, or TLS
/// negotiated `h2`): hyper's HTTP/1.1 or HTTP/2 connection directly, without the version
/// sniffing and replay layer of hyper-util's auto builder on every read.
async fn serve_conn<I>(
    io: I,
    h2: bool,
    info: Arc<ConnInfo>,
    handler: Arc<dyn Handler>,
    opts: &ServeOptions,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_info = info.clone();
    let (limits, max_uri) = (opts.request_limits, opts.max_uri_bytes);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let fut = match admit(&req, limits, max_uri) {
            Some(status) => Err(status),
            None => Ok(handler.handle(req.map(RequestBody::from), &svc_info)),
        };
        async move {
            Ok::<_, Infallible>(match fut {
                Ok(f) => f.await,
                Err(status) => status_response(status, "edgeway"),
            })
        }
    });
    // Runs a connection until it ends, or until shutdown or `$idle` asks it to finish what it
    // has (no new requests; those in flight complete).
    macro_rules! drive {
        ($conn:expr, $idle:expr) => {{
            let conn = $conn;
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(listener = %opts.name, peer = %info.peer, error = %e, "connection ended with an error");
                    }
                }
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
                _ = $idle => {
                    tracing::debug!(listener = %opts.name, peer = %info.peer, "idle connection closed");
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }};
    }
    if h2 {
        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        b.timer(TokioTimer::new())
            .max_concurrent_streams(128)
            .max_header_list_size(u32::try_from(opts.max_header_bytes).unwrap_or(u32::MAX))
            .max_pending_accept_reset_streams(20)
            .max_local_error_reset_streams(1024);
        // HTTP/2 has no gap between request heads to time: the connection closes (GOAWAY) when
        // no byte has gone either way for the idle timeout, as ALB's idle timeout does.
        let (io, activity) = Activity::new(io);
        let idle = activity.expired(opts.header_read_timeout);
        drive!(b.serve_connection(TokioIo::new(io), service), idle);
    } else {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(opts.header_read_timeout)
            .max_buf_size(opts.head_buffer())
            .keep_alive(true);
        drive!(
            b.serve_connection(TokioIo::new(io), service)
                .with_upgrades(),
            std::future::pending::<()>()
        );
    }
}
