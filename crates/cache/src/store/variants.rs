//! Vary-aware lookup and insertion over any [`Storage`].
//!
//! A response without `Vary` is stored under its primary key. A response with `Vary` is stored
//! under [`variant_key`]`(primary, secondary)` and a small [`EntryKind::VaryMarker`] under the
//! primary key records which request headers select the variant. A response with `Vary: *` is
//! stored under the primary key but matches no request ([`Lookup::VaryAny`]). A purge of the
//! primary key as a prefix removes the marker and every variant.

use std::sync::Arc;

use http::HeaderMap;

use super::{CachedResponse, EntryKind, Storage};
use crate::vary::{variant_key, VarySpec};

/// The result of a Vary-aware lookup.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// A stored response that matches the request.
    Hit(Arc<CachedResponse>),
    /// A stored response with `Vary: *`: it matches no request (RFC 9111 §4.1), so it is only
    /// a fallback (for example when the origin fails).
    VaryAny(Arc<CachedResponse>),
    /// Nothing stored for this request.
    Miss,
}

impl Lookup {
    /// The matching response, if any.
    pub fn hit(self) -> Option<Arc<CachedResponse>> {
        match self {
            Lookup::Hit(e) => Some(e),
            _ => None,
        }
    }
}

/// Finds the stored response for `request` under `primary`, following a Vary marker to the
/// variant the request's headers select.
pub fn lookup(store: &dyn Storage, primary: &str, request: &HeaderMap) -> Lookup {
    lookup_with(store, primary, || request)
}

/// [`lookup`] with the request's headers built only when a stored entry varies (most do not).
pub fn lookup_with<'a>(
    store: &dyn Storage,
    primary: &str,
    request: impl FnOnce() -> &'a HeaderMap,
) -> Lookup {
    let Some(entry) = store.get(primary) else {
        return Lookup::Miss;
    };
    match (entry.kind, &entry.vary) {
        (EntryKind::Response, VarySpec::None) => Lookup::Hit(entry),
        (EntryKind::Response, VarySpec::Any) => Lookup::VaryAny(entry),
        // A response with Vary stored directly under the primary key is checked in place.
        (EntryKind::Response, spec) => {
            if spec.matches(&entry.secondary_key, request()) {
                Lookup::Hit(entry)
            } else {
                Lookup::Miss
            }
        }
        (EntryKind::VaryMarker, spec) => {
            let Some(secondary) = spec.secondary_key(request()) else {
                return Lookup::Miss;
            };
            match store.get(&variant_key(primary, &secondary)) {
                Some(v) if v.kind == EntryKind::Response && v.secondary_key == secondary => {
                    Lookup::Hit(v)
                }
                _ => Lookup::Miss,
            }
        }
    }
}

/// Stores `response` (to `request`) under `primary`, keyed by its `Vary`. Returns false when
/// nothing was stored.
pub fn insert_response(
    store: &dyn Storage,
    primary: &str,
    request: &HeaderMap,
    mut response: CachedResponse,
) -> bool {
    let spec = VarySpec::from_headers(&response.headers);
    response.kind = EntryKind::Response;
    match &spec {
        VarySpec::None | VarySpec::Any => {
            response.vary = spec;
            response.secondary_key.clear();
            store.insert(primary, Arc::new(response))
        }
        VarySpec::Headers(_) => {
            let Some(secondary) = spec.secondary_key(request) else {
                return false;
            };
            let marker = CachedResponse::vary_marker(spec.clone(), response.freshness);
            response.vary = spec;
            response.secondary_key = secondary.clone();
            let stored = store.insert(&variant_key(primary, &secondary), Arc::new(response));
            let current = store.get(primary);
            let same_marker =
                current.is_some_and(|c| c.kind == EntryKind::VaryMarker && c.vary == marker.vary);
            if stored && !same_marker {
                return store.insert(primary, Arc::new(marker));
            }
            stored
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::StoreMetrics;
    use crate::store::{sample, MemoryStore};
    use http::{HeaderName, HeaderValue};

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn response(body: &'static [u8], vary: Option<&'static str>) -> CachedResponse {
        let mut r = sample(body);
        if let Some(v) = vary {
            r.headers
                .insert(http::header::VARY, HeaderValue::from_static(v));
        }
        r
    }

    fn body(l: Lookup) -> Option<Vec<u8>> {
        l.hit().map(|e| e.body.to_vec())
    }

    #[test]
    fn without_vary() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        assert!(matches!(lookup(&s, "/a", &hm(&[])), Lookup::Miss));
        assert!(insert_response(
            &s,
            "/a",
            &hm(&[]),
            response(b"plain", None)
        ));
        assert_eq!(
            body(lookup(&s, "/a", &hm(&[("accept-encoding", "br")]))),
            Some(b"plain".to_vec())
        );
    }

    #[test]
    fn variants_by_request_headers() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        let gzip = hm(&[("accept-encoding", "gzip")]);
        let br = hm(&[("Accept-Encoding", " br ")]);
        assert!(insert_response(
            &s,
            "/a",
            &gzip,
            response(b"gz", Some("Accept-Encoding"))
        ));
        assert_eq!(body(lookup(&s, "/a", &gzip)), Some(b"gz".to_vec()));
        assert!(matches!(lookup(&s, "/a", &br), Lookup::Miss));
        assert!(insert_response(
            &s,
            "/a",
            &br,
            response(b"brotli", Some("accept-encoding"))
        ));
        assert_eq!(
            body(lookup(&s, "/a", &hm(&[("accept-encoding", "br")]))),
            Some(b"brotli".to_vec())
        );
        assert_eq!(body(lookup(&s, "/a", &gzip)), Some(b"gz".to_vec()));
        assert!(matches!(lookup(&s, "/a", &hm(&[])), Lookup::Miss));
        assert_eq!(s.len(), 3, "one marker and two variants");
        // a purge of the primary key removes every variant
        assert_eq!(s.purge_prefix("/a"), 3);
        assert!(matches!(lookup(&s, "/a", &gzip), Lookup::Miss));
    }

    #[test]
    fn vary_star_matches_nothing() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        assert!(insert_response(
            &s,
            "/a",
            &hm(&[]),
            response(b"star", Some("*"))
        ));
        match lookup(&s, "/a", &hm(&[])) {
            Lookup::VaryAny(e) => assert_eq!(e.body.as_ref(), b"star"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vary_changes_over_time() {
        let s = MemoryStore::new(1 << 20, StoreMetrics::detached());
        let gzip = hm(&[("accept-encoding", "gzip")]);
        insert_response(&s, "/a", &gzip, response(b"v1", Some("accept-encoding")));
        // the origin stops varying: the plain response replaces the marker
        insert_response(&s, "/a", &gzip, response(b"v2", None));
        assert_eq!(body(lookup(&s, "/a", &gzip)), Some(b"v2".to_vec()));
        // and starts again, on another header
        insert_response(
            &s,
            "/a",
            &hm(&[("x-lang", "en")]),
            response(b"v3", Some("X-Lang")),
        );
        assert_eq!(
            body(lookup(&s, "/a", &hm(&[("x-lang", "en")]))),
            Some(b"v3".to_vec())
        );
        assert!(matches!(
            lookup(&s, "/a", &hm(&[("x-lang", "fr")])),
            Lookup::Miss
        ));
    }
}
