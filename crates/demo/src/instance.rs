//! The state one demo target keeps: who it is, whether it is healthy, how much it has served.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use http::HeaderValue;

use crate::{page, reply};

/// One demo target's identity and run-time state, shared by its connections.
#[derive(Debug)]
pub struct Instance {
    id: String,
    id_header: HeaderValue,
    index_page: Bytes,
    healthy: AtomicBool,
    requests: AtomicU64,
}

impl Instance {
    /// A healthy instance named `id` that has served nothing yet.
    pub fn new(id: String) -> Self {
        Instance {
            id_header: reply::header_value(&id),
            index_page: Bytes::from(page::index(&id)),
            id,
            healthy: AtomicBool::new(true),
            requests: AtomicU64::new(0),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id as an `X-Instance-Id` value (bytes a header cannot carry become `_`).
    pub fn id_header(&self) -> &HeaderValue {
        &self.id_header
    }

    /// The storefront page, rendered once for this instance.
    pub fn index_page(&self) -> Bytes {
        self.index_page.clone()
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        let was = self.healthy.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            tracing::info!(instance = %self.id, healthy, "demo target health switched");
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}
