//! A target's life: health switching, request counting, h2c, and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use edgeway_demo::DemoTarget;
use http::{Method, StatusCode};
use support::{eventually, h2c_get, h2c_request, Http1, Running};

#[tokio::test]
async fn health_follows_set_healthy() {
    let run = Running::start("life-1").await;
    let r = run.get("/health").await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "ok"));
    assert_eq!(r.header("x-instance-id"), "life-1");

    run.target.set_healthy(false);
    let r = run.get("/health").await;
    assert_eq!(
        (r.status, r.text()),
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    );

    run.target.set_healthy(true);
    assert_eq!(run.get("/health").await.status, StatusCode::OK);
    run.stop().await.unwrap();
}

#[tokio::test]
async fn health_switches_from_outside() {
    let run = Running::start("life-1").await;
    let r = run
        .request(Method::POST, "/_demo/health", &[], "fail")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!run.target.is_healthy());
    assert_eq!(
        run.get("/health").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let r = run
        .request(Method::POST, "/_demo/health", &[], "nonsense")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        run.get("/health").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    assert_eq!(
        run.request(Method::POST, "/_demo/health", &[], "ok\n")
            .await
            .status,
        StatusCode::OK
    );
    assert!(run.target.is_healthy());
    assert_eq!(run.get("/health").await.status, StatusCode::OK);

    let r = run.get("/_demo/health").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), "POST");
    run.stop().await.unwrap();
}

#[tokio::test]
async fn every_request_is_counted() {
    let run = Running::start("life-1").await;
    assert_eq!(run.target.requests(), 0);
    run.get("/health").await;
    run.get("/").await;
    run.get("/no/such/thing").await;
    run.request(Method::HEAD, "/images/hal.png", &[], "").await;
    assert_eq!(run.target.requests(), 4);
    // Clones share the counter.
    let clone: DemoTarget = run.target.clone();
    assert_eq!(clone.requests(), 4);
    assert_eq!(clone.id(), "life-1");
    run.stop().await.unwrap();
}

#[tokio::test]
async fn speaks_h2c_with_prior_knowledge() {
    let run = Running::start("life-h2").await;
    let r = h2c_get(run.addr, "/api/echo?via=h2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-instance-id"), "life-h2");
    let doc = r.json();
    assert_eq!(doc["version"], "HTTP/2.0");
    assert_eq!(doc["query"], "via=h2");
    assert!(doc["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "x-test" && h[1] == "h2"));

    let r = h2c_get(run.addr, "/images/watson.png").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(r.header("content-length"), r.body.len().to_string());

    let head = h2c_request(run.addr, Method::HEAD, "/images/watson.png").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), r.body.len().to_string());
    assert_eq!(head.header("etag"), r.header("etag"));
    run.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_returns_with_idle_connections_open() {
    let run = Running::start("life-1").await;
    let addr = run.addr;
    let mut idle = Http1::connect(addr).await;
    assert_eq!(
        idle.request(Method::GET, "/health", &[], "").await.status,
        StatusCode::OK
    );
    run.stop().await.unwrap();
    eventually(Duration::from_secs(5), || idle.is_closed()).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let run = Running::start("life-1").await;
    let mut conn = Http1::connect(run.addr).await;
    let in_flight =
        tokio::spawn(async move { conn.request(Method::GET, "/api/slow?ms=300", &[], "").await });
    let target = run.target.clone();
    eventually(Duration::from_secs(5), || target.requests() == 1).await;
    run.stop().await.unwrap();
    // Had shutdown cut the connection, the client task would have failed instead.
    let r = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["slept_ms"], 300);
}
