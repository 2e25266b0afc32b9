//! Health checks over real sockets: states, reasons, traffic following health, fail-open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

async fn lb_with(targets: &[String], health: &str) -> (Alb, SocketAddr) {
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
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}

[[target_group]]
name = "app"
targets = [{list}]
[target_group.health_check]
path = "/health"
interval = 5
timeout = 2
healthy_threshold = 2
unhealthy_threshold = 2
{health}

[[target_group]]
name = "spare"
targets = ["127.0.0.1:9"]
"#
    );
    let alb = alb(&toml, vec![("web", l)]).await;
    (alb, ([127, 0, 0, 1], port).into())
}

fn states(alb: &Alb) -> Vec<(String, Option<String>)> {
    alb.tier
        .target_health("app")
        .unwrap()
        .into_iter()
        .map(|d| (d.state, d.reason))
        .collect()
}

fn st(s: &str, r: Option<&str>) -> (String, Option<String>) {
    (s.to_string(), r.map(str::to_string))
}

async fn names(addr: SocketAddr, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(get(addr, "/").await.name());
    }
    out
}

#[tokio::test]
async fn unhealthy_target_stops_getting_traffic_and_comes_back() {
    let (a, b) = (target("a").await, target("b").await);
    let (alb, addr) = lb_with(&[a.addr.to_string(), b.addr.to_string()], "").await;
    assert_eq!(
        states(&alb),
        vec![st("initial", Some("Elb.InitialHealthChecking")); 2]
    );
    assert!(!alb.tier.is_healthy("web"));

    alb.tier.check_now().await;
    assert_eq!(states(&alb), vec![st("healthy", None); 2]);
    assert!(alb.tier.is_healthy("web"));
    // Each check is a GET on its own connection, closed afterwards.
    assert_eq!(a.connections.load(Ordering::SeqCst), 1);
    let seen = a.last_health.lock().unwrap().clone();
    let header = |n: &str| seen.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        header("user-agent").as_deref(),
        Some("ELB-HealthChecker/2.0")
    );
    assert_eq!(header("host"), Some(a.addr.to_string()));

    b.set_healthy(false);
    alb.tier.check_now().await;
    assert_eq!(
        states(&alb)[1],
        st("healthy", None),
        "one failure is below unhealthy_threshold"
    );
    alb.tier.check_now().await;
    assert_eq!(
        states(&alb)[1],
        st("unhealthy", Some("Target.ResponseCodeMismatch"))
    );
    let d = &alb.tier.target_health("app").unwrap()[1];
    assert_eq!(d.target, b.addr.to_string());
    assert_eq!(
        d.description.as_deref(),
        Some("Health checks failed with these codes: [500]")
    );
    assert_eq!(names(addr, 4).await, vec!["a"; 4]);
    assert_eq!(b.hits(), 0);
    assert!(alb.tier.is_healthy("web"), "one healthy target is enough");

    b.set_healthy(true);
    alb.tier.check_now().await;
    assert_eq!(states(&alb)[1].0, "unhealthy", "healthy_threshold is 2");
    alb.tier.check_now().await;
    assert_eq!(states(&alb)[1], st("healthy", None));
    let got = names(addr, 4).await;
    assert_eq!(got.iter().filter(|n| *n == "b").count(), 2, "{got:?}");
    assert_eq!(
        a.connections.load(Ordering::SeqCst),
        5 + 1,
        "a connection per check; traffic reuses one pooled connection"
    );

    let b_id = b.addr.to_string();
    let tr = |to| {
        alb.metrics.value(
            "edgeway_alb_target_health_transitions_total",
            &[("target_group", "app"), ("target", &b_id), ("to", to)],
        )
    };
    assert_eq!((tr("healthy"), tr("unhealthy")), (2, 1));
}

#[tokio::test]
async fn all_unhealthy_fails_open() {
    let (a, b) = (target("a").await, target("b").await);
    let dead = refusing_addr().await;
    let (alb, addr) = lb_with(&[a.addr.to_string(), b.addr.to_string()], "").await;
    a.set_healthy(false);
    b.set_healthy(false);
    alb.tier.check_now().await;
    alb.tier.check_now().await;
    assert_eq!(
        states(&alb),
        vec![st("unhealthy", Some("Target.ResponseCodeMismatch")); 2]
    );
    assert!(!alb.tier.is_healthy("web"));
    assert_eq!(names(addr, 4).await, vec!["a", "b", "a", "b"]);

    // Connection errors give Target.FailedHealthChecks.
    let (alb2, _) = lb_with(&[dead.to_string()], "").await;
    alb2.tier.check_now().await;
    alb2.tier.check_now().await;
    assert_eq!(
        states(&alb2),
        vec![st("unhealthy", Some("Target.FailedHealthChecks"))]
    );
}

#[tokio::test]
async fn disabled_checks_are_unavailable_and_every_target_gets_traffic() {
    let (a, b) = (target("a").await, target("b").await);
    let (alb, addr) = lb_with(&[a.addr.to_string(), b.addr.to_string()], "enabled = false").await;
    a.set_healthy(false);
    alb.tier.check_now().await;
    assert_eq!(
        states(&alb),
        vec![st("unavailable", Some("Target.HealthCheckDisabled")); 2]
    );
    assert_eq!(a.health_checks.load(Ordering::SeqCst), 0);
    assert!(alb.tier.is_healthy("web"));
    assert_eq!(names(addr, 2).await, vec!["a", "b"]);
}

#[tokio::test]
async fn checker_loop_checks_at_once_and_stops_on_shutdown() {
    let a = target("a").await;
    let (alb, _) = lb_with(&[a.addr.to_string()], "").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let tier = alb.tier.clone();
    let run = tokio::spawn(async move {
        tier.run_health_checks(async move {
            let _ = stopped.await;
        })
        .await
    });
    // interval is 5 s: a healthy state within 3 s proves the first check did not wait for it.
    eventually(3, "first check at start", || {
        states(&alb) == vec![st("healthy", None)]
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(3), run)
        .await
        .unwrap()
        .unwrap();
    // A group no listener uses is not checked.
    let spare = alb.tier.target_health("spare").unwrap();
    assert_eq!(
        (spare[0].state.as_str(), spare[0].reason.as_deref()),
        ("unused", Some("Target.NotInUse"))
    );
    assert!(alb.tier.target_health("nope").is_none());
    assert!(!alb.tier.is_healthy("nope"));
}
