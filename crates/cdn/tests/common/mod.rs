//! Real-socket helpers for the CDN tier's tests: echo origins, a hanging origin, a resolver for
//! `origin.test`, an edge started from TOML, and small viewer clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod scripted;

use bytes::Bytes;
use edgeway_cdn::CdnTier;
use edgeway_http::ca::LocalCa;
use edgeway_http::metrics::Metrics;
use edgeway_http::tls::{server_config, SniResolver};
use edgeway_http::{full, Body, ConnInfo, Handler, Resolve, ServeOptions};
use futures_util::future::BoxFuture;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// Maps `*.test` names to 127.0.0.1; anything else does not resolve.
pub struct TestResolve;

impl Resolve for TestResolve {
    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            if let Ok(ip) = host.parse::<IpAddr>() {
                return Ok(vec![ip]);
            }
            if host.ends_with(".test") && !host.starts_with("nxdomain") {
                Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no such name {host}"),
                ))
            }
        })
    }
}

/// An origin that answers every request with what it saw, as JSON.
pub struct EchoOrigin {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

struct Echo {
    hits: Arc<AtomicUsize>,
}

impl Handler for Echo {
    fn handle(
        &self,
        req: Request<edgeway_http::RequestBody>,
        _conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let n = self.hits.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut headers = serde_json::Map::new();
            for name in parts.headers.keys() {
                let values: Vec<&str> = parts
                    .headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                headers.insert(name.as_str().to_string(), Value::String(values.join("|")));
            }
            let path = parts.uri.path().to_string();
            let seen = serde_json::json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "version": format!("{:?}", parts.version),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
                "hits": n,
            });
            let status = path
                .strip_prefix("/status/")
                .and_then(|s| s.parse::<u16>().ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let mut r = Response::new(full(seen.to_string()));
            *r.status_mut() = status;
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r.headers_mut().insert("server", "echo".parse().unwrap());
            r.headers_mut()
                .insert("set-cookie", "from=origin".parse().unwrap());
            r.headers_mut().insert("x-origin-hits", n.into());
            r
        })
    }
}

/// Starts an echo origin on 127.0.0.1:0, over TLS when `tls` is given.
pub async fn echo_origin(tls: Option<Arc<rustls::ServerConfig>>) -> EchoOrigin {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let mut opts = ServeOptions::new("origin", &Default::default());
    opts.tls = tls;
    opts.h2 = false;
    let h: Arc<dyn Handler> = Arc::new(Echo { hits: hits.clone() });
    tokio::spawn(edgeway_http::serve(
        listener,
        h,
        opts,
        std::future::pending(),
    ));
    EchoOrigin { addr, hits }
}

/// A TLS server config with a certificate from `ca` for `names`.
pub fn tls_config(ca: &LocalCa, names: &[&str], h2: bool) -> Arc<rustls::ServerConfig> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let key = ca.issue(&names).unwrap();
    let mut r = SniResolver::new();
    r.add(&names, key);
    server_config(r, h2, None).unwrap()
}

/// An origin that accepts connections and never answers; counts connections.
pub async fn hanging_origin() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    (addr, accepted)
}

/// A port nothing listens on.
pub async fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A running edge: its listeners and counters.
pub struct Edge {
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub metrics: Metrics,
    pub ca: Arc<LocalCa>,
    pub tier: CdnTier,
}

/// Binds an HTTP and an HTTPS viewer listener, writes their ports into the config with
/// `toml(http_port, https_port)`, and serves distribution `id` on both. The HTTPS listener has a
/// certificate for `www.example.com`; `ca` is trusted for origins.
pub async fn start_edge(id: &str, ca: Arc<LocalCa>, toml: impl FnOnce(u16, u16) -> String) -> Edge {
    let l_http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l_https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = l_http.local_addr().unwrap();
    let https = l_https.local_addr().unwrap();
    let src = toml(http.port(), https.port());
    let cfg = match edgeway_config::parse("t.toml", &src) {
        Ok(c) => c,
        Err(e) => panic!("{e}\n{src}"),
    };
    let metrics = Metrics::new();
    let tier = CdnTier::new(
        &cfg,
        Arc::new(TestResolve),
        vec![ca.cert_der().clone()],
        metrics.clone(),
    )
    .unwrap();
    let t = tier.clone();
    let h_http = tier.handler(id, false, http.port()).unwrap();
    let h_https = tier.handler(id, true, https.port()).unwrap();
    // The edge's listeners as edgeway's stack sets them up: CloudFront's request size limits.
    let mut opts = ServeOptions::new("cdn", &Default::default());
    opts.request_limits = Some(edgeway_http::prelude::RequestLimits::CLOUDFRONT);
    tokio::spawn(edgeway_http::serve(
        l_http,
        h_http,
        opts.clone(),
        std::future::pending(),
    ));
    opts.tls = Some(tls_config(&ca, &["www.example.com"], true));
    tokio::spawn(edgeway_http::serve(
        l_https,
        h_https,
        opts,
        std::future::pending(),
    ));
    Edge {
        http,
        https,
        metrics,
        ca,
        tier: t,
    }
}

/// What a viewer got.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// A header the origin saw (from the echo JSON).
    pub fn seen(&self, n: &str) -> Option<String> {
        self.json()["headers"][n].as_str().map(str::to_string)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

async fn collect(r: Response<Incoming>) -> Got {
    let (parts, body) = r.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Got {
        status: parts.status.as_u16(),
        version: parts.version,
        headers: parts.headers,
        body,
    }
}

/// One HTTP/1.x request on a fresh connection.
pub async fn send(addr: SocketAddr, r: Request<Full<Bytes>>) -> Got {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    collect(tx.send_request(r).await.unwrap()).await
}

/// GET `path` with `Host: host` over HTTP/1.1.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Got {
    send(addr, req("GET", path, &[("host", host)], "")).await
}

/// One HTTP/2 request with prior knowledge (h2c); the URI must be absolute.
pub async fn send_h2c(addr: SocketAddr, r: Request<Full<Bytes>>) -> Got {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    collect(tx.send_request(r).await.unwrap()).await
}

/// One request over TLS (SNI `sni`, trusting `ca`), HTTP/2 when the server picks it by ALPN.
pub async fn send_tls(addr: SocketAddr, ca: &LocalCa, sni: &str, r: Request<Full<Bytes>>) -> Got {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    if h2 {
        let (mut tx, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        collect(tx.send_request(r).await.unwrap()).await
    } else {
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        collect(tx.send_request(r).await.unwrap()).await
    }
}

/// A distribution block with one HTTP origin at `origin_port`; `extra` goes after the default
/// behavior (ordered behaviors, policies, ...), `behavior` inside the default behavior.
pub fn one_origin(
    http_port: u16,
    https_port: u16,
    origin_port: u16,
    dist: &str,
    origin: &str,
    behavior: &str,
    extra: &str,
) -> String {
    format!(
        r#"
[[distribution]]
id = "web"
listen = ["http://127.0.0.1:{http_port}", "https://127.0.0.1:{https_port}"]
aliases = ["www.example.com"]
pop = "TST1-C1"
{dist}

[[distribution.origin]]
origin_id = "o"
domain_name = "origin.test"
custom_origin_config = {{ http_port = {origin_port}, https_port = {origin_port}, origin_protocol_policy = "http-only" }}
{origin}

[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy_id = "CachingDisabled"
{behavior}
{extra}
"#
    )
}

pub fn ca() -> Arc<LocalCa> {
    Arc::new(LocalCa::ephemeral().unwrap())
}
