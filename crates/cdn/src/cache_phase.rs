//! The cache phase of the request path: lookup → hit (deliver) · stale (serve while refreshing
//! in the background, or revalidate inline) · miss (coalesce → origin → store → deliver).

use crate::behavior::{self, Behavior};
use crate::body::{MeteredBody, RequestBody};
use crate::cache_key::{cache_key_with_room, KeyInput};
use crate::counters::CacheResult;
use crate::edge_cache::Shared;
use crate::error_page::CdnError;
use crate::headers::{clean_origin_response, normalized_accept_encoding};
use crate::tee::TeeBody;
use crate::tier::{Edge, Viewer};
use crate::ttl::{self, Exchange};
use crate::{compress, deliver, params};
use edgeway_cache::coalesce::{LeaderGuard, Role, Waited};
use edgeway_cache::conditional;
use edgeway_cache::store::Lookup;
use edgeway_cache::stored_headers::stored_headers;
use edgeway_cache::{CachedResponse, Reuse};
use edgeway_http::{Body, ConnInfo};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode, Version};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// A request the cache may answer: its key and what the lookup and the origin fetch need.
#[derive(Clone)]
pub struct Cacheable {
    /// The key, then the viewer's path (behavior selection), the origin path (after the root
    /// object) and the query, in one buffer ([`Cacheable::key`] and the others read it).
    text: String,
    key_end: usize,
    viewer_path_end: usize,
    path_end: usize,
    has_query: bool,
    /// The viewer's headers as the origin sees them (normalized Accept-Encoding, forwarded
    /// cookies), for Vary: built when first needed ([`Cacheable::vary`]).
    vary: std::sync::OnceLock<HeaderMap>,
    pub method: Method,
}

/// Slots for [`HitHeads`].
const HIT_HEAD_SLOTS: usize = 64;

/// The stamped viewer response heads of hot cache entries, in direct-mapped slots keyed by the
/// entry's identity and the viewer's HTTP version. A slot holds a `Weak` to its entry (which
/// keeps the address from being reused, so identity is exact) and, once the entry was seen
/// twice in a row, the head; a head keeps the entry's header bytes alive, at most one per slot.
pub(crate) struct HitHeads {
    slots: Box<[std::sync::Mutex<HitHead>]>,
}

struct HitHead {
    entry: std::sync::Weak<CachedResponse>,
    via: usize,
    head: Option<Arc<HeaderMap>>,
}

impl HitHeads {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..HIT_HEAD_SLOTS)
                .map(|_| {
                    std::sync::Mutex::new(HitHead {
                        entry: std::sync::Weak::new(),
                        via: 0,
                        head: None,
                    })
                })
                .collect(),
        }
    }

    fn slot(&self, e: &Arc<CachedResponse>, via: usize) -> Option<&std::sync::Mutex<HitHead>> {
        let at = (Arc::as_ptr(e) as usize >> 4) ^ via;
        self.slots.get(at % HIT_HEAD_SLOTS)
    }
}

/// A viewer that outlives its request (for background refreshes).
struct OwnedViewer {
    https: bool,
    version: Version,
    host: Option<String>,
    headers: HeaderMap,
    conn: Arc<ConnInfo>,
    via: String,
    request_id: String,
}

impl OwnedViewer {
    fn of(v: &Viewer<'_>) -> Self {
        Self {
            https: v.https,
            version: v.version,
            host: v.host.map(str::to_string),
            headers: v.headers.clone(),
            conn: v.conn.clone(),
            via: v.via.to_string(),
            request_id: crate::ids::request_id(),
        }
    }
    fn view(&self) -> Viewer<'_> {
        Viewer {
            https: self.https,
            version: self.version,
            host: self.host.as_deref(),
            headers: &self.headers,
            conn: &self.conn,
            via: &self.via,
            request_id: &self.request_id,
            via_value: None,
            request_id_value: None,
            path_and_query: None,
            stamped: None,
        }
    }
}

