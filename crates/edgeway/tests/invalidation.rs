//! Invalidation through the admin listener, as a user does it: `edgeway invalidate` and the
//! CreateInvalidation-shaped HTTP API, against the running demo. Invalidated paths are misses
//! again (every variant); other paths stay hits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use edgeway_testkit::{eventually, get, send, Target};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn listen_of(urls: &[String], scheme: &str) -> SocketAddr {
    urls.iter()
        .find_map(|u| u.strip_prefix(scheme))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_by_cli_and_api_makes_paths_misses_again() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml");
    let mut cfg = edgeway_config::load(&path).unwrap();
    let bound = bind(&mut cfg, true).await.unwrap();
    let stack = Stack::start(cfg, bound, Arc::new(LocalCa::ephemeral().unwrap()))
        .await
        .unwrap();
    let alb = stack.alb.clone();
    eventually(Duration::from_secs(20), "targets healthy", || {
        let alb = alb.clone();
        async move {
            alb.target_health("frontend")?
                .iter()
                .all(|t| t.state == "healthy")
                .then_some(())
        }
    })
    .await;
    let https = listen_of(&stack.config.distributions[0].listen, "https://");
    let admin: SocketAddr = stack.config.admin.as_ref().unwrap().listen.parse().unwrap();
    let edge = Target::https(https, "dev.roboshop.localhost", &stack.ca_pem);
    let host = format!("dev.roboshop.localhost:{}", https.port());
    let x_cache = |p: &'static str| {
        let edge = edge.clone();
        let host = host.clone();
        async move {
            get(&edge, &host, p)
                .await
                .unwrap()
                .header("x-cache")
                .unwrap()
                .to_string()
        }
    };
    for p in [
        "/images/watson.png",
        "/images/ember.png",
        "/media/intro.bin",
    ] {
        x_cache(p).await;
        assert_eq!(x_cache(p).await, "Hit from cloudfront", "{p} is cached");
    }

    // The CLI, with a trailing-* path.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_edgeway"))
            .args([
                "invalidate",
                "--distribution",
                "web",
                "--admin",
                &admin.to_string(),
                "/images/*",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("1 path(s)"), "{line}");
    assert_eq!(x_cache("/images/watson.png").await, "Miss from cloudfront");
    assert_eq!(x_cache("/images/ember.png").await, "Miss from cloudfront");
    assert_eq!(
        x_cache("/media/intro.bin").await,
        "Hit from cloudfront",
        "other paths stay cached"
    );

    // The HTTP API with an exact path; the invalidation is readable by id.
    let api = Target::http(admin);
    let mut req = edgeway_testkit::request(
        "POST",
        &api,
        "127.0.0.1",
        "/distributions/web/invalidations",
    );
    *req.body_mut() =
        http_body_util::Full::new(bytes::Bytes::from(r#"{"paths": ["/media/intro.bin"]}"#));
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    let r = send(&api, req).await.unwrap();
    assert!(r.status.is_success(), "{} {}", r.status, r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let id = v["Invalidation"]["Id"].as_str().unwrap().to_string();
    assert_eq!(x_cache("/media/intro.bin").await, "Miss from cloudfront");
    let r = get(
        &api,
        "127.0.0.1",
        &format!("/distributions/web/invalidations/{id}"),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["Invalidation"]["Status"], "Completed", "{v}");

    // A path with `*` not last is refused with a clear error.
    let mut req = edgeway_testkit::request(
        "POST",
        &api,
        "127.0.0.1",
        "/distributions/web/invalidations",
    );
    *req.body_mut() =
        http_body_util::Full::new(bytes::Bytes::from(r#"{"paths": ["/images/*.png"]}"#));
    let r = send(&api, req).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    stack.shutdown().await;
}
