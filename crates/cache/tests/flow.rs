//! The cache used the way the edge uses it: an origin response is judged, stored in memory and
//! on disk, found again (after a restart too), revalidated, and served with conditionals and
//! ranges. Doubles as an example of the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use edgeway_cache::cloudfront::{cloudfront_ttl, TtlPolicy};
use edgeway_cache::conditional::{self, Precondition};
use edgeway_cache::freshness::corrected_initial_age;
use edgeway_cache::range::{self, RangeDecision};
use edgeway_cache::store::{insert_response, lookup, Lookup};
use edgeway_cache::stored_headers::stored_headers;
use edgeway_cache::{
    CachedResponse, DiskOptions, DiskStore, MemoryStore, ResponseDirectives, Reuse, Storage,
    StoreMetrics, TieredStore,
};
use edgeway_http::metrics::Metrics;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Dir, metrics: &Metrics) -> TieredStore {
    TieredStore::new(
        MemoryStore::new(1 << 20, StoreMetrics::new(metrics, "memory")),
        Some(
            DiskStore::open(
                &dir.0,
                DiskOptions::new(1 << 22),
                StoreMetrics::new(metrics, "disk"),
            )
            .unwrap(),
        ),
    )
}

#[test]
fn miss_store_hit_restart_revalidate_and_serve() {
    let dir = Dir(std::env::temp_dir().join(format!("edgeway-cache-flow-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let metrics = Metrics::new();
    let t0 = 1_700_000_000;
    let key = "dist1|/images/logo.png";
    let viewer = hm(&[("accept-encoding", "gzip")]);

    // The origin answers.
    let origin_headers = hm(&[
        ("cache-control", "max-age=60, stale-while-revalidate=30"),
        ("etag", "\"v1\""),
        ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("content-type", "image/png"),
        ("vary", "Accept-Encoding"),
        ("connection", "keep-alive"),
        ("age", "10"),
    ]);
    let d = ResponseDirectives::with_targets(&origin_headers, &[]);
    let decision = cloudfront_ttl(
        &d,
        &TtlPolicy::with_defaults(0, None, None),
        StatusCode::OK,
        at(t0),
        None,
    );
    assert!(decision.store);
    let freshness =
        decision.freshness(corrected_initial_age(d.age, d.date, at(t0), at(t0)), at(t0));
    let entry = CachedResponse::new(
        StatusCode::OK,
        stored_headers(&origin_headers, &d.cache_control),
        Bytes::from_static(b"0123456789"),
        freshness,
    );
    {
        let store = open(&dir, &metrics);
        assert!(matches!(lookup(&store, key, &viewer), Lookup::Miss));
        assert!(insert_response(&store, key, &viewer, entry));
        let hit = lookup(&store, key, &viewer).hit().unwrap();
        assert!(hit.headers.get("age").is_none() && hit.headers.get("connection").is_none());
        // Age 10 at receipt: fresh for 50 s more, then 30 s of stale-while-revalidate
        assert_eq!(hit.freshness.reuse(at(t0 + 49)), Reuse::Fresh);
        assert_eq!(
            hit.freshness.reuse(at(t0 + 50)),
            Reuse::StaleWhileRevalidate
        );
        assert_eq!(hit.freshness.age_header_secs(at(t0 + 5)), 15);
        // another encoding is another variant
        assert!(matches!(
            lookup(&store, key, &hm(&[("accept-encoding", "br")])),
            Lookup::Miss
        ));
    }

    // Restart: memory is empty, the disk tier answers.
    let store = open(&dir, &metrics);
    let hit = lookup(&store, key, &viewer)
        .hit()
        .expect("a hit after restart");
    assert_eq!(hit.body.as_ref(), b"0123456789");
    assert!(metrics.value("edgeway_cache_hits_total", &[("tier", "disk")]) >= 1);

    // Expired: revalidate with the origin, which answers 304 with a new max-age.
    assert_eq!(hit.freshness.reuse(at(t0 + 100)), Reuse::Revalidate);
    let reval = conditional::revalidation_headers(&hit.headers);
    assert_eq!(reval.get("if-none-match").unwrap(), "\"v1\"");
    let not_modified = hm(&[("cache-control", "max-age=120"), ("etag", "\"v1\"")]);
    assert!(conditional::selects_for_update(&hit.headers, &not_modified));
    let merged = conditional::merge_not_modified(&hit.headers, &not_modified);
    let d = ResponseDirectives::with_targets(&merged, &[]);
    let decision = cloudfront_ttl(
        &d,
        &TtlPolicy::with_defaults(0, None, None),
        StatusCode::OK,
        at(t0 + 100),
        None,
    );
    assert_eq!(decision.ttl, Duration::from_secs(120));
    let refreshed = CachedResponse {
        headers: merged,
        freshness: decision.freshness(Duration::ZERO, at(t0 + 100)),
        ..(*hit).clone()
    };
    assert!(insert_response(&store, key, &viewer, refreshed));
    let hit = lookup(&store, key, &viewer).hit().unwrap();
    assert_eq!(hit.freshness.reuse(at(t0 + 200)), Reuse::Fresh);

    // Viewer conditionals and ranges against the stored copy.
    let inm = hm(&[("if-none-match", "W/\"v1\"")]);
    assert_eq!(
        conditional::evaluate(&Method::GET, &inm, hit.status, &hit.headers),
        Precondition::NotModified
    );
    let ranged = hm(&[("range", "bytes=2-4")]);
    match range::plan(
        &Method::GET,
        &ranged,
        hit.status,
        &hit.headers,
        hit.body.len() as u64,
    ) {
        RangeDecision::Partial(r) => {
            assert_eq!(range::slice(&hit.body, r[0]).as_ref(), b"234");
            assert_eq!(r[0].content_range(10), "bytes 2-4/10");
        }
        other => panic!("{other:?}"),
    }

    // Invalidation of the path removes every variant in both tiers.
    assert!(store.purge_prefix("dist1|/images/") >= 2);
    assert!(matches!(lookup(&store, key, &viewer), Lookup::Miss));
    drop(store);
    let store = open(&dir, &metrics);
    assert!(
        matches!(lookup(&store, key, &viewer), Lookup::Miss),
        "purged from disk too"
    );
    let _ = Arc::new(store);
}
