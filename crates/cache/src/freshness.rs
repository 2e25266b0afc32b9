//! RFC 9111 as a shared cache: is a response storable (§3), how long is it fresh (§4.2.1),
//! how old is it (§4.2.3), and may a stored response be reused now (§4.2.4, RFC 5861).
//!
//! Everything here is a pure function of header values and injected times. Heuristic freshness
//! (§4.2.2) is an option, off by default.

use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderName};
use http::{Method, StatusCode};

use crate::cache_control::{
    effective_directives, CacheControl, DirectiveSource, CDN_CACHE_CONTROL,
};
use crate::http_date::{parse_expires, parse_header_date};
use crate::vary::VarySpec;

/// The caching-relevant facts of a response, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseDirectives {
    /// The effective directives: `CDN-Cache-Control` when present and non-empty, else
    /// `Cache-Control`.
    pub cache_control: CacheControl,
    /// Where [`Self::cache_control`] came from.
    pub source: DirectiveSource,
    /// `Expires` (the first one; an invalid date is the epoch, i.e. already expired). `None`
    /// when absent or when a targeted field overrides it (RFC 9213 §2.1).
    pub expires: Option<SystemTime>,
    /// `Date`, when present and valid.
    pub date: Option<SystemTime>,
    /// `Age` in seconds, when it is a single valid delta-seconds value (RFC 9111 §5.1: a list
    /// or anything else is ignored).
    pub age: Option<u32>,
    /// `Last-Modified`, when present and valid.
    pub last_modified: Option<SystemTime>,
    /// `Vary`.
    pub vary: VarySpec,
}

impl ResponseDirectives {
    /// Parses a response's headers as a CDN: `CDN-Cache-Control` (RFC 9213) takes precedence
    /// over `Cache-Control` and `Expires`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::with_targets(headers, &[CDN_CACHE_CONTROL])
    }

    /// Parses a response's headers with the given targeted fields (RFC 9213 §2.1), in order of
    /// preference; an empty list means plain `Cache-Control`.
    pub fn with_targets(headers: &HeaderMap, targets: &[HeaderName]) -> Self {
        let (cache_control, source) = effective_directives(headers, targets);
        let expires = if source == DirectiveSource::Targeted {
            None
        } else {
            headers.get(header::EXPIRES).map(parse_expires)
        };
        ResponseDirectives {
            cache_control,
            source,
            expires,
            date: headers.get(header::DATE).and_then(parse_header_date),
            age: age_value(headers),
            last_modified: headers
                .get(header::LAST_MODIFIED)
                .and_then(parse_header_date),
            vary: VarySpec::from_headers(headers),
        }
    }

    /// The origin's explicit freshness as a shared cache reads it, in seconds: `s-maxage`, else
    /// `max-age`.
    pub fn max_age_shared(&self) -> Option<u32> {
        self.cache_control.s_maxage.or(self.cache_control.max_age)
    }
}

/// The `Age` header as delta-seconds; `None` when absent or invalid (RFC 9111 §5.1).
pub fn age_value(headers: &HeaderMap) -> Option<u32> {
    let mut values = headers.get_all(header::AGE).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    crate::cache_control::parse_delta(first.to_str().ok()?)
}

/// Options of a shared cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheOptions {
    /// Heuristic freshness for responses without explicit freshness; `None` (the default)
    /// disables it.
    pub heuristic: Option<Heuristic>,
}

/// Heuristic freshness (RFC 9111 §4.2.2): a fraction of the time since `Last-Modified`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heuristic {
    /// Percent of (Date − Last-Modified); 10 is the customary value.
    pub percent: u32,
    /// Upper bound of a heuristic lifetime.
    pub max: Duration,
}

impl Default for Heuristic {
    fn default() -> Self {
        Heuristic {
            percent: 10,
            max: Duration::from_secs(86_400),
        }
    }
}

