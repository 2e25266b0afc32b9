//! The counters of one storage tier, registered once in the shared [`Metrics`] registry.

use edgeway_http::metrics::{Counter, Gauge, Metrics};

/// Counters of one tier, labelled `tier="memory"` or `tier="disk"`:
/// `edgeway_cache_{hits,misses,inserts,evictions,corrupt}_total` and the gauges
/// `edgeway_cache_bytes`, `edgeway_cache_entries`.
#[derive(Clone, Debug, Default)]
pub struct StoreMetrics {
    pub hits: Counter,
    pub misses: Counter,
    pub inserts: Counter,
    pub evictions: Counter,
    /// Disk entries found truncated or corrupt (each one was deleted and reported as a miss).
    pub corrupt: Counter,
    pub bytes: Gauge,
    pub entries: Gauge,
}

impl StoreMetrics {
    /// Counters registered in `metrics` for `tier`.
    pub fn new(metrics: &Metrics, tier: &str) -> StoreMetrics {
        let l = [("tier", tier)];
        StoreMetrics {
            hits: metrics.counter(
                "edgeway_cache_hits_total",
                "Cache lookups answered by this tier.",
                &l,
            ),
            misses: metrics.counter(
                "edgeway_cache_misses_total",
                "Cache lookups this tier could not answer.",
                &l,
            ),
            inserts: metrics.counter(
                "edgeway_cache_inserts_total",
                "Responses stored in this tier.",
                &l,
            ),
            evictions: metrics.counter(
                "edgeway_cache_evictions_total",
                "Entries evicted to stay within the byte limit.",
                &l,
            ),
            corrupt: metrics.counter(
                "edgeway_cache_corrupt_total",
                "Stored entries found truncated or corrupt, deleted and treated as misses.",
                &l,
            ),
            bytes: metrics.gauge("edgeway_cache_bytes", "Bytes held by this tier.", &l),
            entries: metrics.gauge("edgeway_cache_entries", "Entries held by this tier.", &l),
        }
    }

    /// Counters that belong to no registry (tests, or a store nobody observes).
    pub fn detached() -> StoreMetrics {
        StoreMetrics::default()
    }

    pub(crate) fn set_size(&self, bytes: u64, entries: usize) {
        self.bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.entries.set(i64::try_from(entries).unwrap_or(i64::MAX));
    }
}

/// Counters of request coalescing: `edgeway_cache_coalesce_{leaders,followers,timeouts}_total`.
#[derive(Clone, Debug, Default)]
pub struct CoalesceMetrics {
    /// Callers that fetched (one per key at a time).
    pub leaders: Counter,
    /// Callers that waited for a leader and shared its result.
    pub followers: Counter,
    /// Followers that gave up waiting and fetched on their own.
    pub timeouts: Counter,
}

impl CoalesceMetrics {
    /// Counters registered in `metrics`.
    pub fn new(metrics: &Metrics) -> CoalesceMetrics {
        CoalesceMetrics {
            leaders: metrics.counter(
                "edgeway_cache_coalesce_leaders_total",
                "Fetches made on behalf of every concurrent caller of a key.",
                &[],
            ),
            followers: metrics.counter(
                "edgeway_cache_coalesce_followers_total",
                "Callers that shared another caller's fetch.",
                &[],
            ),
            timeouts: metrics.counter(
                "edgeway_cache_coalesce_timeouts_total",
                "Callers that stopped waiting for another caller's fetch and fetched themselves.",
                &[],
            ),
        }
    }
}
