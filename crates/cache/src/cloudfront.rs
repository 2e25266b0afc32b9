//! CloudFront's TTL rules, as a pure function kept apart from the generic RFC 9111 code.
//!
//! The rest of this crate knows nothing about CloudFront; this file exists here only because the
//! rules are a function of the same parsed directives and are easiest to table-test beside them.
//! It follows `aws-semantics.md` §1.2 (TTLs and Cache-Control) and §1.3 (error caching):
//! `s-maxage` over `max-age` over `Expires`, clamped to [min_ttl, max_ttl]; `default_ttl` only
//! without origin freshness; `no-cache`/`no-store`/`private` respected when min_ttl = 0 and
//! overridden (cached for min_ttl, still revalidated every request) when min_ttl > 0; error
//! statuses cached per `error_caching_min_ttl`.

use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::cache_control::{FieldDirective, DELTA_SECONDS_MAX};
use crate::freshness::{secs, Freshness, ResponseDirectives};
use crate::vary::VarySpec;

/// CloudFront's default `default_ttl` (one day).
pub const DEFAULT_DEFAULT_TTL: Duration = Duration::from_secs(86_400);
/// CloudFront's default `max_ttl` (one year).
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(31_536_000);
/// CloudFront's default `error_caching_min_ttl`.
pub const DEFAULT_ERROR_CACHING_MIN_TTL: Duration = Duration::from_secs(10);

/// A cache policy's (or legacy behavior's) TTL triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlPolicy {
    pub min_ttl: Duration,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
}

impl TtlPolicy {
    /// The triple with CloudFront's defaults for missing values: default 86400 (or min when
    /// min > 86400), max 31536000 (or the default when min or default exceed it).
    pub fn with_defaults(
        min_ttl: u64,
        default_ttl: Option<u64>,
        max_ttl: Option<u64>,
    ) -> TtlPolicy {
        let one_day = DEFAULT_DEFAULT_TTL.as_secs();
        let one_year = DEFAULT_MAX_TTL.as_secs();
        let default_ttl = default_ttl.unwrap_or(if min_ttl > one_day { min_ttl } else { one_day });
        let max_ttl = max_ttl.unwrap_or(if min_ttl > one_year || default_ttl > one_year {
            default_ttl.max(min_ttl)
        } else {
            one_year
        });
        TtlPolicy {
            min_ttl: Duration::from_secs(min_ttl),
            default_ttl: Duration::from_secs(default_ttl),
            max_ttl: Duration::from_secs(max_ttl),
        }
    }

    /// All three TTLs 0: caching is disabled (managed `CachingDisabled`).
    pub fn caching_disabled(&self) -> bool {
        self.min_ttl.is_zero() && self.default_ttl.is_zero() && self.max_ttl.is_zero()
    }

    fn clamp(&self, ttl: Duration) -> Duration {
        // max_ttl below min_ttl is a config error; min wins, as CloudFront's "at least min".
        ttl.min(self.max_ttl).max(self.min_ttl)
    }
}

/// Where a TTL came from (for logs and `explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlSource {
    /// `s-maxage`, clamped.
    SMaxAge,
    /// `max-age`, clamped.
    MaxAge,
    /// `Expires − now`, clamped.
    Expires,
    /// No origin freshness: max(min_ttl, default_ttl).
    DefaultTtl,
    /// `no-cache`/`no-store`/`private` overridden by min_ttl > 0.
    MinTtlOverride,
    /// An error status cached per `error_caching_min_ttl`.
    ErrorCaching,
    /// Not stored: the policy's TTLs are all 0.
    CachingDisabled,
    /// Not stored: `no-cache`/`no-store`/`private` with min_ttl = 0.
    OriginForbids,
    /// Not stored: a status CloudFront never caches (or caches only with max-age).
    StatusNotCached,
}

