use super::*;
use crate::policy::{resolve_cache_policy, resolve_orp};
use crate::viewer::ViewerProtocolPolicy;

fn cfg() -> edgeway_config::Config {
    let src = r#"
[[distribution]]
id = "t"
listen = ["http://127.0.0.1:1"]
[[distribution.origin]]
origin_id = "o"
domain_name = "origin.test"
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
[[cache_policy]]
name = "keyed"
[cache_policy.parameters_in_cache_key_and_forwarded_to_origin]
headers_config = { header_behavior = "whitelist", headers = { items = ["Accept-Language", "CloudFront-Viewer-Address"] } }
cookies_config = { cookie_behavior = "whitelist", cookies = { items = ["session"] } }
[[origin_request_policy]]
name = "proto"
headers_config = { header_behavior = "whitelist", headers = { items = ["CloudFront-Forwarded-Proto", "CloudFront-Is-Mobile-Viewer"] } }
"#;
    match edgeway_config::parse("t.toml", src) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn behavior(cache: &str, orp: Option<&str>) -> Behavior {
    let c = cfg();
    Behavior {
        pattern: None,
        origin: 0,
        failover: None,
        viewer_protocol_policy: ViewerProtocolPolicy::AllowAll,
        allowed_methods: vec![Method::GET, Method::HEAD, Method::POST],
        cached_methods: vec![Method::GET, Method::HEAD],
        cache_policy: resolve_cache_policy(&c, cache),
        origin_request_policy: orp.map(|o| resolve_orp(&c, o)),
        compress: false,
    }
}

fn viewer() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("host", "www.example.com"),
        ("accept", "text/html"),
        ("accept-encoding", "gzip, deflate, br"),
        ("accept-language", "en"),
        ("authorization", "Bearer x"),
        ("cookie", "session=1; other=2"),
        ("expect", "100-continue"),
        ("referer", "https://a.test/"),
        ("user-agent", "curl/8 Mobile"),
        ("x-forwarded-for", "192.0.2.4"),
        ("x-forwarded-proto", "https"),
        ("x-real-ip", "1.2.3.4"),
        ("x-edge-foo", "1"),
        ("x-amz-cf-id", "spoofed"),
        ("cloudfront-viewer-address", "6.6.6.6:1"),
        ("proxy-authorization", "secret"),
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "1"),
        ("x-custom", "kept"),
        ("x-secret", "from-viewer"),
        ("if-none-match", "\"e\""),
        ("content-type", "text/plain"),
        ("origin", "https://a.test"),
        ("via", "1.1 proxy"),
    ] {
        h.append(n, HeaderValue::from_static(v));
    }
    h
}

fn build(b: &Behavior, method: &Method) -> HeaderMap {
    let custom = [(
        HeaderName::from_static("x-secret"),
        HeaderValue::from_static("s3cr3t"),
    )];
    let i = OriginHeaderInput {
        method,
        https: true,
        version: Version::HTTP_11,
        peer: SocketAddr::from(([192, 0, 2, 3], 5555)),
        viewer_host: Some("www.example.com"),
        tls: None,
        behavior: b,
        origin_domain: "origin.test",
        custom_headers: &custom,
        via: "1.1 abc.cloudfront.net (CloudFront)",
        request_id: "id==",
    };
    origin_request_headers(&viewer(), &i)
}

fn get<'a>(h: &'a HeaderMap, n: &str) -> Option<&'a str> {
    h.get(n).and_then(|v| v.to_str().ok())
}

#[test]
fn default_forwarding_table() {
    let h = build(&behavior("CachingDisabled", None), &Method::GET);
    let table: &[(&str, Option<&str>)] = &[
        ("host", Some("origin.test")),
        ("accept", None),
        ("accept-encoding", None),
        ("accept-language", None),
        ("authorization", None),
        ("cookie", None),
        ("expect", None),
        ("referer", None),
        ("user-agent", Some("Amazon CloudFront")),
        ("x-forwarded-for", Some("192.0.2.4,192.0.2.3")),
        ("x-forwarded-proto", None),
        ("x-real-ip", None),
        ("x-edge-foo", None),
        ("x-amz-cf-id", Some("id==")),
        ("cloudfront-viewer-address", None),
        ("proxy-authorization", None),
        ("connection", None),
        ("x-hop", None),
        ("x-custom", Some("kept")),
        ("x-secret", Some("s3cr3t")),
        ("if-none-match", Some("\"e\"")),
        ("content-type", Some("text/plain")),
        ("origin", Some("https://a.test")),
        (
            "via",
            Some("1.1 proxy, 1.1 abc.cloudfront.net (CloudFront)"),
        ),
    ];
    for (n, want) in table {
        assert_eq!(get(&h, n), *want, "{n}");
    }
}

