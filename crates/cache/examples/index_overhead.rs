//! The memory tier's heap per stored object, with one million small objects stored through the
//! edge's miss-fill calls (see `tests/support/overhead.rs`) and counted by a global allocator:
//!
//! ```sh
//! cargo run --release -p edgeway-cache --example index_overhead
//! cargo run --release -p edgeway-cache --example index_overhead -- --objects 100000 --body 1 --origin owned
//! ```
//!
//! Prints, per object: the live heap, the body, the key, the stored headers (name and value
//! bytes) and the rest, the index overhead; and the growth of the resident set for the first
//! run (malloc's chunk headers included). Method and numbers: `docs/performance.md`, "Cache
//! index overhead per object". `stats_alloc`'s `unsafe impl GlobalAlloc` lives in that crate,
//! so this file keeps the workspace's `forbid(unsafe_code)`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/overhead.rs"]
mod overhead;

use std::time::Instant;

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

/// Resident set size in bytes, from `/proc/self/statm` (Linux), for comparison: it includes
/// what the counting allocator does not see (malloc's own chunk headers and rounding).
fn rss() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let mut objects = 1_000_000usize;
    let mut bodies = vec![16usize];
    let mut origins = vec![Origin::Hyper, Origin::Owned];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--objects" => objects = v.parse().expect("--objects N"),
            "--body" => bodies = vec![v.parse().expect("--body BYTES")],
            "--origin" => {
                origins = vec![match v.as_str() {
                    "hyper" => Origin::Hyper,
                    "owned" => Origin::Owned,
                    _ => panic!("--origin hyper|owned"),
                }]
            }
            _ => {
                panic!("usage: index_overhead [--objects N] [--body BYTES] [--origin hyper|owned]")
            }
        }
    }
    println!(
        "| origin headers | objects | body | heap per object | beyond the body | key | stored headers | index overhead | RSS per object | time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut first = true;
    for origin in origins {
        for &body in &bodies {
            // Later runs reuse the heap the first one freed: RSS tells only for the first.
            let (t, rss_before) = (Instant::now(), rss().filter(|_| first));
            first = false;
            let (r, store) = measure(objects, body, origin, live);
            let took = t.elapsed();
            let rss_per_object = rss().zip(rss_before).map_or("-".to_string(), |(a, b)| {
                format!("{:.0}", (a - b) as f64 / objects as f64)
            });
            round_trip(&store, objects / 2, body);
            drop(store);
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | **{:.1}** | {} | {:.2} s |",
                match origin {
                    Origin::Hyper => "hyper (slices of the read buffer)",
                    Origin::Owned => "owned (one buffer per value)",
                },
                r.objects,
                r.body,
                r.total,
                r.beyond_body(),
                r.key,
                r.headers,
                r.index_overhead(),
                rss_per_object,
                took.as_secs_f64()
            );
        }
    }
}
