//! `explain`, one test per step, on the demo's config (examples/roboshop.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_terraform::explain::{explain, Explanation, Request};
use std::net::IpAddr;
use std::path::Path;

fn cfg() -> edgeway_config::Config {
    edgeway_config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml")).unwrap()
}

fn ex(url: &str, method: &str, headers: &[(&str, &str)]) -> Explanation {
    let h = headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let req = Request::parse(url, method, h, IpAddr::from([127, 0, 0, 1])).unwrap();
    explain(&cfg(), &req)
}

#[test]
fn dns_answers_from_the_zone() {
    let e = ex("https://dev.roboshop.localhost/", "GET", &[]);
    let s = e.step("dns").unwrap();
    assert!(s.decision.contains("alias to distribution web"), "{}", s.decision);
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
    let e = ex("https://dev.roboshop.localhost:8443/images/watson.png", "GET", &[]);
    let s = e.step("cache_behavior").unwrap();
    let tried: Vec<(&str, bool)> = s.tried.iter().map(|t| (t.what.as_str(), t.matched)).collect();
    assert_eq!(tried, vec![("path_pattern /media/*", false), ("path_pattern /images/*", true)]);
    let e = ex("https://dev.roboshop.localhost:8443/IMAGES/x.png", "GET", &[]);
    let s = e.step("cache_behavior").unwrap();
    assert!(s.decision.starts_with("default behavior"), "case-sensitive: {}", s.decision);
    assert_eq!(s.tried.len(), 3);
}

#[test]
fn viewer_policy_redirects_plain_http() {
    let e = ex("http://dev.roboshop.localhost:8080/a?b=1", "GET", &[]);
    assert_eq!(e.outcome, "301 redirect to https://dev.roboshop.localhost:8443/a?b=1");
    let e = ex("http://dev.roboshop.localhost:8080/api/echo", "POST", &[]);
    assert!(e.outcome.starts_with("307"), "{}", e.outcome);
    let e = ex("https://dev.roboshop.localhost:8443/images/a.png", "POST", &[]);
    assert!(e.outcome.contains("not an allowed method"), "{}", e.outcome);
}

#[test]
fn cache_key_and_ttls() {
    let e = ex("https://dev.roboshop.localhost:8443/images/a.png?x=1", "GET", &[("Accept-Encoding", "gzip, br")]);
    let s = e.step("cache").unwrap();
    assert_eq!(s.decision, "cache policy CachingOptimized");
    let d = s.details.join("\n");
    assert!(d.contains("min 1s, default 86400s"), "{d}");
    assert!(d.contains("this request's key: web | /images/a.png | accept-encoding:br,gzip"), "{d}");
    let e = ex("https://dev.roboshop.localhost:8443/api/echo", "GET", &[]);
    let d = e.step("cache").unwrap().details.join("\n");
    assert!(d.contains("caching is disabled"), "{d}");
}

#[test]
fn origin_and_default_root_object() {
    let e = ex("https://dev.roboshop.localhost:8443/", "GET", &[]);
    let s = e.step("origin").unwrap();
    assert_eq!(s.decision, "origin frontend-alb → https://roboshop-dev.roboshop.localhost:9443/index.html");
    assert!(s.details.iter().any(|d| d == "Host to the origin: roboshop-dev.roboshop.localhost"), "{:?}", s.details);
}

#[test]
fn listener_rules_action_and_target_group() {
    let e = ex("https://dev.roboshop.localhost:8443/api/echo?x=1", "GET", &[]);
    assert!(e.step("listener").unwrap().decision.contains("listener HTTPS 127.0.0.1:9443"));
    let rules = e.step("rules").unwrap();
    assert_eq!(rules.decision, "rule 10 matched");
    assert!(rules.tried[0].why.contains("path_pattern [/api/*] matches \"/api/echo\""), "{}", rules.tried[0].why);
    assert_eq!(e.step("action").unwrap().decision, "forward to target group api");
    let tg = e.step("target_group").unwrap();
    assert!(tg.details[0].contains("127.0.0.1:9201"), "{:?}", tg.details);
    assert_eq!(e.outcome, "forwarded to target group api");
    let e = ex("https://dev.roboshop.localhost:8443/", "GET", &[]);
    let rules = e.step("rules").unwrap();
    assert!(!rules.tried[0].matched);
    assert_eq!(rules.decision, "no rule matched: the default action applies");
    assert_eq!(e.outcome, "forwarded to target group frontend");
}

#[test]
fn straight_to_the_load_balancer() {
    let e = ex("http://roboshop-dev.roboshop.localhost:9080/x", "GET", &[]);
    assert!(e.step("dns").unwrap().decision.contains("alias to load balancer frontend"));
    assert!(e.step("distribution").is_none());
    assert!(e.outcome.starts_with("redirect HTTP_301 to HTTPS://#{host}:9443"), "{}", e.outcome);
}

#[test]
fn json_has_the_same_steps() {
    let e = ex("https://dev.roboshop.localhost:8443/api/echo", "GET", &[]);
    let v: serde_json::Value = serde_json::to_value(&e).unwrap();
    let steps: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["dns", "distribution", "cache_behavior", "viewer", "cache", "origin", "listener", "rules", "action", "target_group"]);
    assert!(e.render().contains("rule 10: path_pattern [/api/*] matches"));
}
