//! The file model: what a config file says, with Terraform's argument names and nesting.
//! Local-only settings (listen addresses, certificate files, target addresses) have plain names.
//! Defaults are AWS's unless a comment says otherwise.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A whole config file. Every section is optional: a node runs the tiers its file names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Admin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<Resolver>,
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    #[serde(default, rename = "zone", skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<Zone>,
    #[serde(
        default,
        rename = "distribution",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub distributions: Vec<Distribution>,
    #[serde(
        default,
        rename = "cache_policy",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cache_policies: Vec<CachePolicy>,
    #[serde(
        default,
        rename = "origin_request_policy",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub origin_request_policies: Vec<OriginRequestPolicy>,
    #[serde(
        default,
        rename = "load_balancer",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(
        default,
        rename = "target_group",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub target_groups: Vec<TargetGroup>,
    /// Built-in demo targets (the storefront app) that this node starts.
    #[serde(default, rename = "demo_target", skip_serializing_if = "Vec::is_empty")]
    pub demo_targets: Vec<DemoTarget>,
    /// Route 53 health checks (`aws_route53_health_check`) that record sets name by `id`.
    #[serde(
        default,
        rename = "health_check",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub health_checks: Vec<Route53HealthCheck>,
    /// `[cache]`: the edge cache's storage tiers (local-only).
    #[serde(default, skip_serializing_if = "CacheConfig::is_default")]
    pub cache: CacheConfig,
}

/// `[cache]`: the edge cache's tiers. Memory always; disk when `disk_dir` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// Bytes the memory tier may hold.
    pub memory_bytes: u64,
    /// Directory of the disk tier (survives restarts); none: memory only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_dir: Option<PathBuf>,
    /// Bytes the disk tier may hold.
    pub disk_bytes: u64,
    /// Largest body stored; larger responses pass through uncached.
    pub max_object_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            disk_dir: None,
            disk_bytes: 1 << 30,
            max_object_bytes: 64 << 20,
        }
    }
}

impl CacheConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// `[admin]`: metrics, health and the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Admin {
    /// `host:port` of the admin listener (plain HTTP).
    pub listen: String,
}

/// `[dns]`: the DNS tier (authoritative for the `[[zone]]`s), UDP and TCP on the same address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dns {
    pub listen: String,
    /// Local-only: the region latency records are answered for (one machine has no geography).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Local-only: where viewers are, by source address, for geolocation records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geo: Vec<GeoSource>,
}

/// `[[dns.geo]]`: viewers from `cidr` count as being at this location (local-only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeoSource {
    pub cidr: String,
    /// Two-letter continent code (AF, AN, AS, EU, NA, OC, SA); derived from `country` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent: Option<String>,
    /// Two-letter ISO 3166 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Subdivision code (a US state such as `WA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision: Option<String>,
}

/// `[[health_check]]`: a Route 53 health check (`aws_route53_health_check`), run by this node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Route53HealthCheck {
    /// Local name that records refer to in `health_check_id`.
    pub id: String,
    /// `HTTP`, `HTTPS`, `HTTP_STR_MATCH`, `HTTPS_STR_MATCH` or `TCP`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// Default 80 for HTTP types, 443 for HTTPS types; required for TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_string: Option<String>,
    /// Seconds between checks: 10 or 30.
    #[serde(default = "thirty")]
    pub request_interval: u64,
    /// Consecutive results that change the status: 1-10.
    #[serde(default = "three")]
    pub failure_threshold: u32,
    /// Report healthy as unhealthy and the reverse.
    #[serde(default)]
    pub invert_healthcheck: bool,
    /// A disabled check is always healthy.
    #[serde(default)]
    pub disabled: bool,
}

/// `[resolver]`: how the edge resolves origin names. Default: edgeway's own DNS tier when this
/// file has one, else the system resolver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolver {
    /// `host:port` name servers asked in order; empty means the system resolver.
    #[serde(default)]
    pub nameservers: Vec<String>,
}

/// `[limits]`: protection on every listener (local-only; AWS's numbers where AWS has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest request head (request line and headers) in bytes; beyond it: 431 (or 414 for the URI).
    pub max_header_bytes: usize,
    /// Longest request URI in bytes; beyond it: 414.
    pub max_uri_bytes: usize,
    /// Seconds a client may take to send a whole request head.
    pub header_read_timeout: u64,
    /// Connections open at once per listener; more wait in the kernel backlog.
    pub max_connections: usize,
    /// Seconds in-flight requests get to finish at shutdown.
    pub shutdown_grace: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 64 * 1024,
            max_uri_bytes: 16 * 1024,
            header_read_timeout: 10,
            max_connections: 10_000,
            shutdown_grace: 10,
        }
    }
}

