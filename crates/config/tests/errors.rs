//! Each kind of config error is reported with its position and key path, all in one pass.

fn errors(src: &str) -> Vec<String> {
    match edgeway_config::parse("t.toml", src) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

const GOOD: &str = r#"
[[distribution]]
id = "t"
listen = ["http://127.0.0.1:19010"]

[[distribution.origin]]
origin_id = "o"
domain_name = "127.0.0.1"
custom_origin_config = { http_port = 19000, origin_protocol_policy = "http-only" }

[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cache_policy = "UseOriginCacheControlHeaders"
"#;

#[test]
fn the_issue_example_is_valid() {
    assert_eq!(errors(GOOD), Vec::<String>::new());
}

#[test]
fn unknown_keys_are_all_reported_with_positions() {
    let src = GOOD
        .replace("id = \"t\"", "id = \"t\"\nlisten_on = 1")
        .replace(
            "domain_name = \"127.0.0.1\"",
            "domain_name = \"127.0.0.1\"\nbogus = true",
        );
    let e = errors(&src);
    assert_eq!(
        e,
        vec![
            "t.toml:4:1: distribution[0].listen_on: unknown key".to_string(),
            "t.toml:10:1: distribution[0].origin[0].bogus: unknown key".to_string(),
        ]
    );
}

#[test]
fn wrong_types_name_the_position() {
    let src = GOOD.replace("\norigin_id = \"o\"", "\norigin_id = 5");
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.toml:7:13: distribution[0].origin[0].origin_id: invalid type"),
        "{e:?}"
    );
}

#[test]
fn dangling_references_and_bad_values_all_at_once() {
    let src = GOOD
        .replace("target_origin_id = \"o\"", "target_origin_id = \"nope\"")
        .replace("\"allow-all\"", "\"sometimes\"")
        .replace("UseOriginCacheControlHeaders", "NoSuchPolicy")
        + r#"
[[load_balancer]]
name = "lb"
[[load_balancer.listener]]
port = 19010
protocol = "HTTP"
default_action = { type = "forward", target_group = "missing" }
"#;
    let e = errors(&src);
    let want = [
        "t.toml:12:1: distribution[0].default_cache_behavior.target_origin_id: no origin `nope` in this distribution",
        "t.toml:13:1: distribution[0].default_cache_behavior.viewer_protocol_policy: `sometimes` is not one of allow-all, redirect-to-https, https-only",
        "t.toml:15:1: distribution[0].default_cache_behavior.cache_policy: no managed cache policy or [[cache_policy]] named `NoSuchPolicy`",
        "t.toml:20:1: load_balancer[0].listener[0].port: 127.0.0.1:19010 is already a listener at distribution[0].listen[0]",
        "t.toml:22:38: load_balancer[0].listener[0].default_action.target_group: no target group `missing`",
    ];
    assert_eq!(e, want);
}

#[test]
fn bad_addresses_and_missing_certificates() {
    let src = r#"
[admin]
listen = "nowhere"
[[target_group]]
name = "tg"
targets = ["10.0.0.1"]
[[load_balancer]]
name = "lb"
[[load_balancer.listener]]
port = 19443
protocol = "HTTPS"
certificate = { cert_file = "/nonexistent/c.pem", key_file = "/nonexistent/k.pem" }
default_action = { type = "forward", target_group = "tg" }
"#;
    let e = errors(src);
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.toml:3:1: admin.listen: `nowhere` is not an address")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.toml:6:") && l.contains("target_group[0].targets[0]")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|l| l.contains(
            "certificate.cert_file: certificate file `/nonexistent/c.pem` does not exist"
        )),
        "{e:?}"
    );
}

#[test]
fn syntax_errors_have_a_position() {
    let e = errors("[admin\nlisten = 1");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("t.toml:1:"), "{e:?}");
}

#[test]
fn alb_rule_quotas_are_enforced() {
    let src = r#"
[[target_group]]
name = "tg"
[[load_balancer]]
name = "lb"
[[load_balancer.listener]]
port = 19080
default_action = { type = "forward", target_group = "tg" }
[[load_balancer.listener.rule]]
priority = 1
condition = [{ path_pattern = { values = ["/a*", "/b*", "/c*"] } }, { host_header = { values = ["*.x", "*.y", "*.z"] } }]
action = { type = "forward", target_group = "tg" }
"#;
    let e = errors(src);
    assert!(e.iter().any(|l| l.contains("load_balancer[0].listener[0].rule[0].condition: 6 condition values; ALB allows at most 5 per rule")), "{e:?}");
    assert!(
        e.iter()
            .any(|l| l.contains("6 wildcards; ALB allows at most 5 per rule")),
        "{e:?}"
    );
}
