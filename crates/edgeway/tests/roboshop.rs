//! End to end: the demo's config (`examples/roboshop.toml`) with every port moved to one the kernel
//! chose, driven over real sockets: DNS packets, HTTPS through the edge to the load balancer to the
//! targets, for HTTP/1.1 and HTTP/2 viewers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use edgeway_testkit::{eventually, get, request, send, Target};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

struct Demo {
    stack: Stack,
    edge_https: SocketAddr,
    edge_http: SocketAddr,
    dns: SocketAddr,
    admin: SocketAddr,
    lb_port: u16,
}

fn listen_of(urls: &[String], scheme: &str) -> SocketAddr {
    urls.iter()
        .find_map(|u| u.strip_prefix(scheme))
        .unwrap()
        .parse()
        .unwrap()
}

async fn start() -> Demo {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml");
    let mut cfg = edgeway_config::load(&path).expect("the example validates");
    let bound = bind(&mut cfg, true).await.expect("bind");
    let ca = Arc::new(LocalCa::ephemeral().expect("CA"));
    let stack = Stack::start(cfg, bound, ca).await.expect("start");
    let c = &stack.config;
    let d = &c.distributions[0];
    let demo = Demo {
        edge_https: listen_of(&d.listen, "https://"),
        edge_http: listen_of(&d.listen, "http://"),
        dns: c.dns.as_ref().unwrap().listen.parse().unwrap(),
        admin: c.admin.as_ref().unwrap().listen.parse().unwrap(),
        lb_port: c.load_balancers[0].listeners[0].port,
        stack,
    };
    // Wait until both frontend targets are healthy, so round robin covers both.
    let alb = demo.stack.alb.clone();
    eventually(Duration::from_secs(20), "frontend targets healthy", || {
        let alb = alb.clone();
        async move {
            let h = alb.target_health("frontend")?;
            (h.len() == 2 && h.iter().all(|t| t.state == "healthy")).then_some(())
        }
    })
    .await;
    demo
}

