//! Cache policies and origin request policies resolved once from the config (managed ones by
//! name or id, `[[cache_policy]]`/`[[origin_request_policy]]` by name, legacy `forwarded_values`)
//! into the values the request path reads.

use crate::pattern::glob;
use edgeway_config::{managed, CacheBehavior, Config, CookiesConfig, QueryStringsConfig};

/// Which cookies or query strings: `none`, `whitelist`, `allExcept`, `all`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NameSet {
    #[default]
    None,
    /// Names compared case-sensitively; `*`/`?` wildcards (legacy cookie names) are honoured.
    Whitelist(Vec<String>),
    AllExcept(Vec<String>),
    All,
}

impl NameSet {
    pub fn contains(&self, name: &str) -> bool {
        let listed = |l: &[String]| {
            l.iter()
                .any(|n| n == name || ((n.contains('*') || n.contains('?')) && glob(n, name)))
        };
        match self {
            Self::None => false,
            Self::Whitelist(l) => listed(l),
            Self::AllExcept(l) => !listed(l),
            Self::All => true,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    fn from_config(behavior: &str, items: &[String]) -> Self {
        match behavior {
            "whitelist" => Self::Whitelist(items.to_vec()),
            "allExcept" => Self::AllExcept(items.to_vec()),
            "all" => Self::All,
            _ => Self::None,
        }
    }
}

/// What a cache policy puts in the cache key (and so always forwards to the origin).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyConfig {
    /// Lower-case header names.
    pub headers: Vec<String>,
    pub cookies: NameSet,
    pub query_strings: NameSet,
    pub accept_encoding_gzip: bool,
    pub accept_encoding_brotli: bool,
    /// zstd in the normalized `Accept-Encoding` (an edgeway extension).
    pub accept_encoding_zstd: bool,
}

impl KeyConfig {
    pub fn has_header(&self, lower_name: &str) -> bool {
        self.headers.iter().any(|h| h == lower_name)
    }
    /// Whether CloudFront normalizes `Accept-Encoding` into the key.
    pub fn normalizes_accept_encoding(&self) -> bool {
        (self.accept_encoding_gzip || self.accept_encoding_brotli || self.accept_encoding_zstd)
            && !self.has_header("accept-encoding")
    }
}

/// A cache policy with its TTLs resolved (seconds) and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicyResolved {
    /// The policy's name (`legacy` for `forwarded_values`/behavior TTLs).
    pub name: String,
    pub min_ttl: u64,
    pub default_ttl: u64,
    pub max_ttl: u64,
    pub key: KeyConfig,
}

impl CachePolicyResolved {
    /// All TTLs zero: nothing is stored (and nothing is compressed).
    pub fn caching_disabled(&self) -> bool {
        self.min_ttl == 0 && self.default_ttl == 0 && self.max_ttl == 0
    }
}

/// Headers an origin request policy forwards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OrpHeaders {
    #[default]
    None,
    /// Lower-case names.
    Whitelist(Vec<String>),
    AllViewer,
    /// All viewer headers plus these (lower-case) `CloudFront-*` headers.
    AllViewerAndCloudFront(Vec<String>),
    /// All viewer headers except these (lower-case).
    AllExcept(Vec<String>),
}

/// An origin request policy: what else goes to the origin, outside the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OriginRequestPolicyResolved {
    pub name: String,
    pub headers: OrpHeaders,
    pub cookies: NameSet,
    pub query_strings: NameSet,
}

impl OriginRequestPolicyResolved {
    /// Whether this policy forwards the viewer header `lower_name`.
    pub fn forwards_header(&self, lower_name: &str) -> bool {
        match &self.headers {
            OrpHeaders::None => false,
            OrpHeaders::Whitelist(l) => l.iter().any(|h| h == lower_name),
            OrpHeaders::AllViewer => !lower_name.starts_with("cloudfront-"),
            OrpHeaders::AllViewerAndCloudFront(l) => {
                !lower_name.starts_with("cloudfront-") || l.iter().any(|h| h == lower_name)
            }
            OrpHeaders::AllExcept(l) => {
                !lower_name.starts_with("cloudfront-") && !l.iter().any(|h| h == lower_name)
            }
        }
    }
    /// Whether this policy asks for the generated `CloudFront-*` header `lower_name`.
    pub fn wants_cloudfront_header(&self, lower_name: &str) -> bool {
        match &self.headers {
            OrpHeaders::Whitelist(l) | OrpHeaders::AllViewerAndCloudFront(l) => {
                lower_name.starts_with("cloudfront-") && l.iter().any(|h| h == lower_name)
            }
            _ => false,
        }
    }
}

