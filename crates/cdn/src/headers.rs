//! The headers CloudFront sends to the origin (cache key ∪ origin request policy ∪ the default
//! forwarding table, plus what it adds) and the headers it changes on the viewer response.

use crate::behavior::Behavior;
use crate::params;
use edgeway_http::headers::{
    append_forwarded_for, connection_named, is_hop_by_hop, strip_hop_by_hop,
};
use edgeway_http::TlsInfo;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Version};
use std::net::SocketAddr;

/// What the origin request headers depend on, besides the viewer's headers.
pub struct OriginHeaderInput<'a> {
    pub method: &'a Method,
    pub https: bool,
    pub version: Version,
    pub peer: SocketAddr,
    /// The viewer's Host (`Host` header or `:authority`).
    pub viewer_host: Option<&'a str>,
    pub tls: Option<&'a TlsInfo>,
    pub behavior: &'a Behavior,
    pub origin_domain: &'a str,
    pub custom_headers: &'a [(HeaderName, HeaderValue)],
    /// `1.1 <edge> (CloudFront)`.
    pub via: &'a str,
    pub request_id: &'a str,
}

pub(crate) const X_AMZ_CF_ID: HeaderName = HeaderName::from_static("x-amz-cf-id");
const X_AMZ_CF_POP: HeaderName = HeaderName::from_static("x-amz-cf-pop");
const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The `CloudFront-Is-*-Viewer` headers [`device_headers`] derives.
const DEVICE_HEADERS: [&str; 6] = [
    "cloudfront-is-android-viewer",
    "cloudfront-is-ios-viewer",
    "cloudfront-is-tablet-viewer",
    "cloudfront-is-mobile-viewer",
    "cloudfront-is-smarttv-viewer",
    "cloudfront-is-desktop-viewer",
];

/// Viewer headers CloudFront removes unless the cache key or origin request policy names them.
const REMOVED: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "expect",
    "referer",
    "te",
    "trailer",
    "upgrade",
    "x-forwarded-proto",
    "x-http-method-override",
    "x-real-ip",
    "x-amz-cf-id",
];

fn removed_by_default(name: &str) -> bool {
    REMOVED.contains(&name) || name.starts_with("proxy-") || name.starts_with("x-edge-")
}

/// The `Accept-Encoding` CloudFront normalizes into the key and sends to the origin:
/// `br,gzip`, `gzip`, `br` (as enabled and offered), else `identity`. With zstd enabled (an
/// edgeway extension) it joins in preference order: `br,zstd,gzip`, `br,zstd`, `zstd,gzip`,
/// `zstd`.
pub fn normalized_accept_encoding(
    viewer: &HeaderMap,
    gzip: bool,
    brotli: bool,
    zstd: bool,
    version: Version,
) -> &'static str {
    // HTTP/1.0 viewers get no compression.
    if version == Version::HTTP_10 || version == Version::HTTP_09 {
        return "identity";
    }
    let mut offers_gzip = false;
    let mut offers_br = false;
    let mut offers_zstd = false;
    for v in viewer
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for tok in v.split(',') {
            let mut parts = tok.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            if refused {
                continue;
            }
            if coding.eq_ignore_ascii_case("gzip") {
                offers_gzip = true;
            } else if coding.eq_ignore_ascii_case("br") {
                offers_br = true;
            } else if coding.eq_ignore_ascii_case("zstd") {
                offers_zstd = true;
            }
        }
    }
    match (
        brotli && offers_br,
        zstd && offers_zstd,
        gzip && offers_gzip,
    ) {
        (true, false, true) => "br,gzip",
        (true, false, false) => "br",
        (false, false, true) => "gzip",
        (true, true, true) => "br,zstd,gzip",
        (true, true, false) => "br,zstd",
        (false, true, true) => "zstd,gzip",
        (false, true, false) => "zstd",
        (false, false, false) => "identity",
    }
}

