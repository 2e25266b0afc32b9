//! Micro-benchmarks of the edge's per-request pure functions: behavior selection (path
//! patterns), the cache key, the origin request headers, the viewer response headers and the
//! TTL decision.
//! `cargo bench -p edgeway-cdn --bench hot_paths`; `-- --test` runs each once (CI smoke).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use edgeway_cdn::behavior::{self, Behavior};
use edgeway_cdn::cache_key::{cache_key, KeyInput};
use edgeway_cdn::headers::{
    clean_origin_response, origin_request_headers, stamp_viewer_response, OriginHeaderInput,
    ViewerStamp,
};
use edgeway_cdn::pattern::{glob, PathPattern};
use edgeway_cdn::{ids, ttl};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use std::net::SocketAddr;

/// A distribution like the bench's (and a few more behaviors, so selection has work to do).
const CONFIG: &str = r#"
[[distribution]]
id = "bench"
listen = ["http://127.0.0.1:1"]
[[distribution.origin]]
origin_id = "o"
domain_name = "origin.example.com"
custom_origin_config = { http_port = 8080, origin_protocol_policy = "http-only" }
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy_id = "CachingDisabled"
origin_request_policy_id = "AllViewerExceptHostHeader"
[[distribution.ordered_cache_behavior]]
path_pattern = "/api/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
[[distribution.ordered_cache_behavior]]
path_pattern = "/static/*.css"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
[[distribution.ordered_cache_behavior]]
path_pattern = "*.js"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
[[distribution.ordered_cache_behavior]]
path_pattern = "/images/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "UseOriginCacheControlHeaders"
[[distribution.ordered_cache_behavior]]
path_pattern = "/media/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
[[distribution.ordered_cache_behavior]]
path_pattern = "/keyed/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "keyed"
[[cache_policy]]
name = "keyed"
min_ttl = 1
parameters_in_cache_key_and_forwarded_to_origin = { enable_accept_encoding_gzip = true, enable_accept_encoding_brotli = true, headers_config = { header_behavior = "whitelist", headers = { items = ["X-Device", "Host"] } }, cookies_config = { cookie_behavior = "whitelist", cookies = { items = ["session"] } }, query_strings_config = { query_string_behavior = "all" } }
"#;

fn behaviors() -> (Vec<Behavior>, Behavior) {
    let cfg = edgeway_config::parse("bench.toml", CONFIG)
        .map_err(|e| e.to_string())
        .unwrap();
    let d = &cfg.distributions[0];
    let ids: Vec<&str> = d.origins.iter().map(|o| o.origin_id.as_str()).collect();
    let ordered = d
        .ordered_cache_behavior
        .iter()
        .map(|b| Behavior::new(&cfg, b, &ids))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let default = Behavior::new(&cfg, &d.default_cache_behavior, &ids).unwrap();
    (ordered, default)
}

/// What a browser sends (wrk sends far less; this is the realistic case).
pub fn browser_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("host", "www.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "accept",
            "image/avif,image/webp,image/png,image/*;q=0.8,*/*;q=0.5",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("referer", "https://www.example.com/"),
        ("cookie", "session=abc123; theme=dark; _ga=GA1.2.3.4"),
        ("x-device", "mobile"),
        ("connection", "keep-alive"),
        ("sec-fetch-dest", "image"),
        ("sec-fetch-mode", "no-cors"),
        ("sec-fetch-site", "same-origin"),
    ] {
        h.append(n, HeaderValue::from_static(v));
    }
    h
}

fn origin_response_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("server", "nginx"),
        ("date", "Wed, 26 Nov 2025 04:00:00 GMT"),
        ("content-type", "image/png"),
        ("content-length", "1024"),
        ("last-modified", "Tue, 25 Nov 2025 10:00:00 GMT"),
        ("connection", "keep-alive"),
        ("etag", "\"6745a0b0-400\""),
        ("cache-control", "max-age=3600"),
        ("vary", "Accept-Encoding, User-Agent"),
        ("accept-ranges", "bytes"),
    ] {
        h.append(n, HeaderValue::from_static(v));
    }
    h
}

