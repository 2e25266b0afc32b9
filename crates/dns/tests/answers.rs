//! Answers over real UDP sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use edgeway_dns::{format_short, query, RecordType};
use hickory_proto::op::ResponseCode;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn alias_answers_with_the_target_address() {
    let s = start().await;
    let (m, _) = udp(s.addr, &request("example.com.", RecordType::A, None)).await;
    assert_eq!(m.response_code, ResponseCode::NoError);
    assert!(m.authoritative, "AA bit");
    assert!(!m.recursion_available, "RA bit");
    assert_eq!(format_short(&m), "127.0.0.1");
    assert_eq!(m.answers[0].ttl, 60);
    // The target is IPv4-only: AAAA is NODATA with the SOA.
    let (m, _) = udp(s.addr, &request("example.com.", RecordType::AAAA, None)).await;
    assert_eq!(
        (m.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    s.stop().await;
}

#[tokio::test]
async fn refused_nxdomain_and_nodata() {
    let s = start().await;
    let m = query(s.addr, "example.org", RecordType::A, T)
        .await
        .unwrap();
    assert_eq!(m.response_code, ResponseCode::Refused);
    assert!(!m.authoritative);

    let m = query(s.addr, "nope.example.com", RecordType::A, T)
        .await
        .unwrap();
    assert_eq!(m.response_code, ResponseCode::NXDomain);
    assert!(m.authoritative);
    assert_eq!(m.answers.len(), 0);
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(
        m.authorities[0].data.to_string(),
        "ns-1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400"
    );

    let m = query(s.addr, "v6.example.com", RecordType::A, T)
        .await
        .unwrap();
    assert_eq!(
        (m.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    s.stop().await;
}

#[tokio::test]
async fn cname_txt_mx_and_case() {
    let s = start().await;
    let m = query(s.addr, "WWW.Example.COM", RecordType::A, T)
        .await
        .unwrap();
    assert_eq!(format_short(&m), "example.com.\n127.0.0.1");
    assert_eq!(
        m.answers[0].name.to_string(),
        "WWW.Example.COM.",
        "the question's case is kept"
    );
    let m = query(s.addr, "www.example.com.", RecordType::CNAME, T)
        .await
        .unwrap();
    assert_eq!(format_short(&m), "example.com.");
    let m = query(s.addr, "example.com", RecordType::TXT, T)
        .await
        .unwrap();
    assert_eq!(format_short(&m), "\"v=spf1 -all\"");
    let m = query(s.addr, "EXAMPLE.COM", RecordType::MX, T)
        .await
        .unwrap();
    assert_eq!(format_short(&m), "10 mail.example.");
    let m = query(s.addr, "example.com", RecordType::SOA, T)
        .await
        .unwrap();
    assert!(format_short(&m).starts_with("ns-1.example.com. hostmaster.example.com. 1 "));
    s.stop().await;
}

#[tokio::test]
async fn counters_are_bumped() {
    let s = start().await;
    query(s.addr, "example.com", RecordType::A, T)
        .await
        .unwrap();
    query(s.addr, "example.com", RecordType::A, T)
        .await
        .unwrap();
    query(s.addr, "nope.example.com", RecordType::TXT, T)
        .await
        .unwrap();
    query(s.addr, "example.org", RecordType::A, T)
        .await
        .unwrap();
    let q = "edgeway_dns_queries_total";
    assert_eq!(
        s.metrics.value(q, &[("type", "A"), ("rcode", "NOERROR")]),
        2
    );
    assert_eq!(
        s.metrics
            .value(q, &[("type", "TXT"), ("rcode", "NXDOMAIN")]),
        1
    );
    assert_eq!(
        s.metrics.value(q, &[("type", "A"), ("rcode", "REFUSED")]),
        1
    );
    assert!(
        s.metrics
            .value("edgeway_dns_bytes_total", &[("direction", "in")])
            > 4 * 12
    );
    assert!(
        s.metrics
            .value("edgeway_dns_bytes_total", &[("direction", "out")])
            > 4 * 12
    );
    assert!(s
        .metrics
        .render()
        .contains("edgeway_dns_queries_total{type=\"A\",rcode=\"NOERROR\"} 2"));
    s.stop().await;
}

#[tokio::test]
async fn malformed_packets() {
    let s = start().await;
    // A readable header claiming a question that is not there: FORMERR with the same id.
    let raw = udp_raw(
        s.addr,
        &[0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff],
    )
    .await;
    assert_eq!(&raw[..4], &[0xab, 0xcd, 0x81, 0x01]);
    // Too short for a header: dropped; the server keeps answering.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&[1, 2, 3], s.addr).await.unwrap();
    let m = query(s.addr, "example.com", RecordType::A, T)
        .await
        .unwrap();
    assert_eq!(m.response_code, ResponseCode::NoError);
    // Opcode NOTIFY: NOTIMP.
    let mut notify = request("example.com.", RecordType::SOA, None);
    notify.metadata.op_code = hickory_proto::op::OpCode::Notify;
    let (m, _) = udp(s.addr, &notify).await;
    assert_eq!(m.response_code, ResponseCode::NotImp);
    assert_eq!(
        s.metrics.value(
            "edgeway_dns_queries_total",
            &[("type", "OTHER"), ("rcode", "FORMERR")]
        ),
        1
    );
    s.stop().await;
}

#[tokio::test]
async fn swapped_authority_answers_at_once() {
    let s = start().await;
    s.authority
        .store(std::sync::Arc::new(edgeway_dns::Authority::new(
            &zones(),
            &targets(&["127.0.0.9", "::1"]),
        )));
    let m = query(s.addr, "example.com", RecordType::A, T)
        .await
        .unwrap();
    assert_eq!(format_short(&m), "127.0.0.9");
    let m = query(s.addr, "example.com", RecordType::AAAA, T)
        .await
        .unwrap();
    assert_eq!(format_short(&m), "::1");
    s.stop().await;
}
