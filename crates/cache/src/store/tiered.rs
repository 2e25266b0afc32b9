//! Memory in front of an optional disk tier.

use std::sync::Arc;

use super::{CachedResponse, DiskStore, MemoryStore, Storage};

/// The memory tier in front of an optional disk tier: reads try memory, then disk (promoting
/// a disk hit into memory); writes go to both (an entry too large for memory may still fit on
/// disk); removals and purges reach both.
pub struct TieredStore {
    memory: MemoryStore,
    disk: Option<DiskStore>,
}

impl TieredStore {
    /// Memory only, or memory in front of `disk`.
    pub fn new(memory: MemoryStore, disk: Option<DiskStore>) -> TieredStore {
        TieredStore { memory, disk }
    }

    /// The memory tier.
    pub fn memory(&self) -> &MemoryStore {
        &self.memory
    }

    /// The disk tier, when configured.
    pub fn disk(&self) -> Option<&DiskStore> {
        self.disk.as_ref()
    }
}

impl Storage for TieredStore {
    fn get(&self, key: &str) -> Option<Arc<CachedResponse>> {
        if let Some(e) = self.memory.get(key) {
            return Some(e);
        }
        let e = self.disk.as_ref()?.get(key)?;
        self.memory.insert(key, e.clone());
        Some(e)
    }

    fn insert(&self, key: &str, entry: Arc<CachedResponse>) -> bool {
        let in_memory = self.memory.insert(key, entry.clone());
        let on_disk = self.disk.as_ref().is_some_and(|d| d.insert(key, entry));
        in_memory || on_disk
    }

    fn remove(&self, key: &str) -> bool {
        let m = self.memory.remove(key);
        let d = self.disk.as_ref().is_some_and(|d| d.remove(key));
        m || d
    }

    /// Counts the entries removed from the largest tier (the same entry may be in both).
    fn purge(&self, pred: &dyn Fn(&str) -> bool) -> usize {
        let m = self.memory.purge(pred);
        let d = self.disk.as_ref().map_or(0, |d| d.purge(pred));
        m.max(d)
    }

    /// Entries in the larger tier.
    fn len(&self) -> usize {
        self.memory
            .len()
            .max(self.disk.as_ref().map_or(0, Storage::len))
    }

    /// Bytes of both tiers.
    fn bytes(&self) -> u64 {
        self.memory.bytes() + self.disk.as_ref().map_or(0, Storage::bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::StoreMetrics;
    use crate::store::{sample, DiskOptions};

    #[test]
    fn memory_then_disk_with_promotion_and_restart() {
        let dir = std::env::temp_dir().join(format!("edgeway-cache-tiered-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let m = edgeway_http::metrics::Metrics::new();
        let open = || {
            TieredStore::new(
                MemoryStore::new(1 << 20, StoreMetrics::new(&m, "memory")),
                Some(
                    DiskStore::open(
                        &dir,
                        DiskOptions::new(1 << 20),
                        StoreMetrics::new(&m, "disk"),
                    )
                    .unwrap(),
                ),
            )
        };
        {
            let t = open();
            assert!(t.insert("/a", Arc::new(sample(b"A"))));
            assert!(t.get("/a").is_some());
            assert_eq!(
                m.value("edgeway_cache_hits_total", &[("tier", "memory")]),
                1
            );
        }
        // restart: memory is cold, disk is warm
        let t = open();
        assert_eq!(t.memory().len(), 0);
        assert_eq!(t.get("/a").unwrap().body.as_ref(), b"A");
        assert_eq!(m.value("edgeway_cache_hits_total", &[("tier", "disk")]), 1);
        assert_eq!(t.memory().len(), 1, "promoted");
        assert!(t.get("/a").is_some());
        assert_eq!(
            m.value("edgeway_cache_hits_total", &[("tier", "memory")]),
            2
        );
        assert_eq!(t.purge_prefix("/"), 1);
        assert!(t.get("/a").is_none());
        assert!(t.is_empty());
        drop(t);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn too_big_for_memory_still_on_disk() {
        let dir =
            std::env::temp_dir().join(format!("edgeway-cache-tiered-big-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t = TieredStore::new(
            MemoryStore::new(8_000, StoreMetrics::detached()),
            Some(
                DiskStore::open(&dir, DiskOptions::new(1 << 20), StoreMetrics::detached()).unwrap(),
            ),
        );
        let big = Arc::new(crate::store::CachedResponse {
            body: bytes::Bytes::from(vec![1u8; 5000]),
            ..sample(b"")
        });
        assert!(t.insert("/big", big));
        assert_eq!(t.memory().len(), 0);
        assert_eq!(t.get("/big").unwrap().body.len(), 5000);
        assert!(t.remove("/big"));
        drop(t);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