/// The leader's duty to hand its result to followers (a no-op when not coalescing).
struct Leader(Option<LeaderGuard<Shared>>);

impl Leader {
    fn complete(self, v: Shared) {
        if let Some(g) = self.0 {
            g.complete(v);
        }
    }
}

/// Viewer headers whose presence needs the whole object before answering.
fn needs_entry(h: &HeaderMap) -> bool {
    [
        header::RANGE,
        header::IF_NONE_MATCH,
        header::IF_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
    ]
    .iter()
    .any(|n| h.contains_key(n))
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The viewer headers as the origin receives them, for Vary matching.
fn vary_headers(b: &Behavior, viewer: &HeaderMap, version: Version) -> HeaderMap {
    let key = &b.cache_policy.key;
    let mut h = viewer.clone();
    if key.normalizes_accept_encoding() {
        let ae = normalized_accept_encoding(
            viewer,
            key.accept_encoding_gzip,
            key.accept_encoding_brotli,
            key.accept_encoding_zstd,
            version,
        );
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ae));
    }
    let orp = b.origin_request_policy.as_ref().map(|o| &o.cookies);
    h.remove(header::COOKIE);
    if let Some(c) = params::filter_cookies(viewer, &key.cookies, orp)
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        h.insert(header::COOKIE, c);
    }
    h
}

/// The whole of `body`, failing beyond `limit` bytes.
async fn collect_limited(mut body: Body, limit: u64) -> Result<bytes::Bytes, String> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Some(d) = frame.data_ref() {
            if (buf.len() + d.len()) as u64 > limit {
                return Err(format!("the origin body is larger than {limit} bytes"));
            }
            buf.extend_from_slice(d);
        }
    }
    Ok(buf.freeze())
}

impl Cacheable {
    /// The cache key.
    pub fn key(&self) -> &str {
        self.text.get(..self.key_end).unwrap_or_default()
    }

    /// The viewer's path (behavior selection).
    pub fn viewer_path(&self) -> &str {
        self.text
            .get(self.key_end..self.viewer_path_end)
            .unwrap_or_default()
    }

    /// The origin path (after the default root object).
    pub fn path(&self) -> &str {
        self.text
            .get(self.viewer_path_end..self.path_end)
            .unwrap_or_default()
    }

    /// The viewer's query.
    pub fn query(&self) -> Option<&str> {
        self.has_query
            .then(|| self.text.get(self.path_end..).unwrap_or_default())
    }

    /// The viewer's headers as the origin sees them, for Vary (built once, on first use).
    fn vary(&self, b: &Behavior, v: &Viewer<'_>) -> &HeaderMap {
        self.vary
            .get_or_init(|| vary_headers(b, v.headers, v.version))
    }
}

impl Behavior {
    /// Concurrent misses may share a fetch: not with cookies forwarded (§1.8).
    fn collapses(&self) -> bool {
        self.cache_policy.key.cookies.is_none()
            && self
                .origin_request_policy
                .as_ref()
                .is_none_or(|o| o.cookies.is_none())
    }

    /// Whether a viewer `Authorization` reaches the origin.
    fn forwards_authorization(&self) -> bool {
        self.cache_policy.key.has_header("authorization")
            || self
                .origin_request_policy
                .as_ref()
                .is_some_and(|o| o.forwards_header("authorization"))
    }
}

impl Edge {
    /// The cacheable view of a request, when `behavior` may store its response.
    pub(crate) fn cacheable(
        &self,
        b: &Behavior,
        method: &Method,
        v: &Viewer<'_>,
        viewer_path: &str,
        path: &str,
        query: Option<&str>,
    ) -> Option<Cacheable> {
        if !b.caches_method(method) || b.cache_policy.caching_disabled() {
            return None;
        }
        let extra = viewer_path.len() + path.len() + query.map_or(0, str::len);
        let mut text = cache_key_with_room(
            &KeyInput {
                distribution: &self.id,
                method,
                version: v.version,
                path,
                query,
                headers: v.headers,
                host: v.host,
            },
            b,
            extra,
        );
        let key_end = text.len();
        text.push_str(viewer_path);
        let viewer_path_end = text.len();
        text.push_str(path);
        let path_end = text.len();
        if let Some(q) = query {
            text.push_str(q);
        }
        Some(Cacheable {
            text,
            key_end,
            viewer_path_end,
            path_end,
            has_query: query.is_some(),
            vary: std::sync::OnceLock::new(),
            method: method.clone(),
        })
    }

