//! The memory tier: `quick_cache` (S3-FIFO: a small probationary queue, a main queue and a
//! ghost queue, so one scan over many cold keys cannot flush the hot set) weighted in bytes.

use std::cell::Cell;
use std::sync::Arc;

use edgeway_http::metrics::Counter;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use super::{CachedResponse, Storage};
use crate::metrics::StoreMetrics;

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Arc<CachedResponse>> for ByteWeighter {
    fn weight(&self, key: &String, val: &Arc<CachedResponse>) -> u64 {
        val.weight(key.len())
    }
}

#[derive(Clone)]
struct CountEvictions(Counter);

impl Lifecycle<String, Arc<CachedResponse>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: String, _val: Arc<CachedResponse>) {
        self.0.inc();
    }
}

/// The memory tier, bounded in bytes.
pub struct MemoryStore {
    cache: Cache<String, Arc<CachedResponse>, ByteWeighter, DefaultHashBuilder, CountEvictions>,
    max_entry_bytes: u64,
    metrics: StoreMetrics,
}

impl MemoryStore {
    /// A memory tier holding at most `max_bytes`; one entry may take at most an eighth of it.
    pub fn new(max_bytes: u64, metrics: StoreMetrics) -> MemoryStore {
        Self::with_max_entry(max_bytes, max_bytes / 8, metrics)
    }

    /// A memory tier holding at most `max_bytes`, with entries of at most `max_entry_bytes`
    /// (clamped to half of `max_bytes`). Larger entries are not stored.
    pub fn with_max_entry(
        max_bytes: u64,
        max_entry_bytes: u64,
        metrics: StoreMetrics,
    ) -> MemoryStore {
        let max_bytes = max_bytes.max(1);
        let max_entry_bytes = max_entry_bytes.clamp(1, (max_bytes / 2).max(1));
        // Each shard must hold the largest entry in its main queue (97 % of the shard).
        let fit = (max_bytes as f64 * 0.95 / max_entry_bytes as f64) as u64;
        let shards = prev_power_of_two(fit).clamp(1, 16);
        let estimated_items = usize::try_from(max_bytes / 4096)
            .unwrap_or(usize::MAX)
            .clamp(64, 1 << 22);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated_items)
            .weight_capacity(max_bytes)
            .shards(shards as usize)
            .build();
        let cache = match options {
            Ok(o) => Cache::with_options(
                o,
                ByteWeighter,
                DefaultHashBuilder::default(),
                CountEvictions(metrics.evictions.clone()),
            ),
            Err(_) => Cache::with(
                estimated_items,
                max_bytes,
                ByteWeighter,
                DefaultHashBuilder::default(),
                CountEvictions(metrics.evictions.clone()),
            ),
        };
        MemoryStore {
            cache,
            max_entry_bytes,
            metrics,
        }
    }

    /// The largest entry this tier stores.
    pub fn max_entry_bytes(&self) -> u64 {
        self.max_entry_bytes
    }

    /// The byte limit.
    pub fn capacity(&self) -> u64 {
        self.cache.capacity()
    }

    fn update_size(&self) {
        self.metrics.set_size(self.cache.weight(), self.cache.len());
    }
}

fn prev_power_of_two(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 << (63 - n.leading_zeros())
    }
}

impl Storage for MemoryStore {
    fn get(&self, key: &str) -> Option<Arc<CachedResponse>> {
        let got = self.cache.get(key);
        if got.is_some() {
            &self.metrics.hits
        } else {
            &self.metrics.misses
        }
        .inc();
        got
    }

    fn insert(&self, key: &str, entry: Arc<CachedResponse>) -> bool {
        if entry.weight(key.len()) > self.max_entry_bytes {
            // Never admitted, so an older entry must not linger either.
            self.cache.remove(key);
            self.update_size();
            return false;
        }
        self.cache.insert(key.to_string(), entry);
        self.metrics.inserts.inc();
        self.update_size();
        true
    }