impl Limits {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// `[[zone]]`: a hosted zone the DNS tier answers for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    pub name: String,
    #[serde(default, rename = "record", skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<Record>,
}

/// `[[zone.record]]`: a record set (Terraform `aws_route53_record`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<Alias>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_routing_policy: Option<WeightedRoutingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_routing_policy: Option<FailoverRoutingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_routing_policy: Option<LatencyRoutingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geolocation_routing_policy: Option<GeolocationRoutingPolicy>,
    #[serde(
        default,
        alias = "multivalue_answer_routing",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub multivalue_answer_routing_policy: bool,
    /// The `id` of a `[[health_check]]` that decides whether this record set is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightedRoutingPolicy {
    pub weight: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailoverRoutingPolicy {
    /// `PRIMARY` or `SECONDARY`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyRoutingPolicy {
    pub region: String,
}

/// One of `continent`, `country` (with an optional `subdivision`), or `country = "*"` (the default).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeolocationRoutingPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdivision: Option<String>,
}

/// An alias target: what the record answers with is the current listen address of the tier it
/// names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Alias {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    #[serde(default)]
    pub evaluate_target_health: bool,
}

/// A certificate and key, as PEM files (local-only; stands in for an ACM ARN).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `[[distribution]]`: a CloudFront distribution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Distribution {
    pub id: String,
    /// Where the edge accepts viewers: `http://host:port` and `https://host:port` (local-only).
    pub listen: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_root_object: Option<String>,
    #[serde(default = "http_version_default")]
    pub http_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_class: Option<String>,
    /// Edge location code in `X-Amz-Cf-Pop` (local-only).
    #[serde(default = "pop_default")]
    pub pop: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_certificate: Option<ViewerCertificate>,
    #[serde(default, rename = "origin")]
    pub origins: Vec<Origin>,
    pub default_cache_behavior: CacheBehavior,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ordered_cache_behavior: Vec<CacheBehavior>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_error_response: Vec<CustomErrorResponse>,
    /// `origin_group`: two origins, the second tried when the first fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin_group: Vec<OriginGroup>,
    /// Standard access log (Terraform `logging_config`): `"stdout"` or a file path (local-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<String>,
    /// `logging_config.include_cookies`: the viewer's `Cookie` in the log's `cs(Cookie)` field.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub access_log_include_cookies: bool,
}

/// `[[distribution.origin_group]]`: failover from the first member to the second.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OriginGroup {
    pub origin_id: String,
    pub failover_criteria: FailoverCriteria,
    pub member: Vec<OriginGroupMember>,
}

/// `failover_criteria`: the origin statuses that fail over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailoverCriteria {
    pub status_codes: Vec<u16>,
}

/// `member` of an origin group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OriginGroupMember {
    pub origin_id: String,
}

/// `viewer_certificate`: Terraform's block, with local PEM files instead of an ACM ARN.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ViewerCertificate {
    #[serde(default)]
    pub cloudfront_default_certificate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acm_certificate_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_protocol_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_support_method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate: Vec<CertificateFiles>,
}

/// `[[distribution.origin]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    pub origin_id: String,
    pub domain_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_path: Option<String>,
    #[serde(default = "three")]
    pub connection_attempts: u32,
    #[serde(default = "ten")]
    pub connection_timeout: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_origin_config: Option<CustomOriginConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_header: Vec<CustomHeader>,
}

/// `custom_origin_config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomOriginConfig {
    #[serde(default = "port80")]
    pub http_port: u16,
    #[serde(default = "port443")]
    pub https_port: u16,
    pub origin_protocol_policy: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin_ssl_protocols: Vec<String>,
    #[serde(default = "thirty")]
    pub origin_read_timeout: u64,
    #[serde(default = "five")]
    pub origin_keepalive_timeout: u64,
}

impl Default for CustomOriginConfig {
    fn default() -> Self {
        Self {
            http_port: 80,
            https_port: 443,
            origin_protocol_policy: "https-only".into(),
            origin_ssl_protocols: Vec::new(),
            origin_read_timeout: 30,
            origin_keepalive_timeout: 5,
        }
    }
}

