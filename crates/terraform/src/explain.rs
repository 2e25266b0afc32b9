//! `edgeway explain`: the decisions a request would meet, from the config alone (no traffic):
//! DNS → distribution → cache behavior → viewer policy → cache key and TTLs → origin → load
//! balancer listener → rules → action → target group.
//!
//! The matching is small pure functions ([`glob`], [`cf_path_matches`], [`serves_host`],
//! [`check_condition`]) with the semantics of the CDN and ALB tiers.

use edgeway_config::{managed, Action, CacheBehavior, Condition, Config, Distribution, LoadBalancer};
use serde::Serialize;
use std::net::IpAddr;

/// The request to explain.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub method: String,
    pub scheme: String,
    pub host: String,
    /// The port in the URL, if any.
    pub port: Option<u16>,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub from: IpAddr,
}

impl Request {
    /// Parses `http(s)://host[:port]/path?query`.
    pub fn parse(url: &str, method: &str, headers: Vec<(String, String)>, from: IpAddr) -> Result<Self, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("{url}: expected http://... or https://..."))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{url}: the scheme must be http or https"));
        }
        let rest = rest.split('#').next().unwrap_or(rest);
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, pq) = rest.split_at(end);
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let (path, query) = match pq.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (pq, None),
        };
        let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
        Ok(Request { method: method.to_ascii_uppercase(), scheme, host, port, path, query, headers, from })
    }

    fn https(&self) -> bool {
        self.scheme == "https"
    }
    fn effective_port(&self) -> u16 {
        self.port.unwrap_or(if self.https() { 443 } else { 80 })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn split_host_port(a: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = a.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        let port = after.strip_prefix(':').map(|p| p.parse::<u16>().map_err(|_| format!("bad port {p}"))).transpose()?;
        return Ok((format!("[{}]", ip.to_ascii_lowercase()), port));
    }
    match a.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_ascii_lowercase(), Some(p.parse::<u16>().map_err(|_| format!("bad port {p}"))?))),
        None => Ok((a.to_ascii_lowercase(), None)),
    }
}

/// One thing that was tried (a behavior, a rule, a condition) and why it matched or not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tried {
    pub what: String,
    pub matched: bool,
    pub why: String,
}

/// One decision.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `dns`, `distribution`, `cache_behavior`, `viewer`, `cache`, `origin`, `listener`,
    /// `rules`, `action`, `target_group`.
    pub step: &'static str,
    pub decision: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Tried>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// Everything `explain` found.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub request: Request,
    pub steps: Vec<Step>,
    /// How the request ends: `forwarded to target group X`, `301 redirect`, ...
    pub outcome: String,
}

impl Explanation {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.step == name)
    }

    /// The text form.
    pub fn render(&self) -> String {
        let r = &self.request;
        let mut out = format!(
            "{} {}://{}{}{}{}  (from {})\n",
            r.method,
            r.scheme,
            r.host,
            r.port.map(|p| format!(":{p}")).unwrap_or_default(),
            r.path,
            r.query.as_ref().map(|q| format!("?{q}")).unwrap_or_default(),
            r.from
        );
        for s in &self.steps {
            out.push_str(&format!("\n{:<15}{}\n", s.step, s.decision));
            for t in &s.tried {
                out.push_str(&format!("  {} {}: {}\n", if t.matched { "✓" } else { "✗" }, t.what, t.why));
            }
            for d in &s.details {
                out.push_str(&format!("  {d}\n"));
            }
        }
        out.push_str(&format!("\noutcome        {}\n", self.outcome));
        out
    }
}

// ---- matching ----

