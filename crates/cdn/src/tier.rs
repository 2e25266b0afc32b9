//! The CloudFront tier: one [`Edge`] per distribution, and the life of a request as a short
//! linear async fn over named phases.

use crate::access_log::{self, AccessLog, LoggedBody};
use crate::behavior::{self, Behavior};
use crate::body::{MeteredBody, RequestBody};
use crate::counters::{CacheResult, Counters};
use crate::edge_cache::EdgeCache;
use crate::error_page::{error_response, CdnError};
use crate::headers::{
    clean_origin_response, origin_request_headers_with, stamp_viewer_response,
    stamp_viewer_response_with, OriginHeaderInput, PreparedValues, ViewerStamp,
};
use crate::invalidation::Ledger;
use crate::origin::Origin;
use crate::origin_request::{self, OriginRequest};
use crate::viewer::{self, ViewerRequest, ViewerVerdict};
use crate::{distribution, ids, params};
use edgeway_http::metrics::{Counter, Metrics};
use edgeway_http::RequestBody as ViewerBody;
use edgeway_http::{Body, ConnInfo, Handler, Resolve, UpstreamBody};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::sync::Arc;

/// The CDN tier: every distribution of a config, ready to serve. Cheap to clone.
#[derive(Clone)]
pub struct CdnTier {
    edges: Arc<HashMap<String, Arc<Edge>>>,
    pub(crate) cache: Arc<EdgeCache>,
    pub(crate) ledger: Arc<Ledger>,
}

impl CdnTier {
    /// `resolver` resolves origin domain names (the wiring passes edgeway's own DNS tier);
    /// `extra_roots` are trusted for origin TLS besides the system roots (the local CA).
    pub fn new(
        cfg: &edgeway_config::Config,
        resolver: Arc<dyn Resolve>,
        extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
        metrics: Metrics,
    ) -> Result<Self, String> {
        let tls = edgeway_http::tls::client_config(&extra_roots)
            .map_err(|e| format!("origin TLS: {e}"))?;
        let edge_host: Arc<str> = ids::edge_host().into();
        let cache = Arc::new(EdgeCache::new(&cfg.cache, &metrics)?);
        let mut edges = HashMap::new();
        for d in &cfg.distributions {
            let edge = Edge::new(
                cfg,
                d,
                tls.clone(),
                resolver.clone(),
                &metrics,
                edge_host.clone(),
                cache.clone(),
            )
            .map_err(|e| format!("distribution `{}`: {e}", d.id))?;
            edges.insert(d.id.clone(), Arc::new(edge));
        }
        Ok(Self {
            edges: Arc::new(edges),
            cache,
            ledger: Arc::new(Ledger::default()),
        })
    }

    /// The cache's clock (tests advance it to expire entries).
    pub fn clock(&self) -> crate::clock::Clock {
        self.cache.clock.clone()
    }

    pub(crate) fn edge(&self, id: &str) -> Option<&Arc<Edge>> {
        self.edges.get(id)
    }

    /// The handler for distribution `id` on its listener `https://…`/`http://…` at `port` (the
    /// bound port).
    pub fn handler(&self, distribution: &str, https: bool, port: u16) -> Option<Arc<dyn Handler>> {
        let edge = self.edges.get(distribution)?.clone();
        let listener = format!("{}:{port}", if https { "https" } else { "http" });
        let requests = edge.counters.requests(&listener);
        Some(Arc::new(EdgeHandler {
            edge,
            https,
            requests,
        }))
    }
}

struct EdgeHandler {
    edge: Arc<Edge>,
    https: bool,
    requests: Counter,
}

impl Handler for EdgeHandler {
    fn handle(
        &self,
        req: Request<ViewerBody>,
        conn: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        self.requests.inc();
        let edge = self.edge.clone();
        let conn = conn.clone();
        let https = self.https;
        edgeway_http::serve::boxed_future(move || async move {
            Edge::serve(&edge, req, https, &conn).await
        })
    }
}