/// `custom_header` on an origin: sent on every origin request, over the viewer's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomHeader {
    pub name: String,
    pub value: String,
}

/// A cache behavior: `default_cache_behavior` (no `path_pattern`) or `ordered_cache_behavior`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheBehavior {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<String>,
    pub target_origin_id: String,
    pub viewer_protocol_policy: String,
    #[serde(default = "get_head")]
    pub allowed_methods: Vec<String>,
    #[serde(default = "get_head")]
    pub cached_methods: Vec<String>,
    /// A managed policy's name or id, or the `name` of a `[[cache_policy]]`.
    #[serde(
        default,
        alias = "cache_policy",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_policy_id: Option<String>,
    /// A managed policy's name or id, or the `name` of an `[[origin_request_policy]]`.
    #[serde(
        default,
        alias = "origin_request_policy",
        skip_serializing_if = "Option::is_none"
    )]
    pub origin_request_policy_id: Option<String>,
    #[serde(default)]
    pub compress: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_values: Option<ForwardedValues>,
}

/// Legacy `forwarded_values` (cache key and origin forwarding in one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedValues {
    pub query_string: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_string_cache_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<ForwardedCookies>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedCookies {
    pub forward: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub whitelisted_names: Vec<String>,
}

/// `custom_error_response`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomErrorResponse {
    pub error_code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_page_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_caching_min_ttl: Option<u64>,
}

/// `[[cache_policy]]` (Terraform `aws_cloudfront_cache_policy`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachePolicy {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub min_ttl: u64,
    #[serde(default = "day")]
    pub default_ttl: u64,
    #[serde(default = "year")]
    pub max_ttl: u64,
    #[serde(default)]
    pub parameters_in_cache_key_and_forwarded_to_origin: KeyParameters,
}

/// `parameters_in_cache_key_and_forwarded_to_origin`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyParameters {
    #[serde(default)]
    pub enable_accept_encoding_gzip: bool,
    #[serde(default)]
    pub enable_accept_encoding_brotli: bool,
    /// zstd in the normalized `Accept-Encoding` (an edgeway extension; CloudFront has no zstd).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_accept_encoding_zstd: bool,
    #[serde(default)]
    pub headers_config: HeadersConfig,
    #[serde(default)]
    pub cookies_config: CookiesConfig,
    #[serde(default)]
    pub query_strings_config: QueryStringsConfig,
}

/// `headers_config`: `header_behavior` none | whitelist (| allViewer… in origin request policies).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadersConfig {
    #[serde(default = "none")]
    pub header_behavior: String,
    #[serde(default)]
    pub headers: Items,
}

/// `cookies_config`: `cookie_behavior` none | whitelist | allExcept | all.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CookiesConfig {
    #[serde(default = "none")]
    pub cookie_behavior: String,
    #[serde(default)]
    pub cookies: Items,
}

/// `query_strings_config`: `query_string_behavior` none | whitelist | allExcept | all.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryStringsConfig {
    #[serde(default = "none")]
    pub query_string_behavior: String,
    #[serde(default)]
    pub query_strings: Items,
}

impl Default for HeadersConfig {
    fn default() -> Self {
        Self {
            header_behavior: "none".into(),
            headers: Items::default(),
        }
    }
}
impl Default for CookiesConfig {
    fn default() -> Self {
        Self {
            cookie_behavior: "none".into(),
            cookies: Items::default(),
        }
    }
}
impl Default for QueryStringsConfig {
    fn default() -> Self {
        Self {
            query_string_behavior: "none".into(),
            query_strings: Items::default(),
        }
    }
}

/// Terraform's `{ items = [...] }` wrapper.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Items {
    #[serde(default)]
    pub items: Vec<String>,
}

/// `[[origin_request_policy]]` (Terraform `aws_cloudfront_origin_request_policy`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OriginRequestPolicy {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub headers_config: HeadersConfig,
    #[serde(default)]
    pub cookies_config: CookiesConfig,
    #[serde(default)]
    pub query_strings_config: QueryStringsConfig,
}

