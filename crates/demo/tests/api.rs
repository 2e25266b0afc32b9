//! `/api/*` over real sockets: echo, slow and status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;
use support::{Http1, Running};

#[tokio::test]
async fn echo_reports_the_request_as_received() {
    let run = Running::start("api-1").await;
    let mut conn = Http1::connect(run.addr).await;
    let r = conn
        .request(
            Method::GET,
            "/api/echo?color=blue&size=9",
            &[
                ("x-trace", "one"),
                ("accept", "application/json"),
                ("x-trace", "two"),
                ("cookie", "a=1"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.header("x-instance-id"), "api-1");
    assert_eq!(r.header("content-length"), r.body.len().to_string());
    let doc = r.json();
    assert_eq!(doc["instance"], "api-1");
    assert_eq!(doc["method"], "GET");
    assert_eq!(doc["path"], "/api/echo");
    assert_eq!(doc["query"], "color=blue&size=9");
    assert_eq!(doc["version"], "HTTP/1.1");
    assert_eq!(doc["body_bytes"], 0);
    let peer: std::net::SocketAddr = doc["peer"].as_str().unwrap().parse().unwrap();
    assert!(peer.ip().is_loopback());
    assert_ne!(peer.port(), run.addr.port());

    let headers = doc["headers"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap()))
        .collect();
    assert!(
        pairs.contains(&("host", &*run.addr.to_string())),
        "{pairs:?}"
    );
    assert!(pairs.contains(&("accept", "application/json")));
    assert!(pairs.contains(&("cookie", "a=1")));
    let traces: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| *k == "x-trace")
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(traces, ["one", "two"], "duplicates kept, in order");
    // The order of first appearance is kept.
    let pos = |name: &str| pairs.iter().position(|(k, _)| *k == name).unwrap();
    assert!(pos("x-trace") < pos("accept") && pos("accept") < pos("cookie"));

    // Same connection, next request: the same peer.
    let again = conn.request(Method::GET, "/api/echo", &[], "").await.json();
    assert_eq!(again["peer"], doc["peer"]);
    assert!(again["query"].is_null());
    run.stop().await.unwrap();
}

#[tokio::test]
async fn echo_reads_bounded_bodies() {
    let run = Running::start("api-1").await;
    let r = run
        .request(
            Method::POST,
            "/api/echo",
            &[("content-type", "text/plain")],
            "hello, robots",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["body_bytes"], 13);

    let exactly = vec![b'x'; 1 << 20];
    let r = run.request(Method::PUT, "/api/echo", &[], exactly).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["body_bytes"], 1 << 20);

    let too_big = vec![b'x'; (1 << 20) + 1];
    let r = run.request(Method::POST, "/api/echo", &[], too_big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.header("x-instance-id"), "api-1");
    run.stop().await.unwrap();
}

#[tokio::test]
async fn slow_waits_then_answers() {
    let run = Running::start("api-1").await;
    let started = Instant::now();
    let r = run.get("/api/slow?ms=120").await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"instance": "api-1", "slept_ms": 120}));
    assert_eq!(
        run.get("/api/slow?ms=soon").await.status,
        StatusCode::BAD_REQUEST
    );
    run.stop().await.unwrap();
}

#[tokio::test]
async fn status_answers_what_is_asked() {
    let run = Running::start("api-1").await;
    for code in [200u16, 201, 302, 404, 418, 500, 502, 503, 504, 599] {
        let r = run.get(&format!("/api/status/{code}")).await;
        assert_eq!(r.status.as_u16(), code);
        assert_eq!(r.header("x-instance-id"), "api-1");
        assert!(r.text().starts_with(&code.to_string()));
        assert_eq!(r.header("content-length"), r.body.len().to_string());
    }
    let r = run.get("/api/status/204").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    for bad in [
        "100", "101", "103", "199", "600", "0", "abc", "", "99999", "-200",
    ] {
        assert_eq!(
            run.get(&format!("/api/status/{bad}")).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    run.stop().await.unwrap();
}
