//! HTTP/2 response headers as they go on the wire: the request id (`X-Amz-Cf-Id`, unique to
//! each response) is a never-indexed literal, so the connection's HPACK table keeps the fields
//! that repeat and a later response is mostly one-byte references (RFC 7541 §6.1, §6.2.3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CACHED: &str = r#"
[[distribution.ordered_cache_behavior]]
path_pattern = "/images/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
"#;

/// How a field of a header block is represented (RFC 7541 §6).
#[derive(Debug, PartialEq)]
enum Rep {
    Indexed,
    /// Literal with incremental indexing: the static or dynamic index of its name (0: literal).
    Inserted(usize),
    NotIndexed,
    NeverIndexed {
        value: Vec<u8>,
    },
}

fn int(b: &[u8], i: &mut usize, prefix: u32) -> usize {
    let mask = (1usize << prefix) - 1;
    let mut v = b[*i] as usize & mask;
    *i += 1;
    if v < mask {
        return v;
    }
    let mut shift = 0;
    loop {
        let x = b[*i];
        *i += 1;
        v += ((x & 0x7f) as usize) << shift;
        shift += 7;
        if x & 0x80 == 0 {
            return v;
        }
    }
}

/// A string literal's octets as sent (Huffman-coded or not).
fn string(b: &[u8], i: &mut usize) -> Vec<u8> {
    let n = int(b, i, 7);
    let s = b[*i..*i + n].to_vec();
    *i += n;
    s
}

fn fields(block: &[u8]) -> Vec<Rep> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < block.len() {
        let first = block[i];
        if first & 0x80 != 0 {
            int(block, &mut i, 7);
            out.push(Rep::Indexed);
        } else if first & 0x40 != 0 {
            let name = int(block, &mut i, 6);
            if name == 0 {
                string(block, &mut i);
            }
            string(block, &mut i);
            out.push(Rep::Inserted(name));
        } else if first & 0x20 != 0 {
            int(block, &mut i, 5); // dynamic table size update
        } else {
            let never = first & 0x10 != 0;
            let name = int(block, &mut i, 4);
            if name == 0 {
                string(block, &mut i);
            }
            let value = string(block, &mut i);
            out.push(if never {
                Rep::NeverIndexed { value }
            } else {
                Rep::NotIndexed
            });
        }
    }
    out
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// `GET path` as literal fields without Huffman coding.
fn request_block(authority: &str, path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86]; // :method GET, :scheme http
    for (name_index, value) in [(4u8, path), (1, authority)] {
        b.push(name_index); // literal without indexing, indexed name (:path, :authority)
        b.push(value.len() as u8);
        b.extend_from_slice(value.as_bytes());
    }
    b
}

/// Sends `GET path` on `stream` and returns the response's header block (its body is read and
/// dropped).
async fn exchange(s: &mut TcpStream, stream: u32, authority: &str, path: &str) -> Vec<u8> {
    s.write_all(&frame(1, 0x5, stream, &request_block(authority, path)))
        .await
        .unwrap();
    let mut block = Vec::new();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).await.unwrap();
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).await.unwrap();
        match kind {
            4 if flags & 1 == 0 => s.write_all(&frame(4, 1, 0, &[])).await.unwrap(),
            1 if id == stream => {
                assert_eq!(flags & 0x28, 0, "no padding or priority expected");
                block.extend_from_slice(&payload);
                if flags & 1 != 0 {
                    return block;
                }
            }
            0 if id == stream && flags & 1 != 0 => return block,
            7 => panic!("GOAWAY: {payload:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_request_id_is_never_indexed_and_the_table_keeps_what_repeats() {
    let origin = echo_origin(None).await;
    let port = origin.addr.port();
    let edge = start_edge("web", ca(), |h, s| {
        one_origin(h, s, port, "", "", "", CACHED)
    })
    .await;
    let authority = format!("www.example.com:{}", edge.http.port());
    let mut s = TcpStream::connect(edge.http).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    s.write_all(&frame(4, 0, 0, &[])).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..4u32 {
        let block = tokio::time::timeout(
            Duration::from_secs(10),
            exchange(&mut s, 2 * n + 1, &authority, "/images/a.jpg"),
        )
        .await
        .expect("a response within 10 s");
        let reps = fields(&block);
        let never: Vec<&Vec<u8>> = reps
            .iter()
            .filter_map(|r| match r {
                Rep::NeverIndexed { value } => Some(value),
                _ => None,
            })
            .collect();
        assert_eq!(never.len(), 1, "response {n}: {reps:?}");
        ids.push(never[0].clone());
        if n >= 2 {
            // The second response brought `X-Cache: Hit`; from then on nothing new is inserted
            // but, at a second's turn, `Date` (static name 33).
            let inserted: Vec<&Rep> = reps
                .iter()
                .filter(|r| matches!(r, Rep::Inserted(i) if *i != 33))
                .collect();
            assert!(inserted.is_empty(), "response {n}: {reps:?}");
            assert!(
                reps.iter().filter(|r| **r == Rep::Indexed).count() >= 5,
                "response {n}: {reps:?}"
            );
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every response has its own id");
    assert_eq!(origin.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}
