//! End to end: `examples/terraform/roboshop` imported with `--target` flags pointing at demo
//! targets this test starts on ports the kernel chose, validated, run with every listener on a
//! port the kernel chose, and driven through every hop: DNS, the edge, the load balancer, the
//! targets. Also the CLI: `edgeway import terraform` and `edgeway explain`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use edgeway_terraform::{import, ImportOptions};
use edgeway_testkit::{eventually, get, Target};
use hickory_proto::rr::RecordType;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/terraform/roboshop")
}

/// Starts a demo target on 127.0.0.1:0; it stops when the returned sender drops.
async fn demo_target(id: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let t = edgeway_demo::DemoTarget::new(id);
    tokio::spawn(async move {
        let _ = t
            .serve(l, async move {
                let _ = rx.await;
            })
            .await;
    });
    (addr, tx)
}

fn listen_of(urls: &[String], scheme: &str) -> SocketAddr {
    urls.iter()
        .find_map(|u| u.strip_prefix(scheme))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_roboshop_runs_through_every_hop() {
    let (f1, _s1) = demo_target("frontend-1").await;
    let (a1, _s2) = demo_target("api-1").await;
    let opts = ImportOptions {
        path: example(),
        targets: vec![
            ("roboshop-dev-frontend".into(), vec![f1.to_string()]),
            ("roboshop-dev-api".into(), vec![a1.to_string()]),
        ],
        ..Default::default()
    };
    let r = import(&opts).unwrap();
    assert!(r.runs(), "{:?}", r.errors);
    // What `edgeway check` would say about the written file.
    let mut cfg = edgeway_config::parse("imported.toml", &r.toml).expect("the import validates");
    let bound = bind(&mut cfg, true).await.expect("bind");
    let ca = Arc::new(LocalCa::ephemeral().expect("CA"));
    let stack = Stack::start(cfg, bound, ca).await.expect("start");
    let c = &stack.config;
    let d = &c.distributions[0];
    let edge_https = listen_of(&d.listen, "https://");
    let edge_http = listen_of(&d.listen, "http://");
    let dns: SocketAddr = c.dns.as_ref().unwrap().listen.parse().unwrap();

    // DNS: the alias records answer with the local tiers.
    let m = edgeway_dns::query(
        dns,
        "dev.roboshop.localhost",
        RecordType::A,
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert_eq!(edgeway_dns::format_short(&m).trim(), "127.0.0.1");
    let m = edgeway_dns::query(
        dns,
        "roboshop-dev.roboshop.localhost",
        RecordType::A,
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert_eq!(edgeway_dns::format_short(&m).trim(), "127.0.0.1");

    // Viewer → edge (HTTPS) → ALB (HTTPS origin) → frontend target.
    let edge = Target::https(edge_https, "dev.roboshop.localhost", &stack.ca_pem);
    let host = format!("dev.roboshop.localhost:{}", edge_https.port());
    let r = eventually(
        Duration::from_secs(20),
        "the storefront through every hop",
        || {
            let (edge, host) = (edge.clone(), host.clone());
            async move {
                get(&edge, &host, "/")
                    .await
                    .ok()
                    .filter(|r| r.status == 200)
            }
        },
    )
    .await;
    assert!(r.text().contains("Roboshop"), "storefront page");
    assert!(r
        .header("via")
        .is_some_and(|v| v.ends_with(".cloudfront.net (CloudFront)")));
    assert_eq!(r.header("x-instance-id"), Some("frontend-1"));

    // The listener rule sends /api/* to the api target group.
    let r = get(&edge, &host, "/api/echo?x=1").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-instance-id"), Some("api-1"));

    // The /images/* behavior (CachingOptimized).
    let r = get(&edge, &host, "/images/watson.png").await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"\x89PNG"));

    // Plain HTTP to the edge is redirected (redirect-to-https).
    let plain = Target::http(edge_http);
    let r = get(
        &plain,
        &format!("dev.roboshop.localhost:{}", edge_http.port()),
        "/a",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 301);

    // The ALB's HTTP listener redirects to its HTTPS listener (port 443 became a local port).
    let lb = &c.load_balancers[0];
    let http_port = lb
        .listeners
        .iter()
        .find(|l| l.protocol == "HTTP")
        .unwrap()
        .port;
    let https_port = lb
        .listeners
        .iter()
        .find(|l| l.protocol == "HTTPS")
        .unwrap()
        .port;
    let alb = Target::http(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let r = get(&alb, "roboshop-dev.roboshop.localhost", "/x")
        .await
        .unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://roboshop-dev.roboshop.localhost:{https_port}/x")
    );
    stack.shutdown().await;
}

#[test]
fn cli_import_writes_toml_and_warnings() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"))
        .args(["import", "terraform"])
        .arg(example())
        .args([
            "--target",
            "roboshop-dev-frontend=127.0.0.1:9101,127.0.0.1:9102",
            "--target",
            "roboshop-dev-api=127.0.0.1:9201",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(
        toml.contains("[[distribution]]")
            && toml.contains("targets = [\"127.0.0.1:9101\", \"127.0.0.1:9102\"]"),
        "{toml}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("module.alb.aws_security_group.alb"))
        .expect("the security group is reported");
    assert!(line.contains("modules/alb/main.tf:1:1: "), "{line}");
    // `edgeway check` accepts what was written.
    let dir = std::env::temp_dir().join(format!("edgeway-import-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("roboshop.toml");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"))
        .args(["import", "terraform"])
        .arg(example())
        .arg("-o")
        .arg(&file)
        .arg("--demo-targets")
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"))
        .args(["check", "-c"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    // Explain on the imported file, as text and as JSON.
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"))
        .args(["explain", "-c"])
        .arg(&file)
        .args(["https://dev.roboshop.localhost:8443/api/echo", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["outcome"], "forwarded to target group roboshop-dev-api");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_import_of_nothing_known_exits_two() {
    let dir = std::env::temp_dir().join(format!("edgeway-import-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.tf"),
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"))
        .args(["import", "terraform"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("main.tf:1:1: aws_s3_bucket.b: "),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