/// Device classes CloudFront derives from User-Agent, as `CloudFront-Is-*-Viewer` headers.
pub fn device_headers(user_agent: &str) -> [(&'static str, bool); 6] {
    let ua = user_agent;
    let android = ua.contains("Android");
    let ios = ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod");
    let tablet =
        ua.contains("iPad") || ua.contains("Tablet") || (android && !ua.contains("Mobile"));
    let smarttv = [
        "SmartTV", "SMART-TV", "GoogleTV", "AppleTV", "BRAVIA", "HbbTV", "Roku", "Web0S", "WebOS",
    ]
    .iter()
    .any(|t| ua.contains(t));
    let mobile = !tablet
        && (ua.contains("Mobile")
            || ua.contains("iPhone")
            || ua.contains("iPod")
            || ua.contains("Windows Phone"));
    let desktop = !tablet && !mobile && !smarttv;
    let [a, i, t, m, s, d] = DEVICE_HEADERS;
    [
        (a, android),
        (i, ios),
        (t, tablet),
        (m, mobile),
        (s, smarttv),
        (d, desktop),
    ]
}

/// Header values the request path already holds (built once per process, distribution or
/// origin, or once per request and shared): [`origin_request_headers_with`] clones them instead
/// of validating and copying their text. Each must be the value of the text it stands for.
#[derive(Default, Clone, Copy)]
pub struct PreparedValues<'a> {
    /// `OriginHeaderInput::via` as a value.
    pub via: Option<&'a HeaderValue>,
    /// `OriginHeaderInput::origin_domain` as a value (the usual `Host`).
    pub origin_host: Option<&'a HeaderValue>,
    /// `OriginHeaderInput::request_id` as a value.
    pub request_id: Option<&'a HeaderValue>,
}

/// The headers of the origin request.
pub fn origin_request_headers(viewer: &HeaderMap, i: &OriginHeaderInput<'_>) -> HeaderMap {
    origin_request_headers_with(viewer, i, PreparedValues::default())
}

