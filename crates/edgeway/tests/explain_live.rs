//! End to end: `edgeway explain --live` against the running demo (every port one the kernel
//! chose): the request goes through the config's DNS tier, the edge, the load balancer and a
//! target, and the report names the cache result, the timings and the counters that moved,
//! including the target that served (which matches X-Instance-Id).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use edgeway_testkit::{eventually, TempDir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

struct Running {
    stack: Stack,
    dir: TempDir,
    config: PathBuf,
    cacert: PathBuf,
}

fn temp_dir() -> TempDir {
    TempDir::new("explain-live")
}

async fn start() -> Running {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml");
    let mut cfg = edgeway_config::load(&path).expect("the example validates");
    let bound = bind(&mut cfg, true).await.expect("bind");
    let ca = Arc::new(LocalCa::ephemeral().expect("CA"));
    let stack = Stack::start(cfg, bound, ca).await.expect("start");
    let alb = stack.alb.clone();
    eventually(Duration::from_secs(20), "frontend targets healthy", || {
        let alb = alb.clone();
        async move {
            let h = alb.target_health("frontend")?;
            (h.len() == 2 && h.iter().all(|t| t.state == "healthy")).then_some(())
        }
    })
    .await;
    let dir = temp_dir();
    let config = dir.join("running.toml");
    std::fs::write(&config, toml::to_string(&stack.config).unwrap()).unwrap();
    let cacert = dir.join("ca.pem");
    std::fs::write(&cacert, &stack.ca_pem).unwrap();
    Running {
        stack,
        dir,
        config,
        cacert,
    }
}

