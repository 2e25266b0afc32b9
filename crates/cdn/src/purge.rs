//! Removing stored responses: CloudFront invalidations (the admin API and
//! [`CdnTier::invalidate`]) and, for the `UseOriginCacheControlHeaders` policies, RFC 9111 §4.4
//! invalidation after a successful unsafe request.

use crate::behavior::Behavior;
use crate::error_page::CdnError;
use crate::invalidation::{covers, key_resource, parse_request, Record};
use crate::tier::{Edge, Viewer};
use crate::CdnTier;
use edgeway_http::UpstreamBody;
use http::{Method, Response};
use serde_json::json;

/// An admin API answer: status and JSON body.
pub struct ApiReply {
    pub status: u16,
    pub body: String,
}

fn reply(status: u16, v: serde_json::Value) -> ApiReply {
    ApiReply {
        status,
        body: v.to_string(),
    }
}

fn error(status: u16, code: &str, message: &str) -> ApiReply {
    reply(
        status,
        json!({ "Error": { "Code": code, "Message": message } }),
    )
}

impl CdnTier {
    /// Invalidates normalized `paths` of `distribution` in every tier now; the record reads
    /// `InProgress` until [`Self::complete_invalidation`].
    pub fn invalidate(
        &self,
        distribution: &str,
        paths: Vec<String>,
        caller_reference: String,
    ) -> Option<Record> {
        let edge = self.edge(distribution)?;
        let removed = self.cache.purge(&|k: &str| {
            key_resource(k)
                .is_some_and(|(d, r)| d == distribution && paths.iter().any(|p| covers(p, r)))
        });
        edge.counters.invalidated.add(removed as u64);
        tracing::info!(distribution, ?paths, removed, "invalidation");
        Some(self.ledger.open(
            distribution,
            paths,
            caller_reference,
            removed,
            self.cache.now(),
        ))
    }

    /// Marks an invalidation completed.
    pub fn complete_invalidation(&self, distribution: &str, id: &str) {
        self.ledger.complete(distribution, id);
    }

    /// The invalidation API on the admin listener:
    /// `POST /distributions/{id}/invalidations` with `{"paths": [...]}` → 201,
    /// `GET /distributions/{id}/invalidations[/{inv}]`. `None` for paths that are not its own.
    pub fn admin_api(&self, method: &Method, path: &str, body: &[u8]) -> Option<ApiReply> {
        let rest = path.strip_prefix("/distributions/")?;
        let mut parts = rest.trim_end_matches('/').split('/');
        let (dist, what, inv) = (parts.next()?, parts.next()?, parts.next());
        if what != "invalidations" || parts.next().is_some() {
            return None;
        }
        if self.edge(dist).is_none() {
            return Some(error(
                404,
                "NoSuchDistribution",
                &format!("The specified distribution does not exist: {dist}"),
            ));
        }
        Some(match (method.as_str(), inv) {
            ("POST", None) => match parse_request(body) {
                Ok((paths, caller)) => match self.invalidate(dist, paths, caller) {
                    Some(r) => {
                        let out = reply(201, r.json(dist));
                        // The purge already happened; later reads see it completed.
                        self.complete_invalidation(dist, &r.id);
                        out
                    }
                    None => error(404, "NoSuchDistribution", dist),
                },
                Err(e) => error(400, "InvalidArgument", &e),
            },
            ("GET", Some(id)) => match self.ledger.get(dist, id) {
                Some(r) => reply(200, r.json(dist)),
                None => error(
                    404,
                    "NoSuchInvalidation",
                    &format!("The specified invalidation does not exist: {id}"),
                ),
            },
            ("GET", None) => {
                let items: Vec<_> = self
                    .ledger
                    .list(dist)
                    .iter()
                    .map(|r| r.json(dist)["Invalidation"].clone())
                    .collect();
                reply(
                    200,
                    json!({ "InvalidationList": { "Quantity": items.len(), "Items": items } }),
                )
            }
            _ => error(
                405,
                "MethodNotAllowed",
                "use POST /distributions/ID/invalidations or GET .../invalidations/INV",
            ),
        })
    }
}

impl Edge {
    /// RFC 9111 §4.4: a 2xx/3xx answer to an unsafe method removes what is stored for the
    /// target URI and same-host `Location`/`Content-Location` (every query and variant), when
    /// the behavior lets the origin decide (`UseOriginCacheControlHeaders`).
    pub(crate) fn invalidate_after_unsafe(
        &self,
        b: &Behavior,
        method: &Method,
        v: &Viewer<'_>,
        path: &str,
        fetched: &Result<Response<UpstreamBody>, CdnError>,
    ) {
        let Ok(resp) = fetched else { return };
        if !b.cache_policy.rfc_mode()
            || !edgeway_cache::invalidation::invalidates(method, resp.status())
        {
            return;
        }
        let host = v.host.unwrap_or("");
        let paths: Vec<String> =
            edgeway_cache::invalidation::invalidated_paths(path, host, resp.headers())
                .into_iter()
                .map(|p| p.split('?').next().unwrap_or("").to_string())
                .collect();
        let id = self.id.clone();
        let removed = self.cache.purge(&|k: &str| {
            key_resource(k).is_some_and(|(d, r)| {
                d == id
                    && paths
                        .iter()
                        .any(|p| r.split('?').next() == Some(p.as_str()))
            })
        });
        self.counters.invalidated.add(removed as u64);
    }
}
