//! `explain`, one test per step, on the demo's config (examples/roboshop.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_terraform::explain::{explain, Explanation, Request};
use std::net::IpAddr;
use std::path::Path;

fn cfg() -> edgeway_config::Config {
    edgeway_config::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml"),
    )
    .unwrap()
}

fn ex(url: &str, method: &str, headers: &[(&str, &str)]) -> Explanation {
    let h = headers
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let req = Request::parse(url, method, h, IpAddr::from([127, 0, 0, 1])).unwrap();
    explain(&cfg(), &req)
}

#[test]
fn dns_answers_from_the_zone() {
    let e = ex("https://dev.roboshop.localhost/", "GET", &[]);
    let s = e.step("dns").unwrap();
    assert!(
        s.decision.contains("alias to distribution web"),
        "{}",
        s.decision
    );
    let e = ex("https://nope.roboshop.localhost/", "GET", &[]);
    assert!(e.step("dns").unwrap().decision.starts_with("NXDOMAIN"));
    let e = ex("https://example.com/", "GET", &[]);
    assert!(e.step("dns").unwrap().decision.contains("system resolver"));
}

#[test]
fn distribution_and_aliases() {
    let e = ex("https://dev.roboshop.localhost:8443/", "GET", &[]);
    let s = e.step("distribution").unwrap();
    assert_eq!(s.decision, "distribution web");
    assert!(s.tried[0].matched);
}

#[test]
fn behaviors_are_tried_in_order() {
    let e = ex(
        "https://dev.roboshop.localhost:8443/images/watson.png",
        "GET",
        &[],
    );
    let s = e.step("cache_behavior").unwrap();
    let tried: Vec<(&str, bool)> = s
        .tried
        .iter()
        .map(|t| (t.what.as_str(), t.matched))
        .collect();
    assert_eq!(
        tried,
        vec![
            ("path_pattern /media/*", false),
            ("path_pattern /images/*", true)
        ]
    );
    let e = ex(
        "https://dev.roboshop.localhost:8443/IMAGES/x.png",
        "GET",
        &[],
    );
    let s = e.step("cache_behavior").unwrap();
    assert!(
        s.decision.starts_with("default behavior"),
        "case-sensitive: {}",
        s.decision
    );
    assert_eq!(s.tried.len(), 3);
}

#[test]
fn viewer_policy_redirects_plain_http() {
    let e = ex("http://dev.roboshop.localhost:8080/a?b=1", "GET", &[]);
    assert_eq!(
        e.outcome,
        "301 redirect to https://dev.roboshop.localhost:8443/a?b=1"
    );
    let e = ex("http://dev.roboshop.localhost:8080/api/echo", "POST", &[]);
    assert!(e.outcome.starts_with("307"), "{}", e.outcome);
    let e = ex(
        "https://dev.roboshop.localhost:8443/images/a.png",
        "POST",
        &[],
    );
    assert!(e.outcome.contains("not an allowed method"), "{}", e.outcome);
}

#[test]
fn cache_key_and_ttls() {
    let e = ex(
        "https://dev.roboshop.localhost:8443/images/a.png?x=1",
        "GET",
        &[("Accept-Encoding", "gzip, br")],
    );
    let s = e.step("cache").unwrap();
    assert_eq!(s.decision, "cache policy CachingOptimized");
    let d = s.details.join("\n");
    assert!(d.contains("min 1s, default 86400s"), "{d}");
    assert!(
        d.contains("this request's key: web | /images/a.png | accept-encoding:br,gzip"),
        "{d}"
    );
    let e = ex("https://dev.roboshop.localhost:8443/api/echo", "GET", &[]);
    let d = e.step("cache").unwrap().details.join("\n");
    assert!(d.contains("caching is disabled"), "{d}");
}

#[test]
fn origin_and_default_root_object() {
    let e = ex("https://dev.roboshop.localhost:8443/", "GET", &[]);
    let s = e.step("origin").unwrap();
    assert_eq!(
        s.decision,
        "origin frontend-alb → https://roboshop-dev.roboshop.localhost:9443/index.html"
    );
    assert!(
        s.details
            .iter()
            .any(|d| d == "Host to the origin: roboshop-dev.roboshop.localhost"),
        "{:?}",
        s.details
    );
}

