//! What the origin sees and what the viewer gets back, over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::sync::atomic::Ordering;

const CUSTOM: &str = r#"custom_header = [{ name = "X-Origin-Secret", value = "s3cr3t" }, { name = "X-Custom", value = "from-edge" }]"#;

async fn start(behavior: &str, extra: &str) -> (Edge, EchoOrigin) {
    let origin = echo_origin(None).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        one_origin(h, s, port, "", CUSTOM, behavior, extra)
    })
    .await;
    (edge, origin)
}

fn viewer_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("host", "www.example.com"),
        ("accept", "text/html"),
        ("accept-language", "en"),
        ("accept-encoding", "gzip, br"),
        ("authorization", "Bearer t"),
        ("cookie", "session=1; theme=dark"),
        ("referer", "https://ref.test/"),
        ("user-agent", "viewer-agent/1"),
        ("x-forwarded-for", "192.0.2.4"),
        ("x-forwarded-proto", "https"),
        ("x-real-ip", "192.0.2.9"),
        ("x-custom", "from-viewer"),
        ("x-app", "kept"),
        ("x-origin-secret", "forged"),
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "1"),
        ("if-none-match", "\"v1\""),
    ]
}

#[tokio::test]
async fn default_headers_to_the_origin_and_back() {
    let (edge, origin) = start("", "").await;
    let r = send(
        edge.http,
        req("GET", "/page?a=1&b=2", &viewer_headers(), ""),
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    let h = &seen["headers"];
    // Host is the origin's domain; the query string is not forwarded by CachingDisabled.
    assert_eq!(h["host"], "origin.test");
    assert_eq!(seen["uri"], "/page");
    assert_eq!(seen["version"], "HTTP/1.1");
    // Added and appended.
    assert_eq!(h["x-forwarded-for"], "192.0.2.4,127.0.0.1");
    let via = h["via"].as_str().unwrap();
    assert!(
        via.starts_with("1.1 ") && via.ends_with(".cloudfront.net (CloudFront)"),
        "{via}"
    );
    assert_eq!(
        via.split(' ').nth(1).unwrap().len(),
        32 + ".cloudfront.net".len()
    );
    assert_eq!(h["user-agent"], "Amazon CloudFront");
    let cf_id = h["x-amz-cf-id"].as_str().unwrap();
    assert_eq!(cf_id.len(), 56);
    assert!(cf_id.ends_with("=="));
    assert_eq!(r.header("x-amz-cf-id"), Some(cf_id));
    // Custom origin headers overwrite the viewer's.
    assert_eq!(h["x-origin-secret"], "s3cr3t");
    assert_eq!(h["x-custom"], "from-edge");
    // Forwarded by default.
    assert_eq!(h["x-app"], "kept");
    assert_eq!(h["if-none-match"], "\"v1\"");
    // Removed by default.
    for n in [
        "accept",
        "accept-language",
        "accept-encoding",
        "authorization",
        "cookie",
        "referer",
        "x-forwarded-proto",
        "x-real-ip",
        "x-hop",
        "connection",
    ] {
        assert!(h.get(n).is_none(), "{n} reached the origin: {h}");
    }
    // The viewer's response.
    assert_eq!(r.header("x-cache"), Some("Miss from cloudfront"));
    assert_eq!(r.header("x-amz-cf-pop"), Some("TST1-C1"));
    assert_eq!(r.header("via"), Some(via));
    assert_eq!(r.header("server"), Some("echo"));
    assert!(
        r.header("set-cookie").is_none(),
        "cookies are not forwarded, so Set-Cookie is removed"
    );
    // Every request has its own id; the edge id in Via stays.
    let r2 = send(edge.http, req("GET", "/page", &viewer_headers(), "")).await;
    assert_ne!(r2.header("x-amz-cf-id"), Some(cf_id));
    assert_eq!(r2.header("via"), Some(via));
    assert_eq!(origin.hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_cache_total",
            &[("distribution", "web"), ("result", "Miss")]
        ),
        2
    );
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_origin_requests_total",
            &[("distribution", "web"), ("origin", "o")]
        ),
        2
    );
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_responses_total",
            &[("distribution", "web"), ("code", "200")]
        ),
        2
    );
    assert!(
        edge.metrics.value(
            "edgeway_cdn_bytes_total",
            &[("distribution", "web"), ("direction", "out")]
        ) > 100
    );
}

#[tokio::test]
async fn all_viewer_forwards_host_query_and_cookies() {
    let (edge, _origin) = start("origin_request_policy_id = \"AllViewer\"", "").await;
    let r = send(
        edge.http,
        req("GET", "/page?b=2&a=1", &viewer_headers(), ""),
    )
    .await;
    let seen = r.json();
    let h = &seen["headers"];
    assert_eq!(h["host"], "www.example.com");
    assert_eq!(seen["uri"], "/page?b=2&a=1");
    assert_eq!(h["cookie"], "session=1; theme=dark");
    assert_eq!(h["accept"], "text/html");
    assert_eq!(h["user-agent"], "viewer-agent/1");
    assert_eq!(h["authorization"], "Bearer t");
    assert_eq!(h["x-origin-secret"], "s3cr3t");
    assert_eq!(r.header("set-cookie"), Some("from=origin"));

    let (edge, _origin) = start(
        "origin_request_policy_id = \"b689b0a8-53d0-40ab-baf2-68738e2966ac\"",
        "",
    )
    .await;
    let r = send(edge.http, req("GET", "/page", &viewer_headers(), "")).await;
    assert_eq!(r.seen("host").as_deref(), Some("origin.test"));
    assert_eq!(r.seen("accept").as_deref(), Some("text/html"));
}

