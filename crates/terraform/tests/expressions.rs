//! One test per expression feature the importer evaluates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_terraform::eval::{Evaluator, ModuleSrc, VarValue};
use edgeway_testkit::TempDir;
use hcl::Value;
use std::collections::HashMap;

/// An evaluator with the folder its module was read from (`file()` reads it while evaluating).
struct Ev {
    ev: Evaluator,
    _dir: TempDir,
}

impl std::ops::Deref for Ev {
    type Target = Evaluator;
    fn deref(&self) -> &Evaluator {
        &self.ev
    }
}

/// Writes `files` into a fresh directory.
fn dir(files: &[(&str, &str)]) -> TempDir {
    let d = TempDir::new("tf");
    for (name, src) in files {
        let p = d.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, src).unwrap();
    }
    d
}

fn ev_with(files: &[(&str, &str)], vars: &[(&str, &str)]) -> Ev {
    let d = dir(files);
    let vars: HashMap<String, VarValue> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), VarValue::Raw(v.to_string())))
        .collect();
    Ev {
        ev: Evaluator::new(ModuleSrc::load(&d).unwrap(), vars),
        _dir: d,
    }
}

fn eval(src: &str, expr: &str) -> Value {
    ev_with(&[("main.tf", src)], &[]).eval_text(expr).unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn list(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|x| s(x)).collect())
}

