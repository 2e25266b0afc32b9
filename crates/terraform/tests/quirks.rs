//! Provider defaults and quirks, and the local-only choices (ports, targets), one test each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_terraform::{import, ImportOptions, ImportResult};
use edgeway_testkit::TempDir;
use std::path::{Path, PathBuf};

fn run(src: &str, tweak: impl FnOnce(&mut ImportOptions)) -> ImportResult {
    let d = TempDir::new("tfq");
    std::fs::write(d.join("main.tf"), src).unwrap();
    let mut o = ImportOptions {
        path: d.to_path_buf(),
        ..Default::default()
    };
    tweak(&mut o);
    import(&o).unwrap()
}

const LB: &str = r#"
resource "aws_lb" "a" { name = "a" }
resource "aws_lb_target_group" "t" {
  name = "t"
  port = 8080
  HC
}
resource "aws_lb_listener" "l" {
  load_balancer_arn = aws_lb.a.arn
  port              = 443
  protocol          = "HTTPS"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.t.arn
  }
}
resource "aws_lb_listener" "r" {
  load_balancer_arn = aws_lb.a.arn
  port              = 80
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
"#;

#[test]
fn empty_health_check_block_means_three_and_three() {
    let r = run(&LB.replace("HC", "health_check {}"), |_| {});
    let h = &r.config.target_groups[0].health_check;
    assert_eq!(
        (
            h.healthy_threshold,
            h.unhealthy_threshold,
            h.interval,
            h.timeout,
            h.matcher.as_str(),
            h.path.as_str()
        ),
        (3, 3, 30, 5, "200", "/")
    );
}

#[test]
fn no_health_check_block_means_aws_defaults() {
    let r = run(&LB.replace("HC", ""), |_| {});
    let h = &r.config.target_groups[0].health_check;
    assert_eq!((h.healthy_threshold, h.unhealthy_threshold), (5, 2));
}

#[test]
fn health_check_values_are_kept() {
    let r = run(
        &LB.replace(
            "HC",
            "health_check {\n healthy_threshold = 2\n matcher = \"200-299\"\n}",
        ),
        |_| {},
    );
    let h = &r.config.target_groups[0].health_check;
    assert_eq!(
        (
            h.healthy_threshold,
            h.unhealthy_threshold,
            h.matcher.as_str()
        ),
        (2, 3, "200-299")
    );
}

#[test]
fn privileged_ports_move_and_redirects_follow() {
    let r = run(&LB.replace("HC", ""), |_| {});
    let lb = &r.config.load_balancers[0];
    let ports: Vec<u16> = lb.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![9443, 9080]);
    assert_eq!(
        lb.listeners[1]
            .default_action
            .redirect
            .as_ref()
            .unwrap()
            .port,
        "9443"
    );
    assert_eq!(lb.bind_address, "127.0.0.1");
}

#[test]
fn listen_flags_choose_local_addresses() {
    let r = run(&LB.replace("HC", ""), |o| {
        o.listens.push(("a".into(), "127.0.0.2".into()));
        o.listens.push(("a:443".into(), "10443".into()));
    });
    let lb = &r.config.load_balancers[0];
    assert_eq!(lb.bind_address, "127.0.0.2");
    assert_eq!(lb.listeners[0].port, 10443);
}

#[test]
fn targets_come_from_flags_or_a_warning() {
    let r = run(&LB.replace("HC", ""), |_| {});
    assert!(r.config.target_groups[0].targets.is_empty());
    assert!(
        r.warnings.iter().any(|w| w.why.contains("--target t=")),
        "{:?}",
        r.warnings
    );
    assert!(r.runs(), "no targets still runs (503s): {:?}", r.errors);
    let r = run(&LB.replace("HC", ""), |o| {
        o.targets.push(("t".into(), vec!["127.0.0.1:9101".into()]))
    });
    assert_eq!(r.config.target_groups[0].targets, vec!["127.0.0.1:9101"]);
    let r = run(&LB.replace("HC", ""), |o| o.demo_targets = true);
    assert_eq!(r.config.demo_targets.len(), 1);
    assert_eq!(
        r.config.target_groups[0].targets,
        vec![r.config.demo_targets[0].listen.clone()]
    );
}

#[test]
fn distributions_get_increasing_ports() {
    let d = |n: &str| {
        format!("resource \"aws_cloudfront_distribution\" \"{n}\" {{\n origin {{\n origin_id = \"o\"\n domain_name = \"127.0.0.1\"\n custom_origin_config {{\n origin_protocol_policy = \"http-only\"\n }}\n }}\n default_cache_behavior {{\n target_origin_id = \"o\"\n viewer_protocol_policy = \"allow-all\"\n cache_policy_id = \"658327ea-f89d-4fab-a63d-7e88639e58f6\"\n }}\n}}\n")
    };
    let r = run(&format!("{}{}", d("one"), d("two")), |_| {});
    assert!(r.runs(), "{:?}", r.errors);
    assert_eq!(
        r.config.distributions[0].listen,
        vec!["http://127.0.0.1:8080", "https://127.0.0.1:8443"]
    );
    assert_eq!(
        r.config.distributions[1].listen,
        vec!["http://127.0.0.1:8081", "https://127.0.0.1:8444"]
    );
    // A managed policy id becomes its name.
    assert_eq!(
        r.config.distributions[0]
            .default_cache_behavior
            .cache_policy_id
            .as_deref(),
        Some("CachingOptimized")
    );
}