    /// Answers `c` from the cache, or fills the cache from the origin.
    pub(crate) async fn cached(
        self: &Arc<Self>,
        b: &Behavior,
        v: &Viewer<'_>,
        c: Cacheable,
    ) -> Result<(Response<Body>, CacheResult), CdnError> {
        let now = self.cache.now();
        match self.cache.lookup(c.key(), || c.vary(b, v)).await {
            Lookup::Hit(e) => {
                if self.cache.backing_off(c.key()) && e.freshness.can_serve_on_error(now) {
                    self.counters.stale.inc();
                    return Ok(self.answer_hit(&e, &c, v));
                }
                match e.freshness.reuse(now) {
                    Reuse::Fresh => Ok(self.answer_hit(&e, &c, v)),
                    Reuse::StaleWhileRevalidate => {
                        self.counters.stale.inc();
                        self.refresh_in_background(v, c.clone(), e.clone());
                        Ok(self.answer_hit(&e, &c, v))
                    }
                    Reuse::Revalidate => Box::pin(self.fill(b, v, &c, Some(e), true)).await,
                }
            }
            // Vary: * matches no request: go to the origin, unconditionally; keep it as a fallback.
            Lookup::VaryAny(e) => Box::pin(self.fill(b, v, &c, Some(e), false)).await,
            // The origin fetch is boxed: its large state stays out of every hit's future.
            Lookup::Miss => Box::pin(self.fill(b, v, &c, None, false)).await,
        }
    }

    fn refresh_in_background(
        self: &Arc<Self>,
        v: &Viewer<'_>,
        c: Cacheable,
        stale: Arc<CachedResponse>,
    ) {
        let edge = self.clone();
        let ov = OwnedViewer::of(v);
        tokio::spawn(async move {
            let b = behavior::select(&edge.ordered, &edge.default, c.viewer_path());
            if let Ok((resp, _)) = edge.fill(b, &ov.view(), &c, Some(stale), true).await {
                // Reading the body to its end stores it.
                let _ = resp.into_body().collect().await;
            }
        });
    }