    fn remove(&self, key: &str) -> bool {
        let removed = self.cache.remove(key).is_some();
        self.update_size();
        removed
    }

    fn purge(&self, pred: &dyn Fn(&str) -> bool) -> usize {
        let removed = Cell::new(0usize);
        self.cache.retain(|k, _| {
            let purge = pred(k);
            if purge {
                removed.set(removed.get() + 1);
            }
            !purge
        });
        self.update_size();
        removed.get()
    }

    fn len(&self) -> usize {
        self.cache.len()
    }

    fn bytes(&self) -> u64 {
        self.cache.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sample;
    use bytes::Bytes;

    fn entry(body_len: usize) -> Arc<CachedResponse> {
        let mut e = sample(b"");
        e.body = Bytes::from(vec![b'x'; body_len]);
        Arc::new(e)
    }

    #[test]
    fn get_insert_remove_purge() {
        let m = edgeway_http::metrics::Metrics::new();
        let s = MemoryStore::new(1 << 20, StoreMetrics::new(&m, "memory"));
        assert!(s.get("/a").is_none());
        assert!(s.insert("/a", entry(10)));
        assert!(s.insert("/a/b", entry(10)));
        assert!(s.insert("/b", entry(10)));
        assert_eq!(s.get("/a").map(|e| e.body.len()), Some(10));
        assert_eq!(s.len(), 3);
        assert!(s.bytes() > 30);
        assert_eq!(s.purge_prefix("/a"), 2);
        assert_eq!(s.len(), 1);
        assert!(s.remove("/b"));
        assert!(!s.remove("/b"));
        assert!(s.is_empty());
        assert_eq!(s.bytes(), 0);
        assert_eq!(
            m.value("edgeway_cache_hits_total", &[("tier", "memory")]),
            1
        );
        assert_eq!(
            m.value("edgeway_cache_misses_total", &[("tier", "memory")]),
            1
        );
        assert_eq!(
            m.value("edgeway_cache_inserts_total", &[("tier", "memory")]),
            3
        );
        assert_eq!(m.value("edgeway_cache_bytes", &[("tier", "memory")]), 0);
    }

    #[test]
    fn bounded_in_bytes_and_counts_evictions() {
        let metrics = StoreMetrics::detached();
        let s = MemoryStore::new(100_000, metrics.clone());
        for i in 0..200 {
            assert!(s.insert(&format!("/k{i}"), entry(1000)));
            assert!(s.bytes() <= 100_000, "after {i}: {}", s.bytes());
        }
        assert!(metrics.evictions.get() > 0);
        assert!(s.len() < 200);
        assert_eq!(metrics.bytes.get() as u64, s.bytes());
    }

    #[test]
    fn oversized_entries_pass_through() {
        let s = MemoryStore::new(80_000, StoreMetrics::detached());
        assert_eq!(s.max_entry_bytes(), 10_000);
        assert!(s.insert("/big", entry(100)));
        assert!(!s.insert("/big", entry(20_000)));
        assert!(
            s.get("/big").is_none(),
            "the older, smaller entry is gone too"
        );
        // the largest admitted size really is admitted
        let e = entry(1);
        let fits = entry((10_000 - e.weight(4)) as usize);
        assert!(s.insert("/fit", fits));
        assert!(s.get("/fit").is_some());
    }

    #[test]
    fn scan_resistant() {
        // A hot set that is read often survives a one-pass scan over many cold keys.
        let s = MemoryStore::new(400_000, StoreMetrics::detached());
        let hot: Vec<String> = (0..20).map(|i| format!("/hot{i}")).collect();
        for k in &hot {
            s.insert(k, entry(1000));
        }
        for _ in 0..3 {
            for k in &hot {
                assert!(s.get(k).is_some());
            }
        }
        for i in 0..5000 {
            s.insert(&format!("/scan{i}"), entry(1000));
        }
        let survivors = hot.iter().filter(|k| s.get(k).is_some()).count();
        assert!(
            survivors >= 18,
            "only {survivors} of 20 hot keys survived a scan"
        );
    }
}