/// One distribution at run time.
pub(crate) struct Edge {
    pub(crate) id: String,
    aliases: Vec<String>,
    enabled: bool,
    pop: String,
    default_root_object: Option<String>,
    /// The distribution's HTTPS listener port, for redirects.
    https_port: u16,
    pub(crate) ordered: Vec<Behavior>,
    pub(crate) default: Behavior,
    pub(crate) origins: Vec<Origin>,
    pub(crate) custom_errors: Vec<edgeway_config::CustomErrorResponse>,
    /// `Via` for HTTP/0.9, 1.0, 1.1, 2 and 3 viewers (built once; see [`ids::via`]).
    vias: [String; 5],
    /// The same as header values, and the `X-Amz-Cf-Pop` value (None when `pop` is not a valid
    /// header value).
    via_values: [HeaderValue; 5],
    pub(crate) pop_value: Option<HeaderValue>,
    /// Stamped viewer response heads of hot cache entries.
    pub(crate) hit_heads: crate::cache_phase::HitHeads,
    pub(crate) counters: Counters,
    pub(crate) cache: Arc<EdgeCache>,
    access_log: Option<AccessLog>,
}

/// What the phases after the viewer checks need to know about the viewer.
#[derive(Clone, Copy)]
pub(crate) struct Viewer<'a> {
    pub(crate) https: bool,
    pub(crate) version: Version,
    pub(crate) host: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) conn: &'a Arc<ConnInfo>,
    pub(crate) via: &'a str,
    pub(crate) request_id: &'a str,
    /// `via` and `request_id` as header values, when the request path holds them.
    pub(crate) via_value: Option<&'a HeaderValue>,
    pub(crate) request_id_value: Option<&'a HeaderValue>,
    /// The viewer's path and query as received (the origin URI reuses it when unchanged).
    pub(crate) path_and_query: Option<&'a http::uri::PathAndQuery>,
    /// Set when the response already carries the viewer stamp (X-Cache, Via, X-Amz-Cf-Pop,
    /// X-Amz-Cf-Id) exactly as [`Edge::serve`] would add it; None: the caller always stamps.
    pub(crate) stamped: Option<&'a std::sync::atomic::AtomicBool>,
}

/// The slot of an HTTP version in `Edge::vias`.
pub(crate) fn via_index(v: Version) -> usize {
    match v {
        Version::HTTP_09 => 0,
        Version::HTTP_10 => 1,
        Version::HTTP_2 => 3,
        Version::HTTP_3 => 4,
        _ => 2,
    }
}

/// A header value (of a valid `text`) whose clones share one buffer: cloned on every response,
/// it costs a reference count, not a copy. Invalid text gives an empty value.
fn shared_value(text: &str) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(text.as_bytes()).slice(..))
        .unwrap_or(HeaderValue::from_static(""))
}

/// The viewer's Host: the `Host` header, else `:authority`, else the TLS SNI.
fn viewer_host<'a>(req: &'a http::request::Parts, conn: &'a ConnInfo) -> Option<&'a str> {
    req.headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri.authority().map(|a| a.as_str()))
        .or_else(|| conn.tls.as_ref().and_then(|t| t.sni.as_deref()))
}

/// The origin path for a viewer path: `default_root_object` replaces exactly `/`.
pub fn apply_default_root_object(path: &str, default_root_object: Option<&str>) -> String {
    root_object_path(path, default_root_object).into_owned()
}

/// [`apply_default_root_object`], borrowing the viewer's path when it is kept (most requests).
fn root_object_path<'a>(
    path: &'a str,
    default_root_object: Option<&str>,
) -> std::borrow::Cow<'a, str> {
    match default_root_object {
        Some(o) if path == "/" && !o.is_empty() => format!("/{}", o.trim_start_matches('/')).into(),
        _ => path.into(),
    }
}

