//! Storage tiers: a [`Storage`] trait, a memory tier bounded in bytes with S3-FIFO admission
//! and eviction ([`MemoryStore`]), a disk tier that survives restarts ([`DiskStore`]), both
//! together ([`TieredStore`]), and Vary-aware lookup on top of any of them ([`lookup`],
//! [`insert_response`]).
//!
//! Keys are the caller's cache keys (strings). Purges take a predicate over keys, so an
//! invalidation of `/images/*` is `purge_prefix` of the keys the caller builds for that path.

mod disk;
mod disk_file;
mod entry;
mod memory;
mod packed;
mod tiered;
mod variants;

use std::sync::Arc;

pub use disk::{DiskOptions, DiskStore};
pub use entry::{CachedResponse, EntryKind};
pub use memory::MemoryStore;
pub use tiered::TieredStore;
pub use variants::{insert_response, lookup, lookup_with, Lookup};

/// A key → response store bounded in bytes. Implementations are internally synchronized and
/// cheap to call from many tasks. The disk tier does blocking file I/O: call it from
/// `tokio::task::spawn_blocking` (or accept short blocking) on the request path.
pub trait Storage: Send + Sync {
    /// The entry under `key`, if stored and intact.
    fn get(&self, key: &str) -> Option<Arc<CachedResponse>>;

    /// Stores `entry` under `key`, replacing any previous entry and evicting others to stay
    /// within the byte limit. Returns false when the entry is not stored (larger than the
    /// tier's per-entry limit, or an I/O error).
    fn insert(&self, key: &str, entry: Arc<CachedResponse>) -> bool;

    /// Removes `key`; true when something was removed.
    fn remove(&self, key: &str) -> bool;

    /// Removes every entry whose key satisfies `pred`; returns how many.
    fn purge(&self, pred: &dyn Fn(&str) -> bool) -> usize;

    /// Removes every entry whose key starts with `prefix`; returns how many.
    fn purge_prefix(&self, prefix: &str) -> usize {
        self.purge(&|k: &str| k.starts_with(prefix))
    }

    /// Number of entries.
    fn len(&self) -> usize;

    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes charged (see [`CachedResponse::weight`] for the memory tier, file sizes on disk).
    fn bytes(&self) -> u64;
}

#[cfg(test)]
pub(crate) use entry::tests::sample;
