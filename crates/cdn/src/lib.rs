//! The CloudFront tier: distributions chosen by Host, cache behaviors by path pattern, the viewer
//! protocol policy, allowed methods, cache and origin request policies, origin requests with
//! CloudFront's headers, and CloudFront's error pages.
//!
//! The life of a request is [`tier`]'s `Edge::respond`; each phase is a small module here. The
//! cache phase (`cache_phase`) stores responses in the tiers of `edgeway-cache` ([`edge_cache`])
//! by CloudFront's rules ([`ttl`]), tees them while they stream ([`tee`]), compresses
//! ([`compress`]), answers from stored entries ([`deliver`]) and purges ([`purge`]).
#![forbid(unsafe_code)]
// Table tests spell their rows out.
#![cfg_attr(test, allow(clippy::type_complexity))]

pub mod access_log;
pub mod behavior;
pub mod body;
pub mod cache_key;
mod cache_phase;
pub mod clock;
pub mod compress;
pub mod counters;
pub mod deliver;
pub mod distribution;
pub mod edge_cache;
pub mod error_page;
pub mod headers;
pub mod ids;
pub mod invalidation;
pub mod origin;
pub mod origin_group;
pub mod origin_request;
pub mod params;
pub mod pattern;
pub mod policy;
pub mod purge;
pub mod tee;
mod tier;
pub mod ttl;
pub mod viewer;

pub use tier::{apply_default_root_object, CdnTier};
