//! The memory tier's index overhead per object stays within 200 bytes: everything it holds
//! for a small object beyond the body, the key and the stored headers' names and values
//! (`docs/performance.md`, "Cache index overhead per object"). The heap is counted by
//! `stats_alloc`'s global allocator (its `unsafe impl GlobalAlloc` lives in that crate, so this
//! file keeps the workspace's `forbid(unsafe_code)`); this file holds one test, so nothing else
//! allocates while it counts. One million objects: `cargo run --release -p edgeway-cache
//! --example index_overhead`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/overhead.rs"]
mod overhead;

use overhead::{measure, round_trip, Origin};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes. `stats_alloc` adds a `realloc`'s growth to `bytes_allocated` (and its
/// shrinking to `bytes_deallocated`) as well as to `bytes_reallocated`, so the last is not added.
fn live() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

const BUDGET: f64 = 200.0;

#[test]
fn index_overhead_per_object_is_at_most_200_bytes() {
    // 20,000 objects: the fixed costs (the shards, the slots of recently unpacked entries,
    // about 1.3 MB here) weigh more per object than with a million, so this is stricter.
    for origin in [Origin::Hyper, Origin::Owned] {
        let (r, store) = measure(20_000, 16, origin, live);
        round_trip(&store, 12_345, 16);
        drop(store);
        eprintln!(
            "{origin:?}: {:.1} bytes per object ({:.1} key, {:.1} headers, 16 body), index overhead {:.1}",
            r.total,
            r.key,
            r.headers,
            r.index_overhead()
        );
        assert!(
            r.index_overhead() <= BUDGET,
            "{origin:?}: index overhead {:.1} bytes per object (total {:.1}, body {}, key {:.1}, headers {:.1})",
            r.index_overhead(),
            r.total,
            r.body,
            r.key,
            r.headers
        );
        // A hit leaves nothing per object behind (only the fixed slots).
        assert!(
            r.total - r.after_insert < 100.0,
            "{origin:?}: {:.1} bytes per object after the inserts, {:.1} after the hits",
            r.after_insert,
            r.total
        );
    }
}
