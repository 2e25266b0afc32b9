//! The request size limits through the whole stack, over raw TCP: the edge's listeners answer a
//! head over 20,480 bytes or a URL over 8,192 bytes with 413 and close (CloudFront §1.9); the
//! ALB's listeners keep their own limits (16K URL, 64K of headers) and serve the same requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway::{bind, Stack};
use edgeway_http::ca::LocalCa;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `bytes` and reads until the server closes (`None` if it did not within the deadline).
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn status(out: &str) -> Option<u16> {
    out.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_answers_oversized_requests_413_and_the_alb_keeps_its_own_limits() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/roboshop.toml");
    let mut cfg = edgeway_config::load(&path).unwrap();
    let bound = bind(&mut cfg, true).await.unwrap();
    let stack = Stack::start(cfg, bound, Arc::new(LocalCa::ephemeral().unwrap()))
        .await
        .unwrap();
    let edge: SocketAddr = stack.config.distributions[0]
        .listen
        .iter()
        .find_map(|u| u.strip_prefix("http://"))
        .unwrap()
        .parse()
        .unwrap();
    // The ALB's cleartext listener (it redirects everything to HTTPS).
    let lb = &stack.config.load_balancers[0];
    let alb_port = lb
        .listeners
        .iter()
        .find(|l| l.protocol == "HTTP")
        .map(|l| l.port)
        .unwrap();
    let alb: SocketAddr = ([127, 0, 0, 1], alb_port).into();

    let big_head = format!(
        "GET / HTTP/1.1\r\nhost: dev.roboshop.localhost\r\nx-pad: {}\r\nconnection: close\r\n\r\n",
        "p".repeat(25_000)
    );
    let long_url = format!(
        "GET /{} HTTP/1.1\r\nhost: dev.roboshop.localhost\r\nconnection: close\r\n\r\n",
        "u".repeat(9_000)
    );
    for (what, req) in [("a 25 KB head", &big_head), ("a 9 KB URL", &long_url)] {
        let out = exchange(edge, req.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{what}: the edge kept the connection open"));
        assert_eq!(
            status(&out),
            Some(413),
            "{what} at the edge: {}",
            out.lines().next().unwrap_or("")
        );
        let out = exchange(alb, req.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{what}: no answer from the ALB"));
        assert_ne!(
            status(&out),
            Some(413),
            "{what} at the ALB: {}",
            out.lines().next().unwrap_or("")
        );
        assert!(
            status(&out).is_some_and(|s| s < 400),
            "{what} at the ALB is within its limits: {}",
            out.lines().next().unwrap_or("")
        );
    }
    // Beyond the ALB's 64K of headers: its own answer (§2.5/§2.6), not CloudFront's 413.
    let huge = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n",
        "p".repeat(70_000)
    );
    let out = exchange(alb, huge.as_bytes())
        .await
        .expect("the ALB closes");
    assert!(
        matches!(status(&out), Some(400 | 431)),
        "{}",
        out.lines().next().unwrap_or("")
    );
    stack.shutdown().await;
}
