//! Test harness: tiny real targets (echo, health switch, hold, WebSocket echo) and an ALB served
//! on 127.0.0.1:0, plus a small client. No sleeps: poll with a deadline.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use edgeway_alb::AlbTier;
use edgeway_http::metrics::Metrics;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};

pub async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// A target: echoes what it saw as JSON (`/health` answers per the switch).
pub struct Target {
    pub addr: SocketAddr,
    pub name: String,
    /// Requests other than health checks.
    pub hits: Arc<AtomicUsize>,
    pub health_checks: Arc<AtomicUsize>,
    pub connections: Arc<AtomicUsize>,
    pub healthy: Arc<AtomicBool>,
    /// The headers of the last health check.
    pub last_health: Arc<Mutex<Vec<(String, String)>>>,
    /// `/hold` waits for a permit here.
    pub hold: Arc<Semaphore>,
    _stop: oneshot::Sender<()>,
}

impl Target {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    pub fn set_healthy(&self, h: bool) {
        self.healthy.store(h, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct State {
    name: String,
    hits: Arc<AtomicUsize>,
    health_checks: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    last_health: Arc<Mutex<Vec<(String, String)>>>,
    hold: Arc<Semaphore>,
}

fn json_response(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(s: State, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if req.uri().path() == "/health" {
        s.health_checks.fetch_add(1, Ordering::SeqCst);
        *s.last_health.lock().unwrap() = headers;
        let code = if s.healthy.load(Ordering::SeqCst) {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        return json_response(code, serde_json::json!({ "name": s.name }));
    }
    s.hits.fetch_add(1, Ordering::SeqCst);
    if req.uri().path() == "/hold" {
        let _permit = s.hold.acquire().await;
    }
    if req.uri().path() == "/ws" {
        let up = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = up.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        r.headers_mut()
            .insert("upgrade", http::HeaderValue::from_static("websocket"));
        r.headers_mut()
            .insert("connection", http::HeaderValue::from_static("Upgrade"));
        return r;
    }
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let version = format!("{:?}", req.version());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        map.entry(k).or_default().push(v);
    }
    let mut r = json_response(
        StatusCode::OK,
        serde_json::json!({ "name": s.name, "method": method, "uri": uri, "version": version, "headers": map, "body": String::from_utf8_lossy(&body) }),
    );
    r.headers_mut()
        .insert("x-target", http::HeaderValue::from_str(&s.name).unwrap());
    if uri.starts_with("/login") {
        r.headers_mut().insert(
            "set-cookie",
            http::HeaderValue::from_static("session=s1; Path=/"),
        );
    }
    r.headers_mut()
        .insert("keep-alive", http::HeaderValue::from_static("timeout=120"));
    r
}

pub async fn target(name: &str) -> Target {
    target_with(name, None).await
}

/// A TLS server config with a certificate from a throwaway CA.
pub fn tls_config() -> Arc<rustls::ServerConfig> {
    let ca = edgeway_http::ca::LocalCa::ephemeral().unwrap();
    let key = ca
        .issue(&["127.0.0.1".to_string(), "shop.example.com".to_string()])
        .unwrap();
    let mut sni = edgeway_http::tls::SniResolver::new();
    sni.set_default(key);
    edgeway_http::tls::server_config(sni, false, None).unwrap()
}

/// A target, over TLS when `tls` is set.
pub async fn target_with(name: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Target {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let s = State {
        name: name.to_string(),
        hits: Arc::default(),
        health_checks: Arc::default(),
        healthy: Arc::new(AtomicBool::new(true)),
        last_health: Arc::default(),
        hold: Arc::new(Semaphore::new(0)),
    };
    let connections = Arc::new(AtomicUsize::new(0));
    let t = Target {
        addr,
        name: name.to_string(),
        hits: s.hits.clone(),
        health_checks: s.health_checks.clone(),
        connections: connections.clone(),
        healthy: s.healthy.clone(),
        last_health: s.last_health.clone(),
        hold: s.hold.clone(),
        _stop: stop_tx,
    };
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut stop_rx => return,
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            };
            connections.fetch_add(1, Ordering::SeqCst);
            let s = s.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let s = s.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(s, req).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    None => {
                        let _ = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                            .await;
                    }
                    Some(acc) => {
                        if let Ok(tls) = acc.accept(stream).await {
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                                .await;
                        }
                    }
                }
            });
        }
    });
    t
}

/// An address where nothing listens (connection refused).
pub async fn refusing_addr() -> SocketAddr {
    let l = bind().await;
    l.local_addr().unwrap()
}