#[tokio::test]
async fn cache_policy_items_are_forwarded_and_the_rest_stripped() {
    let extra = r#"
[[cache_policy]]
name = "keyed"
min_ttl = 0
[cache_policy.parameters_in_cache_key_and_forwarded_to_origin]
enable_accept_encoding_gzip = true
enable_accept_encoding_brotli = true
headers_config = { header_behavior = "whitelist", headers = { items = ["Accept-Language"] } }
cookies_config = { cookie_behavior = "whitelist", cookies = { items = ["session"] } }
query_strings_config = { query_string_behavior = "whitelist", query_strings = { items = ["a"] } }

[[origin_request_policy]]
name = "more"
headers_config = { header_behavior = "whitelist", headers = { items = ["Referer", "CloudFront-Forwarded-Proto", "CloudFront-Viewer-Address"] } }
query_strings_config = { query_string_behavior = "whitelist", query_strings = { items = ["c"] } }
"#;
    let (edge, _origin) = start("", extra).await;
    let r = send(
        edge.http,
        req("GET", "/p?a=1&b=2&c=3&A=4", &viewer_headers(), ""),
    )
    .await;
    // Without policies on the behavior (CachingDisabled) nothing of this is forwarded.
    assert_eq!(r.json()["uri"], "/p");

    let origin = echo_origin(None).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        one_origin(h, s, port, "", "", "", extra).replace(
            "cache_policy_id = \"CachingDisabled\"",
            "cache_policy_id = \"keyed\"\norigin_request_policy_id = \"more\"",
        )
    })
    .await;
    let r = send(
        edge.http,
        req("GET", "/p?a=1&b=2&c=3&A=4", &viewer_headers(), ""),
    )
    .await;
    let seen = r.json();
    let h = &seen["headers"];
    assert_eq!(seen["uri"], "/p?a=1&c=3");
    assert_eq!(h["accept-language"], "en");
    assert_eq!(h["cookie"], "session=1");
    assert_eq!(h["accept-encoding"], "br,gzip");
    assert_eq!(h["referer"], "https://ref.test/");
    assert_eq!(h["cloudfront-forwarded-proto"], "http");
    assert!(h["cloudfront-viewer-address"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(h.get("accept").is_none());
    assert_eq!(h["user-agent"], "Amazon CloudFront");
    assert_eq!(r.header("set-cookie"), Some("from=origin"));
}

#[tokio::test]
async fn request_bodies_stream_to_the_origin() {
    let (edge, _origin) = start("", "").await;
    let big = "x".repeat(200_000);
    let r = send(
        edge.http,
        req(
            "PUT",
            "/upload",
            &[("host", "www.example.com"), ("content-type", "text/plain")],
            &big,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(seen["body"].as_str().unwrap().len(), 200_000);
    assert_eq!(seen["headers"]["content-type"], "text/plain");
    assert_eq!(seen["headers"]["content-length"], "200000");
    let r = send(
        edge.http,
        req(
            "POST",
            "/form",
            &[("host", "www.example.com"), ("authorization", "Basic x")],
            "a=1",
        ),
    )
    .await;
    assert_eq!(r.json()["body"], "a=1");
    // Authorization goes through for methods that are never cached.
    assert_eq!(r.seen("authorization").as_deref(), Some("Basic x"));
    assert!(
        edge.metrics.value(
            "edgeway_cdn_bytes_total",
            &[("distribution", "web"), ("direction", "in")]
        ) >= 200_003
    );
}

#[tokio::test]
async fn origin_errors_are_passed_through_as_errors() {
    let (edge, _origin) = start("", "").await;
    let r = get(edge.http, "www.example.com", "/status/404").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    assert_eq!(r.json()["uri"], "/status/404");
    let r = get(edge.http, "www.example.com", "/status/302").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("x-cache"), Some("Miss from cloudfront"));
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_responses_total",
            &[("distribution", "web"), ("code", "404")]
        ),
        1
    );
}

#[tokio::test]
async fn custom_error_responses_fetch_the_page_from_the_origin() {
    let extra = r#"
[[distribution.custom_error_response]]
error_code = 404
response_code = 200
response_page_path = "/errors/not-found.html"

[[distribution.custom_error_response]]
error_code = 502
response_page_path = "/errors/502.html"
"#;
    let origin = echo_origin(None).await;
    let port = origin.addr.port();
    let dead = refused_port().await;
    let edge = start_edge("web", ca(), |h, s| {
        let mut t = one_origin(h, s, port, "", "", "", extra);
        t.push_str(&format!(
            r#"
[[distribution.origin]]
origin_id = "dead"
domain_name = "dead.test"
connection_attempts = 1
custom_origin_config = {{ http_port = {dead}, origin_protocol_policy = "http-only" }}
[[distribution.ordered_cache_behavior]]
path_pattern = "/dead/*"
target_origin_id = "dead"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
"#
        ));
        t
    })
    .await;
    let r = get(edge.http, "www.example.com", "/status/404").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["uri"], "/errors/not-found.html");
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    // An unreachable origin's 502 is replaced by the page, with the original code.
    let r = get(edge.http, "www.example.com", "/dead/x").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["uri"], "/errors/502.html");
    assert_eq!(origin.hits.load(Ordering::SeqCst), 3);
}