fn lower(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_ascii_lowercase()).collect()
}

/// The key parameters of a managed cache policy (managed.rs holds names, ids and TTLs).
fn managed_key(name: &str) -> KeyConfig {
    let method_override = [
        "host",
        "origin",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    ];
    match name {
        "CachingOptimized" => KeyConfig {
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            ..Default::default()
        },
        "UseOriginCacheControlHeaders" => KeyConfig {
            headers: lower(&method_override),
            cookies: NameSet::All,
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            ..Default::default()
        },
        "UseOriginCacheControlHeaders-QueryStrings" => KeyConfig {
            headers: lower(&method_override),
            cookies: NameSet::All,
            query_strings: NameSet::All,
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            accept_encoding_zstd: false,
        },
        "Amplify" => KeyConfig {
            headers: lower(&["Authorization", "CloudFront-Viewer-Country", "Host"]),
            cookies: NameSet::All,
            query_strings: NameSet::All,
            accept_encoding_gzip: true,
            accept_encoding_brotli: true,
            accept_encoding_zstd: false,
        },
        // CachingOptimizedForUncompressedObjects, CachingDisabled: nothing in the key.
        _ => KeyConfig::default(),
    }
}

/// The `CloudFront-*` headers `AllViewerAndCloudFrontHeaders-2022-06` adds.
const ALL_CLOUDFRONT_HEADERS: &[&str] = &[
    "CloudFront-Forwarded-Proto",
    "CloudFront-Is-Android-Viewer",
    "CloudFront-Is-Desktop-Viewer",
    "CloudFront-Is-IOS-Viewer",
    "CloudFront-Is-Mobile-Viewer",
    "CloudFront-Is-SmartTV-Viewer",
    "CloudFront-Is-Tablet-Viewer",
    "CloudFront-Viewer-Address",
    "CloudFront-Viewer-Http-Version",
    "CloudFront-Viewer-TLS",
    "CloudFront-Viewer-Country",
];

fn managed_orp(name: &str) -> OriginRequestPolicyResolved {
    let (headers, cookies, query_strings) = match name {
        "AllViewer" => (OrpHeaders::AllViewer, NameSet::All, NameSet::All),
        "AllViewerExceptHostHeader" => (
            OrpHeaders::AllExcept(lower(&["Host"])),
            NameSet::All,
            NameSet::All,
        ),
        "AllViewerAndCloudFrontHeaders-2022-06" => (
            OrpHeaders::AllViewerAndCloudFront(lower(ALL_CLOUDFRONT_HEADERS)),
            NameSet::All,
            NameSet::All,
        ),
        "CORS-CustomOrigin" => (
            OrpHeaders::Whitelist(lower(&["Origin"])),
            NameSet::None,
            NameSet::None,
        ),
        "CORS-S3Origin" => (
            OrpHeaders::Whitelist(lower(&[
                "Origin",
                "Access-Control-Request-Headers",
                "Access-Control-Request-Method",
            ])),
            NameSet::None,
            NameSet::None,
        ),
        "UserAgentRefererHeaders" => (
            OrpHeaders::Whitelist(lower(&["User-Agent", "Referer"])),
            NameSet::None,
            NameSet::None,
        ),
        _ => (OrpHeaders::None, NameSet::None, NameSet::None),
    };
    OriginRequestPolicyResolved {
        name: name.to_string(),
        headers,
        cookies,
        query_strings,
    }
}

fn cookies(c: &CookiesConfig) -> NameSet {
    NameSet::from_config(&c.cookie_behavior, &c.cookies.items)
}
fn query(q: &QueryStringsConfig) -> NameSet {
    NameSet::from_config(&q.query_string_behavior, &q.query_strings.items)
}