fn selection(c: &mut Criterion) {
    let (ordered, default) = behaviors();
    let mut g = c.benchmark_group("behavior_select");
    for (name, path) in [
        ("first", "/api/users/42"),
        ("fourth", "/images/logo.png"),
        ("default", "/products/shoes/running/index.html"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                behavior::select(black_box(&ordered), black_box(&default), black_box(path)).origin
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("path_pattern");
    let p = PathPattern::new("/images/*");
    g.bench_function("prefix_hit", |b| {
        b.iter(|| black_box(&p).matches(black_box("/images/a/b/c/photo.jpg")))
    });
    g.bench_function("prefix_miss", |b| {
        b.iter(|| black_box(&p).matches(black_box("/products/shoes/running/index.html")))
    });
    let suffix = PathPattern::new("*.js");
    g.bench_function("suffix_long_path", |b| {
        b.iter(|| {
            black_box(&suffix).matches(black_box("/assets/vendor/some/deep/path/bundle.min.css"))
        })
    });
    g.bench_function("glob_two_stars", |b| {
        b.iter(|| {
            glob(
                black_box("/static/*/v*/app.css"),
                black_box("/static/build/v123/app.css"),
            )
        })
    });
    g.finish();
}

fn keys(c: &mut Criterion) {
    let (ordered, default) = behaviors();
    let images = behavior::select(&ordered, &default, "/images/logo.png");
    let keyed = behavior::select(&ordered, &default, "/keyed/x");
    let h = browser_headers();
    let mut g = c.benchmark_group("cache_key");
    g.bench_function("default_policy", |b| {
        b.iter(|| {
            let i = KeyInput {
                distribution: "bench",
                method: &Method::GET,
                version: Version::HTTP_11,
                path: black_box("/images/logo.png"),
                query: None,
                headers: &h,
                host: Some("www.example.com"),
            };
            cache_key(&i, images)
        })
    });
    g.bench_function("headers_cookies_query_encoding", |b| {
        b.iter(|| {
            let i = KeyInput {
                distribution: "bench",
                method: &Method::GET,
                version: Version::HTTP_11,
                path: black_box("/keyed/x"),
                query: Some("b=2&a=1&utm_source=x"),
                headers: &h,
                host: Some("www.example.com"),
            };
            cache_key(&i, keyed)
        })
    });
    g.finish();
}

fn header_rewriting(c: &mut Criterion) {
    let (ordered, default) = behaviors();
    let viewer = browser_headers();
    let peer: SocketAddr = "192.0.2.10:54321".parse().unwrap();
    let custom: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let via = ids::via(
        Version::HTTP_11,
        "0123456789abcdef0123456789abcdef.cloudfront.net",
    );
    let rid = ids::request_id();
    let mut g = c.benchmark_group("origin_request_headers");
    for (name, path) in [
        ("passed_all_viewer_except_host", "/page.html"),
        ("cached_images", "/images/logo.png"),
    ] {
        let behavior = behavior::select(&ordered, &default, path);
        g.bench_function(name, |b| {
            b.iter(|| {
                let i = OriginHeaderInput {
                    method: &Method::GET,
                    https: true,
                    version: Version::HTTP_11,
                    peer,
                    viewer_host: Some("www.example.com"),
                    tls: None,
                    behavior,
                    origin_domain: "origin.example.com",
                    custom_headers: &custom,
                    via: &via,
                    request_id: &rid,
                };
                origin_request_headers(black_box(&viewer), &i)
            })
        });
    }
    g.finish();

    let behavior = behavior::select(&ordered, &default, "/images/logo.png");
    let resp = origin_response_headers();
    let mut g = c.benchmark_group("viewer_response_headers");
    g.bench_function("clean_and_stamp", |b| {
        b.iter(|| {
            let mut h = resp.clone();
            clean_origin_response(&mut h, behavior);
            stamp_viewer_response(
                &mut h,
                &ViewerStamp {
                    via: &via,
                    request_id: &rid,
                    pop: "LOCAL1-C1",
                    x_cache: "Hit from cloudfront",
                },
            );
            h
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ids");
    g.bench_function("request_id", |b| b.iter(ids::request_id));
    g.bench_function("via", |b| {
        b.iter(|| {
            ids::via(
                black_box(Version::HTTP_11),
                "0123456789abcdef0123456789abcdef.cloudfront.net",
            )
        })
    });
    g.finish();
}

/// Whether and how long to store an origin response: CloudFront's TTL rules (CachingOptimized),
/// the RFC 9111 mode (UseOriginCacheControlHeaders) and a behavior that never caches.
fn ttl_decisions(c: &mut Criterion) {
    let (ordered, default) = behaviors();
    let headers = origin_response_headers();
    let now = std::time::SystemTime::now();
    let mut g = c.benchmark_group("ttl_decide");
    for (name, path) in [
        ("cloudfront_rules", "/media/a.mp4"),
        ("rfc9111_origin_headers", "/images/a.png"),
        ("caching_disabled", "/api/items"),
    ] {
        let b = behavior::select(&ordered, &default, path);
        g.bench_function(name, |bench| {
            bench.iter(|| {
                ttl::decide(
                    &b.cache_policy,
                    &ttl::Exchange {
                        method: &Method::GET,
                        status: http::StatusCode::OK,
                        headers: black_box(&headers),
                        authorization: false,
                        request_time: now,
                        response_time: now,
                        error_caching_min_ttl: None,
                        skew: std::time::Duration::ZERO,
                    },
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, selection, keys, header_rewriting, ttl_decisions);
criterion_main!(benches);