#[test]
fn relative_record_names_get_the_zone() {
    let r = run("resource \"aws_route53_zone\" \"z\" { name = \"ex.test\" }\nresource \"aws_route53_record\" \"r\" {\n zone_id = aws_route53_zone.z.zone_id\n name = \"www\"\n type = \"A\"\n ttl = 30\n records = [\"127.0.0.1\"]\n}\n", |_| {});
    assert_eq!(r.config.zones[0].records[0].name, "www.ex.test");
    assert_eq!(r.config.zones[0].records[0].ttl, Some(30));
}

#[test]
fn nothing_known_exits_two() {
    let r = run(
        "resource \"aws_s3_bucket\" \"b\" { bucket = \"x\" }\n",
        |_| {},
    );
    assert!(!r.runs());
    assert!(
        r.errors[0].contains("no resource edgeway knows"),
        "{:?}",
        r.errors
    );
    assert!(
        r.warnings[0]
            .to_string()
            .contains("main.tf:1:1: aws_s3_bucket.b: "),
        "{}",
        r.warnings[0]
    );
}

#[test]
fn invalid_results_exit_two_with_the_validation_errors() {
    let r = run("resource \"aws_lb\" \"a\" {\n name = \"a\"\n idle_timeout = 99999\n}\nresource \"aws_lb_listener\" \"l\" {\n load_balancer_arn = aws_lb.a.arn\n port = 8000\n default_action {\n type = \"fixed-response\"\n fixed_response {\n content_type = \"text/plain\"\n }\n }\n}\n", |_| {});
    assert!(!r.runs());
    assert!(
        r.errors.iter().any(|e| e.contains("idle_timeout")),
        "{:?}",
        r.errors
    );
}

#[test]
fn unevaluable_values_are_reported_where_written() {
    let r = run(
        "resource \"aws_lb\" \"a\" {\n name = \"a\"\n idle_timeout = var.nope\n}\n",
        |_| {},
    );
    let w = r
        .warnings
        .iter()
        .find(|w| w.path == "aws_lb.a.idle_timeout")
        .expect("a warning");
    assert_eq!((w.loc.line, w.loc.col), (3, 2));
    assert!(w.why.contains("cannot evaluate"), "{}", w.why);
}

fn roboshop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/terraform/roboshop")
}

#[test]
fn roboshop_example_translates() {
    let r = import(&ImportOptions {
        path: roboshop(),
        ..Default::default()
    })
    .unwrap();
    assert!(r.runs(), "{:?}", r.errors);
    let c = &r.config;
    let d = &c.distributions[0];
    assert_eq!(d.aliases, vec!["dev.roboshop.localhost"]);
    let patterns: Vec<_> = d
        .ordered_cache_behavior
        .iter()
        .map(|b| b.path_pattern.clone().unwrap_or_default())
        .collect();
    assert_eq!(patterns, vec!["/media/*", "/images/*"]);
    assert_eq!(d.origins[0].domain_name, "roboshop-dev.roboshop.localhost");
    let cc = d.origins[0].custom_origin_config.as_ref().unwrap();
    assert_eq!(
        (cc.origin_protocol_policy.as_str(), cc.https_port),
        ("https-only", 9443)
    );
    assert_eq!(
        d.default_cache_behavior.origin_request_policy_id.as_deref(),
        Some("AllViewerExceptHostHeader")
    );
    let lb = &c.load_balancers[0];
    assert_eq!(lb.name, "roboshop-dev");
    assert_eq!(
        lb.listeners[0].rules[0].action.target_group.as_deref(),
        Some("roboshop-dev-api")
    );
    let zone = &c.zones[0];
    assert_eq!(zone.name, "roboshop.localhost");
    assert_eq!(
        zone.records[0]
            .alias
            .as_ref()
            .unwrap()
            .distribution
            .as_deref(),
        Some("web")
    );
    assert_eq!(
        zone.records[1]
            .alias
            .as_ref()
            .unwrap()
            .load_balancer
            .as_deref(),
        Some("roboshop-dev")
    );
    // The module's security group is reported, with its file and line.
    assert!(
        r.warnings
            .iter()
            .any(|w| w.loc.file.ends_with("modules/alb/main.tf")
                && w.loc.line == 1
                && w.path == "module.alb.aws_security_group.alb"),
        "{:?}",
        r.warnings
    );
}
