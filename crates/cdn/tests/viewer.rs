//! The viewer side over real sockets: distribution by Host, behaviors, the viewer protocol
//! policy, allowed methods, the default root object, HTTP/2 and HTTPS viewers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use http::Version;
use std::sync::atomic::Ordering;

const BEHAVIORS: &str = r#"
[[distribution.ordered_cache_behavior]]
path_pattern = "/secure/*"
target_origin_id = "o"
viewer_protocol_policy = "https-only"
cache_policy_id = "CachingDisabled"

[[distribution.ordered_cache_behavior]]
path_pattern = "/account/*"
target_origin_id = "o"
viewer_protocol_policy = "redirect-to-https"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy_id = "CachingDisabled"

[[distribution.ordered_cache_behavior]]
path_pattern = "images/*.jpg"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
"#;

async fn edge_with(dist: &str, extra: &str) -> (Edge, EchoOrigin) {
    let origin = echo_origin(None).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        one_origin(h, s, port, dist, "", "", extra)
    })
    .await;
    (edge, origin)
}

#[tokio::test]
async fn unknown_host_gets_cloudfronts_403() {
    let (edge, origin) = edge_with("", "").await;
    let r = get(edge.http, "evil.example.org", "/").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    assert_eq!(r.header("server"), Some("CloudFront"));
    assert!(
        r.text().contains("The request could not be satisfied"),
        "{}",
        r.text()
    );
    assert!(r
        .header("x-amz-cf-id")
        .is_some_and(|id| r.text().contains(id)));
    assert_eq!(origin.hits.load(Ordering::SeqCst), 0);

    for host in [
        "www.example.com",
        "WWW.EXAMPLE.COM:8080",
        "localhost",
        "127.0.0.1:1234",
        "web.cloudfront.net",
    ] {
        let r = get(edge.http, host, "/").await;
        assert_eq!(r.status, 200, "{host}");
    }
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_responses_total",
            &[("distribution", "web"), ("code", "403")]
        ),
        1
    );
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_cache_total",
            &[("distribution", "web"), ("result", "Error")]
        ),
        1
    );
    let listener = format!("http:{}", edge.http.port());
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_requests_total",
            &[("distribution", "web"), ("listener", &listener)]
        ),
        6
    );
}