fn edge(d: &Demo) -> Target {
    Target::https(d.edge_https, "dev.roboshop.localhost", &d.stack.ca_pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_answers_alias_records_authoritatively() {
    let d = start().await;
    let t = Duration::from_secs(3);
    let m = edgeway_dns::query(d.dns, "dev.roboshop.localhost", RecordType::A, t)
        .await
        .unwrap();
    assert_eq!(m.response_code, ResponseCode::NoError);
    assert!(m.authoritative, "AA bit");
    assert_eq!(edgeway_dns::format_short(&m).trim(), "127.0.0.1");
    let m = edgeway_dns::query(d.dns, "roboshop-dev.roboshop.localhost", RecordType::A, t)
        .await
        .unwrap();
    assert_eq!(edgeway_dns::format_short(&m).trim(), "127.0.0.1");
    let m = edgeway_dns::query(d.dns, "example.com", RecordType::A, t)
        .await
        .unwrap();
    assert_eq!(m.response_code, ResponseCode::Refused);
    let m = edgeway_dns::query(d.dns, "nope.roboshop.localhost", RecordType::A, t)
        .await
        .unwrap();
    assert_eq!(m.response_code, ResponseCode::NXDomain);
    assert!(
        m.authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA),
        "SOA in authority"
    );
    d.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storefront_through_every_hop_over_https() {
    let d = start().await;
    let host = format!("dev.roboshop.localhost:{}", d.edge_https.port());
    let mut served = HashSet::new();
    for _ in 0..4 {
        let r = get(&edge(&d), &host, "/").await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("Roboshop"), "storefront page");
        let via = r.header("via").unwrap();
        assert!(
            via.starts_with("1.1 ") && via.ends_with(".cloudfront.net (CloudFront)"),
            "{via}"
        );
        assert!(r.header("x-amz-cf-id").is_some_and(|v| v.len() >= 40));
        assert_eq!(r.header("x-amz-cf-pop"), Some("LOCAL1-C1"));
        assert!(r
            .header("x-cache")
            .is_some_and(|v| v.ends_with("from cloudfront")));
        served.insert(r.header("x-instance-id").unwrap().to_string());
    }
    assert_eq!(
        served,
        HashSet::from(["frontend-1".to_string(), "frontend-2".to_string()]),
        "round robin over both"
    );
    d.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_see_the_forwarding_headers() {
    let d = start().await;
    let host = format!("dev.roboshop.localhost:{}", d.edge_https.port());
    let r = get(&edge(&d), &host, "/api/echo?x=1").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-instance-id"),
        Some("api-1"),
        "the /api/* rule picks target group api"
    );
    let echo: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let headers: Vec<(String, String)> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_ascii_lowercase(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let h = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        h("x-forwarded-for"),
        "127.0.0.1, 127.0.0.1",
        "the viewer, then the edge"
    );
    assert_eq!(h("x-forwarded-proto"), "https");
    assert_eq!(h("x-forwarded-port"), d.lb_port.to_string());
    assert!(
        h("x-amzn-trace-id").starts_with("Root=1-"),
        "{}",
        h("x-amzn-trace-id")
    );
    assert_eq!(
        h("host"),
        format!("roboshop-dev.roboshop.localhost:{}", d.lb_port)
    );
    assert_eq!(
        h("x-amz-cf-id"),
        r.header("x-amz-cf-id").unwrap(),
        "same id to origin and viewer"
    );
    assert!(h("via").ends_with(".cloudfront.net (CloudFront)"));
    d.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_viewers_and_the_https_redirect() {
    let d = start().await;
    let host = format!("dev.roboshop.localhost:{}", d.edge_https.port());
    let r = get(&edge(&d).h2(), &host, "/images/watson.png").await;
    let r = r.unwrap();
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        r.header("via").is_some_and(|v| v.starts_with("2.0 ")),
        "{:?}",
        r.header("via")
    );
    let r = get(&edge(&d).h2(), &host, "/").await.unwrap();
    assert_eq!(r.status, 200);
    // Plain HTTP is redirected to the HTTPS listener.
    let plain = Target::http(d.edge_http);
    let r = get(
        &plain,
        &format!("dev.roboshop.localhost:{}", d.edge_http.port()),
        "/a?b=1",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location").unwrap(),
        format!(
            "https://dev.roboshop.localhost:{}/a?b=1",
            d.edge_https.port()
        )
    );
    let mut post = request("POST", &plain, "dev.roboshop.localhost", "/api/echo");
    *post.body_mut() = http_body_util::Full::new(bytes::Bytes::from_static(b"x"));
    assert_eq!(send(&plain, post).await.unwrap().status, 307);
    d.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_each_tier() {
    let d = start().await;
    let host = format!("dev.roboshop.localhost:{}", d.edge_https.port());
    get(&edge(&d), &host, "/").await.unwrap();
    let r = get(&Target::http(d.admin), "127.0.0.1", "/metrics")
        .await
        .unwrap();
    let text = r.text();
    assert!(text.contains("edgeway_cdn_requests_total"), "{text}");
    assert!(text.contains("edgeway_alb_requests_total"), "{text}");
    assert!(
        text.contains("edgeway_dns_queries_total")
            || d.stack.metrics.sum("edgeway_dns_queries_total") > 0,
        "{text}"
    );
    assert!(d.stack.metrics.sum("edgeway_cdn_requests_total") >= 1);
    assert!(d.stack.metrics.sum("edgeway_alb_requests_total") >= 1);
    let r = get(&Target::http(d.admin), "127.0.0.1", "/healthz")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    d.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sticks_to_one_frontend_through_the_edge() {
    let d = start().await;
    let host = format!("dev.roboshop.localhost:{}", d.edge_https.port());
    let first = get(&edge(&d), &host, "/").await.unwrap();
    let cookie = first
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("AWSALB="))
        .expect("the load balancer's AWSALB cookie reaches the viewer")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let pinned = first.header("x-instance-id").unwrap().to_string();
    for _ in 0..6 {
        let mut req = request("GET", &edge(&d), &host, "/");
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        let r = send(&edge(&d), req).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-instance-id").unwrap(),
            pinned,
            "sticky to one target"
        );
    }
    d.stack.shutdown().await;
}
