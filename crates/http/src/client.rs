//! Upstream clients: pooled keep-alive HTTP/1.1 (or shared HTTP/2) over TCP or TLS, names
//! resolved through a [`Resolve`] (edgeway's own DNS for origins), failures classified for
//! 502/504 mapping. A thin pool over hyper's connection API: a request on an idle connection
//! costs a lock, a pop and the send; nothing is spawned per request.

use crate::body::Body;
use crate::connect::{Connector, Stream};
use crate::pool::Pool;
use crate::upstream_body::{GiveBack, UpstreamBody};
use crate::wire;
use crate::wire_body::{poll_read_into, Home, WireBody};
use bytes::BytesMut;
use futures_util::future::BoxFuture;
use http::uri::{Authority, Parts};
use http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Resolves a host name to addresses.
pub trait Resolve: Send + Sync + 'static {
    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The system resolver (getaddrinfo through tokio).
pub struct SystemResolve;

impl Resolve for SystemResolve {
    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            if let Ok(ip) = host.parse::<IpAddr>() {
                return Ok(vec![ip]);
            }
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// How long a TLS handshake to an upstream may take after the TCP connect (ALB: 10 s, then 502).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How an upstream client connects.
#[derive(Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Idle pooled connections close after this.
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
    pub tls: Arc<rustls::ClientConfig>,
    pub resolver: Arc<dyn Resolve>,
}

/// A pooled upstream client (cheap to clone; clones share the pool).
#[derive(Clone)]
pub struct UpstreamClient {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    pool: Arc<Pool>,
    h2: bool,
    opened: AtomicU64,
}

/// Why an upstream request failed, for the tiers' status mapping.
#[derive(Debug)]
pub enum UpstreamError {
    /// The name did not resolve.
    Resolve(String),
    /// Connection refused or reset before a response (502).
    Connect(String),
    /// The TCP connect took too long (504).
    ConnectTimeout,
    /// TLS handshake or certificate failure (502).
    Tls(String),
    /// The response took too long (504).
    Timeout,
    /// The upstream closed or sent something malformed (502).
    Protocol(String),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resolve(e) => write!(f, "cannot resolve upstream: {e}"),
            Self::Connect(e) => write!(f, "cannot connect to upstream: {e}"),
            Self::ConnectTimeout => f.write_str("upstream connect timed out"),
            Self::Tls(e) => write!(f, "TLS to upstream failed: {e}"),
            Self::Timeout => f.write_str("upstream did not answer in time"),
            Self::Protocol(e) => write!(f, "upstream failed: {e}"),
        }
    }
}

impl std::error::Error for UpstreamError {}

impl UpstreamError {
    /// Whether the request never reached the upstream, so any method may be retried.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Self::Resolve(_) | Self::Connect(_) | Self::ConnectTimeout | Self::Tls(_)
        )
    }
}

/// A hyper error on an open connection: TLS when rustls is in its chain, else a protocol failure.
fn classify(e: &hyper::Error) -> UpstreamError {
    let mut chain = e.to_string();
    let mut tls = false;
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        if s.is::<rustls::Error>()
            || s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            tls = true;
        }
        src = s.source();
    }
    if tls {
        UpstreamError::Tls(chain)
    } else {
        UpstreamError::Protocol(chain)
    }
}

impl UpstreamClient {
    pub fn new(opts: ClientOptions) -> Self {
        Self::with_handshake_timeout(opts, TLS_HANDSHAKE_TIMEOUT)
    }

    /// A client whose TLS handshakes may take `handshake` after the TCP connect.
    pub fn with_handshake_timeout(opts: ClientOptions, handshake: Duration) -> Self {
        Self::build(opts, handshake, false)
    }

    /// An HTTP/2-only client: prior knowledge over TCP, ALPN `h2` over TLS (ALB target groups
    /// with `protocol_version` HTTP2 or GRPC).
    pub fn http2(opts: ClientOptions) -> Self {
        Self::build(opts, TLS_HANDSHAKE_TIMEOUT, true)
    }

    fn build(opts: ClientOptions, handshake: Duration, h2: bool) -> Self {
        let mut tls = (*opts.tls).clone();
        tls.alpn_protocols = vec![if h2 {
            b"h2".to_vec()
        } else {
            b"http/1.1".to_vec()
        }];
        let connector = Connector {
            resolver: opts.resolver,
            connect_timeout: opts.connect_timeout,
            handshake_timeout: handshake,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        };
        Self {
            inner: Arc::new(Inner {
                connector,
                pool: Pool::new(opts.pool_max_idle_per_host, opts.pool_idle_timeout),
                h2,
                opened: AtomicU64::new(0),
            }),
        }
    }

    /// Sends `req` (absolute-form URI: scheme and authority pick the connection) and waits at
    /// most `timeout` for the response head (connecting included).
    pub async fn send(
        &self,
        req: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        self.send_or_return(req, timeout, &mut None).await
    }