    /// [`Edge::answer_from`] for a hit, stamped from the entry's kept head when it has one (a hot
    /// entry: the same stored response as the last hits): a clone of the head the usual path
    /// built and stamped for it, with this request's `Age` and `X-Amz-Cf-Id` put in place of
    /// that request's. The head depends only on the entry and the viewer's HTTP version (which
    /// picks `Via`) when the viewer sent no precondition or Range, so the response is the same.
    fn answer_hit(
        &self,
        e: &Arc<CachedResponse>,
        c: &Cacheable,
        v: &Viewer<'_>,
    ) -> (Response<Body>, CacheResult) {
        let (Some(stamped), Some(via_value), Some(id)) =
            (v.stamped, v.via_value, v.request_id_value)
        else {
            return self.answer_from(e, c, v, CacheResult::Hit);
        };
        if e.status.as_u16() >= 400 || deliver::asks_preconditions_or_range(v.headers) {
            return self.answer_from(e, c, v, CacheResult::Hit);
        }
        let via = crate::tier::via_index(v.version);
        let Some(slot) = self.hit_heads.slot(e, via) else {
            return self.answer_from(e, c, v, CacheResult::Hit);
        };
        // The head is cloned outside the lock (the lock only takes a reference).
        let kept = match slot.lock() {
            Ok(s) if s.via == via && std::ptr::eq(s.entry.as_ptr(), Arc::as_ptr(e)) => {
                match &s.head {
                    Some(h) => Ok(h.clone()),
                    // Seen before: the entry is hot, keep its head from this response on.
                    None => Err(true),
                }
            }
            Ok(mut s) => {
                // First seen: remember it (a cold entry costs no head).
                s.entry = Arc::downgrade(e);
                s.via = via;
                s.head = None;
                Err(false)
            }
            Err(_) => Err(false),
        };
        match kept {
            Ok(head) => {
                let mut h = HeaderMap::clone(&head);
                drop(head);
                let now = self.cache.now();
                h.insert(
                    header::AGE,
                    deliver::age_value(e.freshness.age_header_secs(now)),
                );
                h.insert(crate::headers::X_AMZ_CF_ID, id.clone());
                self.counters.bytes_cache.add(e.body.len() as u64);
                stamped.store(true, std::sync::atomic::Ordering::Relaxed);
                (deliver::full_response(e, &c.method, h), CacheResult::Hit)
            }
            Err(keep) => {
                let (r, result) = self.answer_from(e, c, v, CacheResult::Hit);
                if keep && result == CacheResult::Hit {
                    let mut h = r.headers().clone();
                    crate::headers::stamp_viewer_response_with(
                        &mut h,
                        via_value,
                        v.via,
                        self.pop_value.as_ref(),
                        v.request_id,
                        Some(id),
                        result.x_cache(),
                    );
                    if let Ok(mut s) = slot.lock() {
                        if s.via == via && std::ptr::eq(s.entry.as_ptr(), Arc::as_ptr(e)) {
                            s.head = Some(Arc::new(h));
                        }
                    }
                }
                (r, result)
            }
        }
    }

    /// The response from a stored entry (`Age` on hits only).
    fn answer_from(
        &self,
        e: &CachedResponse,
        c: &Cacheable,
        v: &Viewer<'_>,
        result: CacheResult,
    ) -> (Response<Body>, CacheResult) {
        let mut r = deliver::from_entry(e, &c.method, v.headers, self.cache.now());
        if matches!(result, CacheResult::Miss) {
            r.headers_mut().remove(header::AGE);
        }
        if result != CacheResult::Miss {
            self.counters.bytes_cache.add(e.body.len() as u64);
        }
        let result = if e.status.as_u16() >= 400 {
            CacheResult::Error
        } else {
            result
        };
        (r, result)
    }

    fn error_caching_min_ttl(&self, status: StatusCode) -> Option<Duration> {
        self.custom_errors
            .iter()
            .find(|c| c.error_code == status.as_u16())
            .and_then(|c| c.error_caching_min_ttl)
            .map(Duration::from_secs)
    }

    /// Becomes the one fetcher of `c.key` (or shares the current fetcher's result).
    async fn lead(&self, b: &Behavior, c: &Cacheable) -> Result<Leader, Arc<CachedResponse>> {
        if !b.collapses() || self.cache.uncollapsible(c.key()) {
            return Ok(Leader(None));
        }
        loop {
            match self.cache.coalescer.acquire(c.key()) {
                Role::Leader(g) => return Ok(Leader(Some(g))),
                Role::Follower(f) => match f.wait().await {
                    Waited::Value(Some(e)) => {
                        self.counters.collapsed.inc();
                        return Err(e);
                    }
                    Waited::Value(None) | Waited::TimedOut => return Ok(Leader(None)),
                    Waited::LeaderGone => continue,
                },
            }
        }
    }

