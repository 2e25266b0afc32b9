//! The load balancer on its own event loop (`Placement::balancer`, what `--workers 1` does when
//! a config has a balancer beside other tiers): the edge → balancer → target chain works, and the
//! balancer answers while the main loop is not running at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::tier_thread::TierThread;
use edgeway::{bind, Placement, Stack};
use edgeway_http::ca::LocalCa;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A keep-alive target on its own threads (not on any Tokio runtime): every request is counted
/// and answered with `from-target` and the X-Forwarded-For the balancer sent.
fn target() -> (SocketAddr, Arc<AtomicUsize>) {
    edgeway_testkit::thread_origin(|head| {
        let xff = head
            .lines()
            .find_map(|l| l.strip_prefix("x-forwarded-for: "))
            .unwrap_or("none")
            .to_string();
        format!(
            "HTTP/1.1 200 OK\r\ncache-control: no-store\r\nx-seen-xff: {xff}\r\ncontent-length: 11\r\n\r\nfrom-target"
        )
    })
}

/// One request on its own connection from a plain thread; the whole response, lower-cased.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.to_ascii_lowercase()
}

fn config(target: SocketAddr) -> String {
    // 18080 / 18081 are placeholders: `bind(.., true)` binds free ports and rewrites them (the
    // edge's origin port follows the balancer's listener).
    format!(
        r#"
[resolver]
nameservers = []

[[distribution]]
id = "edge"
listen = ["http://127.0.0.1:18080"]

[[distribution.origin]]
origin_id = "alb"
domain_name = "127.0.0.1"
custom_origin_config = {{ http_port = 18081, origin_protocol_policy = "http-only" }}

[distribution.default_cache_behavior]
target_origin_id = "alb"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"

[[load_balancer]]
name = "lb"
bind_address = "127.0.0.1"

[[load_balancer.listener]]
port = 18081
protocol = "HTTP"
default_action = {{ type = "forward", target_group = "pool" }}

[[target_group]]
name = "pool"
protocol = "HTTP"
targets = ["{target}"]
health_check = {{ enabled = false }}
"#
    )
}

#[test]
fn the_balancer_serves_from_its_own_thread_while_the_main_loop_is_idle() {
    let (target, hits) = target();
    let mut cfg = edgeway_config::parse("tier.toml", &config(target)).expect("config");
    let main = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let alb_thread = TierThread::start("edgeway-alb").unwrap();
    let placement = Placement {
        balancer: Some(alb_thread.handle().clone()),
    };
    let stack = main.block_on(async {
        let bound = bind(&mut cfg, true).await.unwrap();
        Stack::start_on(
            cfg,
            bound,
            Arc::new(LocalCa::ephemeral().unwrap()),
            &placement,
        )
        .await
        .unwrap()
    });
    let lb: SocketAddr = (
        [127, 0, 0, 1],
        stack.config.load_balancers[0].listeners[0].port,
    )
        .into();
    let edge: SocketAddr = stack.config.distributions[0].listen[0]
        .trim_start_matches("http://")
        .parse()
        .unwrap();

    // Nothing drives the main runtime now (no `block_on`): only the balancer's thread runs. Were
    // the balancer on the main loop, this request would time out.
    let direct = get(lb, "/direct");
    assert!(direct.starts_with("http/1.1 200"), "{direct}");
    assert!(direct.ends_with("from-target"), "{direct}");
    assert!(direct.contains("x-seen-xff: 127.0.0.1"), "{direct}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // The whole chain: the edge on the main loop, the balancer on its thread, the target.
    let chained = main.block_on(async move {
        tokio::task::spawn_blocking(move || get(edge, "/via-edge"))
            .await
            .unwrap()
    });
    assert!(chained.starts_with("http/1.1 200"), "{chained}");
    assert!(chained.ends_with("from-target"), "{chained}");
    assert!(
        chained.contains("x-cache: miss from cloudfront"),
        "{chained}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Shutdown stops the balancer's listener too (its task ran on the other runtime).
    main.block_on(stack.shutdown());
    alb_thread.stop();
    assert!(
        std::net::TcpStream::connect(lb).is_err(),
        "the balancer still listens after shutdown"
    );
}