/// `*` any run of characters (including `/`, also none), `?` exactly one; everything else
/// literal, compared case-insensitively when asked.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| if case_insensitive { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || eq(c, t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A CloudFront `path_pattern` against a path: case-sensitive, leading `/` optional.
pub fn cf_path_matches(pattern: &str, path: &str) -> bool {
    if pattern.starts_with('/') || pattern.starts_with('*') {
        glob(pattern, path, false)
    } else {
        glob(&format!("/{pattern}"), path, false)
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Whether a distribution with `aliases` serves `host` (an alias, `*.` covering one label,
/// `<id>.cloudfront.net`, `localhost`, an IP, or anything when there are no aliases).
pub fn serves_host(aliases: &[String], id: &str, host: &str) -> bool {
    if aliases.is_empty() {
        return true;
    }
    let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() {
        return true;
    }
    if host.strip_suffix(".cloudfront.net").is_some_and(|d| d.eq_ignore_ascii_case(id)) {
        return true;
    }
    aliases.iter().any(|a| {
        let a = a.trim_end_matches('.');
        match a.strip_prefix("*.") {
            Some(suffix) => host.split_once('.').is_some_and(|(l, rest)| !l.is_empty() && rest.eq_ignore_ascii_case(suffix)),
            None => a.eq_ignore_ascii_case(&host),
        }
    })
}

/// What an ALB rule looks at.
#[derive(Debug, Clone)]
pub struct AlbView<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub peer: IpAddr,
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').map_or((p.to_string(), String::new()), |(k, v)| (k.to_string(), v.to_string()))).collect()
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap_or((cidr, if cidr.contains(':') { "128" } else { "32" }));
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else { return false };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if len <= 128 => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// One rule condition: whether it matches, and a sentence saying why.
pub fn check_condition(c: &Condition, r: &AlbView<'_>) -> (bool, String) {
    let list = |v: &[String]| v.join(", ");
    if let Some(v) = &c.host_header {
        let host = strip_port(r.host);
        let m = v.values.iter().any(|p| glob(p, host, true));
        return (m, format!("host_header [{}] {} {host:?}", list(&v.values), if m { "matches" } else { "does not match" }));
    }
    if let Some(v) = &c.path_pattern {
        let m = v.values.iter().any(|p| glob(p, r.path, false));
        return (m, format!("path_pattern [{}] {} {:?}", list(&v.values), if m { "matches" } else { "does not match" }, r.path));
    }
    if let Some(v) = &c.http_request_method {
        let m = v.values.iter().any(|x| x == r.method);
        return (m, format!("http_request_method [{}] {} {}", list(&v.values), if m { "includes" } else { "does not include" }, r.method));
    }
    if let Some(v) = &c.source_ip {
        let m = v.values.iter().any(|x| in_cidr(r.peer, x));
        return (m, format!("source_ip [{}] {} {}", list(&v.values), if m { "contains" } else { "does not contain" }, r.peer));
    }
    if let Some(h) = &c.http_header {
        let vals: Vec<&str> = r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(h.http_header_name.trim())).map(|(_, v)| v.as_str()).collect();
        let m = vals.iter().any(|v| h.values.iter().any(|p| glob(p, v, true)));
        let seen = if vals.is_empty() { "absent".to_string() } else { format!("{:?}", vals.join(", ")) };
        return (m, format!("http_header {} [{}] {} (the header is {seen})", h.http_header_name, list(&h.values), if m { "matches" } else { "does not match" }));
    }
    if !c.query_string.is_empty() {
        let pairs = r.query.map(query_pairs).unwrap_or_default();
        let m = pairs.iter().any(|(k, v)| c.query_string.iter().any(|q| q.key.as_ref().is_none_or(|qk| glob(qk, k, true)) && glob(&q.value, v, true)));
        let want: Vec<String> = c.query_string.iter().map(|q| format!("{}={}", q.key.clone().unwrap_or_default(), q.value)).collect();
        return (m, format!("query_string [{}] {} {:?}", want.join(", "), if m { "matches" } else { "does not match" }, r.query.unwrap_or("")));
    }
    (false, "an empty condition never matches".into())
}

// ---- policies ----

/// A cache policy as `explain` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub name: String,
    pub ttls: (u64, u64, u64),
    /// What goes into the key besides the path.
    pub headers: Vec<String>,
    pub cookies: String,
    pub query_strings: String,
    /// `(gzip, brotli)` normalization of Accept-Encoding.
    pub accept_encoding: (bool, bool),
}

/// Legacy TTL defaults: min 0, default 86400, max 31536000, adjusted like CloudFront.
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

fn behavior_names(kind: &str, items: &[String]) -> String {
    match kind {
        "none" => "none".into(),
        "all" => "all".into(),
        "whitelist" => format!("only [{}]", items.join(", ")),
        "allExcept" => format!("all except [{}]", items.join(", ")),
        other => format!("{other} [{}]", items.join(", ")),
    }
}

/// The cache policy a behavior uses.
pub fn cache_policy(cfg: &Config, b: &CacheBehavior) -> PolicyView {
    if let Some(id) = &b.cache_policy_id {
        if let Some(m) = managed::cache_policy(id) {
            let (headers, cookies, qs, ae) = match m.name {
                "CachingOptimized" => (vec![], "none", "none", (true, true)),
                "Amplify" => (vec!["authorization".into(), "cloudfront-viewer-country".into(), "host".into()], "all", "all", (true, true)),
                "UseOriginCacheControlHeaders" => (vec!["host".into(), "origin".into(), "x-http-method-override".into(), "x-http-method".into(), "x-method-override".into()], "all", "none", (true, true)),
                "UseOriginCacheControlHeaders-QueryStrings" => {
                    (vec!["host".into(), "origin".into(), "x-http-method-override".into(), "x-http-method".into(), "x-method-override".into()], "all", "all", (true, true))
                }
                _ => (vec![], "none", "none", (false, false)),
            };
            return PolicyView { name: m.name.into(), ttls: (m.min_ttl, m.default_ttl, m.max_ttl), headers, cookies: cookies.into(), query_strings: qs.into(), accept_encoding: ae };
        }
        if let Some(p) = cfg.cache_policies.iter().find(|p| &p.name == id) {
            let k = &p.parameters_in_cache_key_and_forwarded_to_origin;
            return PolicyView {
                name: p.name.clone(),
                ttls: (p.min_ttl, p.default_ttl, p.max_ttl),
                headers: if k.headers_config.header_behavior == "none" { vec![] } else { k.headers_config.headers.items.iter().map(|h| h.to_ascii_lowercase()).collect() },
                cookies: behavior_names(&k.cookies_config.cookie_behavior, &k.cookies_config.cookies.items),
                query_strings: behavior_names(&k.query_strings_config.query_string_behavior, &k.query_strings_config.query_strings.items),
                accept_encoding: (k.enable_accept_encoding_gzip, k.enable_accept_encoding_brotli),
            };
        }
    }
    let mut view = PolicyView {
        name: "legacy (forwarded_values and behavior TTLs)".into(),
        ttls: legacy_ttls(b.min_ttl, b.default_ttl, b.max_ttl),
        headers: vec![],
        cookies: "none".into(),
        query_strings: "none".into(),
        accept_encoding: (false, false),
    };
    if let Some(fv) = &b.forwarded_values {
        if fv.query_string {
            view.query_strings = if fv.query_string_cache_keys.is_empty() { "all".into() } else { format!("only [{}]", fv.query_string_cache_keys.join(", ")) };
        }
        if fv.headers.iter().any(|h| h == "*") {
            view.ttls = (0, 0, 0);
            view.headers = vec!["* (every header: nothing is cached)".into()];
        } else {
            view.headers = fv.headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        }
        if let Some(c) = &fv.cookies {
            view.cookies = behavior_names(&c.forward, &c.whitelisted_names);
        }
    }
    view
}

/// Which query parameters a name set keeps.
fn keeps(set: &str, name: &str) -> bool {
    let inside = |s: &str| s.trim_end_matches(']').split(", ").any(|n| n == name);
    if set == "all" {
        true
    } else if let Some(l) = set.strip_prefix("only [") {
        inside(l)
    } else if let Some(l) = set.strip_prefix("all except [") {
        !inside(l)
    } else {
        false
    }
}

/// The origin request policy's (name, forwards all viewer headers, forwards Host, query set).
fn orp(cfg: &Config, b: &CacheBehavior) -> Option<(String, bool, bool, String)> {
    let id = b.origin_request_policy_id.as_ref()?;
    if let Some(n) = managed::origin_request_policy(id) {
        let all = matches!(n, "AllViewer" | "AllViewerExceptHostHeader" | "AllViewerAndCloudFrontHeaders-2022-06");
        let host = matches!(n, "AllViewer" | "AllViewerAndCloudFrontHeaders-2022-06");
        let qs = if all || n == "UserAgentRefererHeaders" { "all" } else { "none" };
        let qs = if n == "UserAgentRefererHeaders" { "none" } else { qs };
        return Some((n.to_string(), all, host, qs.to_string()));
    }
    let p = cfg.origin_request_policies.iter().find(|p| &p.name == id)?;
    let hb = p.headers_config.header_behavior.as_str();
    let all = hb.starts_with("allViewer");
    let host = hb == "allViewer" || hb == "allViewerAndWhitelistCloudFront" || p.headers_config.headers.items.iter().any(|h| h.eq_ignore_ascii_case("host"));
    Some((p.name.clone(), all, host, behavior_names(&p.query_strings_config.query_string_behavior, &p.query_strings_config.query_strings.items)))
}

// ---- the walk ----

enum Entry {
    Distribution(usize),
    LoadBalancer(usize),
    Nothing(String),
}

fn zone_of<'c>(cfg: &'c Config, host: &str) -> Option<&'c edgeway_config::Zone> {
    cfg.zones
        .iter()
        .filter(|z| {
            let zn = z.name.trim_end_matches('.').to_ascii_lowercase();
            host == zn || host.ends_with(&format!(".{zn}"))
        })
        .max_by_key(|z| z.name.len())
}