/// CloudFront's redirect for the viewer protocol policy.
fn redirect_response(status: StatusCode, location: &str, head: bool) -> Response<Body> {
    let text = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let html = format!("<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n<center><h1>{text}</h1></center>\r\n<hr><center>CloudFront</center>\r\n</body>\r\n</html>\r\n");
    let len = html.len();
    let mut r = Response::new(if head {
        edgeway_http::empty()
    } else {
        edgeway_http::full(html)
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(http::header::SERVER, HeaderValue::from_static("CloudFront"));
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(l) = HeaderValue::from_str(location) {
        h.insert(http::header::LOCATION, l);
    }
    r
}

impl Edge {
    fn new(
        cfg: &edgeway_config::Config,
        d: &edgeway_config::Distribution,
        tls: Arc<rustls::ClientConfig>,
        resolver: Arc<dyn Resolve>,
        metrics: &Metrics,
        edge_host: Arc<str>,
        cache: Arc<EdgeCache>,
    ) -> Result<Self, String> {
        let ids: Vec<&str> = d.origins.iter().map(|o| o.origin_id.as_str()).collect();
        let groups = &d.origin_group;
        let ordered = d
            .ordered_cache_behavior
            .iter()
            .map(|b| Behavior::with_groups(cfg, b, &ids, groups))
            .collect::<Result<Vec<_>, _>>()?;
        let default = Behavior::with_groups(cfg, &d.default_cache_behavior, &ids, groups)?;
        let origins = d
            .origins
            .iter()
            .map(|o| Origin::new(o, tls.clone(), resolver.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let https_port = d
            .listen
            .iter()
            .filter_map(|l| edgeway_config::parse_listen_url(l).ok())
            .find(|(https, _)| *https)
            .map_or(443, |(_, a)| a.port());
        let vias = [
            Version::HTTP_09,
            Version::HTTP_10,
            Version::HTTP_11,
            Version::HTTP_2,
            Version::HTTP_3,
        ]
        .map(|v| ids::via(v, &edge_host));
        Ok(Self {
            id: d.id.clone(),
            aliases: d.aliases.clone(),
            enabled: d.enabled,
            pop: d.pop.clone(),
            default_root_object: d.default_root_object.clone(),
            https_port,
            ordered,
            default,
            origins,
            custom_errors: d.custom_error_response.clone(),
            vias: vias.clone(),
            via_values: vias.map(|v| shared_value(&v)),
            pop_value: HeaderValue::from_str(&d.pop)
                .ok()
                .map(|p| shared_value(p.to_str().unwrap_or_default())),
            counters: Counters::new(metrics, &d.id, &ids),
            cache,
            hit_heads: crate::cache_phase::HitHeads::new(),
            access_log: d
                .access_log
                .as_deref()
                .and_then(AccessLog::start)
                .map(|l| l.with_cookies(d.access_log_include_cookies)),
        })
    }

    /// The life of a request.
    async fn serve(
        self: &Arc<Self>,
        req: Request<ViewerBody>,
        https: bool,
        conn: &Arc<ConnInfo>,
    ) -> Response<Body> {
        let start = std::time::Instant::now();
        let rid = ids::RequestId::new();
        let request_id = rid.as_str();
        let rid_value = rid.header_value();
        let stamped = std::sync::atomic::AtomicBool::new(false);
        let version = req.version();
        let via = self.via(version);
        let head = req.method() == Method::HEAD;
        let log = self
            .access_log
            .as_ref()
            // Boxed: a ~500-byte entry would sit in every request's future, logged or not.
            .map(|_| Box::new(self.log_entry(&req, https, conn, request_id)));
        let (mut resp, result, detail) = match self
            .respond(
                req,
                https,
                conn,
                via,
                request_id,
                rid_value.as_ref(),
                &stamped,
            )
            .await
        {
            Ok((r, c)) => (r, c, c.label()),
            Err(e) => (
                self.fail(&e, request_id, head),
                CacheResult::Error,
                e.kind(),
            ),
        };
        match self.via_values.get(via_index(version)) {
            _ if stamped.load(std::sync::atomic::Ordering::Relaxed) => {}
            Some(via_value) => stamp_viewer_response_with(
                resp.headers_mut(),
                via_value,
                via,
                self.pop_value.as_ref(),
                request_id,
                rid_value.as_ref(),
                result.x_cache(),
            ),
            None => stamp_viewer_response(
                resp.headers_mut(),
                &ViewerStamp {
                    via,
                    request_id,
                    pop: &self.pop,
                    x_cache: result.x_cache(),
                },
            ),
        }
        self.counters.cache(result).inc();
        self.counters.response(resp.status().as_u16());
        match (log, &self.access_log) {
            (Some(entry), Some(sink)) => {
                let entry = access_log::finish_entry(*entry, &resp, result.label(), detail);
                let (parts, body) = resp.into_parts();
                Response::from_parts(
                    parts,
                    LoggedBody::new(body, entry, sink.clone(), start).boxed(),
                )
            }
            _ => resp,
        }
    }

    /// The `Via` for a viewer of HTTP version `v`.
    fn via(&self, v: Version) -> &str {
        self.vias.get(via_index(v)).map_or("", String::as_str)
    }

    /// The log facts of a request, before it is consumed.
    fn log_entry(
        &self,
        req: &Request<ViewerBody>,
        https: bool,
        conn: &ConnInfo,
        request_id: &str,
    ) -> access_log::Entry {
        let h = req.headers();
        let text = |n: http::header::HeaderName| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        access_log::Entry {
            pop: self.pop.clone(),
            client_ip: conn.peer.ip().to_string(),
            client_port: conn.peer.port(),
            method: req.method().to_string(),
            host_header: text(http::header::HOST),
            distribution_host: format!("{}.cloudfront.net", self.id),
            uri_stem: req.uri().path().to_string(),
            uri_query: req.uri().query().unwrap_or("").to_string(),
            referer: text(http::header::REFERER),
            user_agent: text(http::header::USER_AGENT),
            // HTTP/2 viewers may split cookies over several headers.
            cookie: if self.access_log.as_ref().is_some_and(|l| l.include_cookies) {
                h.get_all(http::header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                String::new()
            },
            request_id: request_id.to_string(),
            https,
            request_bytes: h
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 4)
                .sum::<usize>() as u64,
            forwarded_for: text(http::header::HeaderName::from_static("x-forwarded-for")),
            ssl_protocol: conn
                .tls
                .as_ref()
                .map(|t| t.version.to_string())
                .unwrap_or_default(),
            ssl_cipher: conn
                .tls
                .as_ref()
                .map(|t| t.cipher.clone())
                .unwrap_or_default(),
            protocol_version: format!("HTTP/{}", ids::version_text(req.version())),
            ..Default::default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn respond(
        self: &Arc<Self>,
        req: Request<ViewerBody>,
        https: bool,
        conn: &Arc<ConnInfo>,
        via: &str,
        request_id: &str,
        request_id_value: Option<&HeaderValue>,
        stamped: &std::sync::atomic::AtomicBool,
    ) -> Result<(Response<Body>, CacheResult), CdnError> {
        let (parts, body) = req.into_parts();
        let method = &parts.method;
        // 1. Distribution.
        let host = viewer_host(&parts, conn);
        self.check_distribution(host)?;
        // 2. Cache behavior.
        let behavior = behavior::select(&self.ordered, &self.default, parts.uri.path());
        // 3. Viewer protocol policy.
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let vr = ViewerRequest {
            https,
            method,
            version: parts.version,
            host: host.unwrap_or("localhost"),
            path_and_query: pq,
        };
        match viewer::viewer_protocol(behavior.viewer_protocol_policy, &vr, self.https_port) {
            ViewerVerdict::Serve => {}
            ViewerVerdict::Redirect(status, location) => {
                return Ok((
                    redirect_response(status, &location, method == Method::HEAD),
                    CacheResult::Redirect,
                ));
            }
            ViewerVerdict::Refuse(r) => return Err(r.into()),
        }
        // 4. Allowed methods.
        if !viewer::method_allowed(&behavior.allowed_methods, method) {
            return Err(CdnError::MethodNotAllowed);
        }
        if (method == Method::GET || method == Method::HEAD)
            && !http_body::Body::is_end_stream(&body)
        {
            return Err(CdnError::GetWithBody);
        }
        // 5. Default root object.
        let path = root_object_path(parts.uri.path(), self.default_root_object.as_deref());
        let viewer = Viewer {
            https,
            version: parts.version,
            host,
            headers: &parts.headers,
            conn,
            via,
            request_id,
            via_value: self.via_values.get(via_index(parts.version)),
            request_id_value,
            path_and_query: parts.uri.path_and_query(),
            stamped: Some(stamped),
        };
        // 6. Cache: hit, stale, or miss → origin → store.
        let answered = match self.cacheable(
            behavior,
            method,
            &viewer,
            parts.uri.path(),
            &path,
            parts.uri.query(),
        ) {
            Some(c) => self.cached(behavior, &viewer, c).await,
            // 7. Not cacheable: the origin request as it is.
            None => {
                let content_length = parts
                    .headers
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok());
                let body = if http_body::Body::is_end_stream(&body) {
                    RequestBody::Empty
                } else {
                    let body = MeteredBody::new(
                        edgeway_http::body::boxed(body),
                        self.counters.bytes_in.clone(),
                        None,
                    )
                    .boxed();
                    RequestBody::from_viewer(body, content_length)
                        .await
                        .map_err(|_| CdnError::BadRequestBody)?
                };
                let fetched = self
                    .fetch(behavior, method, &viewer, body, &path, parts.uri.query())
                    .await;
                self.invalidate_after_unsafe(behavior, method, &viewer, &path, &fetched);
                fetched.map(|r| self.deliver(r, behavior))
            }
        };
        // 8. Deliver (custom error pages replace errors).
        let status = match &answered {
            Ok((r, _)) => r.status(),
            Err(e) => e.status(),
        };
        if status.as_u16() >= 400 {
            if let Some(page) = Box::pin(self.custom_error_page(status, &viewer)).await {
                return Ok(page);
            }
        }
        answered
    }

    fn check_distribution(&self, host: Option<&str>) -> Result<(), CdnError> {
        if !self.enabled {
            return Err(CdnError::Disabled);
        }
        if !distribution::serves_host(&self.aliases, &self.id, host) {
            return Err(CdnError::UnknownHost);
        }
        Ok(())
    }

    /// Sends the origin request for `path` under `behavior`.
    async fn fetch(
        &self,
        behavior: &Behavior,
        method: &Method,
        v: &Viewer<'_>,
        body: RequestBody,
        path: &str,
        query: Option<&str>,
    ) -> Result<Response<UpstreamBody>, CdnError> {
        self.fetch_with(behavior, method, v, body, path, query, &HeaderMap::new())
            .await
    }

    /// Sends the origin request with `extra` headers set, failing over to the origin group's
    /// secondary on its status codes, connection failures and timeouts (GET/HEAD/OPTIONS).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn fetch_with(
        &self,
        behavior: &Behavior,
        method: &Method,
        v: &Viewer<'_>,
        body: RequestBody,
        path: &str,
        query: Option<&str>,
        extra: &HeaderMap,
    ) -> Result<Response<UpstreamBody>, CdnError> {
        let Some(f) = behavior
            .failover
            .as_ref()
            .filter(|_| crate::origin_group::method_fails_over(method))
        else {
            return self
                .fetch_from(
                    behavior.origin,
                    behavior,
                    method,
                    v,
                    body,
                    path,
                    query,
                    extra,
                )
                .await;
        };
        let first = self
            .fetch_from(
                behavior.origin,
                behavior,
                method,
                v,
                RequestBody::Empty,
                path,
                query,
                extra,
            )
            .await;
        let fail_over = match &first {
            Ok(r) => f.on_status(r.status()),
            Err(CdnError::Origin(e)) => {
                e.is_connect() || matches!(e, edgeway_http::UpstreamError::Timeout)
            }
            Err(_) => false,
        };
        if !fail_over {
            return first;
        }
        tracing::debug!(distribution = %self.id, group = %f.group, "failing over to the secondary origin");
        self.counters.failover(&f.group);
        self.fetch_from(f.secondary, behavior, method, v, body, path, query, extra)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn fetch_from(
        &self,
        index: usize,
        behavior: &Behavior,
        method: &Method,
        v: &Viewer<'_>,
        body: RequestBody,
        path: &str,
        query: Option<&str>,
        extra: &HeaderMap,
    ) -> Result<Response<UpstreamBody>, CdnError> {
        let Some(origin) = self.origins.get(index) else {
            return Err(CdnError::Origin(edgeway_http::UpstreamError::Protocol(
                "no such origin".into(),
            )));
        };
        let orp_query = behavior
            .origin_request_policy
            .as_ref()
            .map(|o| &o.query_strings);
        let query =
            params::filter_query(query, &behavior.cache_policy.key.query_strings, orp_query);
        let uri = match origin.uri_from(v.https, path, query.as_deref(), v.path_and_query) {
            Ok(u) => u,
            Err(e) => {
                let e = CdnError::Origin(edgeway_http::UpstreamError::Protocol(e));
                self.counters.upstream_error(e.kind());
                tracing::debug!(distribution = %self.id, origin = %origin.id, error = ?e, "origin request failed");
                return Err(e);
            }
        };
        let build = || {
            let mut headers = origin_request_headers_with(
                v.headers,
                &OriginHeaderInput {
                    method,
                    https: v.https,
                    version: v.version,
                    peer: v.conn.peer,
                    viewer_host: v.host,
                    tls: v.conn.tls.as_ref(),
                    behavior,
                    origin_domain: &origin.domain_name,
                    custom_headers: &origin.custom_headers,
                    via: v.via,
                    request_id: v.request_id,
                },
                PreparedValues {
                    via: v.via_value,
                    origin_host: origin.host_value.as_ref(),
                    request_id: v.request_id_value,
                },
            );
            for (k, val) in extra {
                headers.insert(k.clone(), val.clone());
            }
            headers
        };
        let headers = build();
        let Some(counter) = self.counters.origin_requests.get(index) else {
            return Err(CdnError::Origin(edgeway_http::UpstreamError::Protocol(
                "no such origin".into(),
            )));
        };
        origin_request::send(origin, OriginRequest { method: method.clone(), uri, headers, body }, &build, counter).await.map_err(|e| {
            let e = CdnError::Origin(e);
            self.counters.upstream_error(e.kind());
            tracing::debug!(distribution = %self.id, origin = %origin.id, error = ?e, "origin request failed");
            e
        })
    }

    /// The viewer response for an origin response: headers cleaned, body streamed and counted.
    fn deliver(
        &self,
        resp: Response<UpstreamBody>,
        behavior: &Behavior,
    ) -> (Response<Body>, CacheResult) {
        let (mut parts, body) = resp.into_parts();
        clean_origin_response(&mut parts.headers, behavior);
        parts.version = Version::default();
        let idle = self.origins.get(behavior.origin).map(|o| o.read_timeout);
        let body = MeteredBody::new(body, self.counters.bytes_out.clone(), idle).boxed();
        let result = if parts.status.as_u16() >= 400 {
            CacheResult::Error
        } else {
            CacheResult::Miss
        };
        (Response::from_parts(parts, body), result)
    }

    /// A `custom_error_response` for `status`: its page fetched from the origin of the first
    /// behavior matching the page path, served with `response_code` (or `status`).
    async fn custom_error_page(
        &self,
        status: StatusCode,
        v: &Viewer<'_>,
    ) -> Option<(Response<Body>, CacheResult)> {
        let cer = self
            .custom_errors
            .iter()
            .find(|c| c.error_code == status.as_u16())?;
        let page = cer.response_page_path.as_deref()?;
        let (path, query) = match page.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (page, None),
        };
        let behavior = behavior::select(&self.ordered, &self.default, path);
        let resp = self
            .fetch(behavior, &Method::GET, v, RequestBody::Empty, path, query)
            .await
            .ok()?;
        let ok = resp.status().is_success();
        let (mut resp, _) = self.deliver(resp, behavior);
        if ok {
            let code = cer
                .response_code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(status);
            *resp.status_mut() = code;
        }
        Some((resp, CacheResult::Error))
    }

    fn fail(&self, e: &CdnError, request_id: &str, head: bool) -> Response<Body> {
        tracing::debug!(distribution = %self.id, error = ?e, "edge error");
        error_response(e, request_id, head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_root_object_only_for_the_root() {
        let table: &[(&str, Option<&str>, &str)] = &[
            ("/", Some("index.html"), "/index.html"),
            ("/", None, "/"),
            ("/docs/", Some("index.html"), "/docs/"),
            ("/index.html", Some("index.html"), "/index.html"),
            ("/", Some("app/main.php"), "/app/main.php"),
        ];
        for (path, dro, want) in table {
            assert_eq!(
                apply_default_root_object(path, *dro),
                *want,
                "{path} {dro:?}"
            );
        }
    }
}
