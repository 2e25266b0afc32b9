//! The ALB tier: listeners, rules (host, path, header, method, query, source IP), actions
//! (forward with weights, redirect, fixed response), target groups, selection (round robin, least
//! outstanding requests, weighted random, fail-open), health checks and forwarding with ALB's
//! headers and status codes.
//!
//! The request path of a listener: accept → checks → rule match → action → target selection →
//! forward → map failures ([`error::error_response`]).
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)
)]

pub mod access_log;
pub mod action;
pub mod api;
pub mod condition;
pub mod cookie;
pub mod counters;
pub mod desync;
pub mod error;
pub mod forward;
pub mod headers;
pub mod health;
pub mod health_check;
pub mod listener;
pub mod load_balancer;
pub mod record;
pub mod rules;
pub mod select;
pub mod stream;
pub mod target_group;
mod tier;
pub mod wildcard;

pub use tier::AlbTier;

/// One row of DescribeTargetHealth.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetHealthDescription {
    /// `ip:port`.
    pub target: String,
    /// The target's IP (the API's `Target.Id`).
    pub id: String,
    pub port: u16,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining` or `unavailable`.
    pub state: String,
    /// AWS's reason code, e.g. `Target.ResponseCodeMismatch`.
    pub reason: Option<String>,
    pub description: Option<String>,
}