/// What CloudFront does with one origin response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlDecision {
    /// Store the response at all.
    pub store: bool,
    /// How long it is fresh (0 = revalidate on every request).
    pub ttl: Duration,
    /// Where the TTL came from.
    pub source: TtlSource,
    /// Go to the origin on every request even within the TTL, serving the stored copy only when
    /// the origin fails (min_ttl > 0 with `no-cache`/`no-store`/`private`; `Vary: *` with
    /// min_ttl = 0).
    pub revalidate_every_request: bool,
    /// Revalidate with `If-None-Match`/`If-Modified-Since` (false for `Vary: *` with min_ttl = 0).
    pub conditional_revalidation: bool,
    /// Concurrent misses for this object may be collapsed into one origin fetch.
    pub collapse: bool,
    /// `stale-while-revalidate` from the origin.
    pub stale_while_revalidate: Option<Duration>,
    /// How long past expiry the stored copy may be served when the origin errs or times out.
    /// CloudFront serves it without bound by default; the origin's `stale-if-error=N` bounds
    /// it and `stale-if-error=0` suppresses it.
    pub stale_if_error: Duration,
    /// `must-revalidate`/`proxy-revalidate` from the origin: never served stale.
    pub must_revalidate: bool,
}

impl TtlDecision {
    fn not_stored(source: TtlSource) -> TtlDecision {
        TtlDecision {
            store: false,
            ttl: Duration::ZERO,
            source,
            revalidate_every_request: true,
            conditional_revalidation: false,
            collapse: false,
            stale_while_revalidate: None,
            stale_if_error: Duration::ZERO,
            must_revalidate: false,
        }
    }

    /// The freshness to store with the response. `initial_age` is the response's
    /// `corrected_initial_age` (see [`crate::freshness::corrected_initial_age`]): an origin `Age`
    /// shortens the time left, as it does for any HTTP cache.
    pub fn freshness(&self, initial_age: Duration, response_time: SystemTime) -> Freshness {
        Freshness {
            lifetime: self.ttl,
            initial_age,
            response_time,
            stale_while_revalidate: self.stale_while_revalidate.unwrap_or(Duration::ZERO),
            stale_if_error: Some(self.stale_if_error),
            must_revalidate: self.must_revalidate,
            no_cache: self.revalidate_every_request,
        }
    }
}

/// Error statuses CloudFront always caches (for `error_caching_min_ttl`, default 10 s).
pub fn always_cached_error(status: StatusCode) -> bool {
    matches!(status.as_u16(), 404 | 414 | 500 | 501 | 502 | 503 | 504)
}

/// Error statuses CloudFront caches only when the origin sent `max-age` or `s-maxage`.
pub fn conditionally_cached_error(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 403 | 405 | 412 | 415)
}

