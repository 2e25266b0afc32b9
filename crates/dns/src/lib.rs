//! The Route 53 tier: an authoritative DNS server for the configured `[[zone]]`s, whose alias
//! records answer with the current listen addresses of the tier they name, and the small resolver
//! the edge (and the CLI) uses to resolve names through it.
//!
//! - [`Authority`] turns the config into answers: [`Authority::answer`] is a pure function from a
//!   request [`Message`] to a response.
//! - [`serve`] runs the UDP and TCP loops on already-bound sockets.
//! - [`query`], [`Resolver`] and [`format_short`] are the client side.
//!
//! See `docs/dns.md` for the behaviour and how it differs from Route 53.

#![forbid(unsafe_code)]

mod authority;
mod client;
mod error;
mod format;
mod geo;
mod health;
mod records;
mod resolver;
mod routing;
mod wire;
mod zone;

pub use authority::{AliasAddresses, Answer, AnsweredSet, Authority};
pub use client::query;
pub use error::DnsError;
pub use format::format_short;
pub use health::{AliasHealth, CheckStatus, HealthChecks};
pub use resolver::Resolver;
pub use routing::{alias_key, AllHealthy, FixedHealth, Health};
pub use wire::server::{serve, serve_with, ServeOptions};

/// Re-exported so that callers name the same `Message` and `RecordType` types as this crate.
pub use hickory_proto::op::Message;
pub use hickory_proto::rr::RecordType;
