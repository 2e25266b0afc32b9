//! Cache behaviors resolved from the config, and picking the one a path uses: ordered behaviors
//! in order, first match wins, the default last.

use crate::origin_group::{self, Failover};
use crate::pattern::PathPattern;
use crate::policy::{self, CachePolicyResolved, OriginRequestPolicyResolved};
use crate::viewer::ViewerProtocolPolicy;
use edgeway_config::{CacheBehavior, Config};
use http::Method;

/// One cache behavior, ready for the request path.
#[derive(Debug, Clone)]
pub struct Behavior {
    /// `None` for the default behavior.
    pub pattern: Option<PathPattern>,
    /// Index into the distribution's origins (the primary, for an origin group).
    pub origin: usize,
    /// When the behavior targets an origin group.
    pub failover: Option<Failover>,
    pub viewer_protocol_policy: ViewerProtocolPolicy,
    pub allowed_methods: Vec<Method>,
    pub cached_methods: Vec<Method>,
    pub cache_policy: CachePolicyResolved,
    pub origin_request_policy: Option<OriginRequestPolicyResolved>,
    pub compress: bool,
}

fn methods(v: &[String]) -> Vec<Method> {
    v.iter()
        .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .collect()
}

impl Behavior {
    /// Resolves `b`; `origins` are the distribution's origin ids in order.
    pub fn new(cfg: &Config, b: &CacheBehavior, origins: &[&str]) -> Result<Self, String> {
        Self::with_groups(cfg, b, origins, &[])
    }

    /// Resolves `b`, whose target may be one of `groups`.
    pub fn with_groups(
        cfg: &Config,
        b: &CacheBehavior,
        origins: &[&str],
        groups: &[edgeway_config::OriginGroup],
    ) -> Result<Self, String> {
        let (origin, failover) = match origin_group::resolve(&b.target_origin_id, groups, origins) {
            Some(r) => {
                let (p, f) = r?;
                (p, Some(f))
            }
            None => {
                let o = origins
                    .iter()
                    .position(|o| *o == b.target_origin_id)
                    .ok_or_else(|| format!("no origin `{}`", b.target_origin_id))?;
                (o, None)
            }
        };
        let (cache_policy, origin_request_policy) = policy::resolve(cfg, b);
        Ok(Self {
            pattern: b.path_pattern.as_deref().map(PathPattern::new),
            origin,
            failover,
            viewer_protocol_policy: ViewerProtocolPolicy::parse(&b.viewer_protocol_policy),
            allowed_methods: methods(&b.allowed_methods),
            cached_methods: methods(&b.cached_methods),
            cache_policy,
            origin_request_policy,
            compress: b.compress,
        })
    }

    /// Whether responses to `method` may be stored (GET and HEAD always; OPTIONS when listed).
    pub fn caches_method(&self, method: &Method) -> bool {
        *method == Method::GET
            || *method == Method::HEAD
            || (*method == Method::OPTIONS && self.cached_methods.contains(method))
    }
}

/// The behavior for `path` (no query): the first ordered behavior whose pattern matches, else
/// the default.
pub fn select<'a>(ordered: &'a [Behavior], default: &'a Behavior, path: &str) -> &'a Behavior {
    ordered
        .iter()
        .find(|b| b.pattern.as_ref().is_some_and(|p| p.matches(path)))
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behaviors() -> (Vec<Behavior>, Behavior) {
        let src = r#"
[[distribution]]
id = "t"
listen = ["http://127.0.0.1:1"]
[[distribution.origin]]
origin_id = "a"
domain_name = "a.test"
[[distribution.origin]]
origin_id = "b"
domain_name = "b.test"
[distribution.default_cache_behavior]
target_origin_id = "a"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingDisabled"
[[distribution.ordered_cache_behavior]]
path_pattern = "/api/*"
target_origin_id = "b"
viewer_protocol_policy = "https-only"
allowed_methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
cached_methods = ["GET", "HEAD", "OPTIONS"]
cache_policy_id = "CachingDisabled"
[[distribution.ordered_cache_behavior]]
path_pattern = "*.jpg"
target_origin_id = "b"
viewer_protocol_policy = "redirect-to-https"
cache_policy_id = "CachingOptimized"
[[distribution.ordered_cache_behavior]]
path_pattern = "images/*"
target_origin_id = "a"
viewer_protocol_policy = "allow-all"
cache_policy_id = "CachingOptimized"
"#;
        let cfg = match edgeway_config::parse("t.toml", src) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let d = &cfg.distributions[0];
        let ids: Vec<&str> = d.origins.iter().map(|o| o.origin_id.as_str()).collect();
        let ordered = d
            .ordered_cache_behavior
            .iter()
            .map(|b| Behavior::new(&cfg, b, &ids))
            .collect::<Result<Vec<_>, _>>();
        let default = Behavior::new(&cfg, &d.default_cache_behavior, &ids);
        match (ordered, default) {
            (Ok(o), Ok(d)) => (o, d),
            (o, d) => panic!("{:?} {:?}", o.err(), d.err()),
        }
    }

    #[test]
    fn selection_first_match_wins_default_last() {
        let (ordered, default) = behaviors();
        let table: &[(&str, Option<&str>)] = &[
            ("/api/users", Some("/api/*")),
            ("/api/photo.jpg", Some("/api/*")),
            ("/images/photo.jpg", Some("*.jpg")),
            ("/images/photo.png", Some("/images/*")),
            ("/IMAGES/photo.png", None),
            ("/photo.JPG", None),
            ("/", None),
            ("/apix", None),
        ];
        for (path, want) in table {
            let b = select(&ordered, &default, path);
            assert_eq!(b.pattern.as_ref().map(PathPattern::as_str), *want, "{path}");
        }
    }

    #[test]
    fn resolved_fields() {
        let (ordered, default) = behaviors();
        assert_eq!(default.origin, 0);
        assert_eq!(ordered[0].origin, 1);
        assert_eq!(
            ordered[0].viewer_protocol_policy,
            ViewerProtocolPolicy::HttpsOnly
        );
        assert_eq!(ordered[0].allowed_methods.len(), 7);
        assert!(ordered[0].caches_method(&Method::OPTIONS));
        assert!(!default.caches_method(&Method::OPTIONS));
        assert!(!default.caches_method(&Method::POST));
        assert_eq!(default.allowed_methods, vec![Method::GET, Method::HEAD]);
        assert_eq!(ordered[1].cache_policy.name, "CachingOptimized");
    }
}
