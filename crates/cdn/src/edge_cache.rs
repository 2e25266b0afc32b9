//! The edge's cache state, shared by every distribution of a tier: the storage tiers (memory,
//! optional disk), one-fetch-per-key coalescing, the objects that must not be collapsed, the
//! keys whose origin failed recently (served stale until `error_caching_min_ttl` passes), and
//! the clock.

use crate::clock::Clock;
use edgeway_cache::store::{insert_response, lookup, lookup_with, Lookup};
use edgeway_cache::{
    CachedResponse, CoalesceMetrics, Coalescer, DiskOptions, DiskStore, MemoryStore, Storage,
    StoreMetrics, TieredStore,
};
use edgeway_config::CacheConfig;
use edgeway_http::metrics::Metrics;
use http::HeaderMap;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// What a coalesced fetch hands its followers: the entry to serve, or `None` (fetch yourself).
pub type Shared = Option<Arc<CachedResponse>>;

/// How long a follower waits for a leader before fetching on its own.
const FOLLOWER_WAIT: Duration = Duration::from_secs(60);
/// Bound on the bookkeeping sets (cleared when full).
const MAX_MARKS: usize = 100_000;

/// The cache of a CDN tier.
pub struct EdgeCache {
    store: Arc<TieredStore>,
    has_disk: bool,
    pub max_object_bytes: u64,
    pub coalescer: Coalescer<Shared>,
    no_collapse: Mutex<HashSet<String>>,
    backoff: Mutex<HashMap<String, SystemTime>>,
    pub clock: Clock,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl EdgeCache {
    /// The tiers `[cache]` describes, counted in `metrics`.
    pub fn new(cfg: &CacheConfig, metrics: &Metrics) -> Result<Self, String> {
        let max_entry = cfg.max_object_bytes.saturating_add(64 * 1024);
        let memory = MemoryStore::with_max_entry(
            cfg.memory_bytes,
            max_entry,
            StoreMetrics::new(metrics, "memory"),
        );
        let disk = match &cfg.disk_dir {
            Some(dir) => {
                let opts = DiskOptions {
                    max_entry_bytes: max_entry.min(cfg.disk_bytes),
                    ..DiskOptions::new(cfg.disk_bytes)
                };
                let d = DiskStore::open(dir, opts, StoreMetrics::new(metrics, "disk"))
                    .map_err(|e| format!("cache disk_dir {}: {e}", dir.display()))?;
                Some(d)
            }
            None => None,
        };
        Ok(Self {
            has_disk: disk.is_some(),
            store: Arc::new(TieredStore::new(memory, disk)),
            max_object_bytes: cfg.max_object_bytes,
            coalescer: Coalescer::with_metrics(FOLLOWER_WAIT, CoalesceMetrics::new(metrics)),
            no_collapse: Mutex::new(HashSet::new()),
            backoff: Mutex::new(HashMap::new()),
            clock: Clock::default(),
        })
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The stored response for `key` and the request's (normalized) headers, built only when
    /// the stored entry varies. Without a disk tier the lookup is inline; disk reads run on the
    /// blocking pool.
    pub async fn lookup<'a>(&self, key: &str, vary: impl FnOnce() -> &'a HeaderMap) -> Lookup {
        if !self.has_disk {
            return lookup_with(self.store.as_ref(), key, vary);
        }
        let (store, key, vary) = (self.store.clone(), key.to_string(), vary().clone());
        tokio::task::spawn_blocking(move || lookup(store.as_ref(), &key, &vary))
            .await
            .unwrap_or(Lookup::Miss)
    }

    /// Stores `entry`: in memory before this returns (so the next request finds it), on disk in
    /// the background.
    pub fn insert(&self, key: &str, vary: &HeaderMap, entry: CachedResponse) {
        insert_response(self.store.memory(), key, vary, entry.clone());
        if self.has_disk {
            let (store, key, vary) = (self.store.clone(), key.to_string(), vary.clone());
            tokio::task::spawn_blocking(move || {
                if let Some(d) = store.disk() {
                    insert_response(d, &key, &vary, entry);
                }
            });
        }
    }

    /// Removes every entry (both tiers) whose key satisfies `pred`; returns how many.
    pub fn purge(&self, pred: &dyn Fn(&str) -> bool) -> usize {
        lock(&self.no_collapse).retain(|k| !pred(k));
        lock(&self.backoff).retain(|k, _| !pred(k));
        self.store.purge(pred)
    }

    /// Remembers that misses for `key` must not be collapsed (min_ttl 0 with no-store etc.).
    pub fn mark_uncollapsible(&self, key: &str, yes: bool) {
        let mut s = lock(&self.no_collapse);
        if !yes {
            s.remove(key);
            return;
        }
        if s.len() >= MAX_MARKS {
            s.clear();
        }
        s.insert(key.to_string());
    }

    pub fn uncollapsible(&self, key: &str) -> bool {
        lock(&self.no_collapse).contains(key)
    }

    /// The origin failed for `key`: serve the stored copy until `until` without asking again.
    pub fn back_off(&self, key: &str, until: SystemTime) {
        let mut b = lock(&self.backoff);
        if b.len() >= MAX_MARKS {
            b.clear();
        }
        b.insert(key.to_string(), until);
    }

    /// Whether `key` is backing off from a failed origin now.
    pub fn backing_off(&self, key: &str) -> bool {
        let now = self.now();
        let mut b = lock(&self.backoff);
        match b.get(key) {
            Some(until) if *until > now => true,
            Some(_) => {
                b.remove(key);
                false
            }
            None => false,
        }
    }
}
