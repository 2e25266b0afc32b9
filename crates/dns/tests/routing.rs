//! Routing policies over real DNS packets: weighted shares over 10,000 UDP answers, a failover
//! that follows a real HTTP health check turning unhealthy and back, and geolocation by the
//! packet's source address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{request, tcp_recv, tcp_send, udp};
use edgeway_config::{
    Config, Dns, FailoverRoutingPolicy, GeoSource, GeolocationRoutingPolicy, Record,
    Route53HealthCheck, WeightedRoutingPolicy, Zone,
};
use edgeway_dns::{Authority, HealthChecks, Message, RecordType, ServeOptions};
use edgeway_http::metrics::Metrics;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

fn a(name: &str, id: &str, value: &str) -> Record {
    Record {
        name: name.into(),
        kind: "A".into(),
        records: vec![value.into()],
        set_identifier: Some(id.into()),
        ..Record::default()
    }
}

fn values(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

fn no_aliases() -> HashMap<String, Vec<IpAddr>> {
    HashMap::new()
}

#[tokio::test]
async fn ten_thousand_weighted_answers_follow_the_weights() {
    let w = |id: &str, value: &str, weight: u32| Record {
        weighted_routing_policy: Some(WeightedRoutingPolicy { weight }),
        ..a("w.example.com", id, value)
    };
    let zones = vec![Zone {
        name: "example.com".into(),
        records: vec![
            w("blue", "192.0.2.1", 1),
            w("green", "192.0.2.2", 3),
            w("canary", "192.0.2.3", 0),
            w("rest", "192.0.2.4", 6),
        ],
    }];
    let server = common::start_with(
        Authority::new(&zones, &no_aliases()),
        ServeOptions::default(),
    )
    .await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(server.addr).await.unwrap();
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut buf = vec![0u8; 1500];
    const N: u32 = 10_000;
    for i in 0..N {
        let mut q = request("w.example.com.", RecordType::A, None);
        q.metadata.id = i as u16;
        sock.send(&q.to_vec().unwrap()).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.id, i as u16);
        let v = values(&m);
        assert_eq!(v.len(), 1, "one record per weighted answer");
        *counts.entry(v[0].clone()).or_default() += 1;
    }
    // Shares 1/10, 3/10, 0 and 6/10, each within 3 percentage points: over 6 standard deviations
    // of a fair draw for every share (0.6's is 0.49 points over 10,000 answers), so a correct
    // build fails about once in 10^9 runs, while an even split (25% each) or a dropped weight
    // is far outside it. (1.5 points was 3 deviations for 0.6: CI met it once.)
    for (value, share) in [
        ("192.0.2.1", 0.1),
        ("192.0.2.2", 0.3),
        ("192.0.2.3", 0.0),
        ("192.0.2.4", 0.6),
    ] {
        let got = f64::from(counts.get(value).copied().unwrap_or(0)) / f64::from(N);
        if share == 0.0 {
            assert_eq!(got, 0.0, "{value}: a weight of 0 never answers");
        }
        assert!(
            (got - share).abs() <= 0.03,
            "{value}: share {got:.4}, want {share}"
        );
    }
    // The per-record counter saw every answer.
    let answered = |id: &str| {
        server.metrics.value(
            "edgeway_dns_answers_total",
            &[
                ("name", "w.example.com"),
                ("type", "A"),
                ("set_identifier", id),
            ],
        )
    };
    assert_eq!(
        answered("blue") + answered("green") + answered("canary") + answered("rest"),
        u64::from(N)
    );
    assert_eq!(
        u64::from(counts.get("192.0.2.2").copied().unwrap_or(0)),
        answered("green")
    );
    assert_eq!(answered("canary"), 0);

    // TCP draws from the same shares: both non-zero weights show up in a few hundred answers.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for _ in 0..300 {
        tcp_send(&mut stream, &request("w.example.com.", RecordType::A, None)).await;
        for v in values(&tcp_recv(&mut stream).await) {
            *seen.entry(v).or_default() += 1;
        }
    }
    assert!(
        seen.contains_key("192.0.2.1")
            && seen.contains_key("192.0.2.2")
            && seen.contains_key("192.0.2.4"),
        "{seen:?}"
    );
    assert!(!seen.contains_key("192.0.2.3"));
    server.stop().await;
}

/// A tiny HTTP server on 127.0.0.1:0 whose `/health` answers 200 or 503.
async fn flippable() -> (u16, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let flag = flag.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let healthy = buf.starts_with(b"GET /health ") && flag.load(Ordering::SeqCst);
                let resp: &[u8] = if healthy {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                } else {
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"
                };
                let _ = s.write_all(resp).await;
            });
        }
    });
    (port, up)
}

async fn ask_both(addr: std::net::SocketAddr, name: &str) -> (Vec<String>, Vec<String>) {
    let (u, _) = udp(addr, &request(name, RecordType::A, None)).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    tcp_send(&mut stream, &request(name, RecordType::A, None)).await;
    (values(&u), values(&tcp_recv(&mut stream).await))
}

