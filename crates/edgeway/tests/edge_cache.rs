//! The edge cache through the whole stack: the demo caches `/images/*` and `/media/*` and never
//! `/`; a warm disk tier survives a restart; corrupted disk entries are misses, never served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use edgeway_http::RequestBody;
use edgeway_http::{full, Body, ConnInfo, Handler, ServeOptions};
use edgeway_testkit::{eventually, get, Target, TempDir};
use futures_util::future::BoxFuture;
use http::{Request, Response};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn listen_of(urls: &[String], scheme: &str) -> SocketAddr {
    urls.iter()
        .find_map(|u| u.strip_prefix(scheme))
        .unwrap()
        .parse()
        .unwrap()
}

fn origin_requests(stack: &Stack) -> u64 {
    let d = &stack.config.distributions[0];
    d.origins
        .iter()
        .map(|o| {
            stack.metrics.value(
                "edgeway_cdn_origin_requests_total",
                &[("distribution", &d.id), ("origin", &o.origin_id)],
            )
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_caches_images_and_media_and_never_the_page() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml");
    let mut cfg = edgeway_config::load(&path).expect("the example validates");
    let bound = bind(&mut cfg, true).await.expect("bind");
    let stack = Stack::start(cfg, bound, Arc::new(LocalCa::ephemeral().unwrap()))
        .await
        .expect("start");
    let alb = stack.alb.clone();
    eventually(Duration::from_secs(20), "frontend targets healthy", || {
        let alb = alb.clone();
        async move {
            let h = alb.target_health("frontend")?;
            (h.len() == 2 && h.iter().all(|t| t.state == "healthy")).then_some(())
        }
    })
    .await;
    let https = listen_of(&stack.config.distributions[0].listen, "https://");
    let edge = Target::https(https, "dev.roboshop.localhost", &stack.ca_pem);
    let host = format!("dev.roboshop.localhost:{}", https.port());
    for p in ["/images/watson.png", "/images/logo.png", "/media/intro.bin"] {
        let before = origin_requests(&stack);
        let first = get(&edge, &host, p).await.unwrap();
        assert_eq!(
            (first.status.as_u16(), first.header("x-cache")),
            (200, Some("Miss from cloudfront")),
            "{p}"
        );
        let second = get(&edge, &host, p).await.unwrap();
        assert_eq!(
            (second.status.as_u16(), second.header("x-cache")),
            (200, Some("Hit from cloudfront")),
            "{p}"
        );
        assert_eq!(second.body, first.body, "{p}");
        assert!(second.header("age").is_some(), "{p}");
        assert_eq!(
            origin_requests(&stack) - before,
            1,
            "{p}: one origin request"
        );
    }
    let before = origin_requests(&stack);
    for _ in 0..2 {
        let r = get(&edge, &host, "/").await.unwrap();
        assert_eq!(
            (r.status.as_u16(), r.header("x-cache")),
            (200, Some("Miss from cloudfront"))
        );
    }
    assert_eq!(origin_requests(&stack) - before, 2, "/ is never cached");
    stack.shutdown().await;
}

/// An origin that counts requests and answers a fixed cacheable body.
struct Counting(Arc<AtomicUsize>);

impl Handler for Counting {
    fn handle(
        &self,
        _req: Request<RequestBody>,
        _c: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            let mut r = Response::new(full("the cached body ".repeat(64)));
            r.headers_mut()
                .insert("cache-control", "max-age=3600".parse().unwrap());
            r.headers_mut()
                .insert("content-type", "application/octet-stream".parse().unwrap());
            r.headers_mut().insert("x-origin-hits", n.into());
            r
        })
    }
}

async fn counting_origin() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h: Arc<dyn Handler> = Arc::new(Counting(hits.clone()));
    let mut opts = ServeOptions::new("origin", &Default::default());
    opts.h2 = false;
    tokio::spawn(edgeway_http::serve(l, h, opts, std::future::pending()));
    (addr, hits)
}

fn disk_config(dir: &Path, origin: SocketAddr) -> String {
    format!(
        r#"
[cache]
memory_bytes = 1048576
disk_dir = {dir:?}
disk_bytes = 4194304

[[distribution]]
id = "web"
listen = ["http://127.0.0.1:0"]
[[distribution.origin]]
origin_id = "o"
domain_name = "127.0.0.1"
custom_origin_config = {{ http_port = {port}, origin_protocol_policy = "http-only" }}
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
"#,
        dir = dir.display().to_string(),
        port = origin.port()
    )
}

async fn start(dir: &Path, origin: SocketAddr) -> (Stack, Target) {
    let mut cfg = edgeway_config::parse("disk.toml", &disk_config(dir, origin)).expect("config");
    let bound = bind(&mut cfg, true).await.expect("bind");
    let stack = Stack::start(cfg, bound, Arc::new(LocalCa::ephemeral().unwrap()))
        .await
        .expect("start");
    let http = listen_of(&stack.config.distributions[0].listen, "http://");
    (stack, Target::http(http))
}

fn temp_dir(name: &str) -> TempDir {
    TempDir::new(name)
}

/// Fills the disk tier with `/obj` and stops the stack once the entry is on disk.
async fn warm(dir: &Path, origin: SocketAddr) {
    let (stack, edge) = start(dir, origin).await;
    let r = get(&edge, "localhost", "/obj").await.unwrap();
    assert_eq!(r.header("x-cache"), Some("Miss from cloudfront"));
    let metrics = stack.metrics.clone();
    eventually(
        Duration::from_secs(10),
        "the entry reaches the disk tier",
        || {
            let m = metrics.clone();
            async move {
                (m.value("edgeway_cache_inserts_total", &[("tier", "disk")]) >= 1).then_some(())
            }
        },
    )
    .await;
    stack.shutdown().await;
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_over_a_warm_disk_tier_hits() {
    let dir = temp_dir("disk-restart");
    let (origin, hits) = counting_origin().await;
    warm(&dir, origin).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let (stack, edge) = start(&dir, origin).await;
    let r = get(&edge, "localhost", "/obj").await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.header("x-cache")),
        (200, Some("Hit from cloudfront"))
    );
    assert_eq!(r.text(), "the cached body ".repeat(64));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "served from disk, the origin not asked"
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_disk_entries_are_misses_never_served() {
    let dir = temp_dir("disk-corrupt");
    let (origin, hits) = counting_origin().await;
    warm(&dir, origin).await;
    let stored = files(&dir);
    assert!(!stored.is_empty(), "something on disk");
    for f in &stored {
        let mut bytes = std::fs::read(f).unwrap();
        let n = bytes.len();
        if n == 0 {
            continue;
        }
        // Flip bytes in the middle and at the end: the body and the checksum no longer agree.
        for i in [n / 2, n - 1] {
            bytes[i] ^= 0xff;
        }
        std::fs::write(f, &bytes).unwrap();
    }
    let (stack, edge) = start(&dir, origin).await;
    let r = get(&edge, "localhost", "/obj").await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.header("x-cache")),
        (200, Some("Miss from cloudfront"))
    );
    assert_eq!(
        r.text(),
        "the cached body ".repeat(64),
        "never a corrupt body"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    stack.shutdown().await;
}