#[test]
fn authorization_kept_for_uncached_methods() {
    let h = build(&behavior("CachingDisabled", None), &Method::POST);
    assert_eq!(get(&h, "authorization"), Some("Bearer x"));
}

#[test]
fn all_viewer_forwards_host_cookies_and_everything() {
    let h = build(
        &behavior("CachingDisabled", Some("AllViewer")),
        &Method::GET,
    );
    let table: &[(&str, Option<&str>)] = &[
        ("host", Some("www.example.com")),
        ("accept", Some("text/html")),
        ("accept-encoding", Some("gzip, deflate, br")),
        ("authorization", Some("Bearer x")),
        ("cookie", Some("other=2; session=1")),
        ("user-agent", Some("curl/8 Mobile")),
        ("referer", Some("https://a.test/")),
        ("cloudfront-viewer-address", None),
        ("x-amz-cf-id", Some("id==")),
        ("x-secret", Some("s3cr3t")),
        ("connection", None),
    ];
    for (n, want) in table {
        assert_eq!(get(&h, n), *want, "{n}");
    }
    let h = build(
        &behavior("CachingDisabled", Some("AllViewerExceptHostHeader")),
        &Method::GET,
    );
    assert_eq!(get(&h, "host"), Some("origin.test"));
    assert_eq!(get(&h, "accept"), Some("text/html"));
}

#[test]
fn cache_key_items_and_generated_headers() {
    let h = build(&behavior("keyed", Some("proto")), &Method::GET);
    let table: &[(&str, Option<&str>)] = &[
        ("accept-language", Some("en")),
        ("cookie", Some("session=1")),
        ("cloudfront-viewer-address", Some("192.0.2.3:5555")),
        ("cloudfront-forwarded-proto", Some("https")),
        ("cloudfront-is-mobile-viewer", Some("true")),
        ("cloudfront-is-desktop-viewer", None),
        ("accept", None),
        ("host", Some("origin.test")),
    ];
    for (n, want) in table {
        assert_eq!(get(&h, n), *want, "{n}");
    }
}

#[test]
fn accept_encoding_is_normalized() {
    let h = build(&behavior("CachingOptimized", None), &Method::GET);
    assert_eq!(get(&h, "accept-encoding"), Some("br,gzip"));
    let table: &[(&str, bool, bool, bool, Version, &str)] = &[
        (
            "gzip, deflate, br",
            true,
            true,
            false,
            Version::HTTP_11,
            "br,gzip",
        ),
        ("gzip", true, true, false, Version::HTTP_2, "gzip"),
        ("br", true, false, false, Version::HTTP_11, "identity"),
        ("deflate", true, true, false, Version::HTTP_11, "identity"),
        ("gzip;q=0, br", true, true, false, Version::HTTP_11, "br"),
        ("GZIP;q=0.5", true, true, false, Version::HTTP_11, "gzip"),
        ("gzip, br", true, true, false, Version::HTTP_10, "identity"),
        // zstd: only when the policy enables it; listed in preference order br, zstd, gzip.
        (
            "zstd, gzip, br",
            true,
            true,
            false,
            Version::HTTP_11,
            "br,gzip",
        ),
        (
            "zstd, gzip, br",
            true,
            true,
            true,
            Version::HTTP_11,
            "br,zstd,gzip",
        ),
        (
            "gzip, zstd",
            true,
            true,
            true,
            Version::HTTP_11,
            "zstd,gzip",
        ),
        ("br, zstd", true, true, true, Version::HTTP_2, "br,zstd"),
        ("zstd", true, true, true, Version::HTTP_11, "zstd"),
        ("zstd", false, false, true, Version::HTTP_11, "zstd"),
        ("zstd;q=0, gzip", true, true, true, Version::HTTP_11, "gzip"),
        ("zstd", true, true, true, Version::HTTP_10, "identity"),
    ];
    for (offer, gzip, br, zstd, version, want) in table {
        let mut v = HeaderMap::new();
        v.insert("accept-encoding", HeaderValue::from_static(offer));
        assert_eq!(
            normalized_accept_encoding(&v, *gzip, *br, *zstd, *version),
            *want,
            "{offer}"
        );
    }
}

#[test]
fn devices() {
    let find = |ua: &str, n: &str| {
        device_headers(ua)
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| *v)
    };
    assert_eq!(
        find(
            "Mozilla/5.0 (X11; Linux x86_64)",
            "cloudfront-is-desktop-viewer"
        ),
        Some(true)
    );
    assert_eq!(
        find(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148",
            "cloudfront-is-mobile-viewer"
        ),
        Some(true)
    );
    assert_eq!(
        find(
            "Mozilla/5.0 (iPad; CPU OS 17_0)",
            "cloudfront-is-tablet-viewer"
        ),
        Some(true)
    );
    assert_eq!(
        find(
            "Mozilla/5.0 (Linux; Android 14; Pixel) Mobile",
            "cloudfront-is-android-viewer"
        ),
        Some(true)
    );
}