#[tokio::test]
async fn failover_follows_a_health_check_down_and_back() {
    let (port, up) = flippable().await;
    let check = Route53HealthCheck {
        id: "primary-health".into(),
        kind: "HTTP".into(),
        ip_address: Some("127.0.0.1".into()),
        fqdn: None,
        port: Some(port),
        resource_path: Some("/health".into()),
        search_string: None,
        request_interval: 10,
        failure_threshold: 2,
        invert_healthcheck: false,
        disabled: false,
    };
    let f = |kind: &str, value: &str, hc: Option<&str>| Record {
        failover_routing_policy: Some(FailoverRoutingPolicy { kind: kind.into() }),
        health_check_id: hc.map(Into::into),
        ..a("app.example.com", kind, value)
    };
    let zones = vec![Zone {
        name: "example.com".into(),
        records: vec![
            f("PRIMARY", "192.0.2.10", Some("primary-health")),
            f("SECONDARY", "192.0.2.20", None),
        ],
    }];
    let metrics = Metrics::new();
    let checks = HealthChecks::new(std::slice::from_ref(&check), metrics.clone());
    let authority = Authority::new(&zones, &no_aliases()).with_health(Arc::new(checks.clone()));
    let server = common::start_with(authority, ServeOptions::default()).await;
    let primary = vec!["192.0.2.10".to_string()];
    let secondary = vec!["192.0.2.20".to_string()];
    let both = |v: &Vec<String>| (v.clone(), v.clone());

    // A new check starts healthy, before it has run at all.
    assert_eq!(
        ask_both(server.addr, "app.example.com").await,
        both(&primary)
    );
    // Each round is one tick of the check loop: real HTTP requests to /health.
    checks.check_all_once().await;
    assert_eq!(
        ask_both(server.addr, "app.example.com").await,
        both(&primary)
    );

    up.store(false, Ordering::SeqCst);
    checks.check_all_once().await;
    // One failure of a threshold of two: still the primary.
    assert_eq!(
        ask_both(server.addr, "app.example.com").await,
        both(&primary)
    );
    checks.check_all_once().await;
    assert_eq!(checks.is_healthy("primary-health"), Some(false));
    assert_eq!(
        ask_both(server.addr, "app.example.com").await,
        both(&secondary)
    );
    assert_eq!(
        checks.statuses()[0].last_result.as_deref(),
        Some("Failure: HTTP 503")
    );

    up.store(true, Ordering::SeqCst);
    checks.check_all_once().await;
    assert_eq!(
        ask_both(server.addr, "app.example.com").await,
        both(&secondary)
    );
    checks.check_all_once().await;
    assert_eq!(
        ask_both(server.addr, "app.example.com").await,
        both(&primary)
    );

    let t = |to: &str| {
        metrics.value(
            "edgeway_dns_health_check_transitions_total",
            &[("health_check", "primary-health"), ("to", to)],
        )
    };
    assert_eq!((t("unhealthy"), t("healthy")), (1, 1));
    let answered = |id: &str| {
        server.metrics.value(
            "edgeway_dns_answers_total",
            &[
                ("name", "app.example.com"),
                ("type", "A"),
                ("set_identifier", id),
            ],
        )
    };
    assert_eq!((answered("PRIMARY"), answered("SECONDARY")), (8, 4));
    server.stop().await;
}

#[tokio::test]
async fn geolocation_by_the_packets_source_address() {
    let g = |id: &str, country: &str, sub: Option<&str>, value: &str| Record {
        geolocation_routing_policy: Some(GeolocationRoutingPolicy {
            country: Some(country.into()),
            subdivision: sub.map(Into::into),
            ..Default::default()
        }),
        ..a("geo.example.com", id, value)
    };
    let cfg = Config {
        dns: Some(Dns {
            listen: "127.0.0.1:0".into(),
            region: None,
            geo: vec![
                GeoSource {
                    cidr: "127.0.0.0/8".into(),
                    continent: None,
                    country: Some("US".into()),
                    subdivision: None,
                },
                GeoSource {
                    cidr: "127.0.0.2/32".into(),
                    continent: None,
                    country: Some("US".into()),
                    subdivision: Some("WA".into()),
                },
                GeoSource {
                    cidr: "127.0.0.3/32".into(),
                    continent: None,
                    country: Some("FR".into()),
                    subdivision: None,
                },
            ],
        }),
        zones: vec![Zone {
            name: "example.com".into(),
            records: vec![
                g("default", "*", None, "192.0.2.1"),
                g("us", "US", None, "192.0.2.2"),
                g("wa", "US", Some("WA"), "192.0.2.3"),
            ],
        }],
        ..Config::default()
    };
    let server = common::start_with(
        Authority::for_config(&cfg, &no_aliases()),
        ServeOptions::default(),
    )
    .await;
    for (from, want) in [
        ("127.0.0.1", "192.0.2.2"),
        ("127.0.0.2", "192.0.2.3"),
        ("127.0.0.3", "192.0.2.1"),
    ] {
        let sock = UdpSocket::bind((from.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        sock.send_to(
            &request("geo.example.com.", RecordType::A, None)
                .to_vec()
                .unwrap(),
            server.addr,
        )
        .await
        .unwrap();
        let mut buf = vec![0u8; 1500];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            values(&Message::from_vec(&buf[..n]).unwrap()),
            vec![want.to_string()],
            "UDP from {from}"
        );

        let tcp = tokio::net::TcpSocket::new_v4().unwrap();
        tcp.bind((from.parse::<IpAddr>().unwrap(), 0).into())
            .unwrap();
        let mut stream = tcp.connect(server.addr).await.unwrap();
        tcp_send(
            &mut stream,
            &request("geo.example.com.", RecordType::A, None),
        )
        .await;
        assert_eq!(
            values(&tcp_recv(&mut stream).await),
            vec![want.to_string()],
            "TCP from {from}"
        );
    }
    server.stop().await;
}