/// Runs `edgeway --state-dir DIR explain -c CONFIG ARGS...` off the runtime's workers.
async fn edgeway(r: &Running, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"));
    cmd.arg("--state-dir")
        .arg(&*r.dir)
        .arg("explain")
        .arg("-c")
        .arg(&r.config)
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn live_json(r: &Running, args: &[&str]) -> Value {
    let (code, out, err) = edgeway(r, args).await;
    assert_eq!(code, 0, "{out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The counters of one family that moved, as (labels, delta).
fn moved<'a>(live: &'a Value, name: &str) -> Vec<(&'a Value, f64)> {
    live["counters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .map(|c| (&c["labels"], c["delta"].as_f64().unwrap()))
        .collect()
}

/// The demo target's id for an address (the config's `[[demo_target]]`).
fn instance_of(cfg: &edgeway_config::Config, addr: &str) -> String {
    cfg.demo_targets
        .iter()
        .find(|t| t.listen == addr)
        .map(|t| t.id.clone())
        .unwrap_or_else(|| panic!("no demo target at {addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_miss_then_hit_through_dns_edge_alb_and_target() {
    let r = start().await;
    let url = "https://dev.roboshop.localhost/images/watson.png";
    let cacert = r.cacert.to_str().unwrap().to_string();

    // First: a miss that goes all the way to a frontend target.
    let v = live_json(&r, &[url, "--live", "--cacert", &cacert, "--json"]).await;
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps.first(),
        Some(&"dns"),
        "the explanation comes first: {steps:?}"
    );
    let live = &v["live"];
    assert_eq!(live["status"], 200, "{live:#}");
    assert!(
        live["resolved"]
            .as_str()
            .unwrap()
            .contains("from the DNS tier"),
        "the alias went through the config's DNS: {live:#}"
    );
    let https = r.stack.config.distributions[0]
        .listen
        .iter()
        .find_map(|u| u.strip_prefix("https://"))
        .unwrap();
    assert_eq!(live["sent_to"].as_str().unwrap(), https);
    assert_eq!(live["headers"]["x-cache"], "Miss from cloudfront");
    for h in ["via", "x-amz-cf-id", "x-amz-cf-pop", "x-instance-id"] {
        assert!(live["headers"][h].is_string(), "{h}: {live:#}");
    }
    for t in ["connect", "tls", "first_byte", "total"] {
        assert!(
            live["timings_ms"][t].as_f64().is_some_and(|ms| ms >= 0.0),
            "{t}: {live:#}"
        );
    }
    assert!(live["timings_ms"]["first_byte"].as_f64() <= live["timings_ms"]["total"].as_f64());
    let cache = moved(live, "edgeway_cdn_cache_total");
    assert!(
        cache
            .iter()
            .any(|(l, d)| l["result"] == "Miss" && *d == 1.0),
        "{live:#}"
    );
    assert!(
        !moved(live, "edgeway_cdn_origin_requests_total").is_empty(),
        "{live:#}"
    );
    assert!(
        !moved(live, "edgeway_alb_rule_matches_total").is_empty(),
        "{live:#}"
    );
    let served = live["served_by"].as_array().unwrap();
    assert_eq!(served.len(), 1, "{live:#}");
    assert_eq!(served[0]["target_group"], "frontend");
    let target = served[0]["target"].as_str().unwrap();
    assert_eq!(
        live["headers"]["x-instance-id"].as_str().unwrap(),
        instance_of(&r.stack.config, target),
        "the counters name the target that answered"
    );

    // Second: a hit, answered by the edge; no target request moves.
    let v = live_json(&r, &[url, "--live", "--cacert", &cacert, "--json"]).await;
    let live = &v["live"];
    assert_eq!(
        live["headers"]["x-cache"], "Hit from cloudfront",
        "{live:#}"
    );
    assert!(
        live["headers"]["age"].is_string(),
        "a hit has an Age: {live:#}"
    );
    assert!(
        moved(live, "edgeway_cdn_cache_total")
            .iter()
            .any(|(l, d)| l["result"] == "Hit" && *d == 1.0),
        "{live:#}"
    );
    assert!(
        moved(live, "edgeway_alb_target_requests_total").is_empty(),
        "{live:#}"
    );
    assert!(live["served_by"].as_array().unwrap().is_empty());
    r.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_text_report_names_the_api_target_and_a_redirect() {
    let r = start().await;
    let cacert = r.cacert.to_str().unwrap().to_string();
    let (code, out, err) = edgeway(
        &r,
        &[
            "https://dev.roboshop.localhost/api/echo?x=1",
            "--live",
            "--cacert",
            &cacert,
            "-H",
            "X-Test: 1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("outcome        forwarded to target group api"),
        "{out}"
    );
    assert!(out.contains("--- live ---"), "{out}");
    assert!(out.contains("status         200"), "{out}");
    assert!(out.contains("x-cache: Miss from cloudfront"), "{out}");
    assert!(out.contains("timings        connect "), "{out}");
    assert!(out.contains("alb rule matches"), "{out}");
    let api = &r.stack.config.target_group("api").unwrap().targets[0];
    assert!(
        out.contains(&format!("served by      target {api} (target group api)")),
        "{out}"
    );
    assert!(out.contains("x-instance-id: api-1"), "{out}");

    // Plain HTTP to the edge: the viewer policy redirects; nothing reaches the load balancer.
    let v = live_json(&r, &["http://dev.roboshop.localhost/", "--live", "--json"]).await;
    let live = &v["live"];
    assert_eq!(live["status"], 301, "{live:#}");
    assert!(
        live["timings_ms"]["tls"].is_null(),
        "no TLS over HTTP: {live:#}"
    );
    assert!(
        live["headers"]["location"]
            .as_str()
            .unwrap()
            .starts_with("https://dev.roboshop.localhost:"),
        "{live:#}"
    );
    assert!(
        moved(live, "edgeway_alb_rule_matches_total").is_empty(),
        "{live:#}"
    );
    assert_eq!(
        v["outcome"].as_str().unwrap(),
        format!(
            "301 redirect to {}",
            live["headers"]["location"].as_str().unwrap()
        )
    );
    r.stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_trusts_the_state_dir_ca_and_reports_an_untrusted_one() {
    let r = start().await;
    // No --cacert: the CA comes from --state-dir (ca.pem, as `edgeway ca path` names it).
    let v = live_json(&r, &["https://dev.roboshop.localhost/", "--live", "--json"]).await;
    assert_eq!(v["live"]["status"], 200, "{:#}", v["live"]);
    // A CA that did not sign the edge's certificate: the handshake fails, exit 1, the reason said.
    let other = r.dir.join("other.pem");
    std::fs::write(&other, LocalCa::ephemeral().unwrap().cert_pem()).unwrap();
    let (code, out, _) = edgeway(
        &r,
        &[
            "https://dev.roboshop.localhost/",
            "--live",
            "--cacert",
            other.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TLS handshake"), "{out}");
    r.stack.shutdown().await;
}