#[test]
fn listener_rules_action_and_target_group() {
    let e = ex(
        "https://dev.roboshop.localhost:8443/api/echo?x=1",
        "GET",
        &[],
    );
    assert!(e
        .step("listener")
        .unwrap()
        .decision
        .contains("listener HTTPS 127.0.0.1:9443"));
    let rules = e.step("rules").unwrap();
    assert_eq!(rules.decision, "rule 10 matched");
    assert!(
        rules.tried[0]
            .why
            .contains("path_pattern [/api/*] matches \"/api/echo\""),
        "{}",
        rules.tried[0].why
    );
    assert_eq!(
        e.step("action").unwrap().decision,
        "forward to target group api"
    );
    let tg = e.step("target_group").unwrap();
    assert!(tg.details[0].contains("127.0.0.1:9201"), "{:?}", tg.details);
    assert_eq!(e.outcome, "forwarded to target group api");
    let e = ex("https://dev.roboshop.localhost:8443/", "GET", &[]);
    let rules = e.step("rules").unwrap();
    assert!(!rules.tried[0].matched);
    assert_eq!(
        rules.decision,
        "no rule matched: the default action applies"
    );
    assert_eq!(e.outcome, "forwarded to target group frontend");
}

#[test]
fn straight_to_the_load_balancer() {
    let e = ex("http://roboshop-dev.roboshop.localhost:9080/x", "GET", &[]);
    assert!(e
        .step("dns")
        .unwrap()
        .decision
        .contains("alias to load balancer frontend"));
    assert!(e.step("distribution").is_none());
    assert!(
        e.outcome
            .starts_with("redirect HTTP_301 to HTTPS://#{host}:9443"),
        "{}",
        e.outcome
    );
}

#[test]
fn json_has_the_same_steps() {
    let e = ex("https://dev.roboshop.localhost:8443/api/echo", "GET", &[]);
    let v: serde_json::Value = serde_json::to_value(&e).unwrap();
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        vec![
            "dns",
            "distribution",
            "cache_behavior",
            "viewer",
            "cache",
            "origin",
            "listener",
            "rules",
            "action",
            "target_group"
        ]
    );
    assert!(e
        .render()
        .contains("rule 10: path_pattern [/api/*] matches"));
}

/// The rules fixture (every condition type, a weighted forward), imported.
fn rules_cfg() -> edgeway_config::Config {
    let r = edgeway_terraform::import(&edgeway_terraform::ImportOptions {
        path: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alb_rules.tf"),
        ..Default::default()
    })
    .unwrap();
    assert!(r.runs(), "{:?}", r.errors);
    r.config
}

fn rule_ex(url: &str, method: &str, headers: &[(&str, &str)], from: [u8; 4]) -> Explanation {
    let h = headers
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    explain(
        &rules_cfg(),
        &Request::parse(url, method, h, IpAddr::from(from)).unwrap(),
    )
}

/// (url, method, headers, from, the rule that matches or None, the outcome starts with)
type RuleCase<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    [u8; 4],
    Option<u32>,
    &'a str,
);