#[tokio::test]
async fn disabled_distribution_is_403() {
    let (edge, origin) = edge_with("enabled = false", "").await;
    let r = get(edge.http, "www.example.com", "/").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    assert_eq!(origin.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn viewer_protocol_policies() {
    let (edge, origin) = edge_with("", BEHAVIORS).await;
    let https_port = edge.https.port();

    // https-only over HTTP: 403; over HTTPS: served.
    let r = get(edge.http, "www.example.com", "/secure/x").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-cache"), Some("Error from cloudfront"));
    let r = send_tls(
        edge.https,
        &edge.ca,
        "www.example.com",
        req(
            "GET",
            &format!("https://www.example.com:{https_port}/secure/x"),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.version, Version::HTTP_2);

    // redirect-to-https: GET/HEAD 301, others 307, HTTP/1.0 non-GET 403.
    let r = get(edge.http, "www.example.com:8080", "/account/a?b=1&c=2").await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location").map(str::to_string),
        Some(format!(
            "https://www.example.com:{https_port}/account/a?b=1&c=2"
        ))
    );
    assert_eq!(r.header("x-cache"), Some("Redirect from cloudfront"));
    assert_eq!(r.header("server"), Some("CloudFront"));
    assert!(r.header("x-amz-cf-id").is_some());
    let r = send(
        edge.http,
        req("HEAD", "/account/a", &[("host", "www.example.com")], ""),
    )
    .await;
    assert_eq!(r.status, 301);
    let r = send(
        edge.http,
        req("POST", "/account/a", &[("host", "www.example.com")], "x=1"),
    )
    .await;
    assert_eq!(r.status, 307);
    assert_eq!(
        r.header("location").map(str::to_string),
        Some(format!("https://www.example.com:{https_port}/account/a"))
    );
    let mut old = req("POST", "/account/a", &[("host", "www.example.com")], "x=1");
    *old.version_mut() = Version::HTTP_10;
    let r = send(edge.http, old).await;
    assert_eq!(r.status, 403);
    let mut old_get = req("GET", "/account/a", &[("host", "www.example.com")], "");
    *old_get.version_mut() = Version::HTTP_10;
    assert_eq!(send(edge.http, old_get).await.status, 301);

    // Over HTTPS the same behavior serves.
    let r = send_tls(
        edge.https,
        &edge.ca,
        "www.example.com",
        req(
            "POST",
            &format!("https://www.example.com:{https_port}/account/a"),
            &[],
            "x=1",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "x=1");
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_cache_total",
            &[("distribution", "web"), ("result", "Redirect")]
        ),
        4
    );
    assert_eq!(origin.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn redirect_to_443_omits_the_port() {
    let origin = echo_origin(None).await;
    let port = origin.addr.port();
    // The config says 443 for HTTPS (the test serves the handler elsewhere).
    let edge = start_edge("web", ca(), |h, s| {
        one_origin(h, s, port, "", "", "", "")
            .replace(&format!("https://127.0.0.1:{s}"), "https://127.0.0.1:443")
            .replace("\"allow-all\"", "\"redirect-to-https\"")
    })
    .await;
    let r = get(edge.http, "www.example.com", "/a").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("https://www.example.com/a"));
}

#[tokio::test]
async fn allowed_methods() {
    let (edge, origin) = edge_with("", BEHAVIORS).await;
    // images/*.jpg allows GET and HEAD only.
    for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let r = send(
            edge.http,
            req(m, "/images/a.jpg", &[("host", "www.example.com")], ""),
        )
        .await;
        assert_eq!(r.status, 403, "{m}");
        assert!(
            r.text()
                .contains("not configured to allow the HTTP request method"),
            "{}",
            r.text()
        );
    }
    assert_eq!(origin.hits.load(Ordering::SeqCst), 0);
    let r = send(
        edge.http,
        req("HEAD", "/images/a.jpg", &[("host", "www.example.com")], ""),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    // The default behavior allows all seven.
    for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let r = send(
            edge.http,
            req(m, "/api", &[("host", "www.example.com")], ""),
        )
        .await;
        assert_eq!(r.status, 200, "{m}");
        assert_eq!(r.json()["method"], m);
    }
    // Methods no behavior allows.
    let r = send(
        edge.http,
        req("TRACE", "/api", &[("host", "www.example.com")], ""),
    )
    .await;
    assert_eq!(r.status, 403);
    // GET with a body.
    let r = send(
        edge.http,
        req("GET", "/api", &[("host", "www.example.com")], "body"),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn behavior_selection_reaches_the_right_origin() {
    let a = echo_origin(None).await;
    let b = echo_origin(None).await;
    let (pa, pb) = (a.addr.port(), b.addr.port());
    let edge = start_edge("web", ca(), |h, s| {
        format!(
            r#"
[[distribution]]
id = "web"
listen = ["http://127.0.0.1:{h}", "https://127.0.0.1:{s}"]
[[distribution.origin]]
origin_id = "a"
domain_name = "a.test"
custom_origin_config = {{ http_port = {pa}, origin_protocol_policy = "http-only" }}
[[distribution.origin]]
origin_id = "b"
domain_name = "b.test"
origin_path = "/prefix"
custom_origin_config = {{ http_port = {pb}, origin_protocol_policy = "match-viewer" }}
[distribution.default_cache_behavior]
target_origin_id = "a"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
[[distribution.ordered_cache_behavior]]
path_pattern = "/api/*"
target_origin_id = "b"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
[[distribution.ordered_cache_behavior]]
path_pattern = "*.css"
target_origin_id = "b"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
"#
        )
    })
    .await;
    let table: &[(&str, &str, &str)] = &[
        ("/api/users", "b.test", "/prefix/api/users"),
        ("/api/site.css", "b.test", "/prefix/api/site.css"),
        ("/static/site.css", "b.test", "/prefix/static/site.css"),
        ("/API/users", "a.test", "/API/users"),
        ("/static/site.CSS", "a.test", "/static/site.CSS"),
        ("/", "a.test", "/"),
    ];
    for (path, host, uri) in table {
        let r = get(edge.http, "anything.example", path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.seen("host").as_deref(), Some(*host), "{path}");
        assert_eq!(r.json()["uri"], *uri, "{path}");
    }
    assert_eq!(a.hits.load(Ordering::SeqCst), 3);
    assert_eq!(b.hits.load(Ordering::SeqCst), 3);
    assert_eq!(
        edge.metrics.value(
            "edgeway_cdn_origin_requests_total",
            &[("distribution", "web"), ("origin", "b")]
        ),
        3
    );
}

#[tokio::test]
async fn default_root_object_only_for_root() {
    let (edge, _origin) = edge_with("default_root_object = \"index.html\"", "").await;
    let table: &[(&str, &str)] = &[
        ("/", "/index.html"),
        ("/?v=1", "/index.html"),
        ("/docs/", "/docs/"),
        ("/index.html", "/index.html"),
    ];
    for (path, want) in table {
        let r = get(edge.http, "www.example.com", path).await;
        assert_eq!(r.json()["uri"], *want, "{path}");
    }
    let r = send(
        edge.http,
        req("POST", "/", &[("host", "www.example.com")], "a"),
    )
    .await;
    assert_eq!(r.json()["uri"], "/index.html");
}

#[tokio::test]
async fn http2_viewers() {
    let (edge, origin) = edge_with("", "").await;
    let r = send_h2c(
        edge.http,
        req(
            "GET",
            &format!("http://www.example.com:{}/h2?x=1", edge.http.port()),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.version, Version::HTTP_2);
    let via = r.header("via").unwrap();
    assert!(
        via.starts_with("2.0 ") && via.ends_with(".cloudfront.net (CloudFront)"),
        "{via}"
    );
    // The origin still speaks HTTP/1.1 and gets the origin's Host.
    let seen = r.json();
    assert_eq!(seen["version"], "HTTP/1.1");
    assert_eq!(seen["headers"]["host"], "origin.test");
    assert_eq!(seen["uri"], "/h2");
    assert_eq!(origin.hits.load(Ordering::SeqCst), 1);
    // An unknown :authority is refused.
    let r = send_h2c(
        edge.http,
        req(
            "GET",
            &format!("http://evil.example.org:{}/", edge.http.port()),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, 403);
}