/// CloudFront's decision for one origin response: whether to store it, for how long, and how to
/// treat it when stale. `now` is when the response arrived (for `Expires − now`);
/// `error_caching_min_ttl` is the `custom_error_response` value for this status, `None` for the
/// 10 s default.
pub fn cloudfront_ttl(
    origin: &ResponseDirectives,
    policy: &TtlPolicy,
    status: StatusCode,
    now: SystemTime,
    error_caching_min_ttl: Option<Duration>,
) -> TtlDecision {
    if policy.caching_disabled() {
        return TtlDecision::not_stored(TtlSource::CachingDisabled);
    }
    let cc = &origin.cache_control;
    let forbids =
        cc.no_store || cc.private.is_some() || matches!(cc.no_cache, Some(FieldDirective::All));
    let origin_age = origin.max_age_shared().map(secs);
    let expires_ttl = origin
        .expires
        .map(|e| e.duration_since(now).unwrap_or(Duration::ZERO));
    let stale_if_error = cc.stale_if_error.map_or(secs(DELTA_SECONDS_MAX), secs);
    let stored = |ttl: Duration, source: TtlSource| TtlDecision {
        store: true,
        ttl,
        source,
        revalidate_every_request: false,
        conditional_revalidation: true,
        collapse: true,
        stale_while_revalidate: cc.stale_while_revalidate.map(secs),
        stale_if_error,
        must_revalidate: cc.must_revalidate || cc.proxy_revalidate,
    };

    let code = status.as_u16();
    if status.is_client_error() || status.is_server_error() {
        let cached = always_cached_error(status)
            || (conditionally_cached_error(status) && origin_age.is_some());
        if !cached {
            return TtlDecision::not_stored(TtlSource::StatusNotCached);
        }
        if forbids && matches!(code, 404 | 410 | 414 | 501) {
            return TtlDecision::not_stored(TtlSource::OriginForbids);
        }
        let min = error_caching_min_ttl.unwrap_or(DEFAULT_ERROR_CACHING_MIN_TTL);
        let header = if forbids {
            None
        } else {
            origin_age.or(expires_ttl).map(|t| t.min(policy.max_ttl))
        };
        let ttl = header.map_or(min, |h| h.max(min));
        if ttl.is_zero() {
            return TtlDecision::not_stored(TtlSource::ErrorCaching);
        }
        // Errors are never served stale in place of a fresher error.
        return TtlDecision {
            stale_if_error: Duration::ZERO,
            ..stored(ttl, TtlSource::ErrorCaching)
        };
    }
    if status.is_informational() || status == StatusCode::NOT_MODIFIED {
        return TtlDecision::not_stored(TtlSource::StatusNotCached);
    }

    let zero_min = policy.min_ttl.is_zero();
    if forbids {
        if zero_min {
            return TtlDecision::not_stored(TtlSource::OriginForbids);
        }
        return TtlDecision {
            revalidate_every_request: true,
            ..stored(policy.min_ttl, TtlSource::MinTtlOverride)
        };
    }
    let mut d = if let Some(s) = cc.s_maxage {
        stored(policy.clamp(secs(s)), TtlSource::SMaxAge)
    } else if let Some(m) = cc.max_age {
        stored(policy.clamp(secs(m)), TtlSource::MaxAge)
    } else if let Some(e) = expires_ttl {
        stored(policy.clamp(e), TtlSource::Expires)
    } else {
        stored(
            policy.min_ttl.max(policy.default_ttl),
            TtlSource::DefaultTtl,
        )
    };
    if zero_min && origin_age == Some(Duration::ZERO) {
        d.collapse = false;
    }
    if zero_min && origin.vary == VarySpec::Any {
        d.revalidate_every_request = true;
        d.conditional_revalidation = false;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderName, HeaderValue};
    use std::time::UNIX_EPOCH;

    const T0: u64 = 1_700_000_000;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn directives(pairs: &[(&str, String)]) -> ResponseDirectives {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        // CloudFront reads Cache-Control only.
        ResponseDirectives::with_targets(&h, &[])
    }

    fn date(s: u64) -> String {
        crate::http_date::format_http_date(at(s))
    }

    fn p(min: u64, default: u64, max: u64) -> TtlPolicy {
        TtlPolicy::with_defaults(min, Some(default), Some(max))
    }

    #[test]
    fn policy_defaults_table() {
        // §1.2 "TTL triple" legacy defaults
        let rows: &[(u64, Option<u64>, Option<u64>, (u64, u64, u64))] = &[
            (0, None, None, (0, 86_400, 31_536_000)),
            (1, None, None, (1, 86_400, 31_536_000)),
            (100_000, None, None, (100_000, 100_000, 31_536_000)),
            (0, Some(40_000_000), None, (0, 40_000_000, 40_000_000)),
            (40_000_000, None, None, (40_000_000, 40_000_000, 40_000_000)),
            (2, Some(2), Some(600), (2, 2, 600)),
        ];
        for (min, def, max, (wmin, wdef, wmax)) in rows {
            let got = TtlPolicy::with_defaults(*min, *def, *max);
            assert_eq!(got, p(*wmin, *wdef, *wmax), "{min} {def:?} {max:?}");
        }
        assert!(p(0, 0, 0).caching_disabled());
        assert!(!p(0, 0, 1).caching_disabled());
    }

    struct Row {
        name: &'static str,
        headers: Vec<(&'static str, String)>,
        status: u16,
        policy: TtlPolicy,
        error_min: Option<u64>,
        store: bool,
        ttl: u64,
        source: TtlSource,
    }

    fn row(
        name: &'static str,
        headers: Vec<(&'static str, String)>,
        status: u16,
        policy: TtlPolicy,
        store: bool,
        ttl: u64,
        source: TtlSource,
    ) -> Row {
        Row {
            name,
            headers,
            status,
            policy,
            error_min: None,
            store,
            ttl,
            source,
        }
    }

    fn cc(v: &str) -> Vec<(&'static str, String)> {
        vec![("cache-control", v.to_string())]
    }

    #[test]
    fn ttl_table_section_1_2() {
        use TtlSource::*;
        let std = p(0, 86_400, 31_536_000);
        let min5 = p(5, 86_400, 31_536_000);
        let tight = p(10, 100, 1000);
        let rows = vec![
            // Origin sends max-age only: clamp(max-age, min, max)
            row(
                "max-age within bounds",
                cc("max-age=600"),
                200,
                std,
                true,
                600,
                MaxAge,
            ),
            row(
                "max-age above max_ttl",
                cc("max-age=5000"),
                200,
                tight,
                true,
                1000,
                MaxAge,
            ),
            row(
                "max-age below min_ttl",
                cc("max-age=3"),
                200,
                tight,
                true,
                10,
                MaxAge,
            ),
            // s-maxage wins over max-age, clamped the same way
            row(
                "s-maxage over max-age",
                cc("max-age=600, s-maxage=30"),
                200,
                std,
                true,
                30,
                SMaxAge,
            ),
            row(
                "s-maxage clamped to max",
                cc("s-maxage=5000, max-age=1"),
                200,
                tight,
                true,
                1000,
                SMaxAge,
            ),
            row(
                "s-maxage clamped to min",
                cc("s-maxage=1"),
                200,
                tight,
                true,
                10,
                SMaxAge,
            ),
            // Expires only: clamp(Expires − now)
            row(
                "expires only",
                vec![("expires", date(T0 + 300))],
                200,
                std,
                true,
                300,
                Expires,
            ),
            row(
                "expires above max",
                vec![("expires", date(T0 + 3000))],
                200,
                tight,
                true,
                1000,
                Expires,
            ),
            row(
                "expires in the past",
                vec![("expires", date(T0 - 300))],
                200,
                tight,
                true,
                10,
                Expires,
            ),
            row(
                "invalid expires is past",
                vec![("expires", "0".into())],
                200,
                std,
                true,
                0,
                Expires,
            ),
            // Expires is measured from now, not from Date
            row(
                "expires minus now not date",
                vec![("expires", date(T0 + 300)), ("date", date(T0 - 1000))],
                200,
                std,
                true,
                300,
                Expires,
            ),
            // max-age and Expires: only max-age
            row(
                "max-age beats expires",
                vec![
                    ("cache-control", "max-age=60".into()),
                    ("expires", date(T0 + 3000)),
                ],
                200,
                std,
                true,
                60,
                MaxAge,
            ),
            // no freshness info: max(min, default)
            row(
                "no headers: default",
                vec![],
                200,
                std,
                true,
                86_400,
                DefaultTtl,
            ),
            row(
                "no headers: min above default",
                vec![],
                200,
                p(500, 100, 1000),
                true,
                500,
                DefaultTtl,
            ),
            row(
                "public only: default",
                cc("public"),
                200,
                tight,
                true,
                100,
                DefaultTtl,
            ),
            row(
                "no-cache with field: default",
                cc("no-cache=\"set-cookie\""),
                200,
                tight,
                true,
                100,
                DefaultTtl,
            ),
            // no-cache / no-store / private with min_ttl = 0: not stored
            row(
                "no-cache min 0",
                cc("no-cache"),
                200,
                std,
                false,
                0,
                OriginForbids,
            ),
            row(
                "no-store min 0",
                cc("no-store"),
                200,
                std,
                false,
                0,
                OriginForbids,
            ),
            row(
                "private min 0",
                cc("private, max-age=60"),
                200,
                std,
                false,
                0,
                OriginForbids,
            ),
            row(
                "private=field min 0",
                cc("private=\"x\""),
                200,
                std,
                false,
                0,
                OriginForbids,
            ),
            // ... with min_ttl > 0: cached for min_ttl
            row(
                "no-cache min 5",
                cc("no-cache"),
                200,
                min5,
                true,
                5,
                MinTtlOverride,
            ),
            row(
                "no-store min 5",
                cc("no-store, max-age=600"),
                200,
                min5,
                true,
                5,
                MinTtlOverride,
            ),
            row(
                "private min 5",
                cc("private"),
                200,
                min5,
                true,
                5,
                MinTtlOverride,
            ),
            // max-age=0 / s-maxage=0: TTL 0 (revalidate every request)
            row("max-age=0", cc("max-age=0"), 200, std, true, 0, MaxAge),
            row(
                "s-maxage=0",
                cc("s-maxage=0, max-age=60"),
                200,
                std,
                true,
                0,
                SMaxAge,
            ),
            row(
                "max-age=0 with min",
                cc("max-age=0"),
                200,
                min5,
                true,
                5,
                MaxAge,
            ),
            // Policy TTLs all 0: caching disabled
            row(
                "caching disabled",
                cc("max-age=600"),
                200,
                p(0, 0, 0),
                false,
                0,
                CachingDisabled,
            ),
            row(
                "caching disabled, no headers",
                vec![],
                200,
                p(0, 0, 0),
                false,
                0,
                CachingDisabled,
            ),
            // Managed CachingOptimized (1/86400/31536000)
            row(
                "CachingOptimized no headers",
                vec![],
                200,
                p(1, 86_400, 31_536_000),
                true,
                86_400,
                DefaultTtl,
            ),
            row(
                "CachingOptimized no-store",
                cc("no-store"),
                200,
                p(1, 86_400, 31_536_000),
                true,
                1,
                MinTtlOverride,
            ),
            // Amplify (2/2/600)
            row(
                "Amplify max-age",
                cc("max-age=3600"),
                200,
                p(2, 2, 600),
                true,
                600,
                MaxAge,
            ),
            // Redirects are cached like any other response
            row("301 default", vec![], 301, std, true, 86_400, DefaultTtl),
            row("302 max-age", cc("max-age=60"), 302, std, true, 60, MaxAge),
            row("307 default", vec![], 307, std, true, 86_400, DefaultTtl),
            // informational / 304 never stored as objects
            row("304", cc("max-age=60"), 304, std, false, 0, StatusNotCached),
            // huge values saturate then clamp
            row(
                "huge max-age",
                cc("max-age=999999999999"),
                200,
                std,
                true,
                31_536_000,
                MaxAge,
            ),
            // duplicate max-age: first wins; conflicting max-age + no-cache: most restrictive
            row(
                "duplicate max-age",
                cc("max-age=60, max-age=5"),
                200,
                std,
                true,
                60,
                MaxAge,
            ),
            row(
                "max-age + no-cache",
                cc("max-age=60, no-cache"),
                200,
                std,
                false,
                0,
                OriginForbids,
            ),
        ];
        check(rows);
    }

    #[test]
    fn ttl_table_section_1_3() {
        use TtlSource::*;
        let std = p(0, 86_400, 31_536_000);
        let tight = p(0, 100, 1000);
        let mut rows = vec![];
        // Always cached: 404, 414, 500, 501, 502, 503, 504, for max(error_caching_min_ttl, origin)
        for status in [404, 414, 500, 501, 502, 503, 504] {
            rows.push(row(
                "always cached, default 10 s",
                vec![],
                status,
                std,
                true,
                10,
                ErrorCaching,
            ));
            rows.push(row(
                "always cached, origin max-age larger",
                cc("max-age=60"),
                status,
                std,
                true,
                60,
                ErrorCaching,
            ));
            rows.push(row(
                "always cached, origin max-age smaller",
                cc("max-age=3"),
                status,
                std,
                true,
                10,
                ErrorCaching,
            ));
            rows.push(row(
                "always cached, s-maxage",
                cc("s-maxage=30, max-age=3"),
                status,
                std,
                true,
                30,
                ErrorCaching,
            ));
            rows.push(row(
                "origin value capped at max_ttl",
                cc("max-age=5000"),
                status,
                tight,
                true,
                1000,
                ErrorCaching,
            ));
            rows.push(row(
                "expires counts too",
                vec![("expires", date(T0 + 40))],
                status,
                std,
                true,
                40,
                ErrorCaching,
            ));
            rows.push(Row {
                error_min: Some(120),
                ..row(
                    "explicit min",
                    cc("max-age=60"),
                    status,
                    std,
                    true,
                    120,
                    ErrorCaching,
                )
            });
            rows.push(Row {
                error_min: Some(0),
                ..row(
                    "min 0, no header",
                    vec![],
                    status,
                    std,
                    false,
                    0,
                    ErrorCaching,
                )
            });
            rows.push(Row {
                error_min: Some(0),
                ..row(
                    "min 0, header",
                    cc("max-age=7"),
                    status,
                    std,
                    true,
                    7,
                    ErrorCaching,
                )
            });
        }
        // no-store/no-cache/private: 404, 414, 501 not cached; other codes ignore them
        for status in [404, 414, 501] {
            rows.push(row(
                "no-store not cached",
                cc("no-store"),
                status,
                std,
                false,
                0,
                OriginForbids,
            ));
            rows.push(row(
                "private not cached",
                cc("private"),
                status,
                std,
                false,
                0,
                OriginForbids,
            ));
            rows.push(row(
                "no-cache not cached",
                cc("no-cache"),
                status,
                std,
                false,
                0,
                OriginForbids,
            ));
        }
        for status in [500, 502, 503, 504] {
            rows.push(row(
                "no-store ignored",
                cc("no-store, max-age=600"),
                status,
                std,
                true,
                10,
                ErrorCaching,
            ));
        }
        // Conditionally cached: only with max-age or s-maxage
        for status in [400, 403, 405, 412, 415] {
            rows.push(row(
                "conditional without max-age",
                vec![],
                status,
                std,
                false,
                0,
                StatusNotCached,
            ));
            rows.push(row(
                "conditional with expires only",
                vec![("expires", date(T0 + 60))],
                status,
                std,
                false,
                0,
                StatusNotCached,
            ));
            rows.push(row(
                "conditional with max-age",
                cc("max-age=60"),
                status,
                std,
                true,
                60,
                ErrorCaching,
            ));
            rows.push(row(
                "conditional with s-maxage",
                cc("s-maxage=5"),
                status,
                std,
                true,
                10,
                ErrorCaching,
            ));
        }
        // Never cached: 416, even with an error_caching_min_ttl; other error codes
        rows.push(Row {
            error_min: Some(300),
            ..row(
                "416 never",
                cc("max-age=60"),
                416,
                std,
                false,
                0,
                StatusNotCached,
            )
        });
        for status in [401, 406, 409, 410, 429, 505] {
            rows.push(row(
                "other errors never",
                cc("max-age=60"),
                status,
                std,
                false,
                0,
                StatusNotCached,
            ));
        }
        check(rows);
    }

    fn check(rows: Vec<Row>) {
        for r in rows {
            let d = directives(&r.headers);
            let status = StatusCode::from_u16(r.status).unwrap();
            let got = cloudfront_ttl(
                &d,
                &r.policy,
                status,
                at(T0),
                r.error_min.map(Duration::from_secs),
            );
            assert_eq!(
                (got.store, got.ttl, got.source),
                (r.store, Duration::from_secs(r.ttl), r.source),
                "{} ({} {:?} {:?})",
                r.name,
                r.status,
                r.headers,
                r.policy
            );
        }
    }

    #[test]
    fn flags_table() {
        let std = p(0, 86_400, 31_536_000);
        let min5 = p(5, 86_400, 31_536_000);
        // (name, headers, policy, revalidate_every_request, conditional, collapse, swr, sie, must_revalidate)
        type Flags = (bool, bool, bool, Option<u64>, u64, bool);
        let unbounded = u64::from(DELTA_SECONDS_MAX);
        let rows: Vec<(&str, Vec<(&str, String)>, TtlPolicy, Flags)> = vec![
            (
                "plain",
                cc("max-age=60"),
                std,
                (false, true, true, None, unbounded, false),
            ),
            // no-cache with min_ttl > 0: cached but still goes to the origin each request
            (
                "min ttl override",
                cc("no-cache"),
                min5,
                (true, true, true, None, unbounded, false),
            ),
            // stale-if-error=0 suppresses serving the stored copy on origin failure
            (
                "sie=0",
                cc("no-store, stale-if-error=0"),
                min5,
                (true, true, true, None, 0, false),
            ),
            (
                "sie bound",
                cc("max-age=60, stale-if-error=300"),
                std,
                (false, true, true, None, 300, false),
            ),
            (
                "swr",
                cc("max-age=60, stale-while-revalidate=30"),
                std,
                (false, true, true, Some(30), unbounded, false),
            ),
            (
                "must-revalidate",
                cc("max-age=60, must-revalidate"),
                std,
                (false, true, true, None, unbounded, true),
            ),
            (
                "proxy-revalidate",
                cc("max-age=60, proxy-revalidate"),
                std,
                (false, true, true, None, unbounded, true),
            ),
            // max-age=0 with min_ttl 0 disables collapsing
            (
                "max-age=0 no collapse",
                cc("max-age=0"),
                std,
                (false, true, false, None, unbounded, false),
            ),
            (
                "s-maxage=0 no collapse",
                cc("s-maxage=0"),
                std,
                (false, true, false, None, unbounded, false),
            ),
            (
                "max-age=0 min 5 collapses",
                cc("max-age=0"),
                min5,
                (false, true, true, None, unbounded, false),
            ),
            // Vary: * with min 0: stored, every request to the origin without conditionals
            (
                "vary star min 0",
                vec![("cache-control", "max-age=60".into()), ("vary", "*".into())],
                std,
                (true, false, true, None, unbounded, false),
            ),
            (
                "vary star min 5",
                vec![("cache-control", "max-age=60".into()), ("vary", "*".into())],
                min5,
                (false, true, true, None, unbounded, false),
            ),
        ];
        for (name, hdrs, policy, (every, cond, collapse, swr, sie, mr)) in rows {
            let d = directives(&hdrs);
            let got = cloudfront_ttl(&d, &policy, StatusCode::OK, at(T0), None);
            assert!(got.store, "{name}");
            assert_eq!(
                (
                    got.revalidate_every_request,
                    got.conditional_revalidation,
                    got.collapse,
                    got.stale_while_revalidate,
                    got.stale_if_error,
                    got.must_revalidate
                ),
                (
                    every,
                    cond,
                    collapse,
                    swr.map(Duration::from_secs),
                    Duration::from_secs(sie),
                    mr
                ),
                "{name}"
            );
        }
        // not stored → never collapsed (no-store with min_ttl 0)
        let got = cloudfront_ttl(
            &directives(&cc("no-store")),
            &std,
            StatusCode::OK,
            at(T0),
            None,
        );
        assert!(!got.collapse && !got.store);
    }

    #[test]
    fn freshness_of_a_decision() {
        use crate::freshness::Reuse;
        let std = p(0, 86_400, 31_536_000);
        let min5 = p(5, 86_400, 31_536_000);
        // max-age=60, Age 20: 40 s left
        let d = cloudfront_ttl(
            &directives(&cc("max-age=60")),
            &std,
            StatusCode::OK,
            at(T0),
            None,
        );
        let f = d.freshness(Duration::from_secs(20), at(T0));
        assert_eq!(f.reuse(at(T0 + 39)), Reuse::Fresh);
        assert_eq!(f.reuse(at(T0 + 40)), Reuse::Revalidate);
        // stale copy served on origin error without bound by default
        assert!(f.can_serve_on_error(at(T0 + 1_000_000)));
        // min_ttl override: always revalidate, serve on error unless stale-if-error=0
        let d = cloudfront_ttl(
            &directives(&cc("no-store")),
            &min5,
            StatusCode::OK,
            at(T0),
            None,
        );
        let f = d.freshness(Duration::ZERO, at(T0));
        assert_eq!(f.reuse(at(T0)), Reuse::Revalidate);
        assert!(f.can_serve_on_error(at(T0 + 1)));
        let d = cloudfront_ttl(
            &directives(&cc("no-store, stale-if-error=0")),
            &min5,
            StatusCode::OK,
            at(T0),
            None,
        );
        assert!(!d
            .freshness(Duration::ZERO, at(T0))
            .can_serve_on_error(at(T0 + 1)));
        // errors are not served stale
        let d = cloudfront_ttl(
            &directives(&[]),
            &std,
            StatusCode::BAD_GATEWAY,
            at(T0),
            None,
        );
        assert!(!d
            .freshness(Duration::ZERO, at(T0))
            .can_serve_on_error(at(T0 + 11)));
    }
}