/// `[[load_balancer]]`: an application load balancer (Terraform `aws_lb`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub name: String,
    /// The address every listener binds (local-only).
    #[serde(default = "loopback")]
    pub bind_address: String,
    #[serde(default = "sixty")]
    pub idle_timeout: u64,
    #[serde(default = "yes")]
    pub enable_http2: bool,
    #[serde(default = "append")]
    pub xff_header_processing_mode: String,
    #[serde(default)]
    pub enable_xff_client_port: bool,
    #[serde(default)]
    pub preserve_host_header: bool,
    #[serde(default = "defensive")]
    pub desync_mitigation_mode: String,
    #[serde(default)]
    pub drop_invalid_header_fields: bool,
    /// Access log sink (local-only): `stdout` or a file path; one line per request in ALB's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<String>,
    /// Terraform's `access_logs {}`: when enabled, lines go to `<bucket>/<prefix>/<name>.log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<AccessLogs>,
    #[serde(default, rename = "listener")]
    pub listeners: Vec<Listener>,
}

/// `[[load_balancer.listener]]` (Terraform `aws_lb_listener`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listener {
    pub port: u16,
    #[serde(default = "http_upper")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// The default certificate (local PEM files); without one, the local CA issues one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateFiles>,
    /// More certificates, chosen by SNI (`aws_lb_listener_certificate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_certificates: Vec<CertificateFiles>,
    pub default_action: Action,
    #[serde(default, rename = "rule", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

/// `[[load_balancer.listener.rule]]` (Terraform `aws_lb_listener_rule`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub priority: u32,
    #[serde(default)]
    pub condition: Vec<Condition>,
    pub action: Action,
}

/// A rule condition: exactly one of its fields is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_header: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request_method: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header: Option<HttpHeaderCondition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_string: Vec<QueryStringCondition>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Values {
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpHeaderCondition {
    pub http_header_name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryStringCondition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

/// A listener or rule action (Terraform `default_action` / `action`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Action {
    /// `forward`, `redirect` or `fixed-response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The target group's `name` (stands in for `target_group_arn`).
    #[serde(
        default,
        alias = "target_group_arn",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_response: Option<FixedResponse>,
}

/// `forward { target_group {...} stickiness {...} }`: weighted target groups.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forward {
    pub target_group: Vec<WeightedTargetGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<GroupStickiness>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightedTargetGroup {
    #[serde(alias = "arn")]
    pub name: String,
    #[serde(default = "one")]
    pub weight: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupStickiness {
    #[serde(default)]
    pub enabled: bool,
    pub duration: u64,
}

/// `redirect {}`: Terraform's defaults keep each part as it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redirect {
    #[serde(default = "ph_protocol")]
    pub protocol: String,
    #[serde(default = "ph_host")]
    pub host: String,
    #[serde(default = "ph_port")]
    pub port: String,
    #[serde(default = "ph_path")]
    pub path: String,
    #[serde(default = "ph_query")]
    pub query: String,
    /// `HTTP_301` or `HTTP_302`.
    pub status_code: String,
}

/// `fixed_response {}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixedResponse {
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
    #[serde(default = "status_200")]
    pub status_code: String,
}

/// `[[target_group]]` (Terraform `aws_lb_target_group`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetGroup {
    pub name: String,
    #[serde(default = "http_upper")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "http1")]
    pub protocol_version: String,
    #[serde(default = "instance")]
    pub target_type: String,
    /// Target addresses, `host:port` or `host` (then `port` applies) (local-only).
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default = "round_robin")]
    pub load_balancing_algorithm_type: String,
    #[serde(default)]
    pub slow_start: u64,
    #[serde(default = "three_hundred")]
    pub deregistration_delay: u64,
    #[serde(default)]
    pub health_check: HealthCheck,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_health: Option<TargetGroupHealth>,
}

/// Terraform `access_logs {}` of `aws_lb`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessLogs {
    #[serde(default)]
    pub enabled: bool,
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
}

/// `target_group_health {}`: only `unhealthy_state_routing` acts (DNS failover is accepted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetGroupHealth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_state_routing: Option<UnhealthyStateRouting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_failover: Option<UnhealthyStateRouting>,
}

/// Below either minimum, requests go to every target (fail-open).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnhealthyStateRouting {
    #[serde(default = "one")]
    pub minimum_healthy_targets_count: u32,
    /// `off` or a percentage 1-100.
    #[serde(default = "off")]
    pub minimum_healthy_targets_percentage: String,
}

