//! Protocol glue shared by every tier: serving HTTP/1.1 and HTTP/2 over TCP or TLS with limits and
//! graceful shutdown, the local certificate authority, upstream clients, header helpers and the
//! counters registry. Knows nothing about CloudFront or ALB.
#![forbid(unsafe_code)]

mod activity;
pub mod body;
pub mod ca;
mod chunked;
pub mod client;
mod connect;
mod date;
mod head_shape;
mod header_names;
pub mod headers;
pub mod metrics;
mod pool;
pub mod prelude;
pub mod request_body;
pub mod serve;
mod server_conn;
mod server_wire;
pub mod tls;
pub mod upstream_body;
mod wire;
mod wire_body;

pub use body::{empty, full, Body, BoxError};
pub use client::{ClientOptions, Resolve, SystemResolve, UpstreamClient, UpstreamError};
pub use request_body::RequestBody;
pub use serve::{serve, ConnInfo, Handler, ServeOptions, TlsInfo};
pub use upstream_body::UpstreamBody;
