//! The CloudFront tier: distributions chosen by Host, cache behaviors by path pattern, the viewer
//! protocol policy, allowed methods, cache and origin request policies, origin requests with
//! CloudFront's headers, and CloudFront's error pages.
//!
//! The life of a request is [`tier`]'s `Edge::respond`; each phase is a small module here.
#![forbid(unsafe_code)]
// Table tests spell their rows out.
#![cfg_attr(test, allow(clippy::type_complexity))]

pub mod behavior;
pub mod body;
pub mod cache_key;
pub mod counters;
pub mod distribution;
pub mod error_page;
pub mod headers;
pub mod ids;
pub mod origin;
pub mod origin_request;
pub mod params;
pub mod pattern;
pub mod policy;
mod tier;
pub mod viewer;

pub use tier::{apply_default_root_object, CdnTier};
