//! CloudFront's request size limits (§1.9) on the edge's listeners, over raw TCP: a request line
//! plus headers over 20,480 bytes or a URL over 8,192 bytes gets 413 and the connection closes,
//! on the first request of a connection and on later ones; requests within the limits pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ca, echo_origin, one_origin, start_edge, Edge};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn edge() -> Edge {
    let o = echo_origin(None).await;
    let port = o.addr.port();
    start_edge("web", ca(), move |h, s| {
        one_origin(h, s, port, "", "", "", "")
    })
    .await
}

/// Writes `bytes` (ignoring a reset once the server has answered) and reads until the server
/// closes; `None` when it did not close within the deadline.
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

fn request(target: &str, pad: usize, close: bool) -> String {
    let close = if close { "connection: close\r\n" } else { "" };
    format!(
        "GET {target} HTTP/1.1\r\nhost: www.example.com\r\nx-pad: {}\r\n{close}\r\n",
        "p".repeat(pad)
    )
}

/// The status codes of the responses in `out`, in order.
fn statuses(out: &str) -> Vec<u16> {
    out.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| out.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

#[tokio::test]
async fn oversized_heads_and_urls_get_413_and_a_closed_connection() {
    let e = edge().await;
    // `GET /a HTTP/1.1\r\n` (17) + `host: www.example.com\r\n` (23) + `x-pad: …\r\n` (9 + pad)
    // + `connection: close\r\n` (19).
    let fixed = 17 + 23 + 9 + 19;
    let long_url = |n: usize| format!("/{}", "u".repeat(n - 1));
    let rows: Vec<(String, String, u16)> = vec![
        (
            "head at the limit".into(),
            request("/a", 20_480 - fixed, true),
            200,
        ),
        (
            "head one byte over".into(),
            request("/a", 20_480 - fixed + 1, true),
            413,
        ),
        ("head far over".into(), request("/a", 60_000, true), 413),
        (
            "URL at the limit".into(),
            request(&long_url(8_192), 0, true),
            200,
        ),
        (
            "URL one byte over".into(),
            request(&long_url(8_193), 0, true),
            413,
        ),
        (
            "URL far over".into(),
            request(&long_url(50_000), 0, true),
            413,
        ),
    ];
    for (what, bytes, want) in rows {
        let out = exchange(e.http, bytes.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{what}: the connection stayed open"));
        assert_eq!(
            statuses(&out).first().copied(),
            Some(want),
            "{what}: {}",
            out.lines().next().unwrap_or("")
        );
    }
}

#[tokio::test]
async fn later_requests_on_a_connection_are_held_to_the_limits_too() {
    let e = edge().await;
    // A small request, then an oversized one on the same connection, then one that must never
    // be answered because the connection closed after the 413.
    let mut bytes = request("/first", 0, false);
    bytes.push_str(&request("/second", 25_000, false));
    bytes.push_str(&request("/third", 0, false));
    let out = exchange(e.http, bytes.as_bytes())
        .await
        .expect("the connection closes after the 413");
    assert_eq!(statuses(&out), [200, 413], "{out}");
    let mut bytes = request("/first", 0, false);
    bytes.push_str(&request(&format!("/{}", "u".repeat(9_000)), 0, false));
    bytes.push_str(&request("/third", 0, false));
    let out = exchange(e.http, bytes.as_bytes())
        .await
        .expect("the connection closes after the 413");
    assert_eq!(statuses(&out), [200, 413]);
}
