//! Whether and for how long the edge stores an origin response: CloudFront's TTL rules
//! (§1.2/§1.3, `cloudfront_ttl`) for every policy, except the `UseOriginCacheControlHeaders`
//! policies, where the edge is an RFC 9111 shared cache (CDN-Cache-Control over Cache-Control,
//! §3 storability with the Authorization rule, no heuristic freshness) clamped to the policy's
//! min/max TTL.

use crate::policy::CachePolicyResolved;
use edgeway_cache::cloudfront::{cloudfront_ttl, TtlPolicy};
use edgeway_cache::freshness::{
    corrected_initial_age, freshness_lifetime, status_understood, storable, CacheOptions,
};
use edgeway_cache::{Freshness, ResponseDirectives};
use http::{HeaderMap, Method, StatusCode};
use std::time::{Duration, SystemTime};

/// What to do with one origin response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreDecision {
    pub store: bool,
    pub freshness: Freshness,
    /// Concurrent misses for this object may share one origin fetch.
    pub collapse: bool,
}

/// The facts of one origin exchange the decision needs.
pub struct Exchange<'a> {
    pub method: &'a Method,
    pub status: StatusCode,
    /// The origin's response headers, before the edge cleans them.
    pub headers: &'a HeaderMap,
    /// `Authorization` went to the origin.
    pub authorization: bool,
    pub request_time: SystemTime,
    pub response_time: SystemTime,
    /// `custom_error_response.error_caching_min_ttl` for this status, when configured.
    pub error_caching_min_ttl: Option<Duration>,
    /// How far the cache's clock runs ahead of the origin's (the test clock's offset): the
    /// origin's `Date` and `Expires` are moved by it.
    pub skew: Duration,
}

fn parse(policy: &CachePolicyResolved, x: &Exchange<'_>) -> ResponseDirectives {
    let mut d = directives(policy, x.headers);
    d.date = d.date.map(|t| t + x.skew);
    d.expires = d.expires.map(|t| t + x.skew);
    d
}

impl CachePolicyResolved {
    /// The managed `UseOriginCacheControlHeaders` policies: the origin decides, RFC 9111 rules.
    pub fn rfc_mode(&self) -> bool {
        self.name.starts_with("UseOriginCacheControlHeaders")
    }

    fn ttl_policy(&self) -> TtlPolicy {
        TtlPolicy {
            min_ttl: Duration::from_secs(self.min_ttl),
            default_ttl: Duration::from_secs(self.default_ttl),
            max_ttl: Duration::from_secs(self.max_ttl),
        }
    }
}

/// The directives the edge reads under `policy`: `CDN-Cache-Control` first in RFC mode,
/// `Cache-Control` only otherwise (CloudFront ignores `CDN-Cache-Control`).
pub fn directives(policy: &CachePolicyResolved, headers: &HeaderMap) -> ResponseDirectives {
    if policy.rfc_mode() {
        ResponseDirectives::from_headers(headers)
    } else {
        ResponseDirectives::with_targets(headers, &[])
    }
}

/// The decision for `x` under `policy`.
pub fn decide(policy: &CachePolicyResolved, x: &Exchange<'_>) -> StoreDecision {
    let not_stored = |collapse| StoreDecision {
        store: false,
        freshness: zero(x.response_time),
        collapse,
    };
    if policy.caching_disabled() || !status_understood(x.status) {
        return not_stored(false);
    }
    if policy.rfc_mode() {
        return rfc(policy, x);
    }
    let d = parse(policy, x);
    let t = cloudfront_ttl(
        &d,
        &policy.ttl_policy(),
        x.status,
        x.response_time,
        x.error_caching_min_ttl,
    );
    if !t.store {
        return not_stored(t.collapse);
    }
    let age = corrected_initial_age(d.age, d.date, x.request_time, x.response_time);
    StoreDecision {
        store: true,
        freshness: t.freshness(age, x.response_time),
        collapse: t.collapse,
    }
}

fn zero(at: SystemTime) -> Freshness {
    Freshness {
        lifetime: Duration::ZERO,
        initial_age: Duration::ZERO,
        response_time: at,
        stale_while_revalidate: Duration::ZERO,
        stale_if_error: None,
        must_revalidate: false,
        no_cache: true,
    }
}

