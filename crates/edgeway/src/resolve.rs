//! The edge resolves origin names through edgeway's own DNS tier: an adapter from the DNS tier's
//! resolver to the HTTP client's `Resolve`.

use edgeway_http::Resolve;
use futures_util::future::BoxFuture;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub struct DnsResolve(Arc<edgeway_dns::Resolver>);

impl DnsResolve {
    pub fn new(nameservers: Vec<SocketAddr>) -> Self {
        Self(Arc::new(edgeway_dns::Resolver::new(nameservers)))
    }
}

impl Resolve for DnsResolve {
    fn resolve(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let r = self.0.clone();
        Box::pin(async move {
            r.lookup_ip(&host)
                .await
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()))
        })
    }
}
