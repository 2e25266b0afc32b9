//! The memory tier: `quick_cache` (S3-FIFO: a small probationary queue, a main queue and a
//! ghost queue, so one scan over many cold keys cannot flush the hot set) weighted in bytes.
//! Entries are kept packed ([`Packed`]: one buffer each, about 100 bytes beyond the key,
//! headers and body where a `CachedResponse` takes over 1 KB); a hit unpacks one, and the last
//! few hundred unpacked entries are kept ([`Recent`]) so that a hot object is not unpacked on
//! every hit.

use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use edgeway_http::metrics::Counter;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use super::packed::Packed;
use super::{CachedResponse, Storage};
use crate::metrics::StoreMetrics;

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<Box<str>, Packed> for ByteWeighter {
    fn weight(&self, key: &Box<str>, val: &Packed) -> u64 {
        val.weight() + key.len() as u64
    }
}

#[derive(Clone)]
struct CountEvictions(Counter);

impl Lifecycle<Box<str>, Packed> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: Box<str>, _val: Packed) {
        self.0.inc();
    }
}

/// The memory tier, bounded in bytes.
pub struct MemoryStore {
    cache: Cache<Box<str>, Packed, ByteWeighter, DefaultHashBuilder, CountEvictions>,
    recent: Recent,
    max_entry_bytes: u64,
    metrics: StoreMetrics,
}

/// Entries unpacked lately, one slot per key hash (direct-mapped): a hit on a hot object clones
/// the `CachedResponse` unpacked on an earlier hit instead of unpacking it again.
///
/// A slot answers only for the very entry it was unpacked from: it holds that entry's buffer
/// (so the address cannot be reused) and is used only when the entry the cache returns has
/// the same buffer. A replaced, removed, purged or evicted entry is therefore never served
/// from here (the cache is asked first, every time). What the slots keep alive after their
/// entry has left the cache is bounded: at most `max_pinned` bytes of entry weight.
struct Recent {
    slots: Box<[Mutex<Option<Slot>>]>,
    hasher: DefaultHashBuilder,
    pinned: AtomicU64,
    max_pinned: u64,
}

struct Slot {
    packed: Packed,
    weight: u64,
    entry: Arc<CachedResponse>,
}

impl Recent {
    fn new(max_bytes: u64) -> Recent {
        // 16 slots per 4 MiB, 16 to 1024 of them; slots keep up to 1/32 of the tier alive.
        let n = prev_power_of_two((max_bytes >> 18).clamp(16, 1024)) as usize;
        Recent {
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            hasher: DefaultHashBuilder::default(),
            pinned: AtomicU64::new(0),
            max_pinned: max_bytes / 32,
        }
    }

    fn slot(&self, key: &str) -> Option<&Mutex<Option<Slot>>> {
        self.slots
            .get(self.hasher.hash_one(key) as usize & (self.slots.len() - 1))
    }

