//! What targets see, what viewers get when targets fail, HTTP/2 viewers and WebSockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One load balancer `web` with one listener forwarding to `app` = `targets`, plus `lb_extra`
/// attributes and `tg_extra` target group settings.
async fn one_lb(targets: &[String], lb_extra: &str, tg_extra: &str) -> (Alb, SocketAddr) {
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let list = targets
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
{lb_extra}
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}

[[target_group]]
name = "app"
targets = [{list}]
{tg_extra}
"#
    );
    let alb = alb(&toml, vec![("web", l)]).await;
    (alb, ([127, 0, 0, 1], port).into())
}

#[tokio::test]
async fn target_sees_forwarded_headers_trace_id_and_host() {
    let t = target("t").await;
    let (_alb, addr) = one_lb(&[t.addr.to_string()], "", "").await;
    let port = addr.port();

    let r = send(
        addr,
        "GET",
        "/p?q=1",
        &[
            ("host", "shop.example.com"),
            ("x-forwarded-for", "203.0.113.7"),
            ("connection", "x-secret"),
            ("x-secret", "1"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-target"], "t");
    assert!(
        !r.headers.contains_key("keep-alive"),
        "hop-by-hop response header removed"
    );
    let j = r.json();
    assert_eq!(j["uri"], "/p?q=1");
    assert_eq!(j["version"], "HTTP/1.1");
    assert_eq!(
        r.seen("x-forwarded-for").as_deref(),
        Some("203.0.113.7, 127.0.0.1")
    );
    assert_eq!(r.seen("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(r.seen("x-forwarded-port"), Some(port.to_string()));
    assert_eq!(r.seen("host"), Some(format!("shop.example.com:{port}")));
    assert_eq!(r.seen("x-secret"), None);
    let trace = r.seen("x-amzn-trace-id").unwrap();
    let parts: Vec<&str> = trace.strip_prefix("Root=1-").unwrap().split('-').collect();
    assert_eq!((parts[0].len(), parts[1].len()), (8, 24), "{trace}");
    assert!(
        parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit())),
        "{trace}"
    );

    let r = send(addr, "GET", "/", &[("x-amzn-trace-id", "Self=1-00000000-000000000000000000000000;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")]).await;
    let trace = r.seen("x-amzn-trace-id").unwrap();
    assert!(trace.starts_with("Self=1-"), "{trace}");
    assert!(
        trace.ends_with(";Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
        "{trace}"
    );
    assert!(!trace.contains("Self=1-00000000"), "{trace}");
}

#[tokio::test]
async fn xff_modes_client_port_and_preserved_host() {
    let t = target("t").await;
    let (_alb, addr) = one_lb(
        &[t.addr.to_string()],
        "enable_xff_client_port = true\npreserve_host_header = true",
        "",
    )
    .await;
    let r = send(addr, "GET", "/", &[("host", "shop.example.com:1234")]).await;
    let xff = r.seen("x-forwarded-for").unwrap();
    assert!(
        xff.starts_with("127.0.0.1:") && xff.len() > "127.0.0.1:".len(),
        "{xff}"
    );
    assert_eq!(r.seen("host").as_deref(), Some("shop.example.com:1234"));

    let (_alb2, addr2) = one_lb(
        &[t.addr.to_string()],
        "xff_header_processing_mode = \"remove\"",
        "",
    )
    .await;
    let r = send(addr2, "GET", "/", &[("x-forwarded-for", "1.2.3.4")]).await;
    assert_eq!(r.seen("x-forwarded-for"), None);

    let (_alb3, addr3) = one_lb(
        &[t.addr.to_string()],
        "xff_header_processing_mode = \"preserve\"",
        "",
    )
    .await;
    let r = send(addr3, "GET", "/", &[("x-forwarded-for", "1.2.3.4")]).await;
    assert_eq!(r.seen("x-forwarded-for").as_deref(), Some("1.2.3.4"));
}

#[tokio::test]
async fn alb_generated_statuses() {
    let t = target("t").await;
    let (alb, addr) = one_lb(&[t.addr.to_string()], "", "").await;

    let r = send(addr, "TRACE", "/", &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["server"], "awselb/2.0");

    let xff = vec!["10.0.0.1"; 31].join(", ");
    let r = send(addr, "GET", "/", &[("x-forwarded-for", &xff)]).await;
    assert_eq!(r.status, 463);
    let xff = vec!["10.0.0.1"; 30].join(", ");
    assert_eq!(
        send(addr, "GET", "/", &[("x-forwarded-for", &xff)])
            .await
            .status,
        200
    );

    // A Transfer-Encoding other than chunked/identity: 501 (raw, since clients refuse to send it).
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 501"), "{out}");
    assert_eq!(t.hits(), 1);
    let listener = addr.port().to_string();
    assert_eq!(
        alb.metrics.value(
            "edgeway_alb_responses_total",
            &[("lb", "web"), ("listener", &listener), ("code", "463")]
        ),
        1
    );
}

#[tokio::test]
async fn no_registered_targets_is_503() {
    let (alb, addr) = one_lb(&[], "", "").await;
    let r = get(addr, "/").await;
    assert_eq!(r.status, 503);
    assert!(
        r.body
            .contains("<title>503 Service Temporarily Unavailable</title>"),
        "{}",
        r.body
    );
    assert_eq!(
        alb.metrics.value(
            "edgeway_alb_upstream_errors_total",
            &[("lb", "web"), ("kind", "no_targets")]
        ),
        1
    );
}

#[tokio::test]
async fn refused_connection_is_502() {
    let dead = refusing_addr().await;
    let (alb, addr) = one_lb(&[dead.to_string()], "", "").await;
    let r = get(addr, "/").await;
    assert_eq!(r.status, 502);
    assert_eq!(r.headers["server"], "awselb/2.0");
    assert_eq!(r.body, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n");
    assert_eq!(
        alb.metrics.value(
            "edgeway_alb_upstream_errors_total",
            &[("lb", "web"), ("kind", "connect")]
        ),
        1
    );
}

#[tokio::test]
async fn target_that_never_answers_is_504_after_idle_timeout() {
    let silent = silent_target().await;
    let (alb, addr) = one_lb(&[silent.to_string()], "idle_timeout = 1", "").await;
    let started = std::time::Instant::now();
    let r = get(addr, "/").await;
    assert_eq!(r.status, 504);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(
        alb.metrics.value(
            "edgeway_alb_upstream_errors_total",
            &[("lb", "web"), ("kind", "timeout")]
        ),
        1
    );
}

#[tokio::test]
async fn http2_viewer_reaches_target_over_http1_with_host() {
    let t = target("t").await;
    let (_alb, addr) = one_lb(&[t.addr.to_string()], "", "").await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(format!("http://shop.example.com:{}/h2?x=1", addr.port()))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let r = collect(resp).await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["version"], "HTTP/1.1");
    assert_eq!(j["uri"], "/h2?x=1");
    assert_eq!(
        r.seen("host"),
        Some(format!("shop.example.com:{}", addr.port()))
    );
    assert_eq!(r.seen_all("cookie"), vec!["a=1; b=2".to_string()]);
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let t = target("t").await;
    let (_alb, addr) = one_lb(&[t.addr.to_string()], "", "").await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: shop.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).await.unwrap(),
            1,
            "closed before the 101 head"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    s.write_all(b"ping through the tunnel").await.unwrap();
    let mut echo = [0u8; 23];
    s.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping through the tunnel");
}

#[tokio::test]
async fn https_viewer_to_https_target_with_https_health_checks() {
    let t = target_with("secure", Some(tls_config())).await;
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
protocol = "HTTPS"
default_action = {{ type = "forward", target_group = "app" }}

[[target_group]]
name = "app"
protocol = "HTTPS"
targets = ["{t}"]
[target_group.health_check]
protocol = "HTTPS"
path = "/health"
"#,
        t = t.addr
    );
    let alb = alb_with(&toml, vec![("web", l, Some(tls_config()))]).await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let r = get_tls(addr, "/s").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.name(), "secure");
    assert_eq!(r.seen("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(r.seen("host"), Some(format!("shop.example.com:{port}")));
    alb.tier.check_now().await;
    let h = alb.tier.target_health("app").unwrap();
    assert_eq!(h[0].state, "healthy", "{h:?}");
}

#[tokio::test]
async fn tls_handshake_failure_to_target_is_502() {
    let plain = target("plain").await;
    let (alb, addr) = one_lb(&[plain.addr.to_string()], "", "protocol = \"HTTPS\"").await;
    let r = get(addr, "/").await;
    assert_eq!(r.status, 502);
    assert_eq!(plain.hits(), 0);
    let kinds = ["tls", "protocol", "connect"].map(|k| {
        alb.metrics.value(
            "edgeway_alb_upstream_errors_total",
            &[("lb", "web"), ("kind", k)],
        )
    });
    // edgeway-http currently classifies this handshake failure as `connect`; either is a 502.
    assert_eq!(kinds.iter().sum::<u64>(), 1, "{kinds:?}");
}

#[tokio::test]
async fn a_refused_connection_is_tried_once_more_on_another_target() {
    let live = target("live").await;
    let dead = refusing_addr().await;
    // Checks off: both targets take requests in turn.
    let (alb, addr) = one_lb(
        &[dead.to_string(), live.addr.to_string()],
        "",
        "health_check = { enabled = false }",
    )
    .await;
    for i in 0..4 {
        let r = send(
            addr,
            "GET",
            &format!("/retry?n={i}"),
            &[("x-forwarded-for", "198.51.100.7"), ("x-custom", "v")],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.name(), "live");
        let j = r.json();
        assert_eq!(j["method"], "GET");
        assert_eq!(j["uri"], format!("/retry?n={i}"));
        // What the dead target would have got: the client's address added once, the rest as sent.
        assert_eq!(
            r.seen_all("x-forwarded-for"),
            vec!["198.51.100.7, 127.0.0.1".to_string()]
        );
        assert_eq!(r.seen_all("x-custom"), vec!["v".to_string()]);
        assert_eq!(r.seen_all("x-forwarded-proto"), vec!["http".to_string()]);
        assert_eq!(r.seen_all("x-amzn-trace-id").len(), 1);
    }
    assert_eq!(live.hits(), 4);
    // Every request that met the dead target first (at least every other one) went again.
    let retries = alb.metrics.value(
        "edgeway_alb_target_group_retries_total",
        &[("target_group", "app")],
    );
    assert!((2..=4).contains(&retries), "{retries}");
    assert_eq!(
        alb.metrics.value(
            "edgeway_alb_target_group_connection_errors_total",
            &[("target_group", "app")]
        ),
        retries
    );

    // A request with a body is not sent twice: the one that meets the dead target gets 502.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = send(addr, "POST", "/retry", &[("content-length", "0")]).await;
        statuses.push(r.status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 200], "an empty body is no body");
    // With content it cannot be sent again: of two in a row, the one the dead target gets is 502.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = raw(
            addr,
            b"POST /retry HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            10,
        )
        .await;
        statuses.push(r.get(9..12).unwrap_or_default().to_string());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec!["200", "502"]);
}