#[test]
fn every_condition_type_through_the_load_balancers_matching() {
    let local = [127, 0, 0, 1];
    let cases: &[RuleCase<'_>] = &[
        (
            "https://Shop.Example.Test:9443/",
            "GET",
            &[],
            local,
            Some(10),
            "forwarded to target group blue",
        ),
        (
            "https://a.shop.example.test:9443/",
            "GET",
            &[],
            local,
            Some(10),
            "forwarded to target group blue",
        ),
        (
            "https://other.test:9443/v2/x",
            "GET",
            &[],
            local,
            Some(20),
            "forwarded to target group green",
        ),
        (
            "https://other.test:9443/API/x",
            "GET",
            &[],
            local,
            None,
            "fixed response 404",
        ),
        (
            "https://other.test:9443/x",
            "GET",
            &[("x-canary", "TRUE")],
            local,
            Some(30),
            "forwarded to target group blue, green",
        ),
        (
            "https://other.test:9443/x",
            "DELETE",
            &[],
            local,
            Some(40),
            "fixed response 405",
        ),
        (
            "https://other.test:9443/x",
            "delete",
            &[],
            local,
            Some(40),
            "fixed response 405",
        ),
        (
            "https://other.test:9443/x?beta=1",
            "GET",
            &[],
            local,
            Some(50),
            "redirect HTTP_302",
        ),
        (
            "https://other.test:9443/x?mode=Preview+mode",
            "GET",
            &[],
            local,
            Some(50),
            "redirect HTTP_302",
        ),
        (
            "https://other.test:9443/x?beta=2",
            "GET",
            &[],
            local,
            None,
            "fixed response 404",
        ),
        (
            "https://other.test:9443/admin/users",
            "GET",
            &[],
            [10, 1, 2, 3],
            Some(60),
            "forwarded to target group green",
        ),
        (
            "https://other.test:9443/admin/users",
            "GET",
            &[],
            [192, 168, 1, 1],
            None,
            "fixed response 404",
        ),
        (
            "https://other.test:9443/old/page",
            "GET",
            &[],
            local,
            Some(70),
            "forwarded to target group blue",
        ),
        (
            "https://other.test:9443/x",
            "PATCH",
            &[],
            local,
            Some(71),
            "forwarded to target group green",
        ),
    ];
    for (url, method, headers, from, rule, outcome) in cases {
        let e = rule_ex(url, method, headers, *from);
        let rules = e.step("rules").unwrap();
        let want = match rule {
            Some(p) => format!("rule {p} matched"),
            None => "no rule matched: the default action applies".into(),
        };
        assert_eq!(rules.decision, want, "{method} {url}: {:#?}", rules.tried);
        assert!(
            e.outcome.starts_with(outcome),
            "{method} {url}: {}",
            e.outcome
        );
    }
}

#[test]
fn failed_conditions_say_why() {
    let e = rule_ex(
        "https://other.test:9443/admin/x",
        "GET",
        &[("X-Canary", "no")],
        [192, 168, 1, 1],
    );
    let why: Vec<&str> = e
        .step("rules")
        .unwrap()
        .tried
        .iter()
        .map(|t| t.why.as_str())
        .collect();
    assert_eq!(
        why[0],
        "host_header [shop.example.test, *.shop.example.test] does not match \"other.test\""
    );
    assert_eq!(
        why[1],
        "path_pattern [/api/*, /v?/*] does not match \"/admin/x\""
    );
    assert_eq!(
        why[2],
        "http_header X-Canary [yes, true] does not match (the header is \"no\")"
    );
    assert_eq!(
        why[3],
        "http_request_method [PUT, DELETE] does not include GET"
    );
    assert_eq!(
        why[4],
        "query_string [beta=1, =preview*] does not match \"\""
    );
    assert_eq!(
        why[5],
        "source_ip [10.0.0.0/8, 2001:db8::/32] does not contain 192.168.1.1"
    );
}

#[test]
fn weighted_forward_lists_every_group() {
    let e = rule_ex(
        "https://other.test:9443/x",
        "GET",
        &[("X-Canary", "yes")],
        [127, 0, 0, 1],
    );
    assert_eq!(
        e.step("action").unwrap().decision,
        "forward to target groups blue (weight 80 of 100), green (weight 20 of 100)"
    );
    let groups: Vec<&str> = e
        .steps
        .iter()
        .filter(|s| s.step == "target_group")
        .map(|s| s.decision.as_str())
        .collect();
    assert_eq!(groups.len(), 2);
    assert!(
        groups[0].starts_with("blue (HTTP round_robin, weight 80)"),
        "{groups:?}"
    );
    assert!(
        groups[1].starts_with("green (HTTP round_robin, weight 20)"),
        "{groups:?}"
    );
}

#[test]
fn origin_groups_name_primary_and_failover() {
    let r = edgeway_terraform::import(&edgeway_terraform::ImportOptions {
        path: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edge_logging.tf"),
        ..Default::default()
    })
    .unwrap();
    let req = Request::parse(
        "https://www.example.test:8443/a",
        "GET",
        vec![],
        IpAddr::from([127, 0, 0, 1]),
    )
    .unwrap();
    let e = explain(&r.config, &req);
    let o = e.step("origin").unwrap();
    assert_eq!(o.decision, "origin primary → http://127.0.0.1:9101/a");
    assert!(o.details[0].starts_with("origin group failover: primary primary, fails over to secondary on [500, 502, 503, 504]"), "{:?}", o.details);
}
