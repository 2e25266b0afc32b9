//! What a client sees over a raw TCP socket: desync mitigation in each mode, invalid header
//! fields, protocol_version 464, hyper's own 400, the idle timeout's 504, and the access log
//! lines (forward, fixed-response, 460 when the client leaves while the target thinks).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

async fn lb(t: &str, lb_extra: &str, tg_extra: &str) -> (Alb, SocketAddr) {
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
{lb_extra}
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}
[[load_balancer.listener.rule]]
priority = 7
condition = [{{ path_pattern = {{ values = ["/fixed"] }} }}]
action = {{ type = "fixed-response", fixed_response = {{ content_type = "text/plain", message_body = "ok", status_code = "200" }} }}

[[target_group]]
name = "app"
targets = ["{t}"]
health_check = {{ enabled = false }}
{tg_extra}
"#
    );
    let alb = alb(&toml, vec![("web", l)]).await;
    (alb, ([127, 0, 0, 1], port).into())
}

fn status_of(resp: &str) -> u16 {
    resp.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

const TE_CL: &[u8] = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
const TWO_CL: &[u8] =
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
const GET_CL0: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
const PLAIN: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn desync_modes_as_the_client_sees_them() {
    let t = target("t").await;
    let addr = t.addr.to_string();
    // (mode, request, status, connection closed by the balancer)
    let cases: Vec<(&str, &[u8], u16, bool)> = vec![
        ("defensive", PLAIN, 200, false),
        ("defensive", TE_CL, 200, true),
        ("defensive", TWO_CL, 400, true),
        ("defensive", GET_CL0, 200, false),
        // hyper itself closes after a request with both (RFC 9112 §6.3), whatever the mode.
        ("monitor", TE_CL, 200, true),
        // hyper keeps Transfer-Encoding and drops Content-Length before the balancer sees the
        // request, so even strictest forwards it (chunked wins) and the connection closes.
        ("strictest", TE_CL, 200, true),
        ("strictest", TWO_CL, 400, true),
        ("strictest", GET_CL0, 400, true),
        ("strictest", PLAIN, 200, false),
    ];
    for (mode, req, want, closed) in cases {
        let (_alb, lb_addr) = lb(&addr, &format!("desync_mitigation_mode = \"{mode}\""), "").await;
        // The connection stays open unless the balancer closes it: read with a short timeout.
        let resp = raw(lb_addr, req, 1).await;
        assert_eq!(
            status_of(&resp),
            want,
            "{mode} {}: {resp}",
            String::from_utf8_lossy(req)
        );
        let says_close = resp.to_ascii_lowercase().contains("connection: close");
        assert_eq!(
            says_close,
            closed,
            "{mode} {}: {resp}",
            String::from_utf8_lossy(req)
        );
    }
}

#[tokio::test]
async fn invalid_header_fields_are_dropped_when_asked() {
    let t = target("t").await;
    let (_alb, lb_addr) = lb(&t.addr.to_string(), "drop_invalid_header_fields = true", "").await;
    let r = send(lb_addr, "GET", "/", &[("x_under", "1"), ("x-ok", "2")]).await;
    assert_eq!(r.seen("x-ok").as_deref(), Some("2"));
    assert_eq!(r.seen("x_under"), None);
    let (_alb, lb_addr) = lb(&t.addr.to_string(), "", "").await;
    assert_eq!(
        send(lb_addr, "GET", "/", &[("x_under", "1")])
            .await
            .seen("x_under")
            .as_deref(),
        Some("1"),
        "kept by default"
    );
}

#[tokio::test]
async fn http2_groups_answer_464_to_http1_clients() {
    let t = target("t").await;
    for version in ["HTTP2", "GRPC"] {
        let (_alb, lb_addr) = lb(
            &t.addr.to_string(),
            "",
            &format!("protocol_version = \"{version}\""),
        )
        .await;
        let r = get(lb_addr, "/").await;
        assert_eq!(r.status, 464, "{version}");
        assert_eq!(r.headers["server"], "awselb/2.0");
    }
    let (_alb, lb_addr) = lb(&t.addr.to_string(), "", "").await;
    assert_eq!(
        send(
            lb_addr,
            "POST",
            "/",
            &[("content-type", "application/grpc")]
        )
        .await
        .status,
        464,
        "gRPC to an HTTP1 group"
    );
    assert_eq!(t.hits(), 0);
}

#[tokio::test]
async fn malformed_requests_and_versions() {
    let t = target("t").await;
    let (_alb, lb_addr) = lb(&t.addr.to_string(), "", "").await;
    assert_eq!(status_of(&raw(lb_addr, b"GARBAGE\r\n\r\n", 2).await), 400);
    assert_eq!(
        status_of(
            &raw(
                lb_addr,
                b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
                2
            )
            .await
        ),
        400
    );
    assert_eq!(t.hits(), 0);
}

#[tokio::test]
async fn a_silent_target_times_out_with_504_after_the_idle_timeout() {
    let silent = silent_target().await;
    let (_alb, lb_addr) = lb(&silent.to_string(), "idle_timeout = 1", "").await;
    let start = std::time::Instant::now();
    let r = get(lb_addr, "/").await;
    assert_eq!(r.status, 504);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn access_log_lines() {
    let t = target("t").await;
    let dir = std::env::temp_dir().join(format!("edgeway-alb-access-{}", rand::random::<u64>()));
    let path = dir.join("web.log");
    let (alb, lb_addr) = lb(
        &t.addr.to_string(),
        &format!("access_log = \"{}\"", path.display()),
        "",
    )
    .await;
    let r = send(
        lb_addr,
        "GET",
        "/a?x=1",
        &[("user-agent", "curl/8"), ("host", "shop.example.com")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(lb_addr, "/fixed").await.status, 200);
    assert_eq!(send(lb_addr, "TRACE", "/", &[]).await.status, 405);
    // A client that leaves while the target holds the request: 460.
    {
        let _gone = raw(lb_addr, b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", 0).await;
    }
    eventually(5, "held", || t.hits() == 2).await;
    let lines = {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() >= 4 {
                break text.lines().map(str::to_string).collect::<Vec<_>>();
            }
            assert!(std::time::Instant::now() < deadline, "log lines: {text}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let fields = |l: &str| l.split(' ').map(str::to_string).collect::<Vec<_>>();
    let fwd = lines
        .iter()
        .find(|l| l.contains("\"GET http://shop.example.com:"))
        .unwrap();
    let f = fields(fwd);
    assert_eq!(f[0], "http");
    assert!(f[1].ends_with('Z') && f[1].len() == 27, "{}", f[1]);
    assert!(f[2].starts_with("app/web/"), "{}", f[2]);
    assert!(f[3].starts_with("127.0.0.1:"));
    assert_eq!(f[4], t.addr.to_string());
    assert!(f[5].parse::<f64>().unwrap() >= 0.0 && f[6].parse::<f64>().unwrap() >= 0.0);
    assert_eq!((f[8].as_str(), f[9].as_str()), ("200", "200"));
    assert!(fwd.contains(&format!("\"GET http://shop.example.com:{}/a?x=1 HTTP/1.1\" \"curl/8\" - - arn:aws:elasticloadbalancing:", lb_addr.port())), "{fwd}");
    assert!(fwd.contains("\"Root=1-"), "{fwd}");
    assert!(
        fwd.contains(" 0 20")
            && fwd.contains(&format!(
                "\"forward\" \"-\" \"-\" \"{}\" \"200\" \"-\" \"-\"",
                t.addr
            )),
        "{fwd}"
    );

    let fixed = lines
        .iter()
        .find(|l| l.contains("/fixed HTTP/1.1"))
        .unwrap();
    let f = fields(fixed);
    assert_eq!(
        (
            f[4].as_str(),
            f[5].as_str(),
            f[6].as_str(),
            f[8].as_str(),
            f[9].as_str()
        ),
        ("-", "-1", "-1", "200", "-"),
        "{fixed}"
    );
    assert!(
        fixed.contains("\"-\" 7 20") && fixed.contains("\"fixed-response\""),
        "{fixed}"
    );

    let trace = lines.iter().find(|l| l.contains("\"TRACE ")).unwrap();
    assert!(
        fields(trace)[8] == "405" && trace.contains("\"-\" \"-\" - 20"),
        "no rule ran: matched_rule_priority is -: {trace}"
    );

    let left = lines.iter().find(|l| l.contains("/hold HTTP/1.1")).unwrap();
    let f = fields(left);
    assert_eq!(
        (f[8].as_str(), f[9].as_str(), f[6].as_str()),
        ("460", "-", "-1"),
        "{left}"
    );
    t.hold.add_permits(1);
    assert!(
        alb.metrics
            .value("edgeway_alb_access_log_lines_total", &[("lb", "web")])
            >= 4
    );
    let _ = std::fs::remove_dir_all(dir);
}