/// Status codes whose responses may be heuristically fresh (RFC 9110 §15.1).
pub fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Status codes whose caching rules this cache understands: final, and neither 206 (partial
/// content needs combining) nor 304 (merged, never stored as such).
pub fn status_understood(status: StatusCode) -> bool {
    (200..600).contains(&status.as_u16())
        && status != StatusCode::PARTIAL_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// Why a response may not be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStorable {
    /// The request method is not GET or HEAD.
    Method,
    /// The status code is not understood (1xx, 206, 304, or `must-understand` with an unknown code).
    Status,
    /// `no-store`.
    NoStore,
    /// Unqualified `private`.
    Private,
    /// The request had `Authorization` and the response lacks `public`, `s-maxage` and
    /// `must-revalidate` (RFC 9111 §3.5).
    Authorization,
    /// No explicit freshness, and the status is not heuristically cacheable.
    NoFreshness,
}

/// May a shared cache store this response (RFC 9111 §3)?
pub fn storable(
    method: &Method,
    request_has_authorization: bool,
    status: StatusCode,
    d: &ResponseDirectives,
) -> Result<(), NotStorable> {
    let cc = &d.cache_control;
    if method != Method::GET && method != Method::HEAD {
        return Err(NotStorable::Method);
    }
    if !status_understood(status) {
        return Err(NotStorable::Status);
    }
    // must-understand with an understood status overrides no-store (§5.2.2.3).
    if cc.no_store && !cc.must_understand {
        return Err(NotStorable::NoStore);
    }
    if matches!(cc.private, Some(crate::cache_control::FieldDirective::All)) {
        return Err(NotStorable::Private);
    }
    if request_has_authorization && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate) {
        return Err(NotStorable::Authorization);
    }
    let explicit =
        cc.public || cc.max_age.is_some() || cc.s_maxage.is_some() || d.expires.is_some();
    if !explicit && !heuristically_cacheable(status) {
        return Err(NotStorable::NoFreshness);
    }
    Ok(())
}

/// Where a freshness lifetime came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreshnessSource {
    SMaxAge,
    MaxAge,
    Expires,
    Heuristic,
}

/// The freshness lifetime for a shared cache (RFC 9111 §4.2.1): `s-maxage`, else `max-age`,
/// else `Expires − Date` (the receive time when Date is missing), else the heuristic when
/// enabled. `None` when the response has no freshness: it is stale at once.
pub fn freshness_lifetime(
    d: &ResponseDirectives,
    status: StatusCode,
    response_time: SystemTime,
    opts: &CacheOptions,
) -> Option<(Duration, FreshnessSource)> {
    let cc = &d.cache_control;
    if let Some(s) = cc.s_maxage {
        return Some((secs(s), FreshnessSource::SMaxAge));
    }
    if let Some(s) = cc.max_age {
        return Some((secs(s), FreshnessSource::MaxAge));
    }
    if let Some(expires) = d.expires {
        let date = d.date.unwrap_or(response_time);
        return Some((
            expires.duration_since(date).unwrap_or(Duration::ZERO),
            FreshnessSource::Expires,
        ));
    }
    let h = opts.heuristic?;
    if !(heuristically_cacheable(status) || cc.public) {
        return None;
    }
    let lm = d.last_modified?;
    let since = d
        .date
        .unwrap_or(response_time)
        .duration_since(lm)
        .unwrap_or(Duration::ZERO);
    let lifetime = since.saturating_mul(h.percent) / 100;
    Some((lifetime.min(h.max), FreshnessSource::Heuristic))
}

/// Seconds as a Duration.
pub fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// `corrected_initial_age` of RFC 9111 §4.2.3: the age the response had when it arrived,
/// from its `Age` header, its `Date` and the time the request took.
pub fn corrected_initial_age(
    age: Option<u32>,
    date: Option<SystemTime>,
    request_time: SystemTime,
    response_time: SystemTime,
) -> Duration {
    let apparent_age = date
        .and_then(|d| response_time.duration_since(d).ok())
        .unwrap_or(Duration::ZERO);
    let response_delay = response_time
        .duration_since(request_time)
        .unwrap_or(Duration::ZERO);
    let corrected_age_value = secs(age.unwrap_or(0)).saturating_add(response_delay);
    apparent_age.max(corrected_age_value)
}

/// What may be done with a stored response now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Fresh: serve it.
    Fresh,
    /// Stale within `stale-while-revalidate`: serve it and revalidate in the background.
    StaleWhileRevalidate,
    /// Must be validated with the origin before it is served (stale, or `no-cache`).
    Revalidate,
}

