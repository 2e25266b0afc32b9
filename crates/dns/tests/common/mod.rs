//! A DNS server on loopback for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use arc_swap::ArcSwap;
use edgeway_config::{Alias, Record, Zone};
use edgeway_dns::{serve_with, Authority, Message, RecordType, ServeOptions};
use edgeway_http::metrics::Metrics;
use hickory_proto::op::{Edns, Query};
use hickory_proto::rr::Name;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Server {
    pub addr: SocketAddr,
    pub metrics: Metrics,
    pub authority: Arc<ArcSwap<Authority>>,
    stop: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<()>,
}

impl Server {
    /// Resolves the shutdown future and waits for `serve` to return.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.handle).await.unwrap();
    }
}

/// Binds UDP on 127.0.0.1:0, then TCP on the same port (retrying when that port is taken).
pub async fn bind() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

pub async fn start_with(authority: Authority, options: ServeOptions) -> Server {
    let (udp, tcp) = bind().await;
    let addr = udp.local_addr().unwrap();
    let metrics = Metrics::new();
    let authority = Arc::new(ArcSwap::from_pointee(authority));
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve_with(
        options,
        udp,
        tcp,
        authority.clone(),
        metrics.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    Server {
        addr,
        metrics,
        authority,
        stop: Some(tx),
        handle,
    }
}

pub async fn start() -> Server {
    start_with(authority(), ServeOptions::default()).await
}

pub fn rec(name: &str, kind: &str, values: &[&str]) -> Record {
    Record {
        name: name.into(),
        kind: kind.into(),
        ttl: None,
        records: values.iter().map(|v| v.to_string()).collect(),
        ..Record::default()
    }
}

pub fn alias(name: &str, kind: &str, distribution: &str) -> Record {
    Record {
        alias: Some(Alias {
            distribution: Some(distribution.into()),
            ..Alias::default()
        }),
        ..rec(name, kind, &[])
    }
}

/// A TXT record set of `n` 200-byte strings.
pub fn big_txt(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{i:03}{}", "x".repeat(197)))
        .collect()
}

pub fn zones() -> Vec<Zone> {
    let big = big_txt(4); // ~850 bytes of answer: over 512, under 1232
    let huge = big_txt(25); // ~5.2 kB: over 4096
    vec![Zone {
        name: "example.com".into(),
        records: vec![
            alias("", "A", "site"),
            alias("example.com", "AAAA", "site"),
            rec("www", "CNAME", &["example.com"]),
            rec("", "TXT", &["v=spf1 -all"]),
            rec("", "MX", &["10 mail.example."]),
            rec("v6", "AAAA", &["::1"]),
            rec("ext", "CNAME", &["nowhere.invalid."]),
            rec(
                "big",
                "TXT",
                &big.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
            rec(
                "huge",
                "TXT",
                &huge.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        ],
    }]
}

pub fn targets(ips: &[&str]) -> HashMap<String, Vec<IpAddr>> {
    let mut m = HashMap::new();
    m.insert(
        "distribution/site".to_string(),
        ips.iter().map(|i| i.parse().unwrap()).collect(),
    );
    m
}

pub fn authority() -> Authority {
    Authority::new(&zones(), &targets(&["127.0.0.1"]))
}

/// A raw query, with an EDNS(0) payload size when given.
pub fn request(name: &str, rtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

/// Sends raw bytes over UDP and returns the raw answer.
pub async fn udp_raw(server: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).await.unwrap();
    buf.truncate(n);
    buf
}

pub async fn udp(server: SocketAddr, req: &Message) -> (Message, usize) {
    let raw = udp_raw(server, &req.to_vec().unwrap()).await;
    (Message::from_vec(&raw).unwrap(), raw.len())
}

/// Writes one length-prefixed query on a TCP stream.
pub async fn tcp_send(stream: &mut tokio::net::TcpStream, req: &Message) {
    use tokio::io::AsyncWriteExt;
    let bytes = req.to_vec().unwrap();
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend(bytes);
    stream.write_all(&out).await.unwrap();
}

/// Reads one length-prefixed answer from a TCP stream.
pub async fn tcp_recv(stream: &mut tokio::net::TcpStream) -> Message {
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}
