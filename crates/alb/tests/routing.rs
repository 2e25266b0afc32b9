//! Rules, actions and target selection over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;
use common::*;

fn fixed(body: &str) -> String {
    format!(
        r#"type = "fixed-response", fixed_response = {{ content_type = "text/plain", message_body = "{body}", status_code = "200" }}"#
    )
}

#[tokio::test]
async fn round_robin_splits_exactly_across_two_targets() {
    let (a, b) = (target("a").await, target("b").await);
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}

[[target_group]]
name = "app"
port = {bport}
targets = ["{a}", "127.0.0.1"]
"#,
        a = a.addr,
        bport = b.addr.port()
    );
    let alb = alb(&toml, vec![("web", l)]).await;
    let addr = ([127, 0, 0, 1], port).into();
    let mut names = Vec::new();
    for _ in 0..10 {
        let r = get(addr, "/x").await;
        assert_eq!(r.status, 200);
        names.push(r.name());
    }
    assert_eq!(names, ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]);
    assert_eq!((a.hits(), b.hits()), (5, 5));
    let m = &alb.metrics;
    assert_eq!(
        m.value(
            "edgeway_alb_requests_total",
            &[("lb", "web"), ("listener", &port.to_string())]
        ),
        10
    );
    assert_eq!(
        m.value(
            "edgeway_alb_responses_total",
            &[
                ("lb", "web"),
                ("listener", &port.to_string()),
                ("code", "200")
            ]
        ),
        10
    );
    assert_eq!(
        m.value(
            "edgeway_alb_target_requests_total",
            &[("target_group", "app"), ("target", &a.addr.to_string())]
        ),
        5
    );
    assert_eq!(
        m.value(
            "edgeway_alb_rule_matches_total",
            &[
                ("lb", "web"),
                ("listener", &port.to_string()),
                ("priority", "0")
            ]
        ),
        10
    );
    assert!(
        m.value(
            "edgeway_alb_bytes_total",
            &[("lb", "web"), ("direction", "out")]
        ) > 0
    );
}

#[tokio::test]
async fn rules_route_by_path_host_header_method_query_and_source_ip() {
    let api = target("api").await;
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "fixed-response", fixed_response = {{ content_type = "text/plain", message_body = "default", status_code = "404" }} }}

[[load_balancer.listener.rule]]
priority = 10
condition = [{{ path_pattern = {{ values = ["/api/*"] }} }}]
action = {{ type = "forward", target_group = "api" }}

[[load_balancer.listener.rule]]
priority = 5
condition = [{{ path_pattern = {{ values = ["/api/*"] }} }}, {{ http_request_method = {{ values = ["DELETE"] }} }}]
action = {{ {del} }}

[[load_balancer.listener.rule]]
priority = 20
condition = [{{ host_header = {{ values = ["admin.*"] }} }}]
action = {{ {admin} }}

[[load_balancer.listener.rule]]
priority = 30
condition = [{{ http_header = {{ http_header_name = "X-Canary", values = ["y*"] }} }}]
action = {{ {canary} }}

[[load_balancer.listener.rule]]
priority = 40
condition = [{{ query_string = [{{ key = "version", value = "v2" }}, {{ value = "beta" }}] }}]
action = {{ {query} }}

[[load_balancer.listener.rule]]
priority = 50
condition = [{{ source_ip = {{ values = ["10.0.0.0/8"] }} }}]
action = {{ {ten} }}

[[load_balancer.listener.rule]]
priority = 60
condition = [{{ source_ip = {{ values = ["127.0.0.0/8"] }} }}, {{ path_pattern = {{ values = ["/local"] }} }}]
action = {{ {local} }}