/// [`origin_request_headers`] with values the caller has prepared.
pub fn origin_request_headers_with(
    viewer: &HeaderMap,
    i: &OriginHeaderInput<'_>,
    prepared: PreparedValues<'_>,
) -> HeaderMap {
    let key = &i.behavior.cache_policy.key;
    let orp = i.behavior.origin_request_policy.as_ref();
    let forwarded =
        |name: &str| key.has_header(name) || orp.is_some_and(|o| o.forwards_header(name));
    let wanted_generated =
        |name: &str| key.has_header(name) || orp.is_some_and(|o| o.wants_cloudfront_header(name));

    // Hop-by-hop headers and those `Connection` names never reach the origin.
    let named = connection_named(viewer);
    // The client parses the origin's response head into this same map (`wire::parse_head`
    // reserves its fields + 8): sized for that now, it is allocated once, not twice.
    let mut out = HeaderMap::with_capacity((viewer.len() + 8).max(24));
    let mut viewer_xff = false;
    for (name, value) in viewer {
        if is_hop_by_hop(name) || named.contains(name) {
            continue;
        }
        let n = name.as_str();
        let keep = match n {
            "x-forwarded-for" => {
                viewer_xff = true;
                false
            }
            "host" | "cookie" => false,
            _ if n.starts_with("cloudfront-") => false,
            "accept-encoding" if key.normalizes_accept_encoding() => false,
            "via" => true,
            _ if forwarded(n) => true,
            "user-agent" => false,
            // Kept for methods that are never cached.
            "authorization" => !i.behavior.caches_method(i.method),
            _ => !removed_by_default(n),
        };
        if keep {
            out.append(name.clone(), value.clone());
        }
    }

    let host = if forwarded("host") {
        i.viewer_host
    } else {
        None
    };
    match (host, prepared.origin_host) {
        (None, Some(h)) => {
            out.insert(http::header::HOST, h.clone());
        }
        _ => {
            if let Ok(h) = HeaderValue::from_str(host.unwrap_or(i.origin_domain)) {
                out.insert(http::header::HOST, h);
            }
        }
    }
    let orp_cookies = orp.map(|o| &o.cookies);
    if let Some(c) = params::filter_cookies(viewer, &key.cookies, orp_cookies) {
        if let Ok(c) = HeaderValue::from_str(&c) {
            out.insert(http::header::COOKIE, c);
        }
    }
    if key.normalizes_accept_encoding() {
        let ae = normalized_accept_encoding(
            viewer,
            key.accept_encoding_gzip,
            key.accept_encoding_brotli,
            key.accept_encoding_zstd,
            i.version,
        );
        out.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static(ae));
    }
    // (A hop-by-hop or `Connection`-named X-Forwarded-For is still the viewer's: it is copied.)
    if viewer_xff || named.contains(&X_FORWARDED_FOR) {
        for xff in viewer.get_all(&X_FORWARDED_FOR) {
            out.append(X_FORWARDED_FOR, xff.clone());
        }
        append_forwarded_for(&mut out, &edgeway_http::headers::ip_text(i.peer.ip()), ",");
    } else if let Some(v) = edgeway_http::headers::ip_value(i.peer.ip()) {
        // What `append_forwarded_for` inserts when there is no X-Forwarded-For yet.
        out.insert(X_FORWARDED_FOR, v);
    }
    let via_added = match (prepared.via, out.entry(http::header::VIA)) {
        (Some(via), http::header::Entry::Vacant(e)) => {
            e.insert(via.clone());
            true
        }
        _ => false,
    };
    if !via_added {
        append_via(&mut out, i.via);
    }
    match prepared.request_id {
        Some(id) => {
            out.insert(X_AMZ_CF_ID, id.clone());
        }
        None => {
            if let Some(id) = crate::ids::id_value(i.request_id) {
                out.insert(X_AMZ_CF_ID, id);
            }
        }
    }
    if !forwarded("user-agent") {
        out.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("Amazon CloudFront"),
        );
    }

    // CloudFront-* headers, only when a policy names them.
    let mut generated: Vec<(&'static str, String)> = Vec::new();
    if wanted_generated("cloudfront-forwarded-proto") {
        generated.push((
            "cloudfront-forwarded-proto",
            if i.https { "https" } else { "http" }.into(),
        ));
    }
    if wanted_generated("cloudfront-viewer-address") {
        generated.push((
            "cloudfront-viewer-address",
            format!("{}:{}", i.peer.ip(), i.peer.port()),
        ));
    }
    if wanted_generated("cloudfront-viewer-http-version") {
        generated.push((
            "cloudfront-viewer-http-version",
            crate::ids::version_text(i.version).into(),
        ));
    }
    if wanted_generated("cloudfront-viewer-tls") {
        if let Some(t) = i.tls {
            generated.push((
                "cloudfront-viewer-tls",
                format!("{}:{}:fullHandshake", t.version, t.cipher),
            ));
        }
    }
    if DEVICE_HEADERS.iter().any(|n| wanted_generated(n)) {
        let ua = viewer
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for (name, is) in device_headers(ua) {
            if wanted_generated(name) {
                generated.push((name, if is { "true" } else { "false" }.into()));
            }
        }
    }
    for (name, value) in generated {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    }

    for (name, value) in i.custom_headers {
        out.insert(name.clone(), value.clone());
    }
    out
}

/// Appends `ours` to any `Via` already there (`, `-separated).
pub fn append_via(h: &mut HeaderMap, ours: &str) {
    if !h.contains_key(http::header::VIA) {
        if let Ok(v) = HeaderValue::from_str(ours) {
            h.insert(http::header::VIA, v);
        }
        return;
    }
    let existing: Vec<&str> = h
        .get_all(http::header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let value = if existing.is_empty() {
        ours.to_string()
    } else {
        format!("{}, {ours}", existing.join(", "))
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(http::header::VIA, v);
    }
}

/// What CloudFront stamps on a viewer response.
pub struct ViewerStamp<'a> {
    pub via: &'a str,
    pub request_id: &'a str,
    pub pop: &'a str,
    /// `Miss from cloudfront`, `Error from cloudfront`, ...
    pub x_cache: &'static str,
}

