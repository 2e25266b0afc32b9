//! The workload of the index-overhead measurement, shared by `tests/index_overhead.rs` (a small
//! count, asserting the budget) and `examples/index_overhead.rs` (one million objects, printing
//! the numbers). The binary that includes it defines the counting global allocator and passes
//! a function reading its live heap bytes.
//!
//! Each object goes through the same calls as the edge's miss fill
//! (`edgeway-cdn`'s `store_and_deliver`): the origin's response headers, the effective
//! `Cache-Control`, `stored_headers`, CloudFront's TTL decision, a body collected into its own
//! buffer (as the tee does), `CachedResponse::new`, a clone kept for the coalescer's followers
//! (dropped when the request ends), and `insert_response` into the memory tier built the way
//! `EdgeCache::new` builds it. Then every object is looked up once (a hit), and the heap still
//! live is divided by the number of objects.

// Each binary that includes this uses part of it.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use edgeway_cache::cloudfront::{cloudfront_ttl, TtlPolicy};
use edgeway_cache::freshness::corrected_initial_age;
use edgeway_cache::store::{insert_response, lookup, Lookup};
use edgeway_cache::stored_headers::stored_headers;
use edgeway_cache::{CachedResponse, MemoryStore, ResponseDirectives, Storage, StoreMetrics};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// `[cache] memory_bytes` for the run: room for every object, so nothing is evicted.
pub const MEMORY_BYTES: u64 = 1 << 30;
/// `[cache] max_object_bytes`' default; the edge adds 64 KiB for the headers.
pub const MAX_OBJECT_BYTES: u64 = 64 << 20;
/// hyper's initial read buffer (`INIT_BUFFER_SIZE`).
const HYPER_READ_BUFFER: usize = 8192;

/// How the origin's response headers reach the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// As hyper 1.x hands them over: the response head is split off the connection's 8 KiB
    /// read buffer and every value is a slice of it (`proto/h1/role.rs`), so a value kept
    /// keeps that whole buffer alive.
    Hyper,
    /// Every value in its own exact-size buffer (`HeaderValue::from_str`).
    Owned,
}

/// Heap bytes held per object, and what they are made of.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    pub objects: usize,
    /// Live heap bytes after the run, divided by the number of objects.
    pub total: f64,
    /// The same before the hits.
    pub after_insert: f64,
    /// Body bytes per object.
    pub body: f64,
    /// Cache key bytes per object.
    pub key: f64,
    /// Stored header bytes per object: name and value lengths of the stored fields.
    pub headers: f64,
}

impl Report {
    /// Everything that is not the body.
    pub fn beyond_body(&self) -> f64 {
        self.total - self.body
    }

    /// Everything that is not the body, the key or the stored headers' names and values: the
    /// index overhead.
    pub fn index_overhead(&self) -> f64 {
        self.total - self.body - self.key - self.headers
    }
}

/// The cache key `edgeway-cdn`'s `cache_key` builds for `/images/item-NNNNNN.png` under
/// `Managed-CachingOptimized` (distribution, path, normalized Accept-Encoding).
pub fn key(i: usize) -> String {
    format!("roboshop\n/images/item-{i:06}.png\naccept-encoding:br,gzip")
}

fn head(i: usize, body_len: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: image/png\r\n\
         Content-Length: {body_len}\r\n\
         Cache-Control: public, max-age=86400\r\n\
         ETag: \"65f1c2a0-{i:06x}\"\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 GMT\r\n\
         Connection: keep-alive\r\n\
         \r\n"
    )
}

/// The origin's response headers for object `i`.
pub fn origin_headers(i: usize, body_len: usize, origin: Origin) -> HeaderMap {
    let text = head(i, body_len);
    let fields: Vec<(usize, usize, usize, usize)> = {
        let mut at = text.find("\r\n").map_or(0, |p| p + 2);
        let mut out = Vec::new();
        while let Some(end) = text[at..].find("\r\n").map(|e| at + e) {
            if end == at {
                break;
            }
            let colon = text[at..end].find(':').map_or(end, |c| at + c);
            let value_start =
                colon + 1 + text[colon + 1..end].len() - text[colon + 1..end].trim_start().len();
            out.push((at, colon, value_start, end));
            at = end + 2;
        }
        out
    };
    let mut h = HeaderMap::new();
    match origin {
        Origin::Hyper => {
            let mut read_buf = BytesMut::with_capacity(HYPER_READ_BUFFER);
            read_buf.put_slice(text.as_bytes());
            let slice = read_buf.split_to(text.len()).freeze();
            for (start, colon, value_start, end) in fields {
                let name = HeaderName::from_bytes(&slice[start..colon]).unwrap();
                let value = HeaderValue::from_maybe_shared(slice.slice(value_start..end)).unwrap();
                h.append(name, value);
            }
        }
        Origin::Owned => {
            for (start, colon, value_start, end) in fields {
                let name = HeaderName::from_bytes(&text.as_bytes()[start..colon]).unwrap();
                let value = HeaderValue::from_str(&text[value_start..end]).unwrap();
                h.append(name, value);
            }
        }
    }
    h
}