#[test]
fn viewer_response_cleanup() {
    let mut h = HeaderMap::new();
    h.insert("set-cookie", HeaderValue::from_static("a=1"));
    h.insert(
        "vary",
        HeaderValue::from_static("Accept-Encoding, User-Agent, Cookie"),
    );
    h.insert("connection", HeaderValue::from_static("close"));
    h.insert("via", HeaderValue::from_static("1.1 alb"));
    clean_origin_response(&mut h, &behavior("CachingDisabled", None));
    assert!(h.get("set-cookie").is_none());
    assert!(h.get("connection").is_none());
    assert_eq!(get(&h, "vary"), Some("Accept-Encoding"));

    let mut h = HeaderMap::new();
    h.insert("set-cookie", HeaderValue::from_static("a=1"));
    h.insert(
        "vary",
        HeaderValue::from_static("Cookie, Accept-Language, X-Other"),
    );
    clean_origin_response(&mut h, &behavior("keyed", None));
    assert_eq!(get(&h, "set-cookie"), Some("a=1"));
    assert_eq!(get(&h, "vary"), Some("Cookie, Accept-Language"));

    let mut h = HeaderMap::new();
    h.insert("via", HeaderValue::from_static("1.1 alb"));
    stamp_viewer_response(
        &mut h,
        &ViewerStamp {
            via: "2.0 e.cloudfront.net (CloudFront)",
            request_id: "r==",
            pop: "LOCAL1-C1",
            x_cache: "Miss from cloudfront",
        },
    );
    assert_eq!(
        get(&h, "via"),
        Some("1.1 alb, 2.0 e.cloudfront.net (CloudFront)")
    );
    assert_eq!(get(&h, "x-cache"), Some("Miss from cloudfront"));
    assert_eq!(get(&h, "x-amz-cf-pop"), Some("LOCAL1-C1"));
    assert_eq!(get(&h, "x-amz-cf-id"), Some("r=="));
}

/// Prepared values change nothing: the same headers, in the same order, for viewers with and
/// without `Via`, X-Forwarded-For (also named by `Connection`) and Host, forwarded or not.
#[test]
fn prepared_values_build_the_same_headers() {
    let via = "1.1 abc.cloudfront.net (CloudFront)";
    let via_value = HeaderValue::from_static("1.1 abc.cloudfront.net (CloudFront)");
    let host_value = HeaderValue::from_static("origin.test");
    let id_value = HeaderValue::from_static("id==");
    let prepared = PreparedValues {
        via: Some(&via_value),
        origin_host: Some(&host_value),
        request_id: Some(&id_value),
    };
    let mut viewers = vec![viewer(), HeaderMap::new()];
    let mut h = viewer();
    h.remove("via");
    h.remove("x-forwarded-for");
    viewers.push(h);
    let mut h = HeaderMap::new();
    h.insert("connection", HeaderValue::from_static("x-forwarded-for"));
    h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
    h.insert("via", HeaderValue::from_static("1.0 a"));
    h.append("via", HeaderValue::from_static("1.1 b"));
    viewers.push(h);
    let mut h = HeaderMap::new();
    h.insert("connection", HeaderValue::from_static("via"));
    h.insert("via", HeaderValue::from_static("1.0 a"));
    viewers.push(h);
    let custom = [];
    let behaviors = [
        behavior("CachingDisabled", None),
        behavior("keyed", Some("proto")),
        behavior("CachingDisabled", Some("AllViewer")),
    ];
    for b in &behaviors {
        for v in &viewers {
            for (peer, viewer_host) in [
                (
                    SocketAddr::from(([192, 0, 2, 3], 5555)),
                    Some("www.example.com"),
                ),
                (SocketAddr::from(([10, 0, 0, 7], 1)), None),
                (
                    "[2001:db8::1]:80"
                        .parse()
                        .unwrap_or(SocketAddr::from(([1, 1, 1, 1], 1))),
                    None,
                ),
            ] {
                let i = OriginHeaderInput {
                    method: &Method::GET,
                    https: false,
                    version: Version::HTTP_11,
                    peer,
                    viewer_host,
                    tls: None,
                    behavior: b,
                    origin_domain: "origin.test",
                    custom_headers: &custom,
                    via,
                    request_id: "id==",
                };
                let plain: Vec<_> = origin_request_headers(v, &i).into_iter().collect();
                let with: Vec<_> = origin_request_headers_with(v, &i, prepared)
                    .into_iter()
                    .collect();
                assert_eq!(plain, with, "{v:?} {peer} {viewer_host:?}");
            }
        }
    }
}
