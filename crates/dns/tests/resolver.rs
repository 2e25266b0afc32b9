//! The resolver against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edgeway_dns::{Authority, DnsError, Resolver};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn lookup_ip_through_the_server() {
    let s = start().await;
    let r = Resolver::new(vec![s.addr]);
    assert_eq!(
        r.lookup_ip("example.com").await.unwrap(),
        vec![ip("127.0.0.1")]
    );
    // CNAME followed.
    assert_eq!(
        r.lookup_ip("WWW.example.com.").await.unwrap(),
        vec![ip("127.0.0.1")]
    );
    // No A: AAAA.
    assert_eq!(
        r.lookup_ip("v6.example.com").await.unwrap(),
        vec![ip("::1")]
    );
    assert!(
        matches!(r.lookup_ip("nope.example.com").await, Err(DnsError::NxDomain(n)) if n == "nope.example.com")
    );
    assert!(matches!(
        r.lookup_ip("example.org").await,
        Err(DnsError::Refused(_))
    ));
    // A CNAME out of every zone: the target is asked for, and refused.
    assert!(matches!(
        r.lookup_ip("ext.example.com").await,
        Err(DnsError::Refused(_))
    ));
    assert!(matches!(
        r.lookup_ip("big.example.com").await,
        Err(DnsError::NoAddresses(_))
    ));
    assert_eq!(r.lookup_ip("10.1.2.3").await.unwrap(), vec![ip("10.1.2.3")]);
    let e = r
        .lookup_ip("nope.example.com")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope.example.com") && e.contains("NXDOMAIN"),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let s = start().await;
    let r = Resolver::new(vec![s.addr]);
    assert_eq!(
        r.lookup_ip("example.com").await.unwrap(),
        vec![ip("127.0.0.1")]
    );
    let asked = s.metrics.sum("edgeway_dns_queries_total");
    s.authority
        .store(Arc::new(Authority::new(&zones(), &targets(&["127.0.0.2"]))));
    // Cached (alias TTL 60 s): no new query, the old address.
    assert_eq!(
        r.lookup_ip("Example.com.").await.unwrap(),
        vec![ip("127.0.0.1")]
    );
    assert_eq!(s.metrics.sum("edgeway_dns_queries_total"), asked);
    // A fresh resolver sees the new address.
    assert_eq!(
        Resolver::new(vec![s.addr])
            .lookup_ip("example.com")
            .await
            .unwrap(),
        vec![ip("127.0.0.2")]
    );
    s.stop().await;
}

#[tokio::test]
async fn falls_over_to_the_next_name_server() {
    let s = start().await;
    // A socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let r = Resolver::new(vec![silent.local_addr().unwrap(), s.addr])
        .with_timeout(Duration::from_millis(200));
    assert_eq!(
        r.lookup_ip("example.com").await.unwrap(),
        vec![ip("127.0.0.1")]
    );
    let only_silent =
        Resolver::new(vec![silent.local_addr().unwrap()]).with_timeout(Duration::from_millis(100));
    let err = only_silent.lookup_ip("example.com").await.unwrap_err();
    assert!(matches!(err, DnsError::Timeout(_)), "{err}");
    s.stop().await;
}