/// The DNS step for `host`, and where the answer points.
fn dns_step(cfg: &Config, host: &str, port: u16, https: bool) -> (Step, Option<Entry>) {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut step = Step { step: "dns", decision: String::new(), tried: vec![], details: vec![] };
    if host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() || host == "localhost" {
        step.decision = format!("{host} needs no DNS lookup");
        return (step, None);
    }
    let Some(zone) = zone_of(cfg, &host) else {
        step.decision = format!("{host} is in no zone of this config: the system resolver would answer");
        return (step, None);
    };
    let recs: Vec<_> = zone.records.iter().filter(|r| r.name.trim_end_matches('.').eq_ignore_ascii_case(&host) && (r.kind == "A" || r.kind == "AAAA" || r.kind == "CNAME")).collect();
    let Some(rec) = recs.first() else {
        step.decision = format!("NXDOMAIN: zone {} has no A record for {host}", zone.name);
        return (step, Some(Entry::Nothing(format!("{host} does not resolve"))));
    };
    if recs.len() > 1 {
        step.details.push(format!("{} record sets answer for this name (routing policies choose); explaining the first", recs.len()));
    }
    if let Some(a) = &rec.alias {
        if let Some(d) = &a.distribution {
            if let Some(i) = cfg.distributions.iter().position(|x| &x.id == d) {
                let listens = cfg.distributions[i].listen.join(", ");
                step.decision = format!("{host} {} → alias to distribution {d}: answers with its listen address ({listens})", rec.kind);
                return (step, Some(Entry::Distribution(i)));
            }
        }
        if let Some(l) = &a.load_balancer {
            if let Some(i) = cfg.load_balancers.iter().position(|x| &x.name == l) {
                step.decision = format!("{host} {} → alias to load balancer {l}: answers with {}", rec.kind, cfg.load_balancers[i].bind_address);
                return (step, Some(Entry::LoadBalancer(i)));
            }
        }
        step.decision = format!("{host}: alias to something this config does not define");
        return (step, Some(Entry::Nothing("the alias target is not defined".into())));
    }
    step.decision = format!("{host} {} → {} (TTL {})", rec.kind, rec.records.join(", "), rec.ttl.unwrap_or(300));
    // Which listener owns that address and port?
    let ips: Vec<IpAddr> = rec.records.iter().filter_map(|r| r.parse().ok()).collect();
    (step, entry_by_address(cfg, &ips, port, https))
}