#[test]
fn literals() {
    assert_eq!(eval("", r#""a""#), s("a"));
    assert_eq!(eval("", "true"), Value::Bool(true));
    assert_eq!(eval("", "[1, 2]").as_array().map(Vec::len), Some(2));
    assert_eq!(eval("", r#"{ a = "b" }.a"#), s("b"));
    assert_eq!(eval("", "null"), Value::Null);
}

#[test]
fn variables_defaults_var_flags_and_types() {
    let src = r#"
variable "env" { default = "dev" }
variable "port" { type = number }
variable "names" { type = list(string) }
"#;
    let ev = ev_with(
        &[("main.tf", src)],
        &[("port", "8080"), ("names", r#"["a", "b"]"#)],
    );
    assert_eq!(ev.eval_text("var.env").unwrap(), s("dev"));
    assert_eq!(ev.eval_text("var.port + 1").unwrap(), Value::from(8081));
    assert_eq!(ev.eval_text("var.names").unwrap(), list(&["a", "b"]));
    let ev = ev_with(&[("main.tf", src)], &[("env", "prod")]);
    assert_eq!(ev.eval_text("var.env").unwrap(), s("prod"));
    let e = ev.eval_text("var.port").unwrap_err();
    assert!(e.contains("--var port="), "{e}");
}

#[test]
fn tfvars_files() {
    let d = dir(&[
        ("main.tf", "variable \"env\" {}\n"),
        ("terraform.tfvars", "env = \"stage\"\n"),
    ]);
    let vars = edgeway_terraform::eval::read_tfvars(&d.join("terraform.tfvars")).unwrap();
    let ev = Evaluator::new(ModuleSrc::load(&d).unwrap(), vars);
    assert_eq!(ev.eval_text("var.env").unwrap(), s("stage"));
}

#[test]
fn locals_and_templates() {
    let src = r#"
variable "env" { default = "dev" }
locals {
  name = "shop-${var.env}"
  fqdn = "${local.name}.example.com"
  port = 443
  url  = "https://${local.fqdn}:${local.port}/"
  both = "%{ if var.env == "dev" }d%{ else }p%{ endif }"
  each = "%{ for x in ["a", "b"] }${x};%{ endfor }"
}
"#;
    assert_eq!(
        eval(src, "local.url"),
        s("https://shop-dev.example.com:443/")
    );
    assert_eq!(eval(src, "local.both"), s("d"));
    assert_eq!(eval(src, "local.each"), s("a;b;"));
    // A template that is one interpolation keeps the value's type.
    assert_eq!(eval(src, r#""${local.port}""#), Value::from(443));
}

#[test]
fn local_cycles_are_errors() {
    let ev = ev_with(
        &[("main.tf", "locals {\n a = local.b\n b = local.a\n}\n")],
        &[],
    );
    assert!(ev
        .eval_text("local.a")
        .unwrap_err()
        .contains("refers to itself"));
}

#[test]
fn functions() {
    assert_eq!(eval("", r#"format("%s-%d", "a", 7)"#), s("a-7"));
    assert_eq!(eval("", r#"join(",", ["a", "b"])"#), s("a,b"));
    assert_eq!(eval("", r#"lookup({ a = "1" }, "b", "d")"#), s("d"));
    assert_eq!(
        eval("", r#"concat(["a"], ["b", "c"])"#),
        list(&["a", "b", "c"])
    );
    assert_eq!(
        eval("", r#"merge({ a = "1" }, { a = "2", b = "3" })["a"]"#),
        s("2")
    );
    assert_eq!(
        eval("", r#"tolist(toset(["b", "a", "b"]))"#),
        list(&["a", "b"])
    );
    assert_eq!(
        eval("", r#"length(keys({ x = 1, y = 2 }))"#),
        Value::from(2)
    );
    assert_eq!(eval("", r#"upper(replace("a-b", "-", "_"))"#), s("A_B"));
    assert_eq!(eval("", r#"try(local.nope, "fallback")"#), s("fallback"));
    assert_eq!(eval("", r#"coalesce("", "x")"#), s("x"));
    assert!(ev_with(&[], &[])
        .eval_text("cidrsubnet(\"10.0.0.0/8\", 8, 1)")
        .unwrap_err()
        .contains("not supported"));
}

#[test]
fn operators_conditionals_and_for_expressions() {
    assert_eq!(eval("", "1 + 2 * 3"), Value::from(7));
    assert_eq!(eval("", r#"2 > 1 && !false ? "y" : "n""#), s("y"));
    assert_eq!(
        eval("", r#"[for x in ["a", "b"] : upper(x)]"#),
        list(&["A", "B"])
    );
    assert_eq!(
        eval(
            "",
            r#"{ for k, v in { a = 1, b = 2 } : k => v if v > 1 }.b"#
        ),
        Value::from(2)
    );
    assert_eq!(
        eval("", r#"[{ n = "a" }, { n = "b" }][*].n"#),
        list(&["a", "b"])
    );
}

#[test]
fn references_to_resources() {
    let src = r#"
resource "aws_lb" "front" { name = "front-lb" }
resource "aws_lb_target_group" "tg" {
  count = 2
  name  = "tg-${count.index}"
}
resource "aws_lb_target_group" "svc" {
  for_each = toset(["api", "web"])
  name     = "svc-${each.key}"
  port     = each.key == "api" ? 8081 : 8080
}
resource "aws_cloudfront_distribution" "web" {}
"#;
    let ev = ev_with(&[("main.tf", src)], &[]);
    assert_eq!(ev.eval_text("aws_lb.front.name").unwrap(), s("front-lb"));
    let dns = ev.eval_text("aws_lb.front.dns_name").unwrap();
    let m = ev.marker(dns.as_str().unwrap()).unwrap();
    assert_eq!(
        (m.address.as_str(), m.attr.as_str()),
        ("aws_lb.front", "dns_name")
    );
    assert_eq!(
        ev.eval_text("aws_lb_target_group.tg[1].name").unwrap(),
        s("tg-1")
    );
    assert_eq!(
        ev.eval_text("aws_lb_target_group.tg[*].name").unwrap(),
        list(&["tg-0", "tg-1"])
    );
    assert_eq!(
        ev.eval_text(r#"aws_lb_target_group.svc["api"].port"#)
            .unwrap(),
        Value::from(8081)
    );
    let arn = ev
        .eval_text(r#"aws_lb_target_group.svc["web"].arn"#)
        .unwrap();
    assert_eq!(
        ev.marker(arn.as_str().unwrap()).unwrap().address,
        r#"aws_lb_target_group.svc["web"]"#
    );
    assert_eq!(
        ev.eval_text("aws_cloudfront_distribution.web.hosted_zone_id")
            .unwrap(),
        s("Z2FDTNDATAQYW2")
    );
    assert!(ev
        .eval_text("aws_lb.nope.arn")
        .unwrap_err()
        .contains("no resource"));
}

#[test]
fn modules_inputs_and_outputs() {
    let ev = ev_with(
        &[
            ("main.tf", "module \"m\" {\n  source = \"./mod\"\n  prefix = \"x\"\n}\nlocals {\n  got = module.m.name\n}\n"),
            ("mod/main.tf", "variable \"prefix\" {}\nvariable \"suffix\" { default = \"y\" }\nresource \"aws_lb\" \"this\" { name = \"${var.prefix}-${var.suffix}\" }\noutput \"name\" { value = aws_lb.this.name }\noutput \"dns\" { value = aws_lb.this.dns_name }\n"),
        ],
        &[],
    );
    assert_eq!(ev.eval_text("local.got").unwrap(), s("x-y"));
    let dns = ev.eval_text("module.m.dns").unwrap();
    assert_eq!(
        ev.marker(dns.as_str().unwrap()).unwrap().address,
        "module.m.aws_lb.this"
    );
}

#[test]
fn remote_modules_say_why() {
    let ev = ev_with(
        &[(
            "main.tf",
            "module \"vpc\" {\n  source = \"terraform-aws-modules/vpc/aws\"\n}\n",
        )],
        &[],
    );
    assert!(ev
        .eval_text("module.vpc.vpc_id")
        .unwrap_err()
        .contains("not a local path"));
}

#[test]
fn dynamic_blocks_expand() {
    let src = r#"
resource "aws_cloudfront_distribution" "d" {
  dynamic "ordered_cache_behavior" {
    for_each = ["/a/*", "/b/*"]
    iterator = b
    content {
      path_pattern = b.value
      n            = b.key
    }
  }
}
"#;
    let ev = ev_with(&[("main.tf", src)], &[]);
    let v = ev
        .eval_text("aws_cloudfront_distribution.d.ordered_cache_behavior[*].path_pattern")
        .unwrap();
    assert_eq!(v, list(&["/a/*", "/b/*"]));
}