/// Legacy TTL defaults and adjustments: min 0, default 86400, max 31536000; a min above a day
/// raises the default; a min or default above a year raises the max.
pub fn legacy_ttls(min: Option<u64>, default: Option<u64>, max: Option<u64>) -> (u64, u64, u64) {
    let min_ttl = min.unwrap_or(0);
    let mut default_ttl = default.unwrap_or(86_400);
    if default.is_none() && min_ttl > 86_400 {
        default_ttl = min_ttl;
    }
    let mut max_ttl = max.unwrap_or(31_536_000);
    if max.is_none() && (min_ttl > 31_536_000 || default_ttl > 31_536_000) {
        max_ttl = default_ttl.max(min_ttl);
    }
    (min_ttl, default_ttl, max_ttl)
}

/// The cache policy and origin request policy a behavior uses.
pub fn resolve(
    cfg: &Config,
    b: &CacheBehavior,
) -> (CachePolicyResolved, Option<OriginRequestPolicyResolved>) {
    let orp = b
        .origin_request_policy_id
        .as_deref()
        .map(|id| resolve_orp(cfg, id));
    if let Some(id) = &b.cache_policy_id {
        return (resolve_cache_policy(cfg, id), orp);
    }
    let (min_ttl, default_ttl, max_ttl) = legacy_ttls(b.min_ttl, b.default_ttl, b.max_ttl);
    let mut key = KeyConfig::default();
    let mut fwd = OriginRequestPolicyResolved {
        name: "legacy".into(),
        ..Default::default()
    };
    let mut ttls = (min_ttl, default_ttl, max_ttl);
    if let Some(fv) = &b.forwarded_values {
        if fv.query_string {
            if fv.query_string_cache_keys.is_empty() {
                key.query_strings = NameSet::All;
            } else {
                key.query_strings = NameSet::Whitelist(fv.query_string_cache_keys.clone());
                fwd.query_strings = NameSet::All;
            }
        }
        if fv.headers.iter().any(|h| h == "*") {
            // Forward every header: nothing can be cached.
            fwd.headers = OrpHeaders::AllViewer;
            ttls = (0, 0, 0);
        } else {
            key.headers = fv.headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        }
        if let Some(c) = &fv.cookies {
            key.cookies = match c.forward.as_str() {
                "all" => NameSet::All,
                "whitelist" => NameSet::Whitelist(c.whitelisted_names.clone()),
                _ => NameSet::None,
            };
        }
    }
    let policy = CachePolicyResolved {
        name: "legacy".into(),
        min_ttl: ttls.0,
        default_ttl: ttls.1,
        max_ttl: ttls.2,
        key,
    };
    let orp = orp.or(
        if fwd
            == (OriginRequestPolicyResolved {
                name: "legacy".into(),
                ..Default::default()
            })
        {
            None
        } else {
            Some(fwd)
        },
    );
    (policy, orp)
}

/// A cache policy by managed name or id, or `[[cache_policy]]` name.
pub fn resolve_cache_policy(cfg: &Config, id: &str) -> CachePolicyResolved {
    if let Some(m) = managed::cache_policy(id) {
        return CachePolicyResolved {
            name: m.name.to_string(),
            min_ttl: m.min_ttl,
            default_ttl: m.default_ttl,
            max_ttl: m.max_ttl,
            key: managed_key(m.name),
        };
    }
    match cfg.cache_policies.iter().find(|p| p.name == id) {
        Some(p) => {
            let k = &p.parameters_in_cache_key_and_forwarded_to_origin;
            let headers = if k.headers_config.header_behavior == "whitelist" {
                k.headers_config
                    .headers
                    .items
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect()
            } else {
                Vec::new()
            };
            CachePolicyResolved {
                name: p.name.clone(),
                min_ttl: p.min_ttl,
                default_ttl: p.default_ttl,
                max_ttl: p.max_ttl,
                key: KeyConfig {
                    headers,
                    cookies: cookies(&k.cookies_config),
                    query_strings: query(&k.query_strings_config),
                    accept_encoding_gzip: k.enable_accept_encoding_gzip,
                    accept_encoding_brotli: k.enable_accept_encoding_brotli,
                    accept_encoding_zstd: k.enable_accept_encoding_zstd,
                },
            }
        }
        // Validation guarantees the name exists; an unknown one caches nothing.
        None => CachePolicyResolved {
            name: id.to_string(),
            min_ttl: 0,
            default_ttl: 0,
            max_ttl: 0,
            key: KeyConfig::default(),
        },
    }
}

