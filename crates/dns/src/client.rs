//! One question to one name server: UDP first, TCP when the answer comes back truncated.

use crate::error::DnsError;
use crate::records::fqdn;
use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

/// The UDP payload size the client advertises (the DNS Flag Day 2020 value: no fragmentation).
const CLIENT_PAYLOAD: u16 = 1232;

/// Asks `server` for `name`/`rtype` over UDP (with EDNS(0)), and again over TCP if the answer is
/// truncated. `timeout` bounds the whole exchange. Any response code is returned as a message: only
/// transport failures are errors.
pub async fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let qname = fqdn(name).map_err(|_| DnsError::InvalidName(name.to_string()))?;
    let mut request = Message::query();
    request.metadata.recursion_desired = true;
    request.add_query(Query::query(qname.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(CLIENT_PAYLOAD);
    request.set_edns(edns);
    let bytes = request
        .to_vec()
        .map_err(|e| DnsError::Malformed(name.to_string(), e.to_string()))?;

    let deadline = Instant::now() + timeout;
    let timed_out = |_| DnsError::Timeout(name.to_string());
    let answer = tokio::time::timeout_at(
        deadline,
        udp_exchange(server, &bytes, request.id, &qname, name),
    )
    .await
    .map_err(timed_out)??;
    if !answer.truncation {
        return Ok(answer);
    }
    tokio::time::timeout_at(
        deadline,
        tcp_exchange(server, &bytes, request.id, &qname, name),
    )
    .await
    .map_err(timed_out)?
}

async fn udp_exchange(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    qname: &Name,
    name: &str,
) -> Result<Message, DnsError> {
    {
        let io = |e| DnsError::Io(format!("{name} via {server} (UDP)"), e);
        let local: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.connect(server).await.map_err(io)?;
        socket.send(bytes).await.map_err(io)?;
        let mut buf = vec![0u8; 65_535];
        loop {
            let n = socket.recv(&mut buf).await.map_err(io)?;
            // Stray or spoofed datagrams (wrong id or question) are ignored; the deadline still runs.
            if let Some(m) = matching(&buf[..n], id, qname) {
                return Ok(m);
            }
        }
    }
}

async fn tcp_exchange(
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    qname: &Name,
    name: &str,
) -> Result<Message, DnsError> {
    {
        let io = |e| DnsError::Io(format!("{name} via {server} (TCP)"), e);
        let mut stream = TcpStream::connect(server).await.map_err(io)?;
        let len =
            u16::try_from(bytes.len()).map_err(|_| DnsError::InvalidName(name.to_string()))?;
        let mut out = Vec::with_capacity(bytes.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
        stream.write_all(&out).await.map_err(io)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(io)?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.map_err(io)?;
        matching(&buf, id, qname).ok_or_else(|| {
            DnsError::Malformed(
                name.to_string(),
                format!("{server} answered another question over TCP"),
            )
        })
    }
}

/// The decoded response if it answers our question.
fn matching(buf: &[u8], id: u16, qname: &Name) -> Option<Message> {
    let m = Message::from_vec(buf).ok()?;
    let same_question = m.queries.is_empty() || m.queries.iter().any(|q| q.name() == qname);
    (m.id == id && m.message_type == MessageType::Response && same_question).then_some(m)
}
