//! Dev-only helpers for integration and end-to-end tests: a real client (HTTP/1.1 or HTTP/2, over
//! TCP or TLS with a given CA and SNI) and polling with a deadline instead of sleeping.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

mod thread_origin;
pub use thread_origin::thread_origin;

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How to reach a server.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// TLS: (SNI name, CA certificate PEM to trust).
    pub tls: Option<(String, String)>,
    pub h2: bool,
}

impl Target {
    pub fn http(addr: SocketAddr) -> Self {
        Self {
            addr,
            tls: None,
            h2: false,
        }
    }
    pub fn https(addr: SocketAddr, sni: &str, ca_pem: &str) -> Self {
        Self {
            addr,
            tls: Some((sni.to_string(), ca_pem.to_string())),
            h2: false,
        }
    }
    pub fn h2(mut self) -> Self {
        self.h2 = true;
        self
    }
}

/// A TLS client config trusting only `ca_pem`, offering h2 and/or http/1.1.
pub fn client_tls(ca_pem: &str, h2: bool) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("CA PEM")).expect("add CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Arc::new(cfg)
}

/// Sends one request on a new connection and reads the whole response.
pub async fn send(t: &Target, req: Request<Full<Bytes>>) -> Result<Reply, String> {
    let tcp = TcpStream::connect(t.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", t.addr))?;
    let _ = tcp.set_nodelay(true);
    match &t.tls {
        None => exchange(TokioIo::new(tcp), t.h2, req).await,
        Some((sni, ca)) => {
            let connector = tokio_rustls::TlsConnector::from(client_tls(ca, t.h2));
            let name = ServerName::try_from(sni.clone()).map_err(|e| e.to_string())?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            exchange(TokioIo::new(tls), t.h2, req).await
        }
    }
}

async fn exchange<I>(io: I, h2: bool, req: Request<Full<Bytes>>) -> Result<Reply, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let resp = if h2 {
        let (mut s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        s.send_request(req).await.map_err(|e| e.to_string())?
    } else {
        let (mut s, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        s.send_request(req).await.map_err(|e| e.to_string())?
    };
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .map_err(|_| "body timed out".to_string())?
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
    })
}

/// A GET with a Host header (HTTP/1.1) or :authority (HTTP/2).
pub async fn get(t: &Target, host: &str, path: &str) -> Result<Reply, String> {
    send(t, request("GET", t, host, path)).await
}

/// Builds a request for `t`: absolute URI for HTTP/2, Host header for HTTP/1.1.
pub fn request(method: &str, t: &Target, host: &str, path: &str) -> Request<Full<Bytes>> {
    let scheme = if t.tls.is_some() { "https" } else { "http" };
    let b = Request::builder().method(method);
    let b = if t.h2 {
        b.uri(format!("{scheme}://{host}{path}"))
            .version(Version::HTTP_2)
    } else {
        b.uri(path).header("host", host)
    };
    b.body(Full::new(Bytes::new())).expect("request")
}

/// Polls `f` until it returns Some, or panics with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > end {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fresh folder under the system temp dir, removed (with what is in it) when dropped, so a
/// test leaves nothing behind whether it passes or fails. Derefs to its path.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// `<temp>/edgeway-<name>-<pid>-<n>`, empty.
    pub fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("edgeway-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create a temp folder");
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}