/// `health_check {}`, with AWS API defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthCheck {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "slash")]
    pub path: String,
    /// `traffic-port` or a port number as a string.
    #[serde(default = "traffic_port")]
    pub port: String,
    #[serde(default = "http_upper")]
    pub protocol: String,
    #[serde(default = "thirty")]
    pub interval: u64,
    #[serde(default = "five")]
    pub timeout: u64,
    #[serde(default = "five_u32")]
    pub healthy_threshold: u32,
    #[serde(default = "two")]
    pub unhealthy_threshold: u32,
    /// `200`, `200,202` or `200-299`.
    #[serde(default = "matcher_200")]
    pub matcher: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "/".into(),
            port: "traffic-port".into(),
            protocol: "HTTP".into(),
            interval: 30,
            timeout: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        }
    }
}

/// `stickiness {}` on a target group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stickiness {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "day")]
    pub cookie_duration: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_name: Option<String>,
}

/// `[[demo_target]]`: a built-in storefront target this node runs (local-only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoTarget {
    pub listen: String,
    /// Shown in `X-Instance-Id`.
    pub id: String,
}

impl Config {
    /// Makes relative certificate paths relative to `base` (the config file's folder).
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        let fix = |c: &mut CertificateFiles| {
            for p in [&mut c.cert_file, &mut c.key_file] {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        };
        for d in &mut self.distributions {
            if let Some(vc) = &mut d.viewer_certificate {
                vc.certificate.iter_mut().for_each(fix);
            }
        }
        for lb in &mut self.load_balancers {
            for l in &mut lb.listeners {
                l.certificate.iter_mut().for_each(fix);
                l.additional_certificates.iter_mut().for_each(fix);
            }
        }
    }

    pub fn distribution(&self, id: &str) -> Option<&Distribution> {
        self.distributions.iter().find(|d| d.id == id)
    }
    pub fn load_balancer(&self, name: &str) -> Option<&LoadBalancer> {
        self.load_balancers.iter().find(|l| l.name == name)
    }
    pub fn target_group(&self, name: &str) -> Option<&TargetGroup> {
        self.target_groups.iter().find(|t| t.name == name)
    }
    pub fn health_check(&self, id: &str) -> Option<&Route53HealthCheck> {
        self.health_checks.iter().find(|h| h.id == id)
    }
}

impl Distribution {
    pub fn origin(&self, id: &str) -> Option<&Origin> {
        self.origins.iter().find(|o| o.origin_id == id)
    }
}

impl Action {
    /// The target groups this action forwards to, with weights.
    pub fn target_groups(&self) -> Vec<(&str, u32)> {
        if let Some(f) = &self.forward {
            f.target_group
                .iter()
                .map(|t| (t.name.as_str(), t.weight))
                .collect()
        } else if let Some(t) = &self.target_group {
            vec![(t.as_str(), 1)]
        } else {
            Vec::new()
        }
    }
}

fn yes() -> bool {
    true
}
fn off() -> String {
    "off".into()
}

fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn three() -> u32 {
    3
}
fn five_u32() -> u32 {
    5
}
fn five() -> u64 {
    5
}
fn ten() -> u64 {
    10
}
fn thirty() -> u64 {
    30
}
fn sixty() -> u64 {
    60
}
fn three_hundred() -> u64 {
    300
}
fn day() -> u64 {
    86_400
}
fn year() -> u64 {
    31_536_000
}
fn port80() -> u16 {
    80
}
fn port443() -> u16 {
    443
}
fn s(v: &str) -> String {
    v.to_string()
}
fn http_version_default() -> String {
    s("http2")
}
fn pop_default() -> String {
    s("LOCAL1-C1")
}
fn get_head() -> Vec<String> {
    vec![s("GET"), s("HEAD")]
}
fn none() -> String {
    s("none")
}
fn loopback() -> String {
    s("127.0.0.1")
}
fn append() -> String {
    s("append")
}
fn defensive() -> String {
    s("defensive")
}
fn http_upper() -> String {
    s("HTTP")
}
fn http1() -> String {
    s("HTTP1")
}
fn instance() -> String {
    s("instance")
}
fn round_robin() -> String {
    s("round_robin")
}
fn slash() -> String {
    s("/")
}
fn traffic_port() -> String {
    s("traffic-port")
}
fn matcher_200() -> String {
    s("200")
}
fn status_200() -> String {
    s("200")
}
fn ph_protocol() -> String {
    s("#{protocol}")
}
fn ph_host() -> String {
    s("#{host}")
}
fn ph_port() -> String {
    s("#{port}")
}
fn ph_path() -> String {
    s("/#{path}")
}
fn ph_query() -> String {
    s("#{query}")
}