/// Adds `X-Cache`, `Via`, `X-Amz-Cf-Pop`, `X-Amz-Cf-Id` to a viewer response.
pub fn stamp_viewer_response(h: &mut HeaderMap, s: &ViewerStamp<'_>) {
    h.reserve(4);
    h.insert(X_CACHE, HeaderValue::from_static(s.x_cache));
    append_via(h, s.via);
    if let Ok(v) = HeaderValue::from_str(s.pop) {
        h.insert(X_AMZ_CF_POP, v);
    }
    if let Some(v) = crate::ids::id_value(s.request_id) {
        h.insert(X_AMZ_CF_ID, v);
    }
}

/// [`stamp_viewer_response`] with the per-process parts as header values built once: `via`
/// (its text `via_text` when a `Via` is already there) and `pop` (None: not a valid value), and
/// the request id's value when the caller holds it (the value of `request_id`).
pub fn stamp_viewer_response_with(
    h: &mut HeaderMap,
    via: &HeaderValue,
    via_text: &str,
    pop: Option<&HeaderValue>,
    request_id: &str,
    request_id_value: Option<&HeaderValue>,
    x_cache: &'static str,
) {
    h.reserve(4);
    h.insert(X_CACHE, HeaderValue::from_static(x_cache));
    // One lookup for the usual case (no `Via` yet) instead of `contains_key` + `insert`.
    let has_via = match h.entry(http::header::VIA) {
        http::header::Entry::Vacant(e) => {
            e.insert(via.clone());
            false
        }
        http::header::Entry::Occupied(_) => true,
    };
    if has_via {
        append_via(h, via_text);
    }
    if let Some(p) = pop {
        h.insert(X_AMZ_CF_POP, p.clone());
    }
    if let Some(v) = request_id_value {
        h.insert(X_AMZ_CF_ID, v.clone());
    } else if let Some(v) = crate::ids::id_value(request_id) {
        h.insert(X_AMZ_CF_ID, v);
    }
}

/// Cleans an origin response's headers for the viewer: hop-by-hop headers go; `Set-Cookie`
/// goes when no cookies are forwarded; `Vary` keeps only Accept-Encoding, Cookie and forwarded
/// headers (and `*` under the `UseOriginCacheControlHeaders` policies, where the origin decides).
pub fn clean_origin_response(h: &mut HeaderMap, behavior: &Behavior) {
    strip_hop_by_hop(h, false);
    let key = &behavior.cache_policy.key;
    let orp = behavior.origin_request_policy.as_ref();
    let cookies_forwarded = !key.cookies.is_none() || orp.is_some_and(|o| !o.cookies.is_none());
    // One pass over the names instead of a lookup for each (most responses have neither).
    let (mut set_cookie, mut vary) = (false, false);
    for n in h.keys() {
        set_cookie |= n == http::header::SET_COOKIE;
        vary |= n == http::header::VARY;
    }
    if !cookies_forwarded && set_cookie {
        h.remove(http::header::SET_COOKIE);
    }
    if vary {
        let kept: Vec<String> = h
            .get_all(http::header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| {
                let l = t.to_ascii_lowercase();
                l == "accept-encoding"
                    || (l == "cookie" && cookies_forwarded)
                    || (l == "*" && behavior.cache_policy.rfc_mode())
                    || (l != "*"
                        && (key.has_header(&l) || orp.is_some_and(|o| o.forwards_header(&l))))
            })
            .collect();
        h.remove(http::header::VARY);
        if !kept.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&kept.join(", ")) {
                h.insert(http::header::VARY, v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