[[target_group]]
name = "api"
targets = ["{api}"]
"#,
        del = fixed("delete"),
        admin = fixed("admin"),
        canary = fixed("canary"),
        query = fixed("query"),
        ten = fixed("ten"),
        local = fixed("local"),
        api = api.addr,
    );
    let _alb = alb(&toml, vec![("web", l)]).await;
    let addr = ([127, 0, 0, 1], port).into();
    let host = format!("shop.example.com:{port}");
    let cases: Vec<(&str, &str, Vec<(&str, &str)>, u16, &str)> = vec![
        ("GET", "/api/items", vec![], 200, "api"),
        ("DELETE", "/api/items", vec![], 200, "delete"),
        (
            "GET",
            "/",
            vec![("host", "Admin.Example.com:8080")],
            200,
            "admin",
        ),
        ("GET", "/", vec![("x-canary", "YES")], 200, "canary"),
        ("GET", "/?version=v2", vec![], 200, "query"),
        ("GET", "/?x=beta", vec![], 200, "query"),
        ("GET", "/?version=v3", vec![], 404, "default"),
        ("GET", "/local", vec![], 200, "local"),
        ("GET", "/local?x=1", vec![], 200, "local"),
        ("GET", "/other", vec![("host", &host)], 404, "default"),
    ];
    for (method, path, headers, status, want) in cases {
        let r = send(addr, method, path, &headers).await;
        assert_eq!(r.status, status, "{method} {path} {headers:?}: {}", r.body);
        let got = if want == "api" {
            r.name()
        } else {
            r.body.clone()
        };
        assert_eq!(got, want, "{method} {path} {headers:?}");
    }
}

#[tokio::test]
async fn redirect_and_fixed_response() {
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r##"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "redirect", redirect = {{ protocol = "HTTPS", port = "443", status_code = "HTTP_301" }} }}

[[load_balancer.listener.rule]]
priority = 1
condition = [{{ path_pattern = {{ values = ["/old/*"] }} }}]
action = {{ type = "redirect", redirect = {{ host = "new.#{{host}}", path = "/new/#{{path}}", query = "#{{query}}&from=old", status_code = "HTTP_302" }} }}

[[load_balancer.listener.rule]]
priority = 2
condition = [{{ path_pattern = {{ values = ["/teapot"] }} }}]
action = {{ type = "fixed-response", fixed_response = {{ content_type = "application/json", message_body = "{{\"ok\":false}}", status_code = "418" }} }}
"##
    );
    let _alb = alb(&toml, vec![("web", l)]).await;
    let addr = ([127, 0, 0, 1], port).into();

    let r = send(addr, "GET", "/a/b?x=1", &[("host", "shop.example.com")]).await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.headers["location"],
        "https://shop.example.com:443/a/b?x=1"
    );
    assert_eq!(r.headers["server"], "awselb/2.0");
    let r = send(addr, "GET", "/", &[("host", "shop.example.com")]).await;
    assert_eq!(r.headers["location"], "https://shop.example.com:443/");

    let r = send(addr, "GET", "/old/page", &[("host", "shop.example.com")]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.headers["location"],
        format!("http://new.shop.example.com:{port}/new/old/page?&from=old")
    );

    let r = get(addr, "/teapot").await;
    assert_eq!(r.status, 418);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["server"], "awselb/2.0");
    assert_eq!(r.body, r#"{"ok":false}"#);
}

#[tokio::test]
async fn weighted_target_groups_split_by_weight_and_zero_gets_nothing() {
    let (a, b, c) = (target("a").await, target("b").await, target("c").await);
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
[load_balancer.listener.default_action]
type = "forward"
forward = {{ target_group = [{{ name = "a", weight = 3 }}, {{ name = "b", weight = 1 }}, {{ name = "c", weight = 0 }}] }}

[[target_group]]
name = "a"
targets = ["{a}"]
[[target_group]]
name = "b"
targets = ["{b}"]
[[target_group]]
name = "c"
targets = ["{c}"]
"#,
        a = a.addr,
        b = b.addr,
        c = c.addr
    );
    let _alb = alb(&toml, vec![("web", l)]).await;
    let addr = ([127, 0, 0, 1], port).into();
    for _ in 0..8 {
        assert_eq!(get(addr, "/").await.status, 200);
    }
    assert_eq!((a.hits(), b.hits(), c.hits()), (6, 2, 0));
}

#[tokio::test]
async fn least_outstanding_requests_avoids_the_busy_target() {
    let (a, b) = (target("a").await, target("b").await);
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}
[[target_group]]
name = "app"
load_balancing_algorithm_type = "least_outstanding_requests"
targets = ["{a}", "{b}"]
"#,
        a = a.addr,
        b = b.addr
    );
    let _alb = alb(&toml, vec![("web", l)]).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    // The first request goes to a and is held there.
    let held = tokio::spawn(async move { get(addr, "/hold").await });
    eventually(5, "a holds a request", || a.hits() == 1).await;
    for _ in 0..4 {
        assert_eq!(get(addr, "/").await.name(), "b");
    }
    a.hold.add_permits(1);
    assert_eq!(held.await.unwrap().name(), "a");
}
