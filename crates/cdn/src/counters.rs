//! The tier's named counters, per distribution. Fixed label sets are taken once; response codes
//! and listeners are looked up when first seen.

use edgeway_http::metrics::{Counter, Metrics};
use std::sync::{Arc, OnceLock};

pub const REQUESTS: &str = "edgeway_cdn_requests_total";
pub const RESPONSES: &str = "edgeway_cdn_responses_total";
pub const ORIGIN_REQUESTS: &str = "edgeway_cdn_origin_requests_total";
pub const UPSTREAM_ERRORS: &str = "edgeway_cdn_upstream_errors_total";
pub const CACHE: &str = "edgeway_cdn_cache_total";
pub const BYTES: &str = "edgeway_cdn_bytes_total";
pub const STALE: &str = "edgeway_cdn_stale_served_total";
pub const COLLAPSED: &str = "edgeway_cdn_collapsed_total";
pub const COMPRESSED: &str = "edgeway_cdn_compressed_total";
pub const CACHE_BYTES: &str = "edgeway_cdn_cache_bytes_served_total";
pub const INVALIDATED: &str = "edgeway_cdn_invalidated_entries_total";

/// `X-Cache` outcomes, as counted in `edgeway_cdn_cache_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheResult {
    Hit,
    RefreshHit,
    Miss,
    Error,
    Redirect,
}

impl CacheResult {
    const ALL: [Self; 5] = [
        Self::Hit,
        Self::RefreshHit,
        Self::Miss,
        Self::Error,
        Self::Redirect,
    ];

    fn index(self) -> usize {
        match self {
            Self::Hit => 0,
            Self::RefreshHit => 1,
            Self::Miss => 2,
            Self::Error => 3,
            Self::Redirect => 4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Hit => "Hit",
            Self::RefreshHit => "RefreshHit",
            Self::Miss => "Miss",
            Self::Error => "Error",
            Self::Redirect => "Redirect",
        }
    }
    /// The `X-Cache` header value.
    pub fn x_cache(self) -> &'static str {
        match self {
            Self::Hit => "Hit from cloudfront",
            Self::RefreshHit => "RefreshHit from cloudfront",
            Self::Miss => "Miss from cloudfront",
            Self::Error => "Error from cloudfront",
            Self::Redirect => "Redirect from cloudfront",
        }
    }
}

/// One distribution's counters.
#[derive(Clone)]
pub struct Counters {
    metrics: Metrics,
    distribution: String,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    /// By origin index.
    pub origin_requests: Vec<Counter>,
    /// Stale copies served (stale-while-revalidate, or the origin failing).
    pub stale: Counter,
    /// Misses that shared another request's origin fetch.
    pub collapsed: Counter,
    /// Responses the edge compressed.
    pub compressed: Counter,
    /// Body bytes served from the cache (the rest of `bytes_out` came from origins).
    pub bytes_cache: Counter,
    /// Entries removed by invalidations.
    pub invalidated: Counter,
    /// `edgeway_cdn_cache_total{result}`, by [`CacheResult::index`].
    results: [Counter; 5],
    /// `edgeway_cdn_responses_total{code}` for codes 100-999, taken when first seen.
    codes: Arc<[OnceLock<Counter>]>,
}

impl Counters {
    pub fn new(metrics: &Metrics, distribution: &str, origins: &[&str]) -> Self {
        let d = distribution;
        let bytes = |dir: &str| {
            metrics.counter(
                BYTES,
                "Body bytes through the edge (in: viewer requests, out: viewer responses).",
                &[("distribution", d), ("direction", dir)],
            )
        };
        let origin_requests = origins
            .iter()
            .map(|o| {
                metrics.counter(
                    ORIGIN_REQUESTS,
                    "Requests (attempts) sent to origins.",
                    &[("distribution", d), ("origin", o)],
                )
            })
            .collect();
        let event = |name: &str, help: &str| metrics.counter(name, help, &[("distribution", d)]);
        let results = CacheResult::ALL.map(|r| {
            metrics.counter(
                CACHE,
                "Cache outcomes (X-Cache).",
                &[("distribution", d), ("result", r.label())],
            )
        });
        Self {
            metrics: metrics.clone(),
            distribution: d.to_string(),
            bytes_in: bytes("in"),
            bytes_out: bytes("out"),
            origin_requests,
            stale: event(
                STALE,
                "Stale cached copies served (stale-while-revalidate, or the origin failing).",
            ),
            collapsed: event(
                COLLAPSED,
                "Misses that shared another request's origin fetch.",
            ),
            compressed: event(
                COMPRESSED,
                "Responses the edge compressed (gzip or brotli).",
            ),
            bytes_cache: event(CACHE_BYTES, "Body bytes served from the cache."),
            invalidated: event(INVALIDATED, "Cache entries removed by invalidations."),
            results,
            codes: (100..1000).map(|_| OnceLock::new()).collect(),
        }
    }

    /// `edgeway_cdn_requests_total{distribution,listener}` for one listener (`https:8443`).
    pub fn requests(&self, listener: &str) -> Counter {
        self.metrics.counter(
            REQUESTS,
            "Viewer requests received.",
            &[("distribution", &self.distribution), ("listener", listener)],
        )
    }

    /// Counts a viewer response: the counter of a code is taken from the registry once.
    pub fn response(&self, code: u16) {
        let counter = |code: u16| {
            self.metrics.counter(
                RESPONSES,
                "Viewer responses by status code.",
                &[
                    ("distribution", &self.distribution),
                    ("code", &code.to_string()),
                ],
            )
        };
        match self.codes.get(usize::from(code).wrapping_sub(100)) {
            Some(slot) => slot.get_or_init(|| counter(code)).inc(),
            None => counter(code).inc(),
        }
    }

    pub fn cache(&self, r: CacheResult) -> &Counter {
        &self.results[r.index()]
    }

    /// A request of origin group `group` that went to the secondary.
    pub fn failover(&self, group: &str) {
        self.metrics
            .counter(
                "edgeway_cdn_origin_failovers_total",
                "Requests an origin group sent to its secondary.",
                &[("distribution", &self.distribution), ("group", group)],
            )
            .inc();
    }

    pub fn upstream_error(&self, kind: &str) {
        self.metrics
            .counter(
                UPSTREAM_ERRORS,
                "Origin requests that failed, by kind.",
                &[("distribution", &self.distribution), ("kind", kind)],
            )
            .inc();
    }
}