/// A target that accepts connections and never answers.
pub async fn silent_target() -> SocketAddr {
    let l = bind().await;
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    addr
}

/// An ALB serving the listeners of a config.
pub struct Alb {
    pub tier: AlbTier,
    pub metrics: Metrics,
    _stop: Vec<oneshot::Sender<()>>,
}

/// Parses `toml`, builds the tier and serves each `(lb, listener)` on its pre-bound socket.
pub async fn alb(toml: &str, listeners: Vec<(&str, TcpListener)>) -> Alb {
    alb_with(
        toml,
        listeners.into_iter().map(|(lb, l)| (lb, l, None)).collect(),
    )
    .await
}

/// As [`alb`], with TLS on the listeners that have a config.
pub async fn alb_with(
    toml: &str,
    listeners: Vec<(&str, TcpListener, Option<Arc<rustls::ServerConfig>>)>,
) -> Alb {
    let cfg = match edgeway_config::parse("t.toml", toml) {
        Ok(c) => c,
        Err(e) => panic!("config: {e:?}\n{toml}"),
    };
    let metrics = Metrics::new();
    let tier = AlbTier::new(&cfg, metrics.clone());
    let mut stops = Vec::new();
    for (lb, l, tls) in listeners {
        let port = l.local_addr().unwrap().port();
        let handler = tier
            .handler(lb, port)
            .unwrap_or_else(|| panic!("no listener {lb}:{port}"));
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(tx);
        let mut opts = edgeway_http::ServeOptions::new("alb", &Default::default());
        opts.tls = tls;
        tokio::spawn(edgeway_http::serve(l, handler, opts, async move {
            let _ = rx.await;
        }));
    }
    Alb {
        tier,
        metrics,
        _stop: stops,
    }
}

/// A response as the test sees it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    /// The target's name from an echo.
    pub fn name(&self) -> String {
        self.json()["name"].as_str().unwrap_or_default().to_string()
    }
    /// The first value of a header the target saw.
    pub fn seen(&self, h: &str) -> Option<String> {
        self.json()["headers"][h][0].as_str().map(str::to_string)
    }
    pub fn seen_all(&self, h: &str) -> Vec<String> {
        self.json()["headers"][h]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Sends raw bytes on a fresh connection and reads until the server closes (or `secs` pass).
pub async fn raw(addr: SocketAddr, bytes: &[u8], secs: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(secs), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The Set-Cookie values of a response whose name is `name`.
pub fn set_cookies<'a>(r: &'a Resp, name: &str) -> Vec<&'a str> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with(&format!("{name}=")))
        .collect()
}

/// `NAME=VALUE` of the first Set-Cookie for `name` (to send back as a Cookie).
pub fn cookie_pair(r: &Resp, name: &str) -> String {
    set_cookies(r, name)
        .first()
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string()
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path);
    let mut has_host = false;
    for (k, v) in headers {
        has_host |= k.eq_ignore_ascii_case("host");
        req = req.header(*k, *v);
    }
    if !has_host {
        req = req.header("host", format!("shop.example.com:{}", addr.port()));
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    collect(resp).await
}

/// One HTTPS request (any certificate accepted) with Host `shop.example.com`.
pub async fn get_tls(addr: SocketAddr, path: &str) -> Resp {
    let stream = TcpStream::connect(addr).await.unwrap();
    let connector =
        tokio_rustls::TlsConnector::from(edgeway_http::tls::insecure_client_config().unwrap());
    let name = rustls::pki_types::ServerName::try_from("shop.example.com").unwrap();
    let tls = connector.connect(name, stream).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "shop.example.com")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(sender.send_request(req).await.unwrap()).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    send(addr, "GET", path, &[]).await
}

pub async fn collect(resp: Response<Incoming>) -> Resp {
    let status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Resp {
        status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Polls `f` until it is true or `secs` pass.
pub async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One load balancer `web` whose listener forwards to group `app` = `targets`, health-checked on
/// `/health` (every 5 s, 2/2 thresholds), with `extra` lines in the group; one check round is run
/// before it returns.
pub async fn checked_lb(targets: &[&Target], extra: &str) -> (Alb, SocketAddr) {
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let list = targets
        .iter()
        .map(|t| format!("\"{}\"", t.addr))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}

[[target_group]]
name = "app"
targets = [{list}]
{extra}
[target_group.health_check]
path = "/health"
interval = 5
timeout = 2
healthy_threshold = 2
unhealthy_threshold = 2
"#
    );
    let alb = alb(&toml, vec![("web", l)]).await;
    alb.tier.check_now().await;
    (alb, ([127, 0, 0, 1], port).into())
}
