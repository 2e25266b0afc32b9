//! One request packet to one response packet: decoding, FORMERR, truncation and counters.

use crate::authority::Authority;
use edgeway_http::metrics::{Counter, Metrics};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RecordType;
use std::net::IpAddr;

/// The largest UDP payload a client may ask for (RFC 6891 suggests 4096 as a sane ceiling).
const MAX_UDP_PAYLOAD: usize = 4096;
/// The UDP payload size without EDNS(0).
const PLAIN_UDP_PAYLOAD: usize = 512;

/// How the answer travels: UDP answers are truncated to what the client can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// The counters the wire loops bump.
#[derive(Clone)]
pub(crate) struct Stats {
    metrics: Metrics,
    bytes_in: Counter,
    bytes_out: Counter,
    dropped: Counter,
    truncated: Counter,
    /// `queries_total{type,rcode}`, taken from the registry once per label pair (both label sets
    /// are bounded), so a query bumps an atomic instead of locking the registry.
    queries: std::sync::Arc<[std::sync::OnceLock<Counter>]>,
}

/// Every `type` label [`type_label`] gives.
const TYPE_LABELS: &[&str] = &[
    "A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA", "SRV", "PTR", "CAA", "HTTPS", "SVCB", "ANY",
    "AXFR", "OTHER",
];
/// Every `rcode` label [`rcode_label`] gives.
const RCODE_LABELS: &[&str] = &[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "OTHER",
];

const QUERIES: &str = "edgeway_dns_queries_total";
const QUERIES_HELP: &str = "DNS queries answered, by query type and response code.";
const ANSWERS: &str = "edgeway_dns_answers_total";
const ANSWERS_HELP: &str = "Answers per configured record set, by name, type and set_identifier (empty for a plain record set).";

impl Stats {
    pub(crate) fn new(metrics: Metrics) -> Self {
        let bytes = |dir| {
            metrics.counter(
                "edgeway_dns_bytes_total",
                "DNS bytes received and sent.",
                &[("direction", dir)],
            )
        };
        Self {
            bytes_in: bytes("in"),
            bytes_out: bytes("out"),
            dropped: metrics.counter(
                "edgeway_dns_dropped_total",
                "DNS packets dropped without an answer (unreadable or not a query).",
                &[],
            ),
            truncated: metrics.counter(
                "edgeway_dns_truncated_total",
                "UDP answers truncated (TC set) because they did not fit.",
                &[],
            ),
            queries: (0..TYPE_LABELS.len() * RCODE_LABELS.len())
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            metrics,
        }
    }

    fn query(&self, qtype: &str, rcode: ResponseCode) {
        let rcode = rcode_label(rcode);
        let t = TYPE_LABELS.iter().position(|l| *l == qtype);
        let r = RCODE_LABELS.iter().position(|l| *l == rcode);
        let slot = t
            .zip(r)
            .and_then(|(t, r)| self.queries.get(t * RCODE_LABELS.len() + r));
        let make = || {
            self.metrics
                .counter(QUERIES, QUERIES_HELP, &[("type", qtype), ("rcode", rcode)])
        };
        match slot {
            Some(slot) => slot.get_or_init(make).inc(),
            None => make().inc(),
        }
    }

    fn answered(&self, set: &crate::AnsweredSet) {
        let labels = [
            ("name", set.name.as_str()),
            ("type", type_label(set.rtype)),
            (
                "set_identifier",
                set.set_identifier.as_deref().unwrap_or(""),
            ),
        ];
        self.metrics.counter(ANSWERS, ANSWERS_HELP, &labels).inc();
    }
}

/// The `type` label: known types by name, everything else `OTHER` (bounded label values).
fn type_label(t: RecordType) -> &'static str {
    match t {
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::CNAME => "CNAME",
        RecordType::TXT => "TXT",
        RecordType::MX => "MX",
        RecordType::NS => "NS",
        RecordType::SOA => "SOA",
        RecordType::SRV => "SRV",
        RecordType::PTR => "PTR",
        RecordType::CAA => "CAA",
        RecordType::HTTPS => "HTTPS",
        RecordType::SVCB => "SVCB",
        RecordType::ANY => "ANY",
        RecordType::AXFR => "AXFR",
        _ => "OTHER",
    }
}

/// The `rcode` label, as `dig` prints it.
pub(crate) fn rcode_label(r: ResponseCode) -> &'static str {
    match r {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::BADVERS => "BADVERS",
        _ => "OTHER",
    }
}

