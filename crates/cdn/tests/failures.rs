//! Origin TLS and origin failures, mapped to CloudFront's 502 and 504.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::sync::atomic::Ordering;

fn toml(h: u16, s: u16, domain: &str, origin: &str) -> String {
    format!(
        r#"
[[distribution]]
id = "web"
listen = ["http://127.0.0.1:{h}", "https://127.0.0.1:{s}"]
[[distribution.origin]]
origin_id = "o"
domain_name = "{domain}"
{origin}
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy_id = "CachingDisabled"
"#
    )
}

fn errors(edge: &Edge, kind: &str) -> u64 {
    edge.metrics.value(
        "edgeway_cdn_upstream_errors_total",
        &[("distribution", "web"), ("kind", kind)],
    )
}
fn attempts(edge: &Edge) -> u64 {
    edge.metrics.value(
        "edgeway_cdn_origin_requests_total",
        &[("distribution", "web"), ("origin", "o")],
    )
}

#[tokio::test]
async fn https_origin_verified_against_the_local_ca() {
    let ca = ca();
    let origin = echo_origin(Some(tls_config(&ca, &["origin.test"], false))).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca.clone(), |h, s| {
        toml(h, s, "origin.test", &format!("custom_origin_config = {{ https_port = {port}, origin_protocol_policy = \"https-only\" }}"))
    })
    .await;
    let r = get(edge.http, "localhost", "/secure").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.seen("host").as_deref(), Some("origin.test"));
    assert_eq!(r.json()["uri"], "/secure");

    // match-viewer: HTTPS viewers reach the HTTPS port.
    let edge = start_edge("web", ca.clone(), |h, s| {
        toml(h, s, "origin.test", &format!("custom_origin_config = {{ http_port = {port}, https_port = {port}, origin_protocol_policy = \"match-viewer\" }}"))
    })
    .await;
    let r = send_tls(
        edge.https,
        &edge.ca,
        "www.example.com",
        req(
            "GET",
            &format!("https://www.example.com:{}/mv", edge.https.port()),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Plain HTTP to a TLS port fails.
    let r = get(edge.http, "localhost", "/mv").await;
    assert_eq!(r.status, 502);
}

#[tokio::test]
async fn certificate_for_another_name_is_502() {
    let ca = ca();
    let origin = echo_origin(Some(tls_config(&ca, &["other.test"], false))).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca, |h, s| {
        toml(h, s, "origin.test", &format!("custom_origin_config = {{ https_port = {port}, origin_protocol_policy = \"https-only\" }}"))
    })
    .await;
    let r = get(edge.http, "localhost", "/").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    assert_eq!(r.header("server"), Some("CloudFront"));
    assert!(r
        .text()
        .contains("ERROR: The request could not be satisfied"));
    assert_eq!(origin.hits.load(Ordering::SeqCst), 0);
    assert_eq!(errors(&edge, "OriginSslError"), 1);
    // A certificate failure is not retried.
    assert_eq!(attempts(&edge), 1);
}

#[tokio::test]
async fn untrusted_certificate_is_502() {
    let other_ca = ca();
    let origin = echo_origin(Some(tls_config(&other_ca, &["origin.test"], false))).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        toml(h, s, "origin.test", &format!("custom_origin_config = {{ https_port = {port}, origin_protocol_policy = \"https-only\" }}"))
    })
    .await;
    assert_eq!(get(edge.http, "localhost", "/").await.status, 502);
}

#[tokio::test]
async fn refused_origin_is_502_after_every_attempt() {
    let port = refused_port().await;
    let edge = start_edge("web", ca(), |h, s| {
        toml(h, s, "origin.test", &format!("connection_attempts = 3\ncustom_origin_config = {{ http_port = {port}, origin_protocol_policy = \"http-only\" }}"))
    })
    .await;
    let r = get(edge.http, "localhost", "/").await;
    assert_eq!(r.status, 502);
    assert!(
        r.text()
            .contains("CloudFront wasn't able to connect to the origin"),
        "{}",
        r.text()
    );
    assert_eq!(attempts(&edge), 3);
    assert_eq!(errors(&edge, "OriginConnectError"), 1);
    // Connection failures are retried for any method (the body is resent).
    let r = send(
        edge.http,
        req("POST", "/", &[("host", "localhost")], "data"),
    )
    .await;
    assert_eq!(r.status, 502);
    assert_eq!(attempts(&edge), 6);
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_responses_total",
            &[("distribution", "web"), ("code", "502")]
        ),
        2
    );
}

#[tokio::test]
async fn unresolvable_origin_is_502() {
    let edge = start_edge("web", ca(), |h, s| {
        toml(h, s, "nxdomain.test", "connection_attempts = 1\ncustom_origin_config = { http_port = 8080, origin_protocol_policy = \"http-only\" }")
    })
    .await;
    let r = get(edge.http, "localhost", "/").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
}

#[tokio::test]
async fn silent_origin_is_504_after_read_timeouts() {
    let (addr, accepted) = hanging_origin().await;
    let port = addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        toml(h, s, "origin.test", &format!("connection_attempts = 2\ncustom_origin_config = {{ http_port = {port}, origin_protocol_policy = \"http-only\", origin_read_timeout = 1 }}"))
    })
    .await;
    let started = std::time::Instant::now();
    let r = get(edge.http, "localhost", "/slow").await;
    assert_eq!(r.status, 504);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    // GET is retried on a read timeout: two attempts, two connections.
    assert_eq!(attempts(&edge), 2);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(errors(&edge, "OriginReadError"), 1);
    // POST is not.
    let r = send(
        edge.http,
        req("POST", "/slow", &[("host", "localhost")], "x"),
    )
    .await;
    assert_eq!(r.status, 504);
    assert_eq!(attempts(&edge), 3);
}
