//! The cache on the request path, over real sockets: hits and misses, TTLs and revalidation,
//! stale serving, error caching, collapsing, conditionals and ranges from the cache,
//! compression, origin groups, invalidation, RFC 9111 mode and the access log — each asserting
//! how often the origin was asked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;

use common::scripted::{Answer, Scripted};
use common::{ca, get, req, send, start_edge, Edge};
use std::time::{Duration, Instant};

/// One distribution over the scripted origin; `behavior` goes into the default behavior (which
/// has no cache policy), `extra` after it.
fn config(http: u16, https: u16, origin: u16, behavior: &str, extra: &str) -> String {
    format!(
        r#"
[[distribution]]
id = "web"
listen = ["http://127.0.0.1:{http}", "https://127.0.0.1:{https}"]
aliases = ["www.example.com"]
{extra}

[[distribution.origin]]
origin_id = "o"
domain_name = "origin.test"
connection_attempts = 1
custom_origin_config = {{ http_port = {origin}, https_port = {origin}, origin_protocol_policy = "http-only", origin_read_timeout = 2 }}

[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
{behavior}
"#
    )
}

async fn edge(o: &Scripted, behavior: &str, extra: &str) -> Edge {
    let port = o.addr.port();
    let (b, e) = (behavior.to_string(), extra.to_string());
    start_edge("web", ca(), move |h, s| config(h, s, port, &b, &e)).await
}

const OPTIMIZED: &str = r#"cache_policy_id = "CachingOptimized""#;

async fn get_h(e: &Edge, path: &str, headers: &[(&str, &str)]) -> common::Got {
    let mut h = vec![("host", "www.example.com")];
    h.extend_from_slice(headers);
    send(e.http, req("GET", path, &h, "")).await
}

#[tokio::test]
async fn miss_then_hit_with_age_and_no_query_in_the_key() {
    let o = Scripted::start().await;
    o.set("/a", Answer::ok("hello", &[("content-type", "text/plain")]));
    let e = edge(&o, OPTIMIZED, "").await;
    let first = get(e.http, "www.example.com", "/a").await;
    assert_eq!(
        (first.status, first.header("x-cache")),
        (200, Some("Miss from cloudfront"))
    );
    assert!(first.header("age").is_none());
    let second = get(e.http, "www.example.com", "/a?x=1").await;
    assert_eq!(second.header("x-cache"), Some("Hit from cloudfront"));
    assert_eq!(second.text(), "hello");
    assert!(second.header("age").is_some());
    assert_eq!(o.hits("/a"), 1);
    assert_eq!(
        e.metrics.value(
            "edgeway_cdn_cache_total",
            &[("distribution", "web"), ("result", "Hit")]
        ),
        1
    );
    assert_eq!(
        e.metrics.value(
            "edgeway_cdn_cache_total",
            &[("distribution", "web"), ("result", "Miss")]
        ),
        1
    );
}

#[tokio::test]
async fn caching_disabled_never_stores() {
    let o = Scripted::start().await;
    o.set("/a", Answer::ok("x", &[("cache-control", "max-age=600")]));
    let e = edge(&o, r#"cache_policy_id = "CachingDisabled""#, "").await;
    for _ in 0..3 {
        assert_eq!(
            get(e.http, "www.example.com", "/a").await.header("x-cache"),
            Some("Miss from cloudfront")
        );
    }
    assert_eq!(o.hits("/a"), 3);
}

#[tokio::test]
async fn expiry_revalidates_with_validators_and_refresh_hits() {
    let o = Scripted::start().await;
    o.set(
        "/a",
        Answer::ok("v1", &[("cache-control", "max-age=60"), ("etag", "\"e1\"")]),
    );
    let e = edge(&o, OPTIMIZED, "").await;
    assert_eq!(
        get(e.http, "www.example.com", "/a").await.header("x-cache"),
        Some("Miss from cloudfront")
    );
    assert_eq!(
        get(e.http, "www.example.com", "/a").await.header("x-cache"),
        Some("Hit from cloudfront")
    );
    e.tier.clock().advance(Duration::from_secs(61));
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!(
        (r.header("x-cache"), r.text().as_str()),
        (Some("RefreshHit from cloudfront"), "v1")
    );
    assert_eq!(o.last("/a").get("if-none-match").unwrap(), "\"e1\"");
    assert_eq!(o.hits("/a"), 2);
    assert_eq!(
        get(e.http, "www.example.com", "/a").await.header("x-cache"),
        Some("Hit from cloudfront")
    );
    // A 200 on revalidation replaces the entry.
    o.set(
        "/a",
        Answer::ok("v2", &[("cache-control", "max-age=60"), ("etag", "\"e2\"")]),
    );
    e.tier.clock().advance(Duration::from_secs(61));
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!(
        (r.header("x-cache"), r.text().as_str()),
        (Some("Miss from cloudfront"), "v2")
    );
    assert_eq!(get(e.http, "www.example.com", "/a").await.text(), "v2");
    assert_eq!(o.hits("/a"), 3);
}

#[tokio::test]
async fn no_store_with_min_ttl_zero_is_not_cached_and_min_ttl_overrides_it() {
    let o = Scripted::start().await;
    o.set(
        "/a",
        Answer::ok("x", &[("cache-control", "no-store"), ("etag", "\"1\"")]),
    );
    let legacy = edge(&o, "forwarded_values = { query_string = false }", "").await;
    for _ in 0..2 {
        assert_eq!(
            get(legacy.http, "www.example.com", "/a")
                .await
                .header("x-cache"),
            Some("Miss from cloudfront")
        );
    }
    assert_eq!(o.hits("/a"), 2);
    // CachingOptimized (min_ttl 1): stored, still asked every time, served when the origin fails.
    let opt = edge(&o, OPTIMIZED, "").await;
    get(opt.http, "www.example.com", "/a").await;
    let r = get(opt.http, "www.example.com", "/a").await;
    assert_eq!(r.header("x-cache"), Some("RefreshHit from cloudfront"));
    assert_eq!(o.hits("/a"), 4);
    o.set("/a", Answer::status(503, "down", &[]));
    let r = get(opt.http, "www.example.com", "/a").await;
    assert_eq!((r.status, r.text().as_str()), (200, "x"));
    assert_eq!(o.hits("/a"), 5);
}

#[tokio::test]
async fn ttls_follow_s_maxage_over_max_age_and_default_ttl() {
    let o = Scripted::start().await;
    o.set(
        "/s",
        Answer::ok("s", &[("cache-control", "max-age=600, s-maxage=10")]),
    );
    o.set("/d", Answer::ok("d", &[]));
    let e = edge(
        &o,
        "forwarded_values = { query_string = false }\ndefault_ttl = 100\nmax_ttl = 1000",
        "",
    )
    .await;
    get(e.http, "www.example.com", "/s").await;
    get(e.http, "www.example.com", "/d").await;
    e.tier.clock().advance(Duration::from_secs(11));
    assert_eq!(
        get(e.http, "www.example.com", "/s").await.header("x-cache"),
        Some("Miss from cloudfront")
    );
    assert_eq!(
        get(e.http, "www.example.com", "/d").await.header("x-cache"),
        Some("Hit from cloudfront")
    );
    e.tier.clock().advance(Duration::from_secs(90));
    assert_eq!(
        get(e.http, "www.example.com", "/d").await.header("x-cache"),
        Some("Miss from cloudfront")
    );
    assert_eq!((o.hits("/s"), o.hits("/d")), (2, 2));
}

#[tokio::test]
async fn concurrent_misses_collapse_into_one_fetch() {
    let o = Scripted::start().await;
    o.set(
        "/slow",
        Answer::ok("slow", &[("cache-control", "max-age=60")]).delayed(Duration::from_millis(300)),
    );
    let e = edge(&o, OPTIMIZED, "").await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let addr = e.http;
        tasks.push(tokio::spawn(async move {
            get(addr, "www.example.com", "/slow").await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.text(), "slow");
        results.push(r.header("x-cache").unwrap().to_string());
    }
    assert_eq!(o.hits("/slow"), 1);
    assert_eq!(
        results.iter().filter(|r| r.starts_with("Miss")).count(),
        1,
        "{results:?}"
    );
    // Forwarding cookies disables collapsing.
    let o2 = Scripted::start().await;
    o2.set(
        "/slow",
        Answer::ok("slow", &[("cache-control", "max-age=60")]).delayed(Duration::from_millis(300)),
    );
    let e2 = edge(
        &o2,
        r#"cache_policy_id = "UseOriginCacheControlHeaders""#,
        "",
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let addr = e2.http;
        tasks.push(tokio::spawn(async move {
            get(addr, "www.example.com", "/slow").await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(o2.hits("/slow"), 3);
}

#[tokio::test]
async fn expired_objects_are_served_stale_when_the_origin_fails() {
    let o = Scripted::start().await;
    o.set("/a", Answer::ok("good", &[("cache-control", "max-age=5")]));
    let e = edge(&o, OPTIMIZED, "").await;
    get(e.http, "www.example.com", "/a").await;
    o.set("/a", Answer::status(500, "bad", &[]));
    e.tier.clock().advance(Duration::from_secs(6));
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!(
        (r.status, r.text().as_str(), r.header("x-cache")),
        (200, "good", Some("Hit from cloudfront"))
    );
    assert_eq!(o.hits("/a"), 2);
    // Within error_caching_min_ttl (10 s) the origin is not asked again.
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!(r.text(), "good");
    assert_eq!(o.hits("/a"), 2);
    e.tier.clock().advance(Duration::from_secs(11));
    get(e.http, "www.example.com", "/a").await;
    assert_eq!(o.hits("/a"), 3);
    // A 4xx is returned, not the stale copy.
    o.set("/a", Answer::status(403, "no", &[]));
    e.tier.clock().advance(Duration::from_secs(11));
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!(r.status, 403);
    // stale-if-error=0 suppresses stale serving.
    o.set(
        "/b",
        Answer::ok("b", &[("cache-control", "max-age=5, stale-if-error=0")]),
    );
    get(e.http, "www.example.com", "/b").await;
    o.set("/b", Answer::status(502, "bad", &[]));
    e.tier.clock().advance(Duration::from_secs(6));
    assert_eq!(get(e.http, "www.example.com", "/b").await.status, 502);
    assert!(
        e.metrics
            .value("edgeway_cdn_stale_served_total", &[("distribution", "web")])
            >= 2
    );
}

#[tokio::test]
async fn stale_while_revalidate_serves_at_once_and_refreshes_in_the_background() {
    let o = Scripted::start().await;
    o.set(
        "/a",
        Answer::ok(
            "v1",
            &[("cache-control", "max-age=5, stale-while-revalidate=60")],
        ),
    );
    let e = edge(&o, OPTIMIZED, "").await;
    get(e.http, "www.example.com", "/a").await;
    o.set(
        "/a",
        Answer::ok(
            "v2",
            &[("cache-control", "max-age=5, stale-while-revalidate=60")],
        ),
    );
    e.tier.clock().advance(Duration::from_secs(6));
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!(
        (r.text().as_str(), r.header("x-cache")),
        ("v1", Some("Hit from cloudfront"))
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(e.http, "www.example.com", "/a").await;
        if r.text() == "v2" {
            assert_eq!(r.header("x-cache"), Some("Hit from cloudfront"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the background refresh never landed"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(o.hits("/a"), 2);
}

#[tokio::test]
async fn errors_are_cached_per_cloudfront_rules() {
    let o = Scripted::start().await;
    o.set("/404", Answer::status(404, "nf", &[]));
    o.set("/403", Answer::status(403, "forbidden", &[]));
    o.set(
        "/403m",
        Answer::status(403, "forbidden", &[("cache-control", "max-age=30")]),
    );
    o.set(
        "/416",
        Answer::status(416, "range", &[("cache-control", "max-age=30")]),
    );
    o.set("/500", Answer::status(500, "err", &[]));
    let e = edge(
        &o,
        OPTIMIZED,
        "[[distribution.custom_error_response]]\nerror_code = 500\nerror_caching_min_ttl = 30\n",
    )
    .await;
    for p in ["/404", "/403", "/403m", "/416", "/500"] {
        for _ in 0..2 {
            let r = get(e.http, "www.example.com", p).await;
            assert_eq!(r.header("x-cache"), Some("Error from cloudfront"), "{p}");
        }
    }
    assert_eq!(
        [
            o.hits("/404"),
            o.hits("/403"),
            o.hits("/403m"),
            o.hits("/416"),
            o.hits("/500")
        ],
        [1, 2, 1, 2, 1]
    );
    // The 404 expires after the 10 s default; the 500 lives for its configured 30 s.
    e.tier.clock().advance(Duration::from_secs(11));
    get(e.http, "www.example.com", "/404").await;
    get(e.http, "www.example.com", "/500").await;
    assert_eq!((o.hits("/404"), o.hits("/500")), (2, 1));
}

#[tokio::test]
async fn conditionals_ranges_and_head_from_the_cache() {
    let o = Scripted::start().await;
    let body = "0123456789";
    o.set(
        "/r",
        Answer::ok(
            body,
            &[
                ("cache-control", "max-age=60"),
                ("etag", "\"v\""),
                ("content-type", "text/plain"),
            ],
        ),
    );
    let e = edge(&o, OPTIMIZED, "").await;
    // A range on a miss: the whole object is fetched and stored, the range served.
    let r = get_h(&e, "/r", &[("range", "bytes=2-4")]).await;
    assert_eq!(
        (r.status, r.text().as_str(), r.header("content-range")),
        (206, "234", Some("bytes 2-4/10"))
    );
    assert!(o.last("/r").get("range").is_none());
    let rows: Vec<(Vec<(&str, &str)>, u16, &str)> = vec![
        (vec![("if-none-match", "\"v\"")], 304, ""),
        (vec![("if-match", "\"other\"")], 412, ""),
        (vec![("range", "bytes=-2")], 206, "89"),
        (vec![("range", "bytes=0-3,2-5")], 200, body),
        (vec![("range", "bytes=x-y")], 200, body),
        (vec![("range", "bytes=20-30")], 416, ""),
    ];
    for (h, status, want) in rows {
        let r = get_h(&e, "/r", &h).await;
        assert_eq!((r.status, r.text().as_str()), (status, want), "{h:?}");
    }
    let r = get_h(&e, "/r", &[("range", "bytes=0-0,5-5")]).await;
    assert_eq!(r.status, 206);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("multipart/byteranges"));
    let h = send(
        e.http,
        req("HEAD", "/r", &[("host", "www.example.com")], ""),
    )
    .await;
    assert_eq!(
        (h.status, h.header("content-length"), h.header("x-cache")),
        (200, Some("10"), Some("Hit from cloudfront"))
    );
    assert_eq!(o.hits("/r"), 1);
}

#[tokio::test]
async fn compression_per_viewer_encoding() {
    let o = Scripted::start().await;
    let page = "<html>".to_string() + &"hello edge ".repeat(300) + "</html>";
    o.set(
        "/p.html",
        Answer::ok(
            &page,
            &[
                ("content-type", "text/html"),
                ("etag", "\"s\""),
                ("cache-control", "max-age=60"),
            ],
        ),
    );
    o.set(
        "/small.html",
        Answer::ok("<p>tiny</p>", &[("content-type", "text/html")]),
    );
    let e = edge(
        &o,
        "cache_policy_id = \"CachingOptimized\"\ncompress = true",
        "",
    )
    .await;
    let br = get_h(&e, "/p.html", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(
        (br.header("content-encoding"), br.header("etag")),
        (Some("br"), Some("W/\"s\""))
    );
    assert!(br.body.len() < page.len());
    assert_eq!(o.last("/p.html").get("accept-encoding").unwrap(), "br,gzip");
    let br2 = get_h(&e, "/p.html", &[("accept-encoding", "br;q=1, gzip")]).await;
    assert_eq!(
        (br2.header("x-cache"), br2.header("content-encoding")),
        (Some("Hit from cloudfront"), Some("br"))
    );
    let gz = get_h(&e, "/p.html", &[("accept-encoding", "gzip")]).await;
    assert_eq!(
        (gz.header("content-encoding"), gz.header("x-cache")),
        (Some("gzip"), Some("Miss from cloudfront"))
    );
    let plain = get_h(&e, "/p.html", &[]).await;
    assert_eq!(
        (plain.header("content-encoding"), plain.text()),
        (None, page.clone())
    );
    assert_eq!(o.hits("/p.html"), 3);
    let small = get_h(&e, "/small.html", &[("accept-encoding", "gzip")]).await;
    assert_eq!(small.header("content-encoding"), None);
}

#[tokio::test]
async fn zstd_when_the_cache_policy_enables_it_with_variants_keyed_apart() {
    let o = Scripted::start().await;
    let doc = format!(
        "{{\"items\": [{}]}}",
        vec!["\"zstd compresses this\""; 200].join(",")
    );
    o.set(
        "/z.json",
        Answer::ok(
            &doc,
            &[
                ("content-type", "application/json"),
                ("etag", "\"z\""),
                ("cache-control", "max-age=60"),
            ],
        ),
    );
    let port = o.addr.port();
    let policy = r#"
[[cache_policy]]
name = "WithZstd"
min_ttl = 0
default_ttl = 60
max_ttl = 600
parameters_in_cache_key_and_forwarded_to_origin = { enable_accept_encoding_gzip = true, enable_accept_encoding_brotli = true, enable_accept_encoding_zstd = true }
"#;
    let e = start_edge("web", ca(), move |h, s| {
        format!(
            "{}{policy}",
            config(
                h,
                s,
                port,
                "cache_policy_id = \"WithZstd\"\ncompress = true",
                ""
            )
        )
    })
    .await;
    // (offer, normalized key/origin header, coding, X-Cache)
    let rows: &[(&str, &str, Option<&str>, &str)] = &[
        (
            "gzip, deflate, br, zstd",
            "br,zstd,gzip",
            Some("br"),
            "Miss",
        ),
        ("zstd, gzip", "zstd,gzip", Some("zstd"), "Miss"),
        ("gzip;q=0.5, zstd", "zstd,gzip", Some("zstd"), "Hit"),
        ("zstd", "zstd", Some("zstd"), "Miss"),
        ("gzip", "gzip", Some("gzip"), "Miss"),
        ("zstd;q=0, gzip", "gzip", Some("gzip"), "Hit"),
        ("", "identity", None, "Miss"),
    ];
    for (i, (offer, normalized, coding, x_cache)) in rows.iter().enumerate() {
        let before = o.hits("/z.json");
        let headers: &[(&str, &str)] = if offer.is_empty() {
            &[]
        } else {
            &[("accept-encoding", offer)]
        };
        let r = get_h(&e, "/z.json", headers).await;
        assert_eq!(
            (r.header("content-encoding"), r.header("x-cache")),
            (*coding, Some(format!("{x_cache} from cloudfront").as_str())),
            "row {i}: {offer}"
        );
        if *x_cache == "Miss" {
            assert_eq!(o.hits("/z.json"), before + 1, "row {i}");
            assert_eq!(
                o.last("/z.json").get("accept-encoding").unwrap(),
                normalized,
                "row {i}"
            );
        }
        let plain = match *coding {
            Some("zstd") => {
                assert_eq!(
                    (r.header("etag"), r.header("vary")),
                    (Some("W/\"z\""), Some("Accept-Encoding")),
                    "row {i}"
                );
                zstd::bulk::decompress(&r.body, doc.len()).unwrap()
            }
            Some(_) => {
                assert!(r.body.len() < doc.len(), "row {i}");
                continue;
            }
            None => r.body.to_vec(),
        };
        assert_eq!(String::from_utf8(plain).unwrap(), doc, "row {i}");
    }
    assert_eq!(o.hits("/z.json"), 5);
}

#[tokio::test]
async fn large_objects_stream_through_uncached() {
    let o = Scripted::start().await;
    let big = "x".repeat(300_000);
    o.set("/big", Answer::ok(&big, &[("cache-control", "max-age=60")]));
    let port = o.addr.port();
    let e = start_edge("web", ca(), move |h, s| {
        format!(
            "[cache]\nmax_object_bytes = 100000\n{}",
            config(h, s, port, OPTIMIZED, "")
        )
    })
    .await;
    for _ in 0..2 {
        let r = get(e.http, "www.example.com", "/big").await;
        assert_eq!(
            (r.body.len(), r.header("x-cache")),
            (300_000, Some("Miss from cloudfront"))
        );
    }
    assert_eq!(o.hits("/big"), 2);
}

#[tokio::test]
async fn origin_groups_fail_over_for_reads_only() {
    let primary = Scripted::start().await;
    let secondary = Scripted::start().await;
    for p in ["/a", "/post"] {
        primary.set(p, Answer::status(503, "primary down", &[]));
        secondary.set(
            p,
            Answer::ok("from secondary", &[("cache-control", "max-age=60")]),
        );
    }
    let refused = common::refused_port().await;
    let (pp, sp) = (primary.addr.port(), secondary.addr.port());
    let e = start_edge("web", ca(), move |h, s| {
        format!(
            r#"
[[distribution]]
id = "web"
listen = ["http://127.0.0.1:{h}", "https://127.0.0.1:{s}"]
aliases = ["www.example.com"]
[[distribution.origin]]
origin_id = "p"
domain_name = "origin.test"
connection_attempts = 1
custom_origin_config = {{ http_port = {pp}, origin_protocol_policy = "http-only" }}
[[distribution.origin]]
origin_id = "dead"
domain_name = "origin.test"
connection_attempts = 1
custom_origin_config = {{ http_port = {refused}, origin_protocol_policy = "http-only" }}
[[distribution.origin]]
origin_id = "s"
domain_name = "origin.test"
custom_origin_config = {{ http_port = {sp}, origin_protocol_policy = "http-only" }}
[[distribution.origin_group]]
origin_id = "g"
failover_criteria = {{ status_codes = [500, 503] }}
member = [{{ origin_id = "p" }}, {{ origin_id = "s" }}]
[[distribution.origin_group]]
origin_id = "g2"
failover_criteria = {{ status_codes = [500] }}
member = [{{ origin_id = "dead" }}, {{ origin_id = "s" }}]
[distribution.default_cache_behavior]
target_origin_id = "g"
viewer_protocol_policy = "allow-all"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy_id = "CachingOptimized"
[[distribution.ordered_cache_behavior]]
path_pattern = "/conn/*"
target_origin_id = "g2"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
"#
        )
    })
    .await;
    let r = get(e.http, "www.example.com", "/a").await;
    assert_eq!((r.status, r.text().as_str()), (200, "from secondary"));
    // Responses from the secondary are cached.
    assert_eq!(
        get(e.http, "www.example.com", "/a").await.header("x-cache"),
        Some("Hit from cloudfront")
    );
    assert_eq!((primary.hits("/a"), secondary.hits("/a")), (1, 1));
    // POST is not failed over.
    let r = send(
        e.http,
        req("POST", "/post", &[("host", "www.example.com")], "x"),
    )
    .await;
    assert_eq!(r.status, 503);
    assert_eq!(secondary.hits("/post"), 0);
    // A refused connection fails over too.
    secondary.set("/conn/x", Answer::ok("ok", &[]));
    let r = get(e.http, "www.example.com", "/conn/x").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
}

#[tokio::test]
async fn invalidations_remove_every_variant() {
    let o = Scripted::start().await;
    for p in [
        "/images/a.png",
        "/images/b/c.png",
        "/Images/a.png",
        "/other.png",
    ] {
        o.set(
            p,
            Answer::ok(
                p,
                &[
                    ("cache-control", "max-age=600"),
                    ("content-type", "image/png"),
                ],
            ),
        );
    }
    let e = edge(&o, OPTIMIZED, "").await;
    for p in [
        "/images/a.png",
        "/images/b/c.png",
        "/Images/a.png",
        "/other.png",
    ] {
        get(e.http, "www.example.com", p).await;
        get_h(&e, p, &[("accept-encoding", "gzip")]).await;
    }
    let reply = e
        .tier
        .admin_api(
            &http::Method::POST,
            "/distributions/web/invalidations",
            br#"{"paths": ["/images/*", "/other.png"]}"#,
        )
        .unwrap();
    assert_eq!(reply.status, 201);
    let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(v["Invalidation"]["Status"], "InProgress");
    let id = v["Invalidation"]["Id"].as_str().unwrap().to_string();
    let status = e
        .tier
        .admin_api(
            &http::Method::GET,
            &format!("/distributions/web/invalidations/{id}"),
            b"",
        )
        .unwrap();
    assert!(status.body.contains("\"Completed\""), "{}", status.body);
    for p in ["/images/a.png", "/images/b/c.png", "/other.png"] {
        assert_eq!(
            get(e.http, "www.example.com", p).await.header("x-cache"),
            Some("Miss from cloudfront"),
            "{p}"
        );
        assert_eq!(
            get_h(&e, p, &[("accept-encoding", "gzip")])
                .await
                .header("x-cache"),
            Some("Miss from cloudfront"),
            "{p}"
        );
    }
    assert_eq!(
        get(e.http, "www.example.com", "/Images/a.png")
            .await
            .header("x-cache"),
        Some("Hit from cloudfront")
    );
    let bad = e
        .tier
        .admin_api(
            &http::Method::POST,
            "/distributions/web/invalidations",
            br#"{"paths": ["/images/*.jpg"]}"#,
        )
        .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(
        e.tier
            .admin_api(
                &http::Method::GET,
                "/distributions/nope/invalidations/x",
                b""
            )
            .unwrap()
            .status,
        404
    );
}

#[tokio::test]
async fn rfc_mode_vary_cdn_cache_control_and_unsafe_invalidation() {
    let o = Scripted::start().await;
    o.set(
        "/star",
        Answer::ok("star", &[("cache-control", "max-age=60"), ("vary", "*")]),
    );
    o.set(
        "/cdn",
        Answer::ok(
            "cdn",
            &[
                ("cache-control", "no-store"),
                ("cdn-cache-control", "max-age=60"),
            ],
        ),
    );
    o.set("/plain", Answer::ok("plain", &[]));
    o.set(
        "/cart",
        Answer::ok("cart", &[("cache-control", "max-age=60")]),
    );
    let e = edge(
        &o,
        r#"cache_policy_id = "UseOriginCacheControlHeaders""#,
        "",
    )
    .await;
    for p in ["/star", "/cdn", "/plain", "/cart"] {
        get(e.http, "www.example.com", p).await;
        get(e.http, "www.example.com", p).await;
    }
    // Vary: * never matches; CDN-Cache-Control wins; no freshness means revalidate each time.
    assert_eq!(
        [
            o.hits("/star"),
            o.hits("/cdn"),
            o.hits("/plain"),
            o.hits("/cart")
        ],
        [2, 1, 2, 1]
    );
    let r = send(
        e.http,
        req("POST", "/cart", &[("host", "www.example.com")], "x"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        get(e.http, "www.example.com", "/cart")
            .await
            .header("x-cache"),
        Some("Miss from cloudfront")
    );
    // Age in: an origin Age shortens the time left, and goes out added to.
    o.set(
        "/aged",
        Answer::ok("aged", &[("cache-control", "max-age=60"), ("age", "50")]),
    );
    get(e.http, "www.example.com", "/aged").await;
    let r = get(e.http, "www.example.com", "/aged").await;
    assert!(r.header("age").unwrap().parse::<u64>().unwrap() >= 50);
    e.tier.clock().advance(Duration::from_secs(11));
    get(e.http, "www.example.com", "/aged").await;
    assert_eq!(o.hits("/aged"), 2);
}

#[tokio::test]
async fn set_cookie_is_stripped_unless_cookies_are_forwarded() {
    let o = Scripted::start().await;
    o.set(
        "/c",
        Answer::ok(
            "c",
            &[("cache-control", "max-age=60"), ("set-cookie", "s=1")],
        ),
    );
    let e = edge(&o, OPTIMIZED, "").await;
    get(e.http, "www.example.com", "/c").await;
    assert!(get(e.http, "www.example.com", "/c")
        .await
        .header("set-cookie")
        .is_none());
    let e2 = edge(
        &o,
        r#"cache_policy_id = "UseOriginCacheControlHeaders""#,
        "",
    )
    .await;
    get(e2.http, "www.example.com", "/c").await;
    let hit = get(e2.http, "www.example.com", "/c").await;
    assert_eq!(
        (hit.header("x-cache"), hit.header("set-cookie")),
        (Some("Hit from cloudfront"), Some("s=1"))
    );
}

#[tokio::test]
async fn the_access_log_writes_cloudfront_lines() {
    let o = Scripted::start().await;
    o.set("/a", Answer::ok("a", &[("cache-control", "max-age=60")]));
    let path = std::env::temp_dir().join(format!("edgeway-cdn-log-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let e = edge(
        &o,
        OPTIMIZED,
        &format!("access_log = {:?}", path.display().to_string()),
    )
    .await;
    get_h(&e, "/a", &[("cookie", "s=1")]).await;
    get(e.http, "www.example.com", "/a").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let t = std::fs::read_to_string(&path).unwrap_or_default();
        if t.lines().filter(|l| !l.starts_with('#')).count() >= 2 {
            break t;
        }
        assert!(Instant::now() < deadline, "no log lines: {t}");
        tokio::task::yield_now().await;
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#Version: 1.0");
    assert!(lines[1].starts_with("#Fields: date time x-edge-location"));
    let fields: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(fields.len(), 33);
    assert_eq!(
        (fields[5], fields[7], fields[8], fields[13]),
        ("GET", "/a", "200", "Miss")
    );
    assert_eq!(fields[12], "-", "cs(Cookie) without include_cookies");
    assert_eq!(lines[3].split('\t').nth(13), Some("Hit"));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn the_access_log_includes_cookies_when_configured() {
    let o = Scripted::start().await;
    o.set("/a", Answer::ok("a", &[("cache-control", "max-age=60")]));
    let path =
        std::env::temp_dir().join(format!("edgeway-cdn-cookie-log-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let extra = format!(
        "access_log = {:?}\naccess_log_include_cookies = true",
        path.display().to_string()
    );
    let e = edge(&o, OPTIMIZED, &extra).await;
    get_h(&e, "/a", &[("cookie", "session=abc; theme=dark")]).await;
    get(e.http, "www.example.com", "/a").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let t = std::fs::read_to_string(&path).unwrap_or_default();
        if t.lines().filter(|l| !l.starts_with('#')).count() >= 2 {
            break t;
        }
        assert!(Instant::now() < deadline, "no log lines: {t}");
        tokio::task::yield_now().await;
    };
    let mut cookies: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').nth(12))
        .collect();
    cookies.sort_unstable();
    assert_eq!(cookies, ["-", "session=abc;%20theme=dark"]);
    let _ = std::fs::remove_file(&path);
}

/// Hits on a hot entry (served from its kept, stamped head after the second hit) carry the same
/// headers in the same order as the first hits, for HTTP/1.1 and HTTP/2 viewers, GET and HEAD,
/// with the origin's own Via and Content-Length kept or corrected; only Age, X-Amz-Cf-Id and
/// Date may differ in value.
#[tokio::test]
async fn hot_hits_answer_with_the_same_head() {
    let o = Scripted::start().await;
    o.set(
        "/hot",
        Answer::ok(
            "hot body",
            &[
                ("content-type", "text/plain"),
                ("etag", "\"h1\""),
                ("x-origin", "o1"),
                ("via", "1.1 upstream-proxy"),
                ("x-origin", "o2"),
            ],
        ),
    );
    let e = edge(&o, OPTIMIZED, "").await;
    let head = |g: &common::Got| -> Vec<(String, String)> {
        g.headers
            .iter()
            .map(|(n, v)| {
                let value = match n.as_str() {
                    "age" | "x-amz-cf-id" | "date" => String::new(),
                    _ => v.to_str().unwrap_or("?").to_string(),
                };
                (n.as_str().to_string(), value)
            })
            .collect()
    };
    let first = get_h(&e, "/hot", &[]).await;
    assert_eq!(first.header("x-cache"), Some("Miss from cloudfront"));
    for method in ["GET", "HEAD"] {
        let mut heads = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..5 {
            let g = send(
                e.http,
                req(method, "/hot", &[("host", "www.example.com")], ""),
            )
            .await;
            assert_eq!(g.status, 200);
            assert_eq!(g.header("x-cache"), Some("Hit from cloudfront"));
            assert_eq!(g.text(), if method == "GET" { "hot body" } else { "" });
            assert!(g.header("age").is_some());
            ids.push(g.header("x-amz-cf-id").unwrap_or("").to_string());
            heads.push(head(&g));
        }
        assert!(heads.iter().all(|h| *h == heads[0]), "{method}: {heads:#?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "a fresh id per response: {ids:?}");
        assert!(heads[0].contains(&("content-length".into(), "8".into())));
        let via = heads[0]
            .iter()
            .find(|(n, _)| n == "via")
            .map(|(_, v)| v.clone());
        assert!(
            via.as_deref()
                .is_some_and(|v| v.starts_with("1.1 upstream-proxy, 1.1 ")),
            "{via:?}"
        );
    }
    // HTTP/2 viewers get their own Via, hot or not.
    let uri = format!("http://www.example.com:{}/hot", e.http.port());
    let mut heads = Vec::new();
    for _ in 0..4 {
        let g = common::send_h2c(e.http, req("GET", &uri, &[], "")).await;
        assert_eq!((g.status, g.text()), (200, "hot body".to_string()));
        heads.push(head(&g));
    }
    assert!(heads.iter().all(|h| *h == heads[0]), "{heads:#?}");
    let via = heads[0]
        .iter()
        .find(|(n, _)| n == "via")
        .map(|(_, v)| v.clone());
    assert!(
        via.as_deref()
            .is_some_and(|v| v.starts_with("1.1 upstream-proxy, 2.0 ")),
        "{via:?}"
    );
    assert_eq!(o.hits("/hot"), 1);
}