    /// Fetches `c` from the origin (conditionally when `stale` is given and `conditional`), and
    /// stores and delivers the result; a failing origin gets the stale copy served.
    async fn fill(
        &self,
        b: &Behavior,
        v: &Viewer<'_>,
        c: &Cacheable,
        stale: Option<Arc<CachedResponse>>,
        conditional: bool,
    ) -> Result<(Response<Body>, CacheResult), CdnError> {
        let leader = match self.lead(b, c).await {
            Ok(l) => l,
            Err(shared) => return Ok(self.answer_from(&shared, c, v, CacheResult::Hit)),
        };
        let cond = match (&stale, conditional) {
            (Some(s), true) => conditional::revalidation_headers(&s.headers),
            _ => HeaderMap::new(),
        };
        let request_time = self.cache.now();
        let fetched = self
            .fetch_cacheable(b, &c.method, v, c.path(), c.query(), &cond)
            .await;
        let now = self.cache.now();
        let failed_status = match &fetched {
            Err(e) => Some(e.status()),
            Ok(r) if r.status().is_server_error() => Some(r.status()),
            Ok(_) => None,
        };
        if let (Some(status), Some(s)) = (failed_status, stale.as_ref()) {
            if s.freshness.can_serve_on_error(now) {
                let wait = self
                    .error_caching_min_ttl(status)
                    .unwrap_or(edgeway_cache::cloudfront::DEFAULT_ERROR_CACHING_MIN_TTL);
                self.cache.back_off(c.key(), now + wait);
                self.counters.stale.inc();
                leader.complete(Some(s.clone()));
                return Ok(self.answer_from(s, c, v, CacheResult::Hit));
            }
        }
        let resp = match fetched {
            Ok(r) => r,
            Err(e) => {
                leader.complete(None);
                return Err(e);
            }
        };
        if resp.status() == StatusCode::NOT_MODIFIED {
            if let Some(s) = stale.as_ref().filter(|_| conditional) {
                let e = Arc::new(self.refreshed(b, v, c, s, resp.headers(), request_time, now));
                leader.complete(Some(e.clone()));
                return Ok(self.answer_from(&e, c, v, CacheResult::RefreshHit));
            }
        }
        self.store_and_deliver(b, v, c, resp, request_time, leader)
            .await
    }

    /// A stored entry refreshed by a 304.
    #[allow(clippy::too_many_arguments)]
    fn refreshed(
        &self,
        b: &Behavior,
        v: &Viewer<'_>,
        c: &Cacheable,
        s: &CachedResponse,
        not_modified: &HeaderMap,
        request_time: std::time::SystemTime,
        now: std::time::SystemTime,
    ) -> CachedResponse {
        let merged = conditional::merge_not_modified(&s.headers, not_modified);
        let x = Exchange {
            method: &c.method,
            status: s.status,
            headers: &merged,
            authorization: false,
            request_time,
            response_time: now,
            error_caching_min_ttl: self.error_caching_min_ttl(s.status),
            skew: self.cache.clock.offset(),
        };
        let d = ttl::decide(&b.cache_policy, &x);
        let directives = ttl::directives(&b.cache_policy, &merged);
        let mut headers = stored_headers(&merged, &directives.cache_control);
        clean_origin_response(&mut headers, b);
        let e = CachedResponse::new(s.status, headers, s.body.clone(), d.freshness);
        if d.store {
            self.cache.insert(c.key(), c.vary(b, v), e.clone());
        }
        e
    }

