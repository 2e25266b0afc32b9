//! Built-in demo targets: the "Roboshop" storefront, served by hyper directly (HTTP/1.1 and h2c).
//!
//! A [`DemoTarget`] stands in for an EC2 instance or ECS task behind the load balancer. Every response
//! names the instance in `X-Instance-Id`, so balancing, stickiness and failover are visible.
//!
//! Routes:
//! - `/`, `/index.html`: the storefront page (`Cache-Control: no-cache`).
//! - `/static/app.css`, `/static/app.js`: `max-age=3600`, ETag.
//! - `/images/{product}.png`: robot portraits, `max-age=86400`, ETag, `If-None-Match`.
//! - `/media/intro.bin`: 1 MiB of deterministic bytes with ETag and single-range `Range` support.
//! - `/api/echo`: the request as JSON; `/api/slow?ms=N`; `/api/status/N` (200..=599, else 400).
//! - `/health` (200 `ok` / 503 `unhealthy`) and `POST /_demo/health` with body `ok` or `fail`.
#![forbid(unsafe_code)]

mod assets;
mod catalog;
mod conditional;
mod echo;
mod images;
mod instance;
mod media;
mod page;
mod png;
mod range;
mod reply;
mod routes;
mod server;

use std::future::Future;
use std::sync::Arc;

use instance::Instance;

/// A demo target: a cloneable handle on one storefront instance's state.
#[derive(Debug, Clone)]
pub struct DemoTarget {
    instance: Arc<Instance>,
}

impl DemoTarget {
    /// A healthy target named `id` (shown in `X-Instance-Id` and on its pages).
    pub fn new(id: impl Into<String>) -> Self {
        DemoTarget {
            instance: Arc::new(Instance::new(id.into())),
        }
    }

    pub fn id(&self) -> &str {
        self.instance.id()
    }

    /// Make `/health` answer 200 (`true`) or 503 (`false`).
    pub fn set_healthy(&self, healthy: bool) {
        self.instance.set_healthy(healthy);
    }

    /// Whether `/health` currently answers 200.
    pub fn is_healthy(&self) -> bool {
        self.instance.is_healthy()
    }

    /// Requests served so far (all paths, including `/health`).
    pub fn requests(&self) -> u64 {
        self.instance.requests()
    }

    /// Serve on an already-bound listener until `shutdown` resolves; in-flight requests finish.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        server::serve(self.instance, listener, shutdown).await
    }
}