fn entry_by_address(cfg: &Config, ips: &[IpAddr], port: u16, https: bool) -> Option<Entry> {
    let scheme = if https { "https://" } else { "http://" };
    for (i, d) in cfg.distributions.iter().enumerate() {
        for l in &d.listen {
            if let Some(addr) = l.strip_prefix(scheme).and_then(|a| edgeway_config::parse_socket_addr(a).ok()) {
                if addr.port() == port && (ips.is_empty() || ips.contains(&addr.ip())) {
                    return Some(Entry::Distribution(i));
                }
            }
        }
    }
    for (i, lb) in cfg.load_balancers.iter().enumerate() {
        let ip_ok = ips.is_empty() || lb.bind_address.parse::<IpAddr>().is_ok_and(|ip| ips.contains(&ip)) || lb.bind_address == "localhost";
        if ip_ok && lb.listeners.iter().any(|l| l.port == port) {
            return Some(Entry::LoadBalancer(i));
        }
    }
    None
}

fn action_summary(a: &Action) -> String {
    match a.kind.as_str() {
        "forward" => {
            let groups = a.target_groups();
            if groups.len() == 1 {
                format!("forward to target group {}", groups[0].0)
            } else {
                let total: u32 = groups.iter().map(|g| g.1).sum();
                let parts: Vec<String> = groups.iter().map(|(n, w)| format!("{n} (weight {w} of {total})")).collect();
                format!("forward to target groups {}", parts.join(", "))
            }
        }
        "redirect" => match &a.redirect {
            Some(r) => format!("redirect {} to {}://{}:{}{}?{}", r.status_code, r.protocol, r.host, r.port, r.path, r.query),
            None => "redirect".into(),
        },
        "fixed-response" => match &a.fixed_response {
            Some(f) => format!("fixed response {} ({}){}", f.status_code, f.content_type, f.message_body.as_ref().map(|b| format!(": {b:?}")).unwrap_or_default()),
            None => "fixed response".into(),
        },
        other => other.to_string(),
    }
}

