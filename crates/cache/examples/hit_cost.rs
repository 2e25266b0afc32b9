//! Instructions per memory-tier hit, counted by callgrind: 10,000 objects stored as in
//! `index_overhead`, then a lookup of each (`hits_cold`: every entry unpacked) and 10,000
//! lookups of one object (`hits_hot`: served from its unpacked slot), each followed by a clone
//! of the stored header map, as the edge's `answer_from` does. Counts nothing itself:
//!
//! ```sh
//! cargo build --release -p edgeway-cache --example hit_cost
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*hits_cold*' \
//!     target/release/examples/hit_cost        # Ir / 10,000; then the same with *hits_hot*
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/overhead.rs"]
mod overhead;

use edgeway_cache::store::{lookup, Lookup};
use edgeway_cache::MemoryStore;
use http::HeaderMap;
use overhead::{key, Origin};

#[inline(never)]
fn hits_hot(store: &MemoryStore, keys: &[String], vary: &HeaderMap) -> usize {
    hits(store, keys, vary) + 1
}

#[inline(never)]
fn hits_cold(store: &MemoryStore, keys: &[String], vary: &HeaderMap) -> usize {
    hits(store, keys, vary) + 2
}

#[inline(always)]
fn hits(store: &MemoryStore, keys: &[String], vary: &HeaderMap) -> usize {
    let mut n = 0;
    for k in keys {
        if let Lookup::Hit(e) = lookup(store, k, vary) {
            // what the edge does with a hit: clone the stored header map
            let h = e.headers.clone();
            n += h.len() + e.body.len();
        }
    }
    n
}

fn main() {
    let objects = 10_000;
    let vary = HeaderMap::new();
    let (_, filled) = overhead::measure(objects, 16, Origin::Owned, || 0);
    let keys: Vec<String> = (0..objects).map(key).collect();
    let n = hits_cold(&filled, &keys, &vary);
    let hot: Vec<String> = (0..objects).map(|_| key(77)).collect();
    let m = hits_hot(&filled, &hot, &vary);
    println!("{n} {m}");
}