/// The freshness state stored with a response: everything needed to decide reuse later
/// without parsing headers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// The freshness lifetime (or CloudFront TTL).
    pub lifetime: Duration,
    /// The age the response had when it was received (`corrected_initial_age`).
    pub initial_age: Duration,
    /// When the response was received (the stored time).
    pub response_time: SystemTime,
    /// How long past expiry the response may be served while revalidating in the background.
    pub stale_while_revalidate: Duration,
    /// How long past expiry the response may be served when the origin fails; `None` means
    /// never (RFC 9111 default), a huge value means always (CloudFront default).
    pub stale_if_error: Option<Duration>,
    /// `must-revalidate`/`proxy-revalidate` (and `s-maxage` for an RFC shared cache): never
    /// serve it stale.
    pub must_revalidate: bool,
    /// Validate before every reuse, even while within its lifetime (unqualified `no-cache`, or
    /// CloudFront's min_ttl > 0 override of `no-cache`/`no-store`/`private`).
    pub no_cache: bool,
}

impl Freshness {
    /// The freshness of a response stored by an RFC 9111 shared cache.
    pub fn shared_cache(
        d: &ResponseDirectives,
        status: StatusCode,
        request_time: SystemTime,
        response_time: SystemTime,
        opts: &CacheOptions,
    ) -> Freshness {
        let cc = &d.cache_control;
        Freshness {
            lifetime: freshness_lifetime(d, status, response_time, opts)
                .map_or(Duration::ZERO, |x| x.0),
            initial_age: corrected_initial_age(d.age, d.date, request_time, response_time),
            response_time,
            stale_while_revalidate: cc.stale_while_revalidate.map_or(Duration::ZERO, secs),
            stale_if_error: cc.stale_if_error.map(secs),
            must_revalidate: cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage.is_some(),
            no_cache: cc.no_cache_all(),
        }
    }

    /// The current age (RFC 9111 §4.2.3): initial age plus resident time.
    pub fn age(&self, now: SystemTime) -> Duration {
        self.initial_age.saturating_add(
            now.duration_since(self.response_time)
                .unwrap_or(Duration::ZERO),
        )
    }

    /// The `Age` header value to send, in whole seconds, saturating at 2^31.
    pub fn age_header_secs(&self, now: SystemTime) -> u64 {
        self.age(now)
            .as_secs()
            .min(u64::from(crate::cache_control::DELTA_SECONDS_MAX))
    }

    /// Fresh: within its lifetime (ignoring `no-cache`).
    pub fn within_lifetime(&self, now: SystemTime) -> bool {
        self.lifetime > self.age(now)
    }

    /// How far past its lifetime the response is (zero while fresh).
    pub fn staleness(&self, now: SystemTime) -> Duration {
        self.age(now).saturating_sub(self.lifetime)
    }

    /// May the response be served now, served while revalidating, or must it be validated?
    pub fn reuse(&self, now: SystemTime) -> Reuse {
        if self.no_cache {
            return Reuse::Revalidate;
        }
        if self.within_lifetime(now) {
            return Reuse::Fresh;
        }
        if !self.must_revalidate
            && !self.stale_while_revalidate.is_zero()
            && self.staleness(now) <= self.stale_while_revalidate
        {
            return Reuse::StaleWhileRevalidate;
        }
        Reuse::Revalidate
    }

    /// Like [`Self::reuse`], also honouring a request's `Cache-Control` (`no-cache`,
    /// `max-age`, `min-fresh`, `max-stale`; RFC 9111 §5.2.1).
    pub fn reuse_for_request(&self, now: SystemTime, req: &CacheControl) -> Reuse {
        if req.no_cache.is_some() {
            return Reuse::Revalidate;
        }
        let age = self.age(now);
        if req.max_age.is_some_and(|m| age > secs(m)) {
            return Reuse::Revalidate;
        }
        if let Some(min_fresh) = req.min_fresh {
            if self.lifetime.saturating_sub(age) < secs(min_fresh) {
                return Reuse::Revalidate;
            }
        }
        match self.reuse(now) {
            Reuse::Revalidate
                if !self.no_cache
                    && !self.must_revalidate
                    && req
                        .max_stale
                        .is_some_and(|m| self.staleness(now) <= secs(m)) =>
            {
                Reuse::Fresh
            }
            r => r,
        }
    }