/// Explains `req` against `cfg`.
pub fn explain(cfg: &Config, req: &Request) -> Explanation {
    let mut steps = Vec::new();
    let port = req.effective_port();
    let (dns, entry) = dns_step(cfg, &req.host, port, req.https());
    steps.push(dns);
    // Locally the tiers listen on their own ports: prefer the one the URL names, else what DNS said.
    let by_port = if req.port.is_some() { entry_by_address(cfg, &[], port, req.https()) } else { None };
    let entry = match (by_port, entry) {
        (Some(e), _) => Some(e),
        (None, Some(e)) => Some(e),
        (None, None) => cfg.distributions.iter().position(|d| serves_host(&d.aliases, &d.id, &req.host) && !d.aliases.is_empty()).map(Entry::Distribution),
    };
    let outcome = match entry {
        Some(Entry::Distribution(i)) => edge(cfg, &cfg.distributions[i], req, &mut steps),
        Some(Entry::LoadBalancer(i)) => {
            let lb = &cfg.load_balancers[i];
            let view = AlbView { method: &req.method, host: &req.host, path: &req.path, query: req.query.as_deref(), headers: &req.headers, peer: req.from };
            alb(cfg, lb, Some(port), req.https(), &view, &mut steps)
        }
        Some(Entry::Nothing(why)) => why,
        None => "nothing in this config receives this request".into(),
    };
    Explanation { request: req.clone(), steps, outcome }
}

