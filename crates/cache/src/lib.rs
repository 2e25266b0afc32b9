//! The edge's HTTP cache: RFC 9111 freshness and cacheability as pure functions, storage tiers
//! (memory bounded in bytes, disk surviving restarts), request coalescing and purge.
//!
//! Knows nothing about CloudFront, except [`cloudfront`], which keeps CloudFront's TTL rules as
//! one pure function beside the RFC code it builds on.
#![forbid(unsafe_code)]
// Table tests spell their rows out.
#![cfg_attr(test, allow(clippy::type_complexity, clippy::unwrap_used, clippy::expect_used))]

pub mod cache_control;
pub mod cloudfront;
pub mod conditional;
pub mod freshness;
pub mod http_date;
pub mod range;
pub mod vary;