/// The memory tier as `EdgeCache::new` builds it.
pub fn memory_store(metrics: StoreMetrics) -> MemoryStore {
    MemoryStore::with_max_entry(MEMORY_BYTES, MAX_OBJECT_BYTES + 64 * 1024, metrics)
}

/// Stores object `i` the way the edge's miss fill does; returns the stored header bytes.
fn fill(store: &MemoryStore, vary: &HeaderMap, i: usize, body_len: usize, origin: Origin) -> usize {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000 + i as u64 % 3600);
    let origin_headers = origin_headers(i, body_len, origin);
    let directives = ResponseDirectives::with_targets(&origin_headers, &[]);
    let decision = cloudfront_ttl(
        &directives,
        &TtlPolicy::with_defaults(0, None, None),
        StatusCode::OK,
        now,
        None,
    );
    assert!(decision.store);
    let freshness = decision.freshness(
        corrected_initial_age(directives.age, directives.date, now, now),
        now,
    );
    let stored = stored_headers(&origin_headers, &directives.cache_control);
    drop(origin_headers);
    let header_bytes: usize = stored.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    // The tee collects the body into a buffer of the announced length.
    let mut body = BytesMut::with_capacity(body_len);
    body.put_bytes(b'x', body_len);
    let entry = CachedResponse::new(StatusCode::OK, stored, body.freeze(), freshness);
    let for_followers = entry.clone();
    assert!(insert_response(store, &key(i), vary, entry));
    drop(for_followers);
    header_bytes
}

/// Fills a fresh memory tier with `objects` objects of `body_len` bytes, looks each one up
/// once, and reports the heap held per object (`live` reads the allocator's live bytes).
/// Returns the store too, so that the caller can drop it outside the measurement.
pub fn measure(
    objects: usize,
    body_len: usize,
    origin: Origin,
    live: impl Fn() -> i64,
) -> (Report, MemoryStore) {
    let metrics = StoreMetrics::detached();
    let store = memory_store(metrics.clone());
    let vary = HeaderMap::new();
    let (mut key_bytes, mut header_bytes) = (0usize, 0usize);
    let before = live();
    for i in 0..objects {
        header_bytes += fill(&store, &vary, i, body_len, origin);
        key_bytes += key(i).len();
    }
    let inserted = live();
    // Every object is served once: a hit must not leave more behind than the insert did.
    for i in 0..objects {
        match lookup(&store, &key(i), &vary) {
            Lookup::Hit(e) => {
                assert_eq!(e.body.len(), body_len);
                assert_eq!(e.status, StatusCode::OK);
            }
            other => panic!("object {i}: {other:?}"),
        }
    }
    let after = live();
    assert_eq!(store.len(), objects, "nothing may be evicted");
    assert_eq!(metrics.evictions.get(), 0);
    let n = objects as f64;
    let report = Report {
        objects,
        total: (after - before) as f64 / n,
        after_insert: (inserted - before) as f64 / n,
        body: body_len as f64,
        key: key_bytes as f64 / n,
        headers: header_bytes as f64 / n,
    };
    (report, store)
}

/// A check that a stored object comes back as it went in (headers, order, freshness).
pub fn round_trip(store: &MemoryStore, i: usize, body_len: usize) {
    let vary = HeaderMap::new();
    let Lookup::Hit(e) = lookup(store, &key(i), &vary) else {
        panic!("object {i} is not stored");
    };
    let names: Vec<&str> = e.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "content-length",
            "cache-control",
            "etag",
            "date"
        ]
    );
    assert_eq!(e.headers["etag"], format!("\"65f1c2a0-{i:06x}\"").as_str());
    assert_eq!(e.headers["content-length"], body_len.to_string().as_str());
    assert_eq!(e.freshness.lifetime, Duration::from_secs(86_400));
    assert!(e.freshness.response_time > SystemTime::UNIX_EPOCH);
    assert_eq!(e.body, Bytes::from(vec![b'x'; body_len]));
}