/// The CloudFront part; returns the outcome.
fn edge(cfg: &Config, d: &Distribution, req: &Request, steps: &mut Vec<Step>) -> String {
    let mut st = Step { step: "distribution", decision: format!("distribution {}", d.id), tried: vec![], details: vec![] };
    let scheme = if req.https() { "https://" } else { "http://" };
    let listen = d.listen.iter().find(|l| l.starts_with(scheme));
    match listen {
        Some(l) => st.details.push(format!("{} viewers connect to {l} locally", req.scheme.to_uppercase())),
        None => st.details.push(format!("this distribution has no {} listener", req.scheme)),
    }
    if !d.enabled {
        st.decision.push_str(" (disabled)");
        steps.push(st);
        return "403: the distribution is disabled".into();
    }
    let served = serves_host(&d.aliases, &d.id, &req.host);
    st.tried.push(Tried {
        what: format!("aliases [{}]", d.aliases.join(", ")),
        matched: served,
        why: if served { format!("{} is served", req.host) } else { format!("{} is not an alias of this distribution", req.host) },
    });
    steps.push(st);
    if !served {
        return "403: the Host is not an alias of the distribution".into();
    }
    // Behaviors.
    let mut st = Step { step: "cache_behavior", decision: String::new(), tried: vec![], details: vec![] };
    let mut chosen = None;
    for b in &d.ordered_cache_behavior {
        let p = b.path_pattern.clone().unwrap_or_default();
        if chosen.is_some() {
            break;
        }
        let m = cf_path_matches(&p, &req.path);
        st.tried.push(Tried { what: format!("path_pattern {p}"), matched: m, why: format!("{} {:?}", if m { "matches" } else { "does not match" }, req.path) });
        if m {
            chosen = Some(b);
        }
    }
    let b = match chosen {
        Some(b) => {
            st.decision = format!("ordered behavior {} → origin {}", b.path_pattern.clone().unwrap_or_default(), b.target_origin_id);
            b
        }
        None => {
            st.tried.push(Tried { what: "default_cache_behavior (*)".into(), matched: true, why: "no ordered behavior matched".into() });
            st.decision = format!("default behavior → origin {}", d.default_cache_behavior.target_origin_id);
            &d.default_cache_behavior
        }
    };
    steps.push(st);
    // Viewer protocol and methods.
    let mut st = Step { step: "viewer", decision: String::new(), tried: vec![], details: vec![] };
    let safe = req.method == "GET" || req.method == "HEAD";
    if !req.https() {
        match b.viewer_protocol_policy.as_str() {
            "redirect-to-https" => {
                let https_port = d.listen.iter().find_map(|l| l.strip_prefix("https://")).and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok()).unwrap_or(443);
                let host = strip_port(&req.host);
                let loc = if https_port == 443 { format!("https://{host}{}", req.path) } else { format!("https://{host}:{https_port}{}", req.path) };
                let loc = format!("{loc}{}", req.query.as_ref().map(|q| format!("?{q}")).unwrap_or_default());
                let code = if safe { 301 } else { 307 };
                st.decision = format!("viewer_protocol_policy redirect-to-https: {code} to {loc}");
                steps.push(st);
                return format!("{code} redirect to {loc}");
            }
            "https-only" => {
                st.decision = "viewer_protocol_policy https-only: HTTP gets 403".into();
                steps.push(st);
                return "403: HTTPS only".into();
            }
            _ => st.decision = "viewer_protocol_policy allow-all: HTTP is served".into(),
        }
    } else {
        st.decision = format!("HTTPS is served ({})", b.viewer_protocol_policy);
    }
    let allowed = b.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(&req.method));
    st.tried.push(Tried { what: format!("allowed_methods [{}]", b.allowed_methods.join(", ")), matched: allowed, why: format!("{} {}", req.method, if allowed { "is allowed" } else { "is not allowed" }) });
    steps.push(st);
    if !allowed {
        return format!("403: {} is not an allowed method", req.method);
    }
    // Cache policy, key and TTLs.
    let pol = cache_policy(cfg, b);
    let mut st = Step { step: "cache", decision: format!("cache policy {}", pol.name), tried: vec![], details: vec![] };
    let (min, def, max) = pol.ttls;
    if min == 0 && def == 0 && max == 0 {
        st.details.push("TTLs 0/0/0: caching is disabled; every request goes to the origin".into());
    } else {
        st.details.push(format!("TTLs: min {min}s, default {def}s (when the origin sends no Cache-Control/Expires), max {max}s"));
    }
    let cached_method = safe || (req.method == "OPTIONS" && b.cached_methods.iter().any(|m| m == "OPTIONS"));
    if !cached_method {
        st.details.push(format!("{} responses are never cached", req.method));
    }
    let path = match (&d.default_root_object, req.path.as_str()) {
        (Some(o), "/") => format!("/{o}"),
        _ => req.path.clone(),
    };
    if path != req.path {
        st.details.push(format!("default_root_object: / becomes {path}"));
    }
    let mut key = format!("{}\n{}{}", d.id, if req.method == "OPTIONS" { "OPTIONS " } else { "" }, path);
    let kept: Vec<String> = req.query.as_deref().map(query_pairs).unwrap_or_default().into_iter().filter(|(k, _)| keeps(&pol.query_strings, k)).map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") }).collect();
    if !kept.is_empty() {
        key.push('?');
        key.push_str(&kept.join("&"));
    }
    for h in &pol.headers {
        let v = if h == "host" { Some(req.host.as_str()) } else { req.header(h) };
        key.push_str(&format!("\n{h}:{}", v.unwrap_or("")));
    }
    let (gz, br) = pol.accept_encoding;
    if gz || br {
        let ae = req.header("accept-encoding").unwrap_or("").to_ascii_lowercase();
        let enc: Vec<&str> = [(br && ae.contains("br"), "br"), (gz && ae.contains("gzip"), "gzip")].iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
        if !enc.is_empty() {
            key.push_str(&format!("\naccept-encoding:{}", enc.join(",")));
        }
    }
    st.details.push(format!(
        "key: path, query strings {}, headers [{}], cookies {}, Accept-Encoding {}",
        pol.query_strings,
        pol.headers.join(", "),
        pol.cookies,
        match (gz, br) {
            (true, true) => "normalized (gzip, br)",
            (true, false) => "normalized (gzip)",
            (false, true) => "normalized (br)",
            _ => "not in the key",
        }
    ));
    st.details.push(format!("this request's key: {}", key.replace('\n', " | ")));
    steps.push(st);
    // Origin.
    let Some(o) = d.origin(&b.target_origin_id) else {
        steps.push(Step { step: "origin", decision: format!("no origin {}", b.target_origin_id), tried: vec![], details: vec![] });
        return "502: the behavior names an origin that does not exist".into();
    };
    let cc = o.custom_origin_config.clone().unwrap_or_default();
    let https = match cc.origin_protocol_policy.as_str() {
        "http-only" => false,
        "match-viewer" => req.https(),
        _ => true,
    };
    let oport = if https { cc.https_port } else { cc.http_port };
    let origin_path = format!("{}{path}", o.origin_path.clone().unwrap_or_default());
    let policy = orp(cfg, b);
    let forward_all_qs = policy.as_ref().is_some_and(|p| p.3 == "all") || pol.query_strings == "all";
    let fwd_query: Vec<String> = req
        .query
        .as_deref()
        .map(query_pairs)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| forward_all_qs || keeps(&pol.query_strings, k) || policy.as_ref().is_some_and(|p| keeps(&p.3, k)))
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let fwd_query = if fwd_query.is_empty() { None } else { Some(fwd_query.join("&")) };
    let host_forwarded = policy.as_ref().is_some_and(|p| p.2) || pol.headers.iter().any(|h| h == "host");
    let origin_host = if host_forwarded { req.host.clone() } else { o.domain_name.clone() };
    let url = format!(
        "{}://{}{origin_path}{}",
        if https { "https" } else { "http" },
        edgeway_config::join_host_port(&o.domain_name, oport),
        fwd_query.as_ref().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let mut st = Step { step: "origin", decision: format!("origin {} → {url}", o.origin_id), tried: vec![], details: vec![] };
    st.details.push(format!("origin_protocol_policy {}: {}", cc.origin_protocol_policy, if https { "HTTPS" } else { "HTTP" }));
    st.details.push(match &policy {
        Some((n, all, _, _)) => format!("origin request policy {n}{}", if *all { ": every viewer header is forwarded" } else { "" }),
        None => "no origin request policy: only the cache key's headers, cookies and query strings (and CloudFront's defaults) are forwarded".into(),
    });
    st.details.push(format!("Host to the origin: {origin_host}"));
    steps.push(st);
    // Which load balancer is the origin?
    let dn = o.domain_name.trim_end_matches('.').to_ascii_lowercase();
    let lb = if let Ok(ip) = dn.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        match entry_by_address(cfg, &[ip], oport, https) {
            Some(Entry::LoadBalancer(i)) => Some(i),
            _ => None,
        }
    } else {
        zone_of(cfg, &dn).and_then(|z| z.records.iter().find(|r| r.name.trim_end_matches('.').eq_ignore_ascii_case(&dn))).and_then(|r| match &r.alias {
            Some(a) => a.load_balancer.as_ref().and_then(|l| cfg.load_balancers.iter().position(|x| &x.name == l)),
            None => {
                let ips: Vec<IpAddr> = r.records.iter().filter_map(|x| x.parse().ok()).collect();
                match entry_by_address(cfg, &ips, oport, https) {
                    Some(Entry::LoadBalancer(i)) => Some(i),
                    _ => None,
                }
            }
        })
    };
    let Some(lbi) = lb else {
        return format!("sent to the origin {url} (outside this config)");
    };
    // The ALB sees the edge as its peer and CloudFront's forwarded headers.
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            policy.as_ref().is_some_and(|p| p.1) || pol.headers.contains(&n) || !matches!(n.as_str(), "accept" | "accept-charset" | "accept-encoding" | "accept-language" | "referer" | "user-agent" | "cookie" | "host")
        })
        .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
        .cloned()
        .collect();
    let view = AlbView { method: &req.method, host: &origin_host, path: &origin_path, query: fwd_query.as_deref(), headers: &headers, peer: IpAddr::from([127, 0, 0, 1]) };
    alb(cfg, &cfg.load_balancers[lbi], Some(oport), https, &view, steps)
}