    /// [`UpstreamClient::send`] that puts the request in `unsent` when connecting failed and the
    /// request never left (a connect-class error): the caller may send it elsewhere without
    /// having kept a copy. A request with a body that started streaming is not handed back.
    pub async fn send_or_return(
        &self,
        req: Request<Body>,
        timeout: Duration,
        unsent: &mut Option<Request<Body>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        // As `tokio::time::timeout`, without moving the send's state (over a KiB) into the
        // timer's future and then into this one: both are pinned where they are built.
        let mut send = std::pin::pin!(self.inner.send(req, unsent));
        let mut deadline = std::pin::pin!(tokio::time::sleep(timeout));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = send.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            deadline
                .as_mut()
                .poll(cx)
                .map(|()| Err(UpstreamError::Timeout))
        })
        .await
    }

    /// Connections opened since the client was built.
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Connections kept open for reuse right now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.len()
    }
}

/// How a fast-path exchange failed.
enum Exchange {
    /// Nothing came back (the request may not have arrived).
    Unanswered(UpstreamError),
    /// The upstream answered something unusable.
    Failed(UpstreamError),
}

/// Writes the request head that `buf` holds, then reads the response head into the same buffer;
/// what follows the response head stays in `buf`.
async fn exchange(
    io: &mut Stream,
    buf: &mut BytesMut,
    method: &Method,
    reuse: &mut http::HeaderMap,
) -> Result<wire::Head, Exchange> {
    let sent = async {
        let mut from = 0;
        // On a cleartext connection the head goes out with the turn's other upstream writes,
        // in one submission (crates/uring); what the kernel did not take is written below.
        if let Stream::Plain(tcp) = &*io {
            if let Some(queued) = edgeway_uring::send(tcp.as_fd(), buf) {
                match queued.await {
                    Ok(n) => from = n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
        io.write_all(&buf[from..]).await?;
        io.flush().await
    };
    let sent = sent.await;
    buf.clear();
    if let Err(e) = sent {
        return Err(Exchange::Unanswered(UpstreamError::Protocol(format!(
            "cannot send the request: {e}"
        ))));
    }
    loop {
        let n = std::future::poll_fn(|cx| poll_read_into(io, cx, buf, 4 * 1024)).await;
        match n {
            Ok(0) | Err(_) if buf.is_empty() => {
                let why = match n {
                    Err(e) => e.to_string(),
                    Ok(_) => "connection closed".into(),
                };
                return Err(Exchange::Unanswered(UpstreamError::Protocol(format!(
                    "the upstream closed without a response: {why}"
                ))));
            }
            Ok(0) => {
                return Err(Exchange::Failed(UpstreamError::Protocol(
                    "the upstream closed in the middle of the response head".into(),
                )))
            }
            Err(e) => return Err(Exchange::Failed(UpstreamError::Protocol(e.to_string()))),
            Ok(_) => {}
        }
        match wire::parse_head(buf, method, reuse) {
            Ok(Some(h)) => return Ok(h),
            Ok(None) => {}
            Err(e) => return Err(Exchange::Failed(UpstreamError::Protocol(e))),
        }
    }
}

/// The request target in origin form (`/path?query`), as HTTP/1.1 sends it to an origin server.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) if pq.as_str() != "/" => {
            let mut parts = Parts::default();
            parts.path_and_query = Some(pq.clone());
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    }
}

/// The Host value for a URI's authority: the port only when it is not the scheme's default.
fn host_value(https: bool, auth: &Authority) -> Option<HeaderValue> {
    match auth.port_u16() {
        Some(p) if p != if https { 443 } else { 80 } => HeaderValue::from_str(auth.as_str()).ok(),
        _ => HeaderValue::from_str(auth.host()).ok(),
    }
}

impl Inner {
    async fn send(
        &self,
        req: Request<Body>,
        unsent: &mut Option<Request<Body>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let https = match req.uri().scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(UpstreamError::Protocol(format!(
                    "unsupported upstream scheme {other:?}"
                )))
            }
        };
        let Some(auth) = req.uri().authority().cloned() else {
            return Err(UpstreamError::Protocol(
                "the upstream URI has no authority".into(),
            ));
        };
        // Only the fast path sits inside this future; the others (and connecting) are boxed so
        // that their larger state is not moved with every request.
        if self.h2 {
            return Box::pin(self.send_h2(https, auth, req, unsent)).await;
        }
        // Without a body to stream alongside, and without an upgrade to hand over, a request
        // takes the fast path: written and read inline by the requesting task.
        if http_body::Body::is_end_stream(req.body())
            && req.method() != Method::CONNECT
            && !crate::headers::is_upgrade(req.headers())
        {
            return self.send_wire(https, auth, req, unsent).await;
        }
        Box::pin(self.send_hyper(https, auth, req, unsent)).await
    }

    /// A request with a body (or an upgrade) over hyper's HTTP/1.1 client connection.
    async fn send_hyper(
        &self,
        https: bool,
        auth: Authority,
        mut req: Request<Body>,
        unsent: &mut Option<Request<Body>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        if !req.headers().contains_key(header::HOST) {
            if let Some(v) = host_value(https, &auth) {
                req.headers_mut().insert(header::HOST, v);
            }
        }
        *req.uri_mut() = origin_form(req.uri());
        loop {
            let (mut sender, reused) = match self.pool.take_h1(https, &auth) {
                Some(s) => (s, true),
                None => match self.connect_h1(https, &auth).await {
                    Ok(s) => (s, false),
                    Err(e) => {
                        *unsent = Some(req);
                        return Err(e);
                    }
                },
            };
            if reused && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let give_back =
                        (resp.status() != StatusCode::SWITCHING_PROTOCOLS).then(|| GiveBack {
                            pool: self.pool.clone(),
                            https,
                            auth,
                            sender,
                        });
                    return Ok(resp.map(|b| UpstreamBody::new(b, give_back)));
                }
                Err(mut e) => match e.take_message() {
                    // A kept connection closed before the request went out: try the next one.
                    Some(r) if reused => req = r,
                    _ => return Err(classify(e.error())),
                },
            }
        }
    }

    async fn send_wire(
        &self,
        https: bool,
        auth: Authority,
        req: Request<Body>,
        unsent: &mut Option<Request<Body>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let (mut parts, body) = req.into_parts();
        let host = if parts.headers.contains_key(header::HOST) {
            None
        } else {
            host_value(https, &auth)
        };
        let keep =
            self.pool.keeps() && !wire::has_token(&parts.headers, &header::CONNECTION, "close");
        loop {
            let (mut io, mut buf, reused) = match self.pool.take_wire(https, &auth) {
                Some((s, buf)) => (s, buf, true),
                None => match Box::pin(self.connector.connect(https, &auth)).await {
                    Ok(s) => {
                        self.opened.fetch_add(1, Ordering::Relaxed);
                        (s, BytesMut::new(), false)
                    }
                    // Nothing went out: the request goes back as it came.
                    Err(e) => {
                        *unsent = Some(Request::from_parts(parts, body));
                        return Err(e);
                    }
                },
            };
            // Room for a head and a small body in one read; a kept buffer whose earlier slices
            // are all gone is reused in place. The request head is written from it first.
            buf.clear();
            buf.reserve(16 * 1024);
            wire::encode_request(&parts, host.as_ref(), &mut buf);
            // Once the response head is parsed the request's header map holds its fields (the
            // request cannot be sent again by then: something came back).
            match exchange(&mut io, &mut buf, &parts.method, &mut parts.headers).await {
                Ok(h) => {
                    let home = (keep && h.keep_alive).then(|| Home {
                        pool: self.pool.clone(),
                        https,
                        auth,
                    });
                    let body = WireBody::new(io, buf, h.framing, home);
                    return Ok(Response::from_parts(h.parts, UpstreamBody::wire(body)));
                }
                // A kept connection the upstream had closed: an idempotent request goes again
                // on another (RFC 9112 §9.3.1).
                Err(Exchange::Unanswered(_)) if reused && parts.method.is_idempotent() => {}
                Err(Exchange::Unanswered(e) | Exchange::Failed(e)) => return Err(e),
            }
        }
    }

    async fn connect_h1(
        &self,
        https: bool,
        auth: &Authority,
    ) -> Result<http1::SendRequest<Body>, UpstreamError> {
        let io = self.connector.connect(https, auth).await?;
        let (sender, conn) = http1::Builder::new()
            .handshake::<_, Body>(TokioIo::new(io))
            .await
            .map_err(|e| classify(&e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }

    async fn send_h2(
        &self,
        https: bool,
        auth: Authority,
        req: Request<Body>,
        unsent: &mut Option<Request<Body>>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let mut sender = match self.pool.take_h2(https, &auth) {
            Some(s) => s,
            None => match self.connect_h2(https, &auth).await {
                Ok(s) => {
                    self.pool.put_h2(https, auth, &s);
                    s
                }
                Err(e) => {
                    *unsent = Some(req);
                    return Err(e);
                }
            },
        };
        sender.ready().await.map_err(|e| classify(&e))?;
        match sender.send_request(req).await {
            Ok(resp) => Ok(resp.map(|b| UpstreamBody::new(b, None))),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn connect_h2(
        &self,
        https: bool,
        auth: &Authority,
    ) -> Result<http2::SendRequest<Body>, UpstreamError> {
        let io: Stream = self.connector.connect(https, auth).await?;
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake::<_, Body>(TokioIo::new(io))
            .await
            .map_err(|e| classify(&e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream HTTP/2 connection ended");
            }
        });
        Ok(sender)
    }
}