    /// An origin response (not a 304 for a stored entry): decided, maybe compressed, stored
    /// whole or teed while it streams, delivered.
    async fn store_and_deliver(
        &self,
        b: &Behavior,
        v: &Viewer<'_>,
        c: &Cacheable,
        resp: Response<edgeway_http::UpstreamBody>,
        request_time: std::time::SystemTime,
        leader: Leader,
    ) -> Result<(Response<Body>, CacheResult), CdnError> {
        let now = self.cache.now();
        let (mut parts, body) = resp.into_parts();
        let raw = parts.headers.clone();
        clean_origin_response(&mut parts.headers, b);
        parts.version = Version::default();
        let x = Exchange {
            method: &c.method,
            status: parts.status,
            headers: &raw,
            authorization: b.forwards_authorization()
                && v.headers.contains_key(header::AUTHORIZATION),
            request_time,
            response_time: now,
            error_caching_min_ttl: self.error_caching_min_ttl(parts.status),
            skew: self.cache.clock.offset(),
        };
        let mut d = ttl::decide(&b.cache_policy, &x);
        // A HEAD response has no body to store.
        d.store &= c.method != Method::HEAD;
        self.cache.mark_uncollapsible(c.key(), !d.collapse);
        let result = if parts.status.as_u16() >= 400 {
            CacheResult::Error
        } else {
            CacheResult::Miss
        };
        let idle = self.origins.get(b.origin).map(|o| o.read_timeout);
        let body = MeteredBody::new(body, self.counters.bytes_out.clone(), idle).boxed();
        let directives = ttl::directives(&b.cache_policy, &raw);
        let length = content_length(&parts.headers);
        let max = self.cache.max_object_bytes;
        let coding = if c.method == Method::HEAD {
            None
        } else {
            compress::choose(b, v.headers, v.version, parts.status, &parts.headers)
        };
        let whole = coding.is_some()
            || (d.store && needs_entry(v.headers) && length.is_some_and(|l| l <= max));
        if whole {
            let limit = length.unwrap_or(0).max(compress::MAX_BYTES);
            let bytes = match collect_limited(body, limit).await {
                Ok(b) => b,
                Err(e) => {
                    leader.complete(None);
                    return Err(CdnError::Origin(edgeway_http::UpstreamError::Protocol(e)));
                }
            };
            let mut headers = parts.headers;
            let bytes = match coding {
                Some(coding) => match tokio::task::spawn_blocking(move || {
                    compress::encode(coding, &bytes).map_err(|_| bytes)
                })
                .await
                {
                    Ok(Ok(z)) => {
                        compress::rewrite_headers(&mut headers, coding, z.len());
                        self.counters.compressed.inc();
                        z
                    }
                    Ok(Err(plain)) => plain,
                    Err(_) => {
                        leader.complete(None);
                        return Err(CdnError::Origin(edgeway_http::UpstreamError::Protocol(
                            "compression failed".into(),
                        )));
                    }
                },
                None => bytes,
            };
            let e = CachedResponse::new(
                parts.status,
                stored_headers(&headers, &directives.cache_control),
                bytes,
                d.freshness,
            );
            if d.store && e.body.len() as u64 <= max {
                self.cache.insert(c.key(), c.vary(b, v), e.clone());
                leader.complete(Some(Arc::new(e.clone())));
            } else {
                leader.complete(None);
            }
            return Ok(self.answer_from(&e, c, v, CacheResult::Miss));
        }
        if !d.store || length.is_some_and(|l| l > max) {
            leader.complete(None);
            return Ok((Response::from_parts(parts, body), result));
        }
        let stored = stored_headers(&parts.headers, &directives.cache_control);
        let (cache, key, vary, status, freshness) = (
            self.cache.clone(),
            c.key().to_string(),
            c.vary(b, v).clone(),
            parts.status,
            d.freshness,
        );
        let done = Box::new(move |got: Option<bytes::Bytes>| match got {
            Some(bytes) => {
                let e = CachedResponse::new(status, stored, bytes, freshness);
                cache.insert(&key, &vary, e.clone());
                leader.complete(Some(Arc::new(e)));
            }
            None => leader.complete(None),
        });
        let body = TeeBody::new(body, length, max, done).boxed();
        Ok((Response::from_parts(parts, body), result))
    }

    /// The origin request of a cacheable request: the viewer's conditionals and Range stay
    /// at the edge (it answers them from the whole object); `cond` revalidates a stored one.
    async fn fetch_cacheable(
        &self,
        b: &Behavior,
        method: &Method,
        v: &Viewer<'_>,
        path: &str,
        query: Option<&str>,
        cond: &HeaderMap,
    ) -> Result<Response<edgeway_http::UpstreamBody>, CdnError> {
        let mut headers = v.headers.clone();
        for n in [
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_UNMODIFIED_SINCE,
            header::IF_RANGE,
        ] {
            headers.remove(n);
        }
        let viewer = Viewer {
            headers: &headers,
            ..*v
        };
        self.fetch_with(b, method, &viewer, RequestBody::Empty, path, query, cond)
            .await
    }
}