    /// Empties `key`'s slot if it holds `packed` (removed from the cache): the slot need not
    /// keep it alive.
    fn forget(&self, key: &str, packed: &Packed) {
        let Some(slot) = self.slot(key) else { return };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|s| s.packed.same(packed)) {
            if let Some(old) = slot.take() {
                self.pinned.fetch_sub(old.weight, Ordering::Relaxed);
            }
        }
    }

    /// Empties every slot (after a purge).
    fn clear(&self) {
        for slot in self.slots.iter() {
            if let Some(old) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                self.pinned.fetch_sub(old.weight, Ordering::Relaxed);
            }
        }
    }

    /// The response `packed` (found under `key`) holds, unpacked at most once while it stays
    /// in its slot.
    fn get(&self, key: &str, packed: Packed) -> Option<Arc<CachedResponse>> {
        let slot = self.slot(key)?;
        if let Some(s) = &*slot.lock().unwrap_or_else(PoisonError::into_inner) {
            if s.packed.same(&packed) {
                return Some(s.entry.clone());
            }
        }
        let entry = Arc::new(packed.unpack()?);
        let weight = packed.weight() + key.len() as u64;
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        // The slot's last occupant leaves in any case (dropped after the lock).
        let old = guard.take();
        if let Some(old) = &old {
            self.pinned.fetch_sub(old.weight, Ordering::Relaxed);
        }
        if self.pinned.fetch_add(weight, Ordering::Relaxed) + weight <= self.max_pinned {
            *guard = Some(Slot {
                packed,
                weight,
                entry: entry.clone(),
            });
        } else {
            self.pinned.fetch_sub(weight, Ordering::Relaxed);
        }
        drop(guard);
        drop(old);
        Some(entry)
    }
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
            recent: Recent::new(max_bytes),
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
        let got = self
            .cache
            .get(key)
            .and_then(|packed| self.recent.get(key, packed));
        if got.is_some() {
            &self.metrics.hits
        } else {
            &self.metrics.misses
        }
        .inc();
        got
    }

    fn insert(&self, key: &str, entry: Arc<CachedResponse>) -> bool {
        let weight = entry.weight(0);
        let packed = (weight.saturating_add(key.len() as u64) <= self.max_entry_bytes)
            .then(|| Packed::new(&entry, weight))
            .flatten();
        let Some(packed) = packed else {
            // Never admitted (too large, or a header value that cannot be rebuilt), so an
            // older entry must not linger either.
            self.remove(key);
            return false;
        };
        self.cache.insert(Box::from(key), packed);
        self.metrics.inserts.inc();
        self.update_size();
        true
    }

    fn remove(&self, key: &str) -> bool {
        let removed = self.cache.remove(key);
        if let Some((_, packed)) = &removed {
            self.recent.forget(key, packed);
        }
        self.update_size();
        removed.is_some()
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
        if removed.get() > 0 {
            self.recent.clear();
        }
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
    fn entries_come_back_as_stored() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        let mut e = sample(b"0123456789");
        e.headers.insert(
            "x-custom",
            http::HeaderValue::from_bytes(b"caf\xc3\xa9-free value").unwrap(),
        );
        assert!(s.insert("/a", Arc::new(e.clone())));
        for _ in 0..3 {
            assert_eq!(*s.get("/a").unwrap(), e);
        }
        let big = entry(40_000);
        assert!(s.insert("/big", big.clone()));
        assert_eq!(s.get("/big").unwrap(), big);
    }

    #[test]
    fn unpacked_slots_never_outlive_their_entry() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        let body = |b: &[u8]| {
            let mut e = sample(b"");
            e.body = Bytes::copy_from_slice(b);
            Arc::new(e)
        };
        // a hot entry is unpacked once and then shared
        s.insert("/a", body(b"one"));
        let first = s.get("/a").unwrap();
        assert!(Arc::ptr_eq(&first, &s.get("/a").unwrap()));
        // replaced: the new content, at once
        s.insert("/a", body(b"two"));
        assert_eq!(s.get("/a").unwrap().body.as_ref(), b"two");
        // the same content stored again is a new entry too
        s.insert("/a", body(b"two"));
        let again = s.get("/a").unwrap();
        assert_eq!(again.body.as_ref(), b"two");
        // removed, purged: gone, and the slot lets go of it
        assert!(s.remove("/a"));
        assert!(s.get("/a").is_none());
        assert_eq!(s.recent.pinned.load(Ordering::Relaxed), 0);
        s.insert("/b", body(b"three"));
        assert!(s.get("/b").is_some());
        assert_eq!(s.purge_prefix("/b"), 1);
        assert!(s.get("/b").is_none());
        assert_eq!(s.recent.pinned.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn evicted_entries_are_not_served_from_the_slots() {
        let metrics = StoreMetrics::detached();
        let s = MemoryStore::new(100_000, metrics.clone());
        assert!(s.insert("/first", entry(1000)));
        assert!(s.get("/first").is_some(), "now in its slot");
        // other entries, read too, until the first one is evicted
        let mut i = 0;
        while s.cache.peek("/first").is_some() {
            let k = format!("/k{i}");
            s.insert(&k, entry(1000));
            s.get(&k);
            s.get(&k);
            i += 1;
            assert!(i < 10_000, "never evicted");
        }
        assert!(metrics.evictions.get() > 0);
        assert!(
            s.get("/first").is_none(),
            "evicted, so not served from its slot"
        );
    }

    #[test]
    fn slots_keep_at_most_a_32nd_of_the_tier_alive() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        let max = (1u64 << 20) / 32;
        for i in 0..200 {
            let k = format!("/k{i}");
            assert!(s.insert(&k, entry(4000)));
            assert_eq!(
                s.get(&k).unwrap().body.len(),
                4000,
                "served whether slotted or not"
            );
            assert!(s.recent.pinned.load(Ordering::Relaxed) <= max);
        }
        assert!(s.recent.pinned.load(Ordering::Relaxed) > 0);
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