/// The response to one request packet, or `None` to drop it (too short to hold a header, or a
/// response rather than a query).
pub(crate) fn respond(
    authority: &Authority,
    packet: &[u8],
    source: Option<IpAddr>,
    transport: Transport,
    stats: &Stats,
) -> Option<Vec<u8>> {
    stats.bytes_in.add(packet.len() as u64);
    let out = build(authority, packet, source, transport, stats);
    match &out {
        Some(bytes) => stats.bytes_out.add(bytes.len() as u64),
        None => stats.dropped.inc(),
    }
    out
}

fn build(
    authority: &Authority,
    packet: &[u8],
    source: Option<IpAddr>,
    transport: Transport,
    stats: &Stats,
) -> Option<Vec<u8>> {
    // QR set: a response, never answered (no reflection loops).
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return None;
    }
    let request = match Message::from_vec(packet) {
        Ok(m) if m.message_type == MessageType::Query => m,
        Ok(_) => return None,
        Err(e) => {
            tracing::debug!("malformed DNS query: {e}");
            stats.query("OTHER", ResponseCode::FormErr);
            return Some(formerr(packet));
        }
    };
    let qtype = request
        .queries
        .first()
        .map_or("OTHER", |q| type_label(q.query_type()));
    let answer = authority.answer_for(&request, source, rand::random());
    answer.record_sets.iter().for_each(|s| stats.answered(s));
    let response = answer.message;
    stats.query(qtype, response.response_code);
    let limit = match transport {
        Transport::Udp => udp_limit(&request),
        Transport::Tcp => usize::from(u16::MAX),
    };
    let bytes = match response.to_vec() {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("could not encode a DNS answer: {e}");
            let mut fail = Message::error_msg(request.id, request.op_code, ResponseCode::ServFail);
            fail.queries = request.queries.clone();
            return fail.to_vec().ok();
        }
    };
    if bytes.len() <= limit {
        return Some(bytes);
    }
    stats.truncated.inc();
    response.truncate().to_vec().ok()
}

/// The largest UDP answer this client takes: 512 bytes, or its EDNS(0) payload size (at most 4096).
pub(crate) fn udp_limit(request: &Message) -> usize {
    match &request.edns {
        Some(e) => usize::from(e.max_payload()).clamp(PLAIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
        None => PLAIN_UDP_PAYLOAD,
    }
}

/// A bare FORMERR header for a packet whose header is readable but whose body is not: same id and
/// opcode, QR set, RD copied, no sections.
fn formerr(packet: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out[0] = packet[0];
    out[1] = packet[1];
    // QR=1, opcode copied, AA=0, TC=0, RD copied.
    out[2] = 0x80 | (packet[2] & 0x78) | (packet[2] & 0x01);
    out[3] = ResponseCode::FormErr.low();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Query};
    use hickory_proto::rr::Name;

    #[test]
    fn the_counter_table_covers_every_label() {
        for t in 0..=u16::MAX {
            assert!(
                TYPE_LABELS.contains(&type_label(RecordType::from(t))),
                "type {t}"
            );
        }
        for r in 0..=u8::MAX {
            assert!(
                RCODE_LABELS.contains(&rcode_label(ResponseCode::from_low(r))),
                "rcode {r}"
            );
        }
        // The same counter the registry renders.
        let m = Metrics::new();
        let stats = Stats::new(m.clone());
        stats.query("A", ResponseCode::NoError);
        stats.query("A", ResponseCode::NoError);
        assert_eq!(m.value(QUERIES, &[("type", "A"), ("rcode", "NOERROR")]), 2);
    }

    fn ask(edns: Option<u16>) -> Message {
        let mut m = Message::query();
        m.add_query(Query::query(Name::root(), RecordType::A));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        m
    }

    #[test]
    fn udp_limits() {
        for (edns, want) in [
            (None, 512),
            (Some(100), 512),
            (Some(1232), 1232),
            (Some(4096), 4096),
            (Some(65000), 4096),
        ] {
            assert_eq!(udp_limit(&ask(edns)), want, "{edns:?}");
        }
    }

    #[test]
    fn bad_packets() {
        let stats = Stats::new(Metrics::new());
        let auth = Authority::default();
        assert_eq!(
            respond(&auth, &[1, 2, 3], None, Transport::Udp, &stats),
            None
        );
        // A response is dropped.
        let mut resp = vec![0x12, 0x34, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(respond(&auth, &resp, None, Transport::Udp, &stats), None);
        // A query claiming one question but carrying none: FORMERR with the same id.
        resp[2] = 0x01;
        resp[5] = 1;
        let out = respond(&auth, &resp, None, Transport::Udp, &stats).unwrap_or_default();
        assert_eq!(out, vec![0x12, 0x34, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            stats
                .metrics
                .value(QUERIES, &[("type", "OTHER"), ("rcode", "FORMERR")]),
            1
        );
        assert_eq!(stats.metrics.value("edgeway_dns_dropped_total", &[]), 2);
    }
}