    /// May the stored response be served because the origin failed (error or timeout)?
    pub fn can_serve_on_error(&self, now: SystemTime) -> bool {
        if self.must_revalidate && !self.within_lifetime(now) {
            return false;
        }
        match self.stale_if_error {
            None => false,
            Some(d) => !d.is_zero() && self.staleness(now) <= d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::UNIX_EPOCH;

    const T0: u64 = 1_700_000_000;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn date(s: u64) -> String {
        crate::http_date::format_http_date(at(s))
    }

    #[test]
    fn storable_table() {
        use NotStorable::{Authorization, NoFreshness, NoStore, Private, Status};
        let get = Method::GET;
        let rows: Vec<(
            Method,
            bool,
            u16,
            Vec<(&str, String)>,
            Result<(), NotStorable>,
        )> = vec![
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "max-age=60".into())],
                Ok(()),
            ),
            (
                Method::HEAD,
                false,
                200,
                vec![("cache-control", "max-age=60".into())],
                Ok(()),
            ),
            (
                Method::POST,
                false,
                200,
                vec![("cache-control", "max-age=60".into())],
                Err(NotStorable::Method),
            ),
            (get.clone(), false, 200, vec![], Ok(())), // heuristically cacheable status: storable, stale at once
            (get.clone(), false, 302, vec![], Err(NoFreshness)),
            (
                get.clone(),
                false,
                302,
                vec![("cache-control", "max-age=5".into())],
                Ok(()),
            ),
            (
                get.clone(),
                false,
                500,
                vec![("expires", date(T0 + 60))],
                Ok(()),
            ),
            (
                get.clone(),
                false,
                500,
                vec![("cache-control", "public".into())],
                Ok(()),
            ),
            (
                get.clone(),
                false,
                206,
                vec![("cache-control", "max-age=60".into())],
                Err(Status),
            ),
            (
                get.clone(),
                false,
                304,
                vec![("cache-control", "max-age=60".into())],
                Err(Status),
            ),
            (get.clone(), false, 100, vec![], Err(Status)),
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "no-store, max-age=60".into())],
                Err(NoStore),
            ),
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "No-Store".into())],
                Err(NoStore),
            ),
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "must-understand, no-store".into())],
                Ok(()),
            ),
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "private, max-age=60".into())],
                Err(Private),
            ),
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "private=\"x-a\", max-age=60".into())],
                Ok(()),
            ),
            (
                get.clone(),
                false,
                200,
                vec![("cache-control", "no-cache".into())],
                Ok(()),
            ),
            (
                get.clone(),
                true,
                200,
                vec![("cache-control", "max-age=60".into())],
                Err(Authorization),
            ),
            (
                get.clone(),
                true,
                200,
                vec![("cache-control", "public".into())],
                Ok(()),
            ),
            (
                get.clone(),
                true,
                200,
                vec![("cache-control", "s-maxage=60".into())],
                Ok(()),
            ),
            (
                get.clone(),
                true,
                200,
                vec![("cache-control", "must-revalidate".into())],
                Ok(()),
            ),
            // CDN-Cache-Control overrides Cache-Control
            (
                get.clone(),
                false,
                200,
                vec![
                    ("cache-control", "no-store".into()),
                    ("cdn-cache-control", "max-age=60".into()),
                ],
                Ok(()),
            ),
            (
                get.clone(),
                false,
                200,
                vec![
                    ("cache-control", "max-age=60".into()),
                    ("cdn-cache-control", "no-store".into()),
                ],
                Err(NoStore),
            ),
        ];
        for (method, auth, status, hdrs, want) in rows {
            let h = headers(
                &hdrs
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<Vec<_>>(),
            );
            let d = ResponseDirectives::from_headers(&h);
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                storable(&method, auth, status, &d),
                want,
                "{method} auth={auth} {status} {hdrs:?}"
            );
        }
    }

    #[test]
    fn lifetime_table() {
        let heur = CacheOptions {
            heuristic: Some(Heuristic::default()),
        };
        let off = CacheOptions::default();
        let rows: Vec<(
            Vec<(&str, String)>,
            u16,
            &CacheOptions,
            Option<(u64, FreshnessSource)>,
        )> = vec![
            (
                vec![("cache-control", "max-age=60".into())],
                200,
                &off,
                Some((60, FreshnessSource::MaxAge)),
            ),
            (
                vec![("cache-control", "max-age=60, s-maxage=5".into())],
                200,
                &off,
                Some((5, FreshnessSource::SMaxAge)),
            ),
            (
                vec![
                    ("cache-control", "max-age=60".into()),
                    ("expires", date(T0 + 1000)),
                    ("date", date(T0)),
                ],
                200,
                &off,
                Some((60, FreshnessSource::MaxAge)),
            ),
            (
                vec![("expires", date(T0 + 100)), ("date", date(T0))],
                200,
                &off,
                Some((100, FreshnessSource::Expires)),
            ),
            // Expires − Date, not Expires − now
            (
                vec![("expires", date(T0 + 100)), ("date", date(T0 - 50))],
                200,
                &off,
                Some((150, FreshnessSource::Expires)),
            ),
            // no Date: the receive time
            (
                vec![("expires", date(T0 + 30))],
                200,
                &off,
                Some((30, FreshnessSource::Expires)),
            ),
            (
                vec![("expires", "0".into()), ("date", date(T0))],
                200,
                &off,
                Some((0, FreshnessSource::Expires)),
            ),
            (
                vec![("expires", "garbage".into())],
                200,
                &off,
                Some((0, FreshnessSource::Expires)),
            ),
            (
                vec![("expires", date(T0 - 100)), ("date", date(T0))],
                200,
                &off,
                Some((0, FreshnessSource::Expires)),
            ),
            // targeted field ignores Expires
            (
                vec![
                    ("expires", date(T0 + 100)),
                    ("cdn-cache-control", "no-cache".into()),
                ],
                200,
                &off,
                None,
            ),
            (
                vec![("cache-control", "max-age=-3".into())],
                200,
                &off,
                Some((0, FreshnessSource::MaxAge)),
            ),
            // no freshness: no heuristic by default
            (
                vec![("last-modified", date(T0 - 1000)), ("date", date(T0))],
                200,
                &off,
                None,
            ),
            (
                vec![("last-modified", date(T0 - 1000)), ("date", date(T0))],
                200,
                &heur,
                Some((100, FreshnessSource::Heuristic)),
            ),
            (
                vec![("last-modified", date(T0 - 10_000_000))],
                200,
                &heur,
                Some((86_400, FreshnessSource::Heuristic)),
            ),
            (vec![("last-modified", date(T0 - 1000))], 302, &heur, None),
            (
                vec![
                    ("last-modified", date(T0 - 1000)),
                    ("cache-control", "public".into()),
                ],
                302,
                &heur,
                Some((100, FreshnessSource::Heuristic)),
            ),
            (vec![], 200, &heur, None),
        ];
        for (hdrs, status, opts, want) in rows {
            let h = headers(
                &hdrs
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<Vec<_>>(),
            );
            let d = ResponseDirectives::from_headers(&h);
            let got = freshness_lifetime(&d, StatusCode::from_u16(status).unwrap(), at(T0), opts);
            assert_eq!(
                got,
                want.map(|(s, src)| (Duration::from_secs(s), src)),
                "{hdrs:?} {status}"
            );
        }
    }

    #[test]
    fn age_header_table() {
        let rows: &[(&[&str], Option<u32>)] = &[
            (&[], None),
            (&["10"], Some(10)),
            (&[" 10 "], Some(10)),
            (&["0"], Some(0)),
            (&["-5"], None),
            (&["1.5"], None),
            (&["abc"], None),
            (&["10, 20"], None),
            (&["10", "20"], None),
            (
                &["99999999999999"],
                Some(crate::cache_control::DELTA_SECONDS_MAX),
            ),
        ];
        for (values, want) in rows {
            let mut h = HeaderMap::new();
            for v in values.iter() {
                h.append(header::AGE, HeaderValue::from_static(v));
            }
            assert_eq!(age_value(&h), *want, "{values:?}");
        }
    }

    #[test]
    fn corrected_initial_age_table() {
        // (age, date offset from response_time, request_time offset, want)
        let rows: &[(Option<u32>, Option<i64>, u64, u64)] = &[
            (None, None, 0, 0),
            (None, Some(0), 0, 0),
            (Some(30), Some(0), 0, 30),
            (Some(30), Some(0), 5, 35),     // response delay added to Age
            (None, Some(-100), 0, 100),     // Date 100 s before receipt: apparent age
            (Some(10), Some(-100), 2, 100), // the larger of the two
            (None, Some(500), 0, 0),        // Date in the future: 0
            (Some(u32::MAX), None, 0, u64::from(u32::MAX)),
        ];
        let resp = T0;
        for (age, date_off, delay, want) in rows {
            let date = date_off.map(|o| at((resp as i64 + o) as u64));
            let got = corrected_initial_age(*age, date, at(resp - delay), at(resp));
            assert_eq!(
                got,
                Duration::from_secs(*want),
                "{age:?} {date_off:?} {delay}"
            );
        }
    }

    fn fresh(
        lifetime: u64,
        swr: u64,
        sie: Option<u64>,
        must_revalidate: bool,
        no_cache: bool,
    ) -> Freshness {
        Freshness {
            lifetime: Duration::from_secs(lifetime),
            initial_age: Duration::from_secs(5),
            response_time: at(T0),
            stale_while_revalidate: Duration::from_secs(swr),
            stale_if_error: sie.map(Duration::from_secs),
            must_revalidate,
            no_cache,
        }
    }

    #[test]
    fn reuse_table() {
        // initial age 5: lifetime 60 expires at T0+55
        let rows: Vec<(Freshness, u64, Reuse, bool)> = vec![
            (fresh(60, 0, None, false, false), 0, Reuse::Fresh, false),
            (fresh(60, 0, None, false, false), 54, Reuse::Fresh, false),
            (
                fresh(60, 0, None, false, false),
                55,
                Reuse::Revalidate,
                false,
            ),
            (
                fresh(60, 30, None, false, false),
                55,
                Reuse::StaleWhileRevalidate,
                false,
            ),
            (
                fresh(60, 30, None, false, false),
                85,
                Reuse::StaleWhileRevalidate,
                false,
            ),
            (
                fresh(60, 30, None, false, false),
                86,
                Reuse::Revalidate,
                false,
            ),
            (
                fresh(60, 30, Some(100), true, false),
                60,
                Reuse::Revalidate,
                false,
            ),
            (
                fresh(60, 0, Some(100), false, false),
                155,
                Reuse::Revalidate,
                true,
            ),
            (
                fresh(60, 0, Some(100), false, false),
                156,
                Reuse::Revalidate,
                false,
            ),
            (
                fresh(60, 0, Some(0), false, false),
                60,
                Reuse::Revalidate,
                false,
            ),
            (
                fresh(60, 0, Some(100), false, true),
                0,
                Reuse::Revalidate,
                true,
            ),
            (fresh(0, 0, None, false, false), 0, Reuse::Revalidate, false),
            (
                fresh(60, 0, Some(u64::from(u32::MAX)), false, false),
                1_000_000,
                Reuse::Revalidate,
                true,
            ),
        ];
        for (i, (f, dt, want, on_error)) in rows.into_iter().enumerate() {
            assert_eq!(f.reuse(at(T0 + dt)), want, "row {i}");
            assert_eq!(
                f.can_serve_on_error(at(T0 + dt)),
                on_error,
                "row {i} on error"
            );
        }
    }

    #[test]
    fn reuse_for_request_table() {
        let f = fresh(60, 0, None, false, false); // age 5 at T0
        let rows: Vec<(&str, u64, Reuse)> = vec![
            ("", 0, Reuse::Fresh),
            ("no-cache", 0, Reuse::Revalidate),
            ("max-age=0", 0, Reuse::Revalidate),
            ("max-age=10", 0, Reuse::Fresh),
            ("max-age=10", 6, Reuse::Revalidate),
            ("min-fresh=50", 0, Reuse::Fresh),
            ("min-fresh=56", 0, Reuse::Revalidate),
            ("max-stale=10", 60, Reuse::Fresh),
            ("max-stale=10", 66, Reuse::Revalidate),
            ("max-stale", 6000, Reuse::Fresh),
        ];
        for (cc, dt, want) in rows {
            assert_eq!(
                f.reuse_for_request(at(T0 + dt), &CacheControl::parse(cc)),
                want,
                "{cc} +{dt}"
            );
        }
        let mr = fresh(60, 0, None, true, false);
        assert_eq!(
            mr.reuse_for_request(at(T0 + 60), &CacheControl::parse("max-stale")),
            Reuse::Revalidate
        );
    }

    #[test]
    fn shared_cache_freshness_from_headers() {
        let h = headers(&[
            (
                "cache-control",
                "s-maxage=100, stale-while-revalidate=10, stale-if-error=20",
            ),
            ("age", "30"),
            ("date", &date(T0)),
        ]);
        let d = ResponseDirectives::from_headers(&h);
        let f =
            Freshness::shared_cache(&d, StatusCode::OK, at(T0), at(T0), &CacheOptions::default());
        assert_eq!(f.lifetime, Duration::from_secs(100));
        assert_eq!(f.initial_age, Duration::from_secs(30));
        assert!(f.must_revalidate, "s-maxage implies proxy-revalidate");
        assert_eq!(f.age_header_secs(at(T0 + 10)), 40);
        assert_eq!(f.reuse(at(T0 + 69)), Reuse::Fresh);
        assert_eq!(f.reuse(at(T0 + 70)), Reuse::Revalidate);
    }
}
