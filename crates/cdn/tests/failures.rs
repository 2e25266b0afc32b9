//! Origin TLS and origin failures, mapped to CloudFront's 502 and 504.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

/// An origin whose first connection reads the request and stays silent, and whose later ones
/// answer 200: every request head it read, in order.
async fn silent_once_origin() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = heads.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut n = 0;
        while let Ok((mut s, _)) = listener.accept().await {
            n += 1;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            h.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).into_owned());
            if n == 1 {
                held.push(s);
            } else {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            }
        }
    });
    (addr, heads)
}

#[tokio::test]
async fn a_retried_request_carries_the_same_head() {
    let (addr, heads) = silent_once_origin().await;
    let port = addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        toml(h, s, "origin.test", &format!("connection_attempts = 2\ncustom_header = [{{ name = \"X-Origin-Secret\", value = \"s3\" }}]\ncustom_origin_config = {{ http_port = {port}, origin_protocol_policy = \"http-only\", origin_read_timeout = 1 }}"))
    })
    .await;
    let r = send(
        edge.http,
        req(
            "GET",
            "/page?a=1",
            &[
                ("host", "localhost"),
                ("x-forwarded-for", "203.0.113.9"),
                ("accept-language", "de"),
            ],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "the second attempt answers");
    assert_eq!(attempts(&edge), 2);
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert_eq!(heads[0], heads[1], "the retry sends the same head");
    let first = heads[0].to_ascii_lowercase();
    // CachingDisabled forwards no query string.
    assert!(first.starts_with("get /page http/1.1\r\n"), "{first}");
    for want in [
        "x-origin-secret: s3",
        "x-forwarded-for: 203.0.113.9,127.0.0.1",
        "x-amz-cf-id: ",
        "via: ",
    ] {
        assert!(first.contains(want), "{want} in {first}");
    }
}
