//! The upstream client over TLS, on real sockets: the fast path reuses one verified connection
//! (SNI from the URI's host, resolved through the client's resolver), and notices when the server
//! closes a kept connection (close_notify and FIN) while it sits in the pool.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_http::ca::LocalCa;
use edgeway_http::tls::{server_config, SniResolver};
use edgeway_http::{empty, full, serve, Body, ConnInfo, Handler, Resolve, ServeOptions};
use edgeway_http::{ClientOptions, UpstreamClient};
use edgeway_testkit::{client_tls, eventually};
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Answers with the client's port: the same port means the same connection.
struct PeerPort;

impl Handler for PeerPort {
    fn handle(
        &self,
        _req: Request<edgeway_http::RequestBody>,
        conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let port = conn.peer.port();
        Box::pin(async move { Response::new(full(port.to_string())) })
    }
}

/// Every name is 127.0.0.1.
struct Loopback;

impl Resolve for Loopback {
    fn resolve(&self, _host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async { Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]) })
    }
}

#[tokio::test]
async fn tls_connections_are_reused_and_a_server_close_is_noticed() {
    let ca = LocalCa::ephemeral().unwrap();
    let mut names = SniResolver::new();
    names.add(
        &["origin.test".into()],
        ca.issue(&["origin.test".into()]).unwrap(),
    );
    let mut o = ServeOptions::new("origin", &edgeway_config::Limits::default());
    o.tls = Some(server_config(names, false, None).unwrap());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve(l, Arc::new(PeerPort), o, async move {
        let _ = stopped.await;
    }));

    let c = UpstreamClient::new(ClientOptions {
        connect_timeout: Duration::from_secs(2),
        pool_idle_timeout: Duration::from_secs(30),
        pool_max_idle_per_host: 8,
        tls: client_tls(ca.cert_pem(), false),
        resolver: Arc::new(Loopback),
    });
    let url = format!("https://origin.test:{port}/");
    let mut ports = Vec::new();
    for _ in 0..4 {
        let req = Request::get(&url).body(empty()).unwrap();
        let resp = c.send(req, Duration::from_secs(5)).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        ports.push(String::from_utf8(body.to_vec()).unwrap());
    }
    assert!(ports.windows(2).all(|w| w[0] == w[1]), "{ports:?}");
    assert_eq!(c.connections_opened(), 1);
    assert_eq!(c.idle_connections(), 1);

    // The server shuts down and closes its idle connections: the pool lets the dead one go.
    stop.send(()).unwrap();
    served.await.unwrap();
    eventually(
        Duration::from_secs(5),
        "the closed TLS connection leaves the pool",
        || async { (c.idle_connections() == 0).then_some(()) },
    )
    .await;
}
