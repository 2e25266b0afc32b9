//! Micro-benchmarks of the load balancer's per-request pure functions: rule evaluation
//! (`RuleSet::select` over host, path, header, method and query conditions), target selection,
//! and the target request's headers (`forward::target_request`).
//! `cargo bench -p edgeway-alb --bench hot_paths`; `-- --test` runs each once (CI smoke).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use edgeway_alb::action::{Action, Fixed};
use edgeway_alb::condition::{Condition, RequestView};
use edgeway_alb::forward::{target_request, Downstream};
use edgeway_alb::headers::{new_trace_id, trace_header};
use edgeway_alb::load_balancer::LoadBalancer;
use edgeway_alb::rules::{Rule, RuleSet};
use edgeway_alb::select::{pick, Algorithm};
use edgeway_config::{Condition as C, HttpHeaderCondition, QueryStringCondition, Values};
use edgeway_http::metrics::{Counter, Metrics};
use edgeway_http::ConnInfo;
use http::{HeaderMap, HeaderValue, Request};

fn vals(v: &[&str]) -> Option<Values> {
    Some(Values {
        values: v.iter().map(|s| s.to_string()).collect(),
    })
}

fn rule(priority: u32, conditions: Vec<C>) -> Rule {
    Rule {
        priority,
        conditions: conditions.iter().map(Condition::compile).collect(),
        action: Action::Fixed(Fixed::compile(&edgeway_config::FixedResponse {
            content_type: "text/plain".into(),
            message_body: Some(priority.to_string()),
            status_code: "200".into(),
        })),
        matches: Counter::default(),
    }
}

/// Ten rules of the usual kinds; the request below matches none until the last.
fn rules() -> RuleSet {
    let mut v = vec![
        rule(
            1,
            vec![C {
                host_header: vals(&["admin.example.com"]),
                ..C::default()
            }],
        ),
        rule(
            2,
            vec![
                C {
                    path_pattern: vals(&["/api/v1/*", "/api/v2/*"]),
                    ..C::default()
                },
                C {
                    http_request_method: vals(&["POST", "PUT"]),
                    ..C::default()
                },
            ],
        ),
        rule(
            3,
            vec![C {
                http_header: Some(HttpHeaderCondition {
                    http_header_name: "X-Canary".into(),
                    values: vec!["true".into()],
                }),
                ..C::default()
            }],
        ),
        rule(
            4,
            vec![C {
                query_string: vec![QueryStringCondition {
                    key: Some("version".into()),
                    value: "beta*".into(),
                }],
                ..C::default()
            }],
        ),
        rule(
            5,
            vec![C {
                host_header: vals(&["*.internal.example.com"]),
                ..C::default()
            }],
        ),
        rule(
            6,
            vec![C {
                path_pattern: vals(&["/static/*", "*.css", "*.js"]),
                ..C::default()
            }],
        ),
        rule(
            7,
            vec![C {
                source_ip: vals(&["10.0.0.0/8"]),
                ..C::default()
            }],
        ),
        rule(
            8,
            vec![
                C {
                    path_pattern: vals(&["/checkout/*"]),
                    ..C::default()
                },
                C {
                    host_header: vals(&["shop.example.com"]),
                    ..C::default()
                },
            ],
        ),
        rule(
            9,
            vec![C {
                http_header: Some(HttpHeaderCondition {
                    http_header_name: "User-Agent".into(),
                    values: vec!["*Mobile*".into()],
                }),
                ..C::default()
            }],
        ),
        rule(
            10,
            vec![C {
                path_pattern: vals(&["/products/*"]),
                ..C::default()
            }],
        ),
    ];
    v.reverse();
    RuleSet::new(v, rule(0, vec![]))
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("host", "www.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("cookie", "session=abc123"),
        ("cookie", "theme=dark"),
        ("x-forwarded-for", "198.51.100.7"),
        ("connection", "keep-alive"),
    ] {
        h.append(n, HeaderValue::from_static(v));
    }
    h
}

fn rule_evaluation(c: &mut Criterion) {
    let set = rules();
    let h = headers();
    let peer = "192.0.2.10".parse().unwrap();
    let mut g = c.benchmark_group("rules_select");
    for (name, method, host, path, query) in [
        (
            "default_after_10",
            "GET",
            "www.example.com",
            "/index.html",
            None,
        ),
        (
            "tenth_rule",
            "GET",
            "www.example.com",
            "/products/shoes/42",
            Some("color=red&size=42"),
        ),
        ("first_rule", "GET", "admin.example.com", "/", None),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let view = RequestView {
                    method,
                    host: Some(host),
                    path: black_box(path),
                    query,
                    headers: &h,
                    peer,
                };
                set.select(&view).priority
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("target_pick");
    let healthy = [true, true, false, true, true, true];
    let load = [3usize, 1, 0, 2, 5, 1];
    let mut t = 0usize;
    g.bench_function("round_robin_6", |b| {
        b.iter(|| {
            t = t.wrapping_add(1);
            pick(
                Algorithm::RoundRobin,
                6,
                |i| healthy[i],
                |i| load[i],
                black_box(t),
            )
        })
    });
    g.bench_function("least_outstanding_6", |b| {
        b.iter(|| {
            t = t.wrapping_add(1);
            pick(
                Algorithm::LeastOutstandingRequests,
                6,
                |i| healthy[i],
                |i| load[i],
                black_box(t),
            )
        })
    });
    g.finish();
}

fn target_headers(c: &mut Criterion) {
    let cfg = edgeway_config::parse(
        "bench.toml",
        r#"
[[load_balancer]]
name = "bench"
[[load_balancer.listener]]
port = 8080
default_action = { type = "forward", target_group = "pool" }
[[target_group]]
name = "pool"
targets = ["127.0.0.1:9001"]
"#,
    )
    .map_err(|e| e.to_string())
    .unwrap();
    let tls = edgeway_http::tls::client_config(&[]).ok();
    let lb = LoadBalancer::from_config(&cfg.load_balancers[0], tls, &Metrics::new());
    let conn = ConnInfo {
        peer: "192.0.2.10:54321".parse().unwrap(),
        local: "127.0.0.1:8080".parse().unwrap(),
        tls: None,
    };
    let h = headers();
    let addr = "127.0.0.1:9001".parse().unwrap();
    let mut g = c.benchmark_group("target_request");
    g.bench_function("browser_request", |b| {
        b.iter(|| {
            let mut req = Request::get("/products/shoes/42?color=red")
                .body(())
                .unwrap();
            *req.headers_mut() = h.clone();
            let (parts, ()) = req.into_parts();
            let trace = trace_header(None, &new_trace_id(1_700_000_000, [7; 12]), 0);
            target_request(
                &lb,
                Downstream {
                    conn: &conn,
                    listener_port: 8080,
                    port_value: None,
                },
                false,
                addr,
                parts,
                edgeway_http::empty(),
                &trace,
            )
            .unwrap()
        })
    });
    g.bench_function("trace_id", |b| {
        b.iter(|| {
            trace_header(
                black_box(Some("Root=1-5759e988-bd862e3fe1be46a994272793")),
                &new_trace_id(1_700_000_000, [7; 12]),
                300,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, rule_evaluation, target_headers);
criterion_main!(benches);