/// The ALB part; returns the outcome.
fn alb(cfg: &Config, lb: &LoadBalancer, port: Option<u16>, https: bool, v: &AlbView<'_>, steps: &mut Vec<Step>) -> String {
    let want = if https { "HTTPS" } else { "HTTP" };
    let l = port.and_then(|p| lb.listeners.iter().find(|l| l.port == p)).or_else(|| lb.listeners.iter().find(|l| l.protocol == want));
    let Some(l) = l else {
        steps.push(Step { step: "listener", decision: format!("load balancer {} has no listener on port {}", lb.name, port.unwrap_or(0)), tried: vec![], details: vec![] });
        return "connection refused: no listener".into();
    };
    let mut st = Step { step: "listener", decision: format!("load balancer {}, listener {} {}:{}", lb.name, l.protocol, lb.bind_address, l.port), tried: vec![], details: vec![] };
    if l.protocol != want {
        st.details.push(format!("the request arrives over {want} but the listener speaks {}: it would fail", l.protocol));
    }
    steps.push(st);
    let mut st = Step { step: "rules", decision: String::new(), tried: vec![], details: vec![] };
    st.details.push(format!("the rules see method {}, host {:?}, path {:?}, query {:?}, peer {}", v.method, v.host, v.path, v.query.unwrap_or(""), v.peer));
    let mut rules: Vec<_> = l.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    let mut action = &l.default_action;
    let mut matched = None;
    for r in rules {
        let results: Vec<(bool, String)> = r.condition.iter().map(|c| check_condition(c, v)).collect();
        let all = results.iter().all(|(m, _)| *m) && !results.is_empty();
        let why = match results.iter().find(|(m, _)| !*m) {
            Some((_, w)) => w.clone(),
            None => results.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>().join("; "),
        };
        st.tried.push(Tried { what: format!("rule {}", r.priority), matched: all, why });
        if all {
            action = &r.action;
            matched = Some(r.priority);
            break;
        }
    }
    st.decision = match matched {
        Some(p) => format!("rule {p} matched"),
        None => "no rule matched: the default action applies".into(),
    };
    steps.push(st);
    let summary = action_summary(action);
    steps.push(Step { step: "action", decision: summary.clone(), tried: vec![], details: vec![] });
    if action.kind != "forward" {
        return summary;
    }
    let mut names = Vec::new();
    for (name, weight) in action.target_groups() {
        names.push(name.to_string());
        let Some(tg) = cfg.target_group(name) else {
            steps.push(Step { step: "target_group", decision: format!("{name}: not defined"), tried: vec![], details: vec![] });
            continue;
        };
        let mut st = Step { step: "target_group", decision: format!("{} ({} {}, weight {weight})", tg.name, tg.protocol, tg.load_balancing_algorithm_type), tried: vec![], details: vec![] };
        if tg.targets.is_empty() {
            st.details.push("no registered targets: the load balancer answers 503".into());
        } else {
            let targets: Vec<String> = tg.targets.iter().map(|t| if t.contains(':') || tg.port.is_none() { t.clone() } else { format!("{t}:{}", tg.port.unwrap_or(80)) }).collect();
            st.details.push(format!("targets: {}", targets.join(", ")));
            st.details.push("eligible: the healthy ones; health is not known without traffic (targets start `initial`; when none is healthy, all get traffic: fail-open)".into());
        }
        let h = &tg.health_check;
        if h.enabled {
            st.details.push(format!(
                "health check: {} {} on {} every {}s, timeout {}s, healthy after {}, unhealthy after {}, matcher {}",
                h.protocol, h.path, h.port, h.interval, h.timeout, h.healthy_threshold, h.unhealthy_threshold, h.matcher
            ));
        } else {
            st.details.push("health checks disabled: every target is eligible".into());
        }
        steps.push(st);
    }
    format!("forwarded to target group {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("/images/*", "/images/a/b.png", false, true),
            ("/images/*", "/images", false, false),
            ("/a?c", "/abc", false, true),
            ("/a?c", "/ac", false, false),
            ("*.jpg", "/LOGO.JPG", false, false),
            ("*.jpg", "/LOGO.JPG", true, true),
            ("*.example.com", "Shop.Example.COM", true, true),
            ("*.example.com", "example.com", true, false),
            ("", "", false, true),
        ];
        for (p, t, ci, want) in cases {
            assert_eq!(glob(p, t, *ci), *want, "{p} vs {t}");
        }
        assert!(cf_path_matches("images/*", "/images/x"));
        assert!(!cf_path_matches("/API/*", "/api/x"));
    }

    #[test]
    fn urls() {
        let r = Request::parse("https://Dev.Example.com:8443/a/b?x=1#frag", "get", vec![], IpAddr::from([127, 0, 0, 1])).unwrap();
        assert_eq!((r.host.as_str(), r.port, r.path.as_str(), r.query.as_deref(), r.method.as_str()), ("dev.example.com", Some(8443), "/a/b", Some("x=1"), "GET"));
        let r = Request::parse("http://[::1]", "GET", vec![], IpAddr::from([127, 0, 0, 1])).unwrap();
        assert_eq!((r.host.as_str(), r.port, r.path.as_str()), ("[::1]", None, "/"));
        assert!(Request::parse("ftp://x/", "GET", vec![], IpAddr::from([127, 0, 0, 1])).is_err());
    }

    #[test]
    fn cidrs() {
        assert!(in_cidr("10.1.2.3".parse().unwrap(), "10.0.0.0/8"));
        assert!(!in_cidr("11.1.2.3".parse().unwrap(), "10.0.0.0/8"));
        assert!(in_cidr("::1".parse().unwrap(), "::/0"));
        assert!(!in_cidr("10.1.2.3".parse().unwrap(), "::/0"));
    }

    #[test]
    fn legacy_ttl_adjustments() {
        assert_eq!(legacy_ttls(None, None, None), (0, 86_400, 31_536_000));
        assert_eq!(legacy_ttls(Some(100_000), None, None), (100_000, 100_000, 31_536_000));
        assert_eq!(legacy_ttls(None, Some(40_000_000), None), (0, 40_000_000, 40_000_000));
    }
}
