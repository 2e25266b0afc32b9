//! Truncation over UDP, complete answers over TCP, EDNS(0) payload sizes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edgeway_dns::{query, RecordType};
use std::time::Duration;
use tokio::net::TcpStream;

#[tokio::test]
async fn oversize_udp_is_truncated_and_complete_over_tcp() {
    let s = start().await;
    let req = request("big.example.com.", RecordType::TXT, None);
    let (m, len) = udp(s.addr, &req).await;
    assert!(m.truncation, "TC bit");
    assert!(m.answers.is_empty());
    assert!(len <= 512);
    assert_eq!(m.id, req.id);
    assert!(m.edns.is_none(), "no OPT when the query had none");

    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp_send(&mut tcp, &req).await;
    let m = tcp_recv(&mut tcp).await;
    assert!(!m.truncation);
    // One TXT record per value, each complete.
    assert_eq!(m.answers.len(), 4);
    assert!(m.answers.iter().all(|r| r.data.to_string().len() == 200));
    assert_eq!(s.metrics.value("edgeway_dns_truncated_total", &[]), 1);
    s.stop().await;
}

#[tokio::test]
async fn edns_payload_size_is_respected() {
    let s = start().await;
    // 1232 bytes fits the ~850-byte answer: complete over UDP, OPT echoed.
    let (m, len) = udp(
        s.addr,
        &request("big.example.com.", RecordType::TXT, Some(1232)),
    )
    .await;
    assert!(!m.truncation);
    assert!(len > 512 && len <= 1232, "{len}");
    assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(4096));
    // A payload size below 512 counts as 512.
    let (m, _) = udp(
        s.addr,
        &request("big.example.com.", RecordType::TXT, Some(100)),
    )
    .await;
    assert!(m.truncation);
    assert!(m.edns.is_some(), "OPT echoed on a truncated answer too");
    // More than 4096 is capped at 4096: the ~5 kB answer is truncated.
    let (m, len) = udp(
        s.addr,
        &request("huge.example.com.", RecordType::TXT, Some(65000)),
    )
    .await;
    assert!(m.truncation);
    assert!(len <= 4096);
    s.stop().await;
}

#[tokio::test]
async fn client_retries_over_tcp() {
    let s = start().await;
    let m = query(
        s.addr,
        "huge.example.com",
        RecordType::TXT,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert!(!m.truncation);
    assert_eq!(m.answers.len(), 25);
    assert_eq!(edgeway_dns::format_short(&m).matches('"').count(), 25 * 2);
    s.stop().await;
}
