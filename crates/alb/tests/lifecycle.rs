//! Registration and deregistration over real sockets: a registered target is checked before it
//! gets traffic; a deregistered one drains (in-flight requests finish, new ones go elsewhere) and
//! requests still in flight when the delay ends get 502.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::time::Duration;

fn body(t: &Target) -> String {
    format!(
        r#"{{"targets":[{{"id":"{}","port":{}}}]}}"#,
        t.addr.ip(),
        t.addr.port()
    )
}

fn state_of(alb: &Alb, t: &Target) -> (String, Option<String>) {
    let d = alb
        .tier
        .target_health("app")
        .unwrap()
        .into_iter()
        .find(|d| d.target == t.addr.to_string())
        .unwrap();
    (d.state, d.reason)
}

#[tokio::test]
async fn a_registered_target_gets_traffic_after_its_first_check() {
    let (a, b) = (target("a").await, target("b").await);
    let (alb, addr) = checked_lb(&[&a], "").await;
    let r = alb
        .tier
        .api("POST", "/target-groups/app/register", body(&b).as_bytes())
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        state_of(&alb, &b),
        ("initial".into(), Some("Elb.InitialHealthChecking".into()))
    );
    for _ in 0..4 {
        assert_eq!(
            get(addr, "/").await.name(),
            "a",
            "initial targets get no traffic while another is healthy"
        );
    }
    alb.tier.check_now().await;
    assert_eq!(state_of(&alb, &b).0, "healthy");
    let names: Vec<String> = futures_util::future::join_all((0..4).map(|_| get(addr, "/")))
        .await
        .iter()
        .map(Resp::name)
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "b").count(), 2, "{names:?}");
}

#[tokio::test]
async fn a_deregistered_target_drains() {
    let (a, b) = (target("a").await, target("b").await);
    let (alb, addr) = checked_lb(&[&a, &b], "deregistration_delay = 60").await;
    // One request held on a, one on b (round robin).
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(addr, "/hold").await }))
        .collect();
    eventually(5, "both held", || a.hits() == 1 && b.hits() == 1).await;
    let r = alb
        .tier
        .api("POST", "/target-groups/app/deregister", body(&a).as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        state_of(&alb, &a),
        (
            "draining".into(),
            Some("Target.DeregistrationInProgress".into())
        )
    );
    for _ in 0..4 {
        assert_eq!(
            get(addr, "/").await.name(),
            "b",
            "new requests go elsewhere"
        );
    }
    a.hold.add_permits(1);
    b.hold.add_permits(1);
    let mut done: Vec<(u16, String)> = Vec::new();
    for h in held {
        let r = h.await.unwrap();
        done.push((r.status, r.name()));
    }
    done.sort();
    assert_eq!(
        done,
        vec![(200, "a".to_string()), (200, "b".to_string())],
        "the in-flight request on a finished"
    );
}

#[tokio::test]
async fn stragglers_get_502_when_the_delay_ends() {
    let (a, b) = (target("a").await, target("b").await);
    let (alb, addr) = checked_lb(&[&a, &b], "deregistration_delay = 1").await;
    let held = tokio::spawn(async move { get(addr, "/hold").await });
    eventually(5, "held on a", || a.hits() == 1).await;
    alb.tier
        .api("POST", "/target-groups/app/deregister", body(&a).as_bytes())
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 502);
    assert_eq!(r.headers["server"], "awselb/2.0");
    eventually(5, "a removed", || {
        alb.tier.target_health("app").unwrap().len() == 1
    })
    .await;
    assert_eq!(get(addr, "/").await.name(), "b");
    // Deregistering the last target: 503 (no registered targets).
    alb.tier
        .api("POST", "/target-groups/app/deregister", body(&b).as_bytes())
        .unwrap();
    assert_eq!(get(addr, "/").await.status, 503);
}

#[tokio::test]
async fn minimum_healthy_targets_fail_open_early() {
    let (a, b, c) = (target("a").await, target("b").await, target("c").await);
    let routing =
        "target_group_health = { unhealthy_state_routing = { minimum_healthy_targets_count = 2 } }";
    let (alb, addr) = checked_lb(&[&a, &b, &c], routing).await;
    b.set_healthy(false);
    c.set_healthy(false);
    alb.tier.check_now().await;
    alb.tier.check_now().await;
    let names: Vec<String> = futures_util::future::join_all((0..6).map(|_| get(addr, "/")))
        .await
        .iter()
        .map(Resp::name)
        .collect();
    for n in ["a", "b", "c"] {
        assert_eq!(
            names.iter().filter(|x| *x == n).count(),
            2,
            "one healthy of a minimum of two: all get traffic {names:?}"
        );
    }
}
