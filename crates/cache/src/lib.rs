//! The edge's HTTP cache: RFC 9111 freshness and cacheability as pure functions, storage tiers
//! (memory bounded in bytes, disk surviving restarts), request coalescing and purge.
//!
//! - [`cache_control`]: `Cache-Control` / `CDN-Cache-Control` parsing.
//! - [`freshness`]: storable?, freshness lifetime, age, reuse decisions ([`freshness::Freshness`]).
//! - [`vary`], [`conditional`], [`range`]: secondary keys, 304/412, 206/416.
//! - [`store`]: the [`store::Storage`] trait, memory and disk tiers, Vary-aware lookup.
//! - [`coalesce`]: one fetch per key at a time.
//! - [`cloudfront`]: CloudFront's TTL rules as one pure function, kept apart: the rest of the
//!   crate knows nothing about CloudFront.
#![forbid(unsafe_code)]
// Table tests spell their rows out.
#![cfg_attr(
    test,
    allow(clippy::type_complexity, clippy::unwrap_used, clippy::expect_used)
)]

pub mod cache_control;
pub mod cloudfront;
pub mod coalesce;
pub mod conditional;
pub mod freshness;
pub mod http_date;
pub mod invalidation;
pub mod metrics;
pub mod range;
pub mod store;
pub mod stored_headers;
pub mod vary;

pub use cache_control::CacheControl;
pub use coalesce::Coalescer;
pub use freshness::{Freshness, ResponseDirectives, Reuse};
pub use metrics::{CoalesceMetrics, StoreMetrics};
pub use store::{
    CachedResponse, DiskOptions, DiskStore, Lookup, MemoryStore, Storage, TieredStore,
};
pub use vary::VarySpec;
