//! The registration API end to end: the demo's config on kernel-chosen ports, a new storefront
//! target registered with `edgeway targets register` (the CLI against the admin listener), checked
//! before it gets traffic, then deregistered (draining).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use edgeway_testkit::{eventually, get, Target};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

async fn cli(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_edgeway"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn args(op: &str, admin: SocketAddr, group: &str, targets: &[String]) -> Vec<String> {
    let mut a = vec![
        "targets".into(),
        op.into(),
        "--admin".into(),
        admin.to_string(),
        "--target-group".into(),
        group.into(),
    ];
    a.extend(targets.iter().cloned());
    a
}

async fn instances(t: &Target, n: usize) -> HashSet<String> {
    let mut seen = HashSet::new();
    for _ in 0..n {
        let r = get(t, "roboshop-dev.roboshop.localhost", "/api/echo")
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        seen.insert(r.header("x-instance-id").unwrap_or_default().to_string());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_check_serve_and_drain_through_the_cli() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml");
    let mut cfg = edgeway_config::load(&path).unwrap();
    let bound = bind(&mut cfg, true).await.unwrap();
    let stack = Stack::start(cfg, bound, Arc::new(LocalCa::ephemeral().unwrap()))
        .await
        .unwrap();
    let admin: SocketAddr = stack.config.admin.as_ref().unwrap().listen.parse().unwrap();
    let lb: SocketAddr = (
        [127, 0, 0, 1],
        stack.config.load_balancers[0].listeners[0].port,
    )
        .into();
    let alb = Target::https(lb, "roboshop-dev.roboshop.localhost", &stack.ca_pem);

    // A second API instance, not in the config.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let new = l.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(edgeway_demo::DemoTarget::new("api-2").serve(l, async {
        let _ = stop_rx.await;
    }));

    let (ok, out, err) = cli(args("register", admin, "api", &[new.to_string()])).await;
    assert!(ok, "{out}{err}");
    let (ok, out, _) = cli(args("health", admin, "api", &[])).await;
    assert!(ok && out.contains(&new.to_string()), "{out}");

    let a = stack.alb.clone();
    let id = new.to_string();
    eventually(
        Duration::from_secs(20),
        "the new target passes a check",
        || {
            let (a, id) = (a.clone(), id.clone());
            async move {
                a.target_health("api")?
                    .iter()
                    .any(|t| t.target == id && t.state == "healthy")
                    .then_some(())
            }
        },
    )
    .await;
    // Both instances once both are healthy (the first may still be initial → wait for it too).
    eventually(Duration::from_secs(20), "api-1 healthy", || {
        let a = a.clone();
        async move {
            a.target_health("api")?
                .iter()
                .all(|t| t.state == "healthy")
                .then_some(())
        }
    })
    .await;
    let seen = instances(&alb, 6).await;
    assert_eq!(
        seen,
        HashSet::from(["api-1".to_string(), "api-2".to_string()])
    );

    let (ok, out, err) = cli(args("deregister", admin, "api", &[new.to_string()])).await;
    assert!(ok, "{out}{err}");
    let (_, out, _) = cli(args("health", admin, "api", &[])).await;
    assert!(
        out.lines().any(|l| l.contains(&id)
            && l.contains("draining")
            && l.contains("Target.DeregistrationInProgress")),
        "{out}"
    );
    assert_eq!(
        instances(&alb, 4).await,
        HashSet::from(["api-1".to_string()]),
        "a draining target gets no new requests"
    );

    // Errors come back as messages and exit 1.
    let (ok, _, err) = cli(args("register", admin, "nope", &["127.0.0.1:1".into()])).await;
    assert!(
        !ok && err.contains("404") && err.contains("no target group named `nope`"),
        "{err}"
    );
    let _ = stop_tx.send(());
    stack.shutdown().await;
}
