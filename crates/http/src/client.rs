//! Upstream clients: pooled keep-alive HTTP/1.1 over TCP or TLS, names resolved through a
//! [`Resolve`] (edgeway's own DNS for origins), failures classified for 502/504 mapping.

use crate::body::Body;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

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

/// Adapts a [`Resolve`] to hyper-util's resolver service.
#[derive(Clone)]
pub struct DynResolver(pub Arc<dyn Resolve>);

impl tower_service::Service<Name> for DynResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, std::io::Result<Self::Response>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let r = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = r.resolve(host.clone()).await?;
            if ips.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no address for {host}"),
                ));
            }
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect::<Vec<_>>()
                .into_iter())
        })
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector<DynResolver>>;
type Connector = Bounded;

/// How long a TLS handshake to an upstream may take after the TCP connect (ALB: 10 s, then 502).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS handshake to an upstream did not finish in time.
#[derive(Debug)]
pub struct HandshakeTimeout;

impl std::fmt::Display for HandshakeTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TLS handshake timed out")
    }
}

impl std::error::Error for HandshakeTimeout {}

/// The HTTPS connector with the whole connect (TCP, then TLS) bounded: the TCP part by the
/// connector's own connect timeout, the rest by [`TLS_HANDSHAKE_TIMEOUT`].
#[derive(Clone)]
pub struct Bounded {
    inner: Https,
    limit: Duration,
}

impl tower_service::Service<http::Uri> for Bounded {
    type Response = <Https as tower_service::Service<http::Uri>>::Response;
    type Error = crate::BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let fut = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, fut).await {
                Ok(r) => r,
                Err(_) => Err(Box::new(HandshakeTimeout) as crate::BoxError),
            }
        })
    }
}

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

/// A pooled upstream client (cheap to clone).
#[derive(Clone)]
pub struct UpstreamClient {
    inner: Client<Connector, Body>,
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

fn classify(e: &hyper_util::client::legacy::Error) -> UpstreamError {
    let mut chain = String::new();
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut io_kind = None;
    let mut tls = false;
    while let Some(s) = src {
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                tls = true;
            }
        }
        if s.is::<rustls::Error>() || s.is::<HandshakeTimeout>() {
            tls = true;
        }
        src = s.source();
    }
    if chain.is_empty() {
        chain = e.to_string();
    }
    let lower = chain.to_ascii_lowercase();
    if tls
        || lower.contains("certificate")
        || lower.contains("handshake")
        || lower.contains("peer sent")
        || lower.contains("received fatal alert")
        || lower.contains("tls")
    {
        return UpstreamError::Tls(chain);
    }
    if e.is_connect() {
        return match io_kind {
            Some(std::io::ErrorKind::TimedOut) => UpstreamError::ConnectTimeout,
            Some(std::io::ErrorKind::NotFound) => UpstreamError::Resolve(chain),
            _ if chain.contains("timed out") || chain.contains("timeout") => {
                UpstreamError::ConnectTimeout
            }
            _ if chain.contains("dns error") || chain.contains("resolve") => {
                UpstreamError::Resolve(chain)
            }
            _ => UpstreamError::Connect(chain),
        };
    }
    UpstreamError::Protocol(chain)
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
        let mut http = HttpConnector::new_with_resolver(DynResolver(opts.resolver.clone()));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(opts.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let https = if h2 {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config((*opts.tls).clone())
                .https_or_http()
                .enable_http2()
                .wrap_connector(http)
        } else {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config((*opts.tls).clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(http)
        };
        let https = Bounded {
            inner: https,
            limit: opts.connect_timeout + handshake,
        };
        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(opts.pool_idle_timeout)
            .pool_max_idle_per_host(opts.pool_max_idle_per_host)
            .http1_preserve_header_case(false)
            .http2_only(h2)
            .build(https);
        Self { inner }
    }

    /// Sends `req` (absolute-form URI: scheme and authority pick the connection) and waits at
    /// most `timeout` for the response head.
    pub async fn send(
        &self,
        req: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match tokio::time::timeout(timeout, self.inner.request(req)).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(r)) => Ok(r),
        }
    }
}