/// An origin request policy by managed name or id, or `[[origin_request_policy]]` name.
pub fn resolve_orp(cfg: &Config, id: &str) -> OriginRequestPolicyResolved {
    if let Some(name) = managed::origin_request_policy(id) {
        return managed_orp(name);
    }
    match cfg.origin_request_policies.iter().find(|p| p.name == id) {
        Some(p) => {
            let items = || {
                p.headers_config
                    .headers
                    .items
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect::<Vec<_>>()
            };
            let headers = match p.headers_config.header_behavior.as_str() {
                "whitelist" => OrpHeaders::Whitelist(items()),
                "allViewer" => OrpHeaders::AllViewer,
                "allViewerAndWhitelistCloudFront" => OrpHeaders::AllViewerAndCloudFront(items()),
                "allExcept" => OrpHeaders::AllExcept(items()),
                _ => OrpHeaders::None,
            };
            OriginRequestPolicyResolved {
                name: p.name.clone(),
                headers,
                cookies: cookies(&p.cookies_config),
                query_strings: query(&p.query_strings_config),
            }
        }
        None => OriginRequestPolicyResolved {
            name: id.to_string(),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let src = format!(
            r#"
[[distribution]]
id = "t"
listen = ["http://127.0.0.1:1"]
[[distribution.origin]]
origin_id = "o"
domain_name = "origin.test"
[distribution.default_cache_behavior]
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
{extra}
"#
        );
        match edgeway_config::parse("t.toml", &src) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn managed_cache_policies_by_name_and_id() {
        let c = cfg("");
        let table: &[(&str, &str, (u64, u64, u64), bool, bool)] = &[
            (
                "CachingOptimized",
                "CachingOptimized",
                (1, 86_400, 31_536_000),
                true,
                false,
            ),
            (
                "658327ea-f89d-4fab-a63d-7e88639e58f6",
                "CachingOptimized",
                (1, 86_400, 31_536_000),
                true,
                false,
            ),
            ("CachingDisabled", "CachingDisabled", (0, 0, 0), false, true),
            (
                "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                "CachingDisabled",
                (0, 0, 0),
                false,
                true,
            ),
            (
                "CachingOptimizedForUncompressedObjects",
                "CachingOptimizedForUncompressedObjects",
                (1, 86_400, 31_536_000),
                false,
                false,
            ),
            (
                "UseOriginCacheControlHeaders",
                "UseOriginCacheControlHeaders",
                (0, 0, 31_536_000),
                true,
                false,
            ),
        ];
        for (id, name, ttls, gzip, disabled) in table {
            let p = resolve_cache_policy(&c, id);
            assert_eq!(p.name, *name, "{id}");
            assert_eq!((p.min_ttl, p.default_ttl, p.max_ttl), *ttls, "{id}");
            assert_eq!(p.key.accept_encoding_gzip, *gzip, "{id}");
            assert_eq!(p.caching_disabled(), *disabled, "{id}");
        }
        let uoch = resolve_cache_policy(&c, "UseOriginCacheControlHeaders");
        assert!(uoch.key.has_header("host"));
        assert_eq!(uoch.key.cookies, NameSet::All);
    }

    #[test]
    fn custom_cache_policy() {
        let c = cfg(r#"
[[cache_policy]]
name = "mine"
min_ttl = 5
[cache_policy.parameters_in_cache_key_and_forwarded_to_origin]
enable_accept_encoding_gzip = true
headers_config = { header_behavior = "whitelist", headers = { items = ["X-Device"] } }
cookies_config = { cookie_behavior = "allExcept", cookies = { items = ["tracking"] } }
query_strings_config = { query_string_behavior = "whitelist", query_strings = { items = ["page"] } }
"#);
        let p = resolve_cache_policy(&c, "mine");
        assert_eq!(
            (p.min_ttl, p.default_ttl, p.max_ttl),
            (5, 86_400, 31_536_000)
        );
        assert_eq!(p.key.headers, vec!["x-device".to_string()]);
        assert!(p.key.cookies.contains("session") && !p.key.cookies.contains("tracking"));
        assert!(p.key.query_strings.contains("page") && !p.key.query_strings.contains("Page"));
        assert!(p.key.normalizes_accept_encoding());
    }

    #[test]
    fn origin_request_policies() {
        let c = cfg(r#"
[[origin_request_policy]]
name = "mine"
headers_config = { header_behavior = "whitelist", headers = { items = ["X-Trace", "CloudFront-Viewer-Address"] } }
query_strings_config = { query_string_behavior = "all" }
"#);
        let table: &[(&str, &str, bool, bool)] = &[
            // policy, header, forwards it, wants it generated
            ("AllViewer", "host", true, false),
            (
                "216adef6-5c7f-47e4-b989-5492eafa07d3",
                "x-anything",
                true,
                false,
            ),
            ("AllViewerExceptHostHeader", "host", false, false),
            ("AllViewerExceptHostHeader", "accept", true, false),
            ("CORS-CustomOrigin", "origin", true, false),
            ("CORS-CustomOrigin", "accept", false, false),
            ("UserAgentRefererHeaders", "user-agent", true, false),
            (
                "AllViewerAndCloudFrontHeaders-2022-06",
                "cloudfront-viewer-address",
                true,
                true,
            ),
            ("AllViewer", "cloudfront-viewer-address", false, false),
            ("mine", "x-trace", true, false),
            ("mine", "cloudfront-viewer-address", true, true),
            ("mine", "accept", false, false),
        ];
        for (id, h, fwd, gen) in table {
            let p = resolve_orp(&c, id);
            assert_eq!(p.forwards_header(h), *fwd, "{id} {h}");
            assert_eq!(p.wants_cloudfront_header(h), *gen, "{id} {h}");
        }
        assert_eq!(resolve_orp(&c, "mine").query_strings, NameSet::All);
        assert_eq!(resolve_orp(&c, "AllViewer").cookies, NameSet::All);
    }

    #[test]
    fn legacy_ttl_rules() {
        let table: &[((Option<u64>, Option<u64>, Option<u64>), (u64, u64, u64))] = &[
            ((None, None, None), (0, 86_400, 31_536_000)),
            ((Some(100_000), None, None), (100_000, 100_000, 31_536_000)),
            (
                (Some(40_000_000), None, None),
                (40_000_000, 40_000_000, 40_000_000),
            ),
            ((None, Some(40_000_000), None), (0, 40_000_000, 40_000_000)),
            ((Some(1), Some(2), Some(3)), (1, 2, 3)),
        ];
        for (input, want) in table {
            assert_eq!(legacy_ttls(input.0, input.1, input.2), *want, "{input:?}");
        }
    }

    #[test]
    fn legacy_forwarded_values() {
        let c = cfg(r#"
[[distribution.ordered_cache_behavior]]
path_pattern = "/legacy/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
forwarded_values = { query_string = true, query_string_cache_keys = ["v"], headers = ["Accept-Language"], cookies = { forward = "whitelist", whitelisted_names = ["sess*"] } }
[[distribution.ordered_cache_behavior]]
path_pattern = "/all/*"
target_origin_id = "o"
viewer_protocol_policy = "allow-all"
forwarded_values = { query_string = false, headers = ["*"] }
"#);
        let d = &c.distributions[0];
        let (p, orp) = resolve(&c, &d.ordered_cache_behavior[0]);
        assert_eq!(p.key.query_strings, NameSet::Whitelist(vec!["v".into()]));
        assert_eq!(
            orp.as_ref().map(|o| o.query_strings.clone()),
            Some(NameSet::All)
        );
        assert!(p.key.has_header("accept-language"));
        assert!(p.key.cookies.contains("session1") && !p.key.cookies.contains("other"));
        assert_eq!((p.min_ttl, p.default_ttl), (0, 86_400));
        let (p, orp) = resolve(&c, &d.ordered_cache_behavior[1]);
        assert!(p.caching_disabled());
        assert_eq!(orp.map(|o| o.headers), Some(OrpHeaders::AllViewer));
    }
}
