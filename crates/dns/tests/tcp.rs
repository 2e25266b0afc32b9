//! The TCP loop: several queries per connection, idle timeout, connection cap, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edgeway_dns::{RecordType, ServeOptions};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn several_queries_per_connection() {
    let s = start().await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    let a = request("example.com.", RecordType::A, None);
    let mx = request("example.com.", RecordType::MX, None);
    // Pipelined: both written before either answer is read.
    tcp_send(&mut tcp, &a).await;
    tcp_send(&mut tcp, &mx).await;
    let ra = tcp_recv(&mut tcp).await;
    let rmx = tcp_recv(&mut tcp).await;
    assert_eq!((ra.id, ra.answers.len()), (a.id, 1));
    assert_eq!(
        (rmx.id, rmx.answers[0].record_type()),
        (mx.id, RecordType::MX)
    );
    tcp_send(&mut tcp, &request("nope.example.com.", RecordType::A, None)).await;
    assert_eq!(
        tcp_recv(&mut tcp).await.response_code,
        hickory_proto::op::ResponseCode::NXDomain
    );
    s.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let options = ServeOptions {
        tcp_idle_timeout: Duration::from_millis(100),
        ..ServeOptions::default()
    };
    let s = start_with(authority(), options).await;
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp_send(&mut tcp, &request("example.com.", RecordType::A, None)).await;
    tcp_recv(&mut tcp).await;
    // Then silence: the server closes the connection (EOF), well before this bound.
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    s.stop().await;
}

#[tokio::test]
async fn connection_cap_holds_extra_clients_back() {
    let options = ServeOptions {
        max_tcp_connections: 1,
        ..ServeOptions::default()
    };
    let s = start_with(authority(), options).await;
    let mut first = TcpStream::connect(s.addr).await.unwrap();
    tcp_send(&mut first, &request("example.com.", RecordType::A, None)).await;
    tcp_recv(&mut first).await;
    // The second connection waits in the backlog: no answer while the first is open.
    let mut second = TcpStream::connect(s.addr).await.unwrap();
    tcp_send(&mut second, &request("example.com.", RecordType::A, None)).await;
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), second.peek(&mut byte))
            .await
            .is_err()
    );
    drop(first);
    let m = tcp_recv(&mut second).await;
    assert_eq!(m.answers.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn shutdown_returns_and_closes_connections() {
    let s = start().await;
    let addr = s.addr;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp_send(&mut tcp, &request("example.com.", RecordType::A, None)).await;
    tcp_recv(&mut tcp).await;
    s.stop().await;
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "open connections end with serve");
}