/// RFC 9111 as a shared cache (RFC 9213 targeted field first), lifetimes clamped to the
/// policy's TTLs; error statuses are stored only with explicit freshness, or for a configured
/// `error_caching_min_ttl`.
fn rfc(policy: &CachePolicyResolved, x: &Exchange<'_>) -> StoreDecision {
    let d = parse(policy, x);
    let cc = &d.cache_control;
    let no_collapse = cc.no_store
        || cc.private.is_some()
        || cc.no_cache.is_some()
        || d.max_age_shared() == Some(0);
    let error = x.status.is_client_error() || x.status.is_server_error();
    let explicit = freshness_lifetime(&d, x.status, x.response_time, &CacheOptions::default());
    let mut f = Freshness::shared_cache(
        &d,
        x.status,
        x.request_time,
        x.response_time,
        &CacheOptions::default(),
    );
    if storable(x.method, x.authorization, x.status, &d).is_err() {
        return StoreDecision {
            store: false,
            freshness: f,
            collapse: !no_collapse,
        };
    }
    if error && explicit.is_none() {
        // No explicit freshness: only a configured error_caching_min_ttl stores an error.
        match x.error_caching_min_ttl.filter(|t| !t.is_zero()) {
            Some(t) if edgeway_cache::cloudfront::always_cached_error(x.status) => f.lifetime = t,
            _ => {
                return StoreDecision {
                    store: false,
                    freshness: f,
                    collapse: true,
                }
            }
        }
    } else {
        let min = Duration::from_secs(policy.min_ttl);
        let max = Duration::from_secs(policy.max_ttl);
        f.lifetime = f.lifetime.min(max).max(min);
    }
    // CloudFront serves an expired copy when the origin fails, unless the origin says otherwise.
    if f.stale_if_error.is_none() {
        f.stale_if_error = Some(Duration::from_secs(u64::from(
            edgeway_cache::cache_control::DELTA_SECONDS_MAX,
        )));
    }
    StoreDecision {
        store: true,
        freshness: f,
        collapse: !no_collapse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::KeyConfig;
    use edgeway_cache::Reuse;
    use http::{HeaderName, HeaderValue};

    fn policy(name: &str, min: u64, default: u64, max: u64) -> CachePolicyResolved {
        CachePolicyResolved {
            name: name.into(),
            min_ttl: min,
            default_ttl: default,
            max_ttl: max,
            key: KeyConfig::default(),
        }
    }

    fn run(
        p: &CachePolicyResolved,
        status: u16,
        headers: &[(&str, &str)],
        auth: bool,
    ) -> StoreDecision {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap_or(HeaderName::from_static("x")),
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        decide(
            p,
            &Exchange {
                method: &Method::GET,
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                headers: &h,
                authorization: auth,
                request_time: now,
                response_time: now,
                error_caching_min_ttl: None,
                skew: Duration::ZERO,
            },
        )
    }

    #[test]
    fn cloudfront_and_rfc_modes() {
        let opt = policy("CachingOptimized", 1, 86_400, 31_536_000);
        let legacy0 = policy("legacy", 0, 86_400, 31_536_000);
        let uoch = policy("UseOriginCacheControlHeaders", 0, 0, 31_536_000);
        let off = policy("CachingDisabled", 0, 0, 0);
        // (policy, status, headers, authorization, stored, lifetime secs, collapse)
        let rows: Vec<(
            &CachePolicyResolved,
            u16,
            Vec<(&str, &str)>,
            bool,
            bool,
            u64,
            bool,
        )> = vec![
            (&opt, 200, vec![], false, true, 86_400, true),
            (
                &opt,
                200,
                vec![("cache-control", "max-age=60")],
                false,
                true,
                60,
                true,
            ),
            (
                &opt,
                200,
                vec![("cache-control", "max-age=60, s-maxage=5")],
                false,
                true,
                5,
                true,
            ),
            (
                &opt,
                200,
                vec![("cache-control", "no-store")],
                false,
                true,
                1,
                true,
            ),
            (
                &legacy0,
                200,
                vec![("cache-control", "no-store")],
                false,
                false,
                0,
                false,
            ),
            (
                &legacy0,
                200,
                vec![("cache-control", "max-age=0")],
                false,
                true,
                0,
                false,
            ),
            (&opt, 206, vec![], false, false, 0, false),
            (
                &off,
                200,
                vec![("cache-control", "max-age=60")],
                false,
                false,
                0,
                false,
            ),
            (&opt, 404, vec![], false, true, 10, true),
            (
                &opt,
                416,
                vec![("cache-control", "max-age=60")],
                false,
                false,
                0,
                false,
            ),
            // CDN-Cache-Control is honoured only in RFC mode.
            (
                &opt,
                200,
                vec![
                    ("cache-control", "max-age=60"),
                    ("cdn-cache-control", "max-age=5"),
                ],
                false,
                true,
                60,
                true,
            ),
            (
                &uoch,
                200,
                vec![
                    ("cache-control", "max-age=60"),
                    ("cdn-cache-control", "max-age=5"),
                ],
                false,
                true,
                5,
                true,
            ),
            (&uoch, 200, vec![], false, true, 0, true),
            (
                &uoch,
                200,
                vec![("cache-control", "private, max-age=60")],
                false,
                false,
                0,
                false,
            ),
            (
                &uoch,
                200,
                vec![("cache-control", "max-age=60")],
                true,
                false,
                0,
                true,
            ),
            (
                &uoch,
                200,
                vec![("cache-control", "s-maxage=60")],
                true,
                true,
                60,
                true,
            ),
            (&uoch, 500, vec![], false, false, 0, true),
            (
                &uoch,
                500,
                vec![("cache-control", "max-age=30")],
                false,
                true,
                30,
                true,
            ),
        ];
        for (i, (p, status, h, auth, store, life, collapse)) in rows.into_iter().enumerate() {
            let d = run(p, status, &h, auth);
            assert_eq!(d.store, store, "row {i}");
            if store {
                assert_eq!(d.freshness.lifetime, Duration::from_secs(life), "row {i}");
            }
            assert_eq!(d.collapse, collapse, "row {i}");
        }
    }

    #[test]
    fn min_ttl_override_revalidates_every_time() {
        let d = run(
            &policy("CachingOptimized", 1, 86_400, 31_536_000),
            200,
            &[("cache-control", "no-cache")],
            false,
        );
        assert!(d.store);
        assert_eq!(
            d.freshness.reuse(d.freshness.response_time),
            Reuse::Revalidate
        );
        assert!(d.freshness.can_serve_on_error(d.freshness.response_time));
    }
}
