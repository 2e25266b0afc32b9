//! The upstream client's failure classes over real sockets: refused → Connect, a server that never
//! completes the TLS handshake → Tls (ALB answers 502), a server that never answers → Timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_http::{empty, ClientOptions, SystemResolve, UpstreamClient, UpstreamError};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        pool_idle_timeout: Duration::from_secs(5),
        pool_max_idle_per_host: 4,
        tls: edgeway_http::tls::insecure_client_config().unwrap(),
        resolver: Arc::new(SystemResolve),
    }
}

fn get(url: String) -> http::Request<edgeway_http::Body> {
    http::Request::get(url).body(empty()).unwrap()
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_a_tls_failure() {
    // Accepts TCP and then says nothing.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            kept.push(s);
        }
    });
    let c = UpstreamClient::with_handshake_timeout(options(), Duration::from_millis(300));
    let e = c
        .send(get(format!("https://{addr}/")), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::Tls(_)), "{e:?}");
    held.abort();
}

#[tokio::test]
async fn refused_and_silent_upstreams() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = l.local_addr().unwrap();
    drop(l);
    let c = UpstreamClient::new(options());
    let e = c
        .send(get(format!("http://{closed}/")), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::Connect(_)), "{e:?}");
    assert!(e.is_connect());

    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            kept.push(s);
        }
    });
    let e = c
        .send(get(format!("http://{addr}/")), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::Timeout), "{e:?}");
    held.abort();
}
