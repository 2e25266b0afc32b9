//! `edgeway explain`: the decisions a request would meet, from the config alone (no traffic):
//! DNS → distribution → cache behavior → viewer policy → cache key and TTLs → origin → load
//! balancer listener → rules → action → target group.
//!
//! The matching, policies, cache key and origin request headers are the CDN and ALB tiers' own
//! functions (edgeway-cdn's path patterns, aliases, behaviors, cache key and origin headers;
//! edgeway-alb's compiled conditions), so `explain` cannot drift from what the tiers do.

use edgeway_alb::condition::{strip_port, Condition as AlbCondition, RequestView};
use edgeway_cdn::behavior::Behavior;
use edgeway_cdn::cache_key::{cache_key, KeyInput};
use edgeway_cdn::distribution::serves_host;
use edgeway_cdn::headers::{origin_request_headers, OriginHeaderInput};
use edgeway_cdn::origin::{origin_url, OriginProtocolPolicy};
use edgeway_cdn::params::filter_query;
use edgeway_cdn::pattern::PathPattern;
use edgeway_cdn::policy::{NameSet, OrpHeaders};
use edgeway_cdn::viewer::https_location;
use edgeway_config::{Action, CacheBehavior, Condition, Config, Distribution, LoadBalancer};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

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
    pub fn parse(
        url: &str,
        method: &str,
        headers: Vec<(String, String)>,
        from: IpAddr,
    ) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url}: expected http://... or https://..."))?;
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
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path.to_string()
        };
        Ok(Request {
            method: method.to_ascii_uppercase(),
            scheme,
            host,
            port,
            path,
            query,
            headers,
            from,
        })
    }

    pub fn https(&self) -> bool {
        self.scheme == "https"
    }
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(if self.https() { 443 } else { 80 })
    }
    /// The Host header a client sends: the host, and the port when the URL names one.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
    /// The path and query as sent.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
    /// The request headers as a header map (names or values HTTP cannot carry are left out).
    pub fn header_map(&self) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                m.append(n, v);
            }
        }
        m
    }
}

fn split_host_port(a: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = a.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        let port = after
            .strip_prefix(':')
            .map(|p| p.parse::<u16>().map_err(|_| format!("bad port {p}")))
            .transpose()?;
        return Ok((format!("[{}]", ip.to_ascii_lowercase()), port));
    }
    match a.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_ascii_lowercase(),
            Some(p.parse::<u16>().map_err(|_| format!("bad port {p}"))?),
        )),
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
            r.query
                .as_ref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default(),
            r.from
        );
        for s in &self.steps {
            out.push_str(&format!("\n{:<15}{}\n", s.step, s.decision));
            for t in &s.tried {
                out.push_str(&format!(
                    "  {} {}: {}\n",
                    if t.matched { "✓" } else { "✗" },
                    t.what,
                    t.why
                ));
            }
            for d in &s.details {
                out.push_str(&format!("  {d}\n"));
            }
        }
        out.push_str(&format!("\noutcome        {}\n", self.outcome));
        out
    }
}

// ---- matching: the tiers' own functions ----

/// A CloudFront `path_pattern` against a path (the edge's [`PathPattern`]: case-sensitive,
/// `*` crosses `/`, leading `/` optional).
pub fn cf_path_matches(pattern: &str, path: &str) -> bool {
    PathPattern::new(pattern).matches(path)
}

/// What an ALB rule looks at.
#[derive(Debug, Clone)]
pub struct AlbView<'a> {
    pub method: &'a str,
    /// The Host the load balancer gets (port included when sent).
    pub host: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub peer: IpAddr,
}

/// One rule condition: whether it matches (the load balancer's own compiled [`AlbCondition`]),
/// and a sentence saying why.
pub fn check_condition(c: &Condition, r: &AlbView<'_>) -> (bool, String) {
    let view = RequestView {
        method: r.method,
        host: Some(r.host),
        path: r.path,
        query: r.query,
        headers: r.headers,
        peer: r.peer,
    };
    let m = AlbCondition::compile(c).matches(&view);
    let list = |v: &[String]| v.join(", ");
    let verb = if m { "matches" } else { "does not match" };
    if let Some(v) = &c.host_header {
        return (
            m,
            format!(
                "host_header [{}] {verb} {:?}",
                list(&v.values),
                strip_port(r.host)
            ),
        );
    }
    if let Some(v) = &c.path_pattern {
        return (
            m,
            format!("path_pattern [{}] {verb} {:?}", list(&v.values), r.path),
        );
    }
    if let Some(v) = &c.http_request_method {
        return (
            m,
            format!(
                "http_request_method [{}] {} {}",
                list(&v.values),
                if m { "includes" } else { "does not include" },
                r.method
            ),
        );
    }
    if let Some(v) = &c.source_ip {
        return (
            m,
            format!(
                "source_ip [{}] {} {}",
                list(&v.values),
                if m { "contains" } else { "does not contain" },
                r.peer
            ),
        );
    }
    if let Some(h) = &c.http_header {
        let vals: Vec<&str> = r
            .headers
            .get_all(h.http_header_name.trim().to_ascii_lowercase().as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let seen = if vals.is_empty() {
            "absent".to_string()
        } else {
            format!("{:?}", vals.join(", "))
        };
        return (
            m,
            format!(
                "http_header {} [{}] {verb} (the header is {seen})",
                h.http_header_name,
                list(&h.values)
            ),
        );
    }
    if !c.query_string.is_empty() {
        let want: Vec<String> = c
            .query_string
            .iter()
            .map(|q| format!("{}={}", q.key.clone().unwrap_or_default(), q.value))
            .collect();
        return (
            m,
            format!(
                "query_string [{}] {verb} {:?}",
                want.join(", "),
                r.query.unwrap_or("")
            ),
        );
    }
    (false, "an empty condition never matches".into())
}

// ---- policies ----

fn name_set(n: &NameSet) -> String {
    match n {
        NameSet::None => "none".into(),
        NameSet::All => "all".into(),
        NameSet::Whitelist(l) => format!("only [{}]", l.join(", ")),
        NameSet::AllExcept(l) => format!("all except [{}]", l.join(", ")),
    }
}

fn orp_headers(h: &OrpHeaders) -> String {
    match h {
        OrpHeaders::None => "no viewer headers".into(),
        OrpHeaders::Whitelist(l) => format!("headers [{}]", l.join(", ")),
        OrpHeaders::AllViewer => "every viewer header".into(),
        OrpHeaders::AllViewerAndCloudFront(l) => {
            format!("every viewer header and [{}]", l.join(", "))
        }
        OrpHeaders::AllExcept(l) => format!("every viewer header except [{}]", l.join(", ")),
    }
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
    let mut step = Step {
        step: "dns",
        decision: String::new(),
        tried: vec![],
        details: vec![],
    };
    if host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
        || host == "localhost"
    {
        step.decision = format!("{host} needs no DNS lookup");
        return (step, None);
    }
    let Some(zone) = zone_of(cfg, &host) else {
        step.decision =
            format!("{host} is in no zone of this config: the system resolver would answer");
        return (step, None);
    };
    let recs: Vec<_> = zone
        .records
        .iter()
        .filter(|r| {
            r.name.trim_end_matches('.').eq_ignore_ascii_case(&host)
                && (r.kind == "A" || r.kind == "AAAA" || r.kind == "CNAME")
        })
        .collect();
    let Some(rec) = recs.first() else {
        step.decision = format!("NXDOMAIN: zone {} has no A record for {host}", zone.name);
        return (
            step,
            Some(Entry::Nothing(format!("{host} does not resolve"))),
        );
    };
    if recs.len() > 1 {
        step.details.push(format!(
            "{} record sets answer for this name (routing policies choose); explaining the first",
            recs.len()
        ));
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
                step.decision = format!(
                    "{host} {} → alias to load balancer {l}: answers with {}",
                    rec.kind, cfg.load_balancers[i].bind_address
                );
                return (step, Some(Entry::LoadBalancer(i)));
            }
        }
        step.decision = format!("{host}: alias to something this config does not define");
        return (
            step,
            Some(Entry::Nothing("the alias target is not defined".into())),
        );
    }
    step.decision = format!(
        "{host} {} → {} (TTL {})",
        rec.kind,
        rec.records.join(", "),
        rec.ttl.unwrap_or(300)
    );
    // Which listener owns that address and port?
    let ips: Vec<IpAddr> = rec.records.iter().filter_map(|r| r.parse().ok()).collect();
    (step, entry_by_address(cfg, &ips, port, https))
}

fn entry_by_address(cfg: &Config, ips: &[IpAddr], port: u16, https: bool) -> Option<Entry> {
    let scheme = if https { "https://" } else { "http://" };
    for (i, d) in cfg.distributions.iter().enumerate() {
        for l in &d.listen {
            if let Some(addr) = l
                .strip_prefix(scheme)
                .and_then(|a| edgeway_config::parse_socket_addr(a).ok())
            {
                if addr.port() == port && (ips.is_empty() || ips.contains(&addr.ip())) {
                    return Some(Entry::Distribution(i));
                }
            }
        }
    }
    for (i, lb) in cfg.load_balancers.iter().enumerate() {
        let ip_ok = ips.is_empty()
            || lb
                .bind_address
                .parse::<IpAddr>()
                .is_ok_and(|ip| ips.contains(&ip))
            || lb.bind_address == "localhost";
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
                let parts: Vec<String> = groups
                    .iter()
                    .map(|(n, w)| format!("{n} (weight {w} of {total})"))
                    .collect();
                format!("forward to target groups {}", parts.join(", "))
            }
        }
        "redirect" => match &a.redirect {
            Some(r) => format!(
                "redirect {} to {}://{}:{}{}?{}",
                r.status_code, r.protocol, r.host, r.port, r.path, r.query
            ),
            None => "redirect".into(),
        },
        "fixed-response" => match &a.fixed_response {
            Some(f) => format!(
                "fixed response {} ({}){}",
                f.status_code,
                f.content_type,
                f.message_body
                    .as_ref()
                    .map(|b| format!(": {b:?}"))
                    .unwrap_or_default()
            ),
            None => "fixed response".into(),
        },
        other => other.to_string(),
    }
}

/// What receives a request locally: a distribution's or a load balancer's listener (indexes
/// into the config's lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    Distribution(usize),
    LoadBalancer(usize),
}

/// The DNS step and what receives the request.
fn entry(cfg: &Config, req: &Request) -> (Step, Option<Entry>) {
    let port = req.effective_port();
    let (dns, entry) = dns_step(cfg, &req.host, port, req.https());
    // Locally the tiers listen on their own ports: prefer the one the URL names, else what DNS said.
    let by_port = if req.port.is_some() {
        entry_by_address(cfg, &[], port, req.https())
    } else {
        None
    };
    let entry = match (by_port, entry) {
        (Some(e), _) => Some(e),
        (None, Some(e)) => Some(e),
        (None, None) => cfg
            .distributions
            .iter()
            .position(|d| !d.aliases.is_empty() && serves_host(&d.aliases, &d.id, Some(&req.host)))
            .map(Entry::Distribution),
    };
    (dns, entry)
}

/// What receives `req` locally (the same choice `explain` makes).
pub fn receiver(cfg: &Config, req: &Request) -> Option<Receiver> {
    match entry(cfg, req).1 {
        Some(Entry::Distribution(i)) => Some(Receiver::Distribution(i)),
        Some(Entry::LoadBalancer(i)) => Some(Receiver::LoadBalancer(i)),
        _ => None,
    }
}

/// What the config's own zones alias `host` to (a Route 53 alias record), if anything.
pub fn alias_of(cfg: &Config, host: &str) -> Option<Receiver> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone_of(cfg, &host)?;
    let rec = zone.records.iter().find(|r| {
        r.name.trim_end_matches('.').eq_ignore_ascii_case(&host)
            && (r.kind == "A" || r.kind == "AAAA")
    })?;
    let a = rec.alias.as_ref()?;
    if let Some(i) = a
        .distribution
        .as_ref()
        .and_then(|d| cfg.distributions.iter().position(|x| &x.id == d))
    {
        return Some(Receiver::Distribution(i));
    }
    a.load_balancer
        .as_ref()
        .and_then(|l| cfg.load_balancers.iter().position(|x| &x.name == l))
        .map(Receiver::LoadBalancer)
}

/// Explains `req` against `cfg`.
pub fn explain(cfg: &Config, req: &Request) -> Explanation {
    let mut steps = Vec::new();
    let port = req.effective_port();
    let (dns, entry) = entry(cfg, req);
    steps.push(dns);
    let outcome = match entry {
        Some(Entry::Distribution(i)) => edge(cfg, &cfg.distributions[i], req, &mut steps),
        Some(Entry::LoadBalancer(i)) => {
            let lb = &cfg.load_balancers[i];
            let headers = req.header_map();
            let authority = req.authority();
            let view = AlbView {
                method: &req.method,
                host: &authority,
                path: &req.path,
                query: req.query.as_deref(),
                headers: &headers,
                peer: req.from,
            };
            alb(cfg, lb, Some(port), req.https(), &view, &mut steps)
        }
        Some(Entry::Nothing(why)) => why,
        None => "nothing in this config receives this request".into(),
    };
    Explanation {
        request: req.clone(),
        steps,
        outcome,
    }
}

fn step(name: &'static str, decision: impl Into<String>) -> Step {
    Step {
        step: name,
        decision: decision.into(),
        tried: vec![],
        details: vec![],
    }
}

/// The CloudFront part; returns the outcome.
fn edge(cfg: &Config, d: &Distribution, req: &Request, steps: &mut Vec<Step>) -> String {
    let mut st = step("distribution", format!("distribution {}", d.id));
    let scheme = if req.https() { "https://" } else { "http://" };
    match d.listen.iter().find(|l| l.starts_with(scheme)) {
        Some(l) => st.details.push(format!(
            "{} viewers connect to {l} locally",
            req.scheme.to_uppercase()
        )),
        None => st
            .details
            .push(format!("this distribution has no {} listener", req.scheme)),
    }
    if !d.enabled {
        st.decision.push_str(" (disabled)");
        steps.push(st);
        return "403: the distribution is disabled".into();
    }
    let authority = req.authority();
    let served = serves_host(&d.aliases, &d.id, Some(&authority));
    st.tried.push(Tried {
        what: format!("aliases [{}]", d.aliases.join(", ")),
        matched: served,
        why: if served {
            format!("{} is served", req.host)
        } else {
            format!("{} is not an alias of this distribution", req.host)
        },
    });
    steps.push(st);
    if !served {
        return "403: the Host is not an alias of the distribution".into();
    }
    // Behaviors: in order, first match wins, the default last.
    let mut st = step("cache_behavior", "");
    let mut chosen = None;
    for b in &d.ordered_cache_behavior {
        let p = b.path_pattern.clone().unwrap_or_default();
        let m = cf_path_matches(&p, &req.path);
        st.tried.push(Tried {
            what: format!("path_pattern {p}"),
            matched: m,
            why: format!(
                "{} {:?}",
                if m { "matches" } else { "does not match" },
                req.path
            ),
        });
        if m {
            chosen = Some(b);
            break;
        }
    }
    let b: &CacheBehavior = match chosen {
        Some(b) => {
            st.decision = format!(
                "ordered behavior {} → origin {}",
                b.path_pattern.clone().unwrap_or_default(),
                b.target_origin_id
            );
            b
        }
        None => {
            st.tried.push(Tried {
                what: "default_cache_behavior (*)".into(),
                matched: true,
                why: "no ordered behavior matched".into(),
            });
            st.decision = format!(
                "default behavior → origin {}",
                d.default_cache_behavior.target_origin_id
            );
            &d.default_cache_behavior
        }
    };
    steps.push(st);
    let ids: Vec<&str> = d.origins.iter().map(|o| o.origin_id.as_str()).collect();
    let rb = match Behavior::with_groups(cfg, b, &ids, &d.origin_group) {
        Ok(rb) => rb,
        Err(e) => {
            steps.push(step("origin", e));
            return "502: the behavior names an origin that does not exist".into();
        }
    };
    // Viewer protocol and methods.
    let mut st = step("viewer", "");
    let safe = req.method == "GET" || req.method == "HEAD";
    if !req.https() {
        match b.viewer_protocol_policy.as_str() {
            "redirect-to-https" => {
                let https_port = d
                    .listen
                    .iter()
                    .find_map(|l| l.strip_prefix("https://"))
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(443);
                let loc = https_location(&req.host, https_port, &req.path_and_query());
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
    let method = Method::from_bytes(req.method.as_bytes()).unwrap_or(Method::GET);
    let allowed = rb.allowed_methods.contains(&method);
    st.tried.push(Tried {
        what: format!("allowed_methods [{}]", b.allowed_methods.join(", ")),
        matched: allowed,
        why: format!(
            "{} {}",
            req.method,
            if allowed {
                "is allowed"
            } else {
                "is not allowed"
            }
        ),
    });
    steps.push(st);
    if !allowed {
        return format!("403: {} is not an allowed method", req.method);
    }
    // Cache policy, key and TTLs.
    let pol = &rb.cache_policy;
    let key = &pol.key;
    let name = if pol.name == "legacy" {
        "legacy (forwarded_values and behavior TTLs)"
    } else {
        pol.name.as_str()
    };
    let mut st = step("cache", format!("cache policy {name}"));
    if pol.caching_disabled() {
        st.details
            .push("TTLs 0/0/0: caching is disabled; every request goes to the origin".into());
    } else {
        st.details.push(format!(
            "TTLs: min {}s, default {}s (when the origin sends no Cache-Control/Expires), max {}s",
            pol.min_ttl, pol.default_ttl, pol.max_ttl
        ));
    }
    if !rb.caches_method(&method) {
        st.details
            .push(format!("{} responses are never cached", req.method));
    }
    let path = edgeway_cdn::apply_default_root_object(&req.path, d.default_root_object.as_deref());
    if path != req.path {
        st.details
            .push(format!("default_root_object: / becomes {path}"));
    }
    let headers = req.header_map();
    let k = cache_key(
        &KeyInput {
            distribution: &d.id,
            method: &method,
            version: Version::HTTP_11,
            path: &path,
            query: req.query.as_deref(),
            headers: &headers,
            host: Some(&authority),
        },
        &rb,
    );
    let encodings: Vec<&str> = [
        (key.accept_encoding_gzip, "gzip"),
        (key.accept_encoding_brotli, "br"),
        (key.accept_encoding_zstd, "zstd"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect();
    st.details.push(format!(
        "key: path, query strings {}, headers [{}], cookies {}, Accept-Encoding {}",
        name_set(&key.query_strings),
        key.headers.join(", "),
        name_set(&key.cookies),
        if key.normalizes_accept_encoding() {
            format!("normalized ({})", encodings.join(", "))
        } else {
            "not in the key".into()
        }
    ));
    st.details
        .push(format!("this request's key: {}", k.replace('\n', " | ")));
    steps.push(st);
    // Origin (the primary, for an origin group).
    let Some(o) = d.origins.get(rb.origin) else {
        steps.push(step("origin", format!("no origin {}", b.target_origin_id)));
        return "502: the behavior names an origin that does not exist".into();
    };
    let cc = o.custom_origin_config.clone().unwrap_or_default();
    let protocol = OriginProtocolPolicy::parse(&cc.origin_protocol_policy);
    let https = match protocol {
        OriginProtocolPolicy::HttpOnly => false,
        OriginProtocolPolicy::HttpsOnly => true,
        OriginProtocolPolicy::MatchViewer => req.https(),
    };
    let oport = if https { cc.https_port } else { cc.http_port };
    let domain = o.domain_name.trim_end_matches('.').to_ascii_lowercase();
    let origin_path = o
        .origin_path
        .clone()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let orp = rb.origin_request_policy.as_ref();
    let fwd_query = filter_query(
        req.query.as_deref(),
        &key.query_strings,
        orp.map(|o| &o.query_strings),
    );
    let url = origin_url(
        protocol,
        &domain,
        cc.http_port,
        cc.https_port,
        &origin_path,
        req.https(),
        &path,
        fwd_query.as_deref(),
    );
    let custom: Vec<(HeaderName, HeaderValue)> = o
        .custom_header
        .iter()
        .filter_map(|h| {
            Some((
                HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                HeaderValue::from_str(&h.value).ok()?,
            ))
        })
        .collect();
    let origin_headers = origin_request_headers(
        &headers,
        &OriginHeaderInput {
            method: &method,
            https: req.https(),
            version: Version::HTTP_11,
            peer: SocketAddr::new(req.from, 0),
            viewer_host: Some(&authority),
            tls: None,
            behavior: &rb,
            origin_domain: &domain,
            custom_headers: &custom,
            via: "1.1 edge (CloudFront)",
            request_id: "explain",
        },
    );
    let origin_host = origin_headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&domain)
        .to_string();
    let mut st = step("origin", format!("origin {} → {url}", o.origin_id));
    if let Some(f) = &rb.failover {
        let secondary = d
            .origins
            .get(f.secondary)
            .map_or("?", |o| o.origin_id.as_str());
        let codes: Vec<String> = f.status_codes.iter().map(u16::to_string).collect();
        st.details.push(format!(
            "origin group {}: primary {}, fails over to {secondary} on [{}], a connection failure or a timeout (GET, HEAD, OPTIONS only)",
            f.group,
            o.origin_id,
            codes.join(", ")
        ));
    }
    st.details.push(format!(
        "origin_protocol_policy {}: {}",
        cc.origin_protocol_policy,
        if https { "HTTPS" } else { "HTTP" }
    ));
    st.details.push(match orp {
        Some(p) => format!("origin request policy {}: {}, query strings {}, cookies {}", p.name, orp_headers(&p.headers), name_set(&p.query_strings), name_set(&p.cookies)),
        None => "no origin request policy: only the cache key's headers, cookies and query strings (and CloudFront's defaults) are forwarded".into(),
    });
    st.details
        .push(format!("Host to the origin: {origin_host}"));
    steps.push(st);
    // Which load balancer is the origin?
    let lb = if let Ok(ip) = domain
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        match entry_by_address(cfg, &[ip], oport, https) {
            Some(Entry::LoadBalancer(i)) => Some(i),
            _ => None,
        }
    } else {
        zone_of(cfg, &domain)
            .and_then(|z| {
                z.records
                    .iter()
                    .find(|r| r.name.trim_end_matches('.').eq_ignore_ascii_case(&domain))
            })
            .and_then(|r| match &r.alias {
                Some(a) => a
                    .load_balancer
                    .as_ref()
                    .and_then(|l| cfg.load_balancers.iter().position(|x| &x.name == l)),
                None => {
                    let ips: Vec<IpAddr> =
                        r.records.iter().filter_map(|x| x.parse().ok()).collect();
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
    // The ALB sees the edge as its peer and the headers the edge sends.
    let alb_path = format!("{origin_path}{path}");
    let view = AlbView {
        method: &req.method,
        host: &origin_host,
        path: &alb_path,
        query: fwd_query.as_deref(),
        headers: &origin_headers,
        peer: IpAddr::from([127, 0, 0, 1]),
    };
    alb(
        cfg,
        &cfg.load_balancers[lbi],
        Some(oport),
        https,
        &view,
        steps,
    )
}

/// The ALB part; returns the outcome.
fn alb(
    cfg: &Config,
    lb: &LoadBalancer,
    port: Option<u16>,
    https: bool,
    v: &AlbView<'_>,
    steps: &mut Vec<Step>,
) -> String {
    let want = if https { "HTTPS" } else { "HTTP" };
    let l = port
        .and_then(|p| lb.listeners.iter().find(|l| l.port == p))
        .or_else(|| lb.listeners.iter().find(|l| l.protocol == want));
    let Some(l) = l else {
        steps.push(Step {
            step: "listener",
            decision: format!(
                "load balancer {} has no listener on port {}",
                lb.name,
                port.unwrap_or(0)
            ),
            tried: vec![],
            details: vec![],
        });
        return "connection refused: no listener".into();
    };
    let mut st = Step {
        step: "listener",
        decision: format!(
            "load balancer {}, listener {} {}:{}",
            lb.name, l.protocol, lb.bind_address, l.port
        ),
        tried: vec![],
        details: vec![],
    };
    if l.protocol != want {
        st.details.push(format!(
            "the request arrives over {want} but the listener speaks {}: it would fail",
            l.protocol
        ));
    }
    steps.push(st);
    let mut st = Step {
        step: "rules",
        decision: String::new(),
        tried: vec![],
        details: vec![],
    };
    st.details.push(format!(
        "the rules see method {}, host {:?}, path {:?}, query {:?}, peer {}",
        v.method,
        v.host,
        v.path,
        v.query.unwrap_or(""),
        v.peer
    ));
    let mut rules: Vec<_> = l.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    let mut action = &l.default_action;
    let mut matched = None;
    for r in rules {
        let results: Vec<(bool, String)> =
            r.condition.iter().map(|c| check_condition(c, v)).collect();
        let all = results.iter().all(|(m, _)| *m) && !results.is_empty();
        let why = match results.iter().find(|(m, _)| !*m) {
            Some((_, w)) => w.clone(),
            None => results
                .iter()
                .map(|(_, w)| w.clone())
                .collect::<Vec<_>>()
                .join("; "),
        };
        st.tried.push(Tried {
            what: format!("rule {}", r.priority),
            matched: all,
            why,
        });
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
    steps.push(Step {
        step: "action",
        decision: summary.clone(),
        tried: vec![],
        details: vec![],
    });
    if action.kind != "forward" {
        return summary;
    }
    let mut names = Vec::new();
    for (name, weight) in action.target_groups() {
        names.push(name.to_string());
        let Some(tg) = cfg.target_group(name) else {
            steps.push(Step {
                step: "target_group",
                decision: format!("{name}: not defined"),
                tried: vec![],
                details: vec![],
            });
            continue;
        };
        let mut st = Step {
            step: "target_group",
            decision: format!(
                "{} ({} {}, weight {weight})",
                tg.name, tg.protocol, tg.load_balancing_algorithm_type
            ),
            tried: vec![],
            details: vec![],
        };
        if tg.targets.is_empty() {
            st.details
                .push("no registered targets: the load balancer answers 503".into());
        } else {
            let targets: Vec<String> = tg
                .targets
                .iter()
                .map(|t| {
                    if t.contains(':') || tg.port.is_none() {
                        t.clone()
                    } else {
                        format!("{t}:{}", tg.port.unwrap_or(80))
                    }
                })
                .collect();
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
            st.details
                .push("health checks disabled: every target is eligible".into());
        }
        steps.push(st);
    }
    format!("forwarded to target group {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_are_the_edges() {
        assert!(cf_path_matches("images/*", "/images/x"));
        assert!(!cf_path_matches("/API/*", "/api/x"));
    }

    #[test]
    fn urls() {
        let r = Request::parse(
            "https://Dev.Example.com:8443/a/b?x=1#frag",
            "get",
            vec![],
            IpAddr::from([127, 0, 0, 1]),
        )
        .unwrap();
        assert_eq!(
            (
                r.host.as_str(),
                r.port,
                r.path.as_str(),
                r.query.as_deref(),
                r.method.as_str()
            ),
            ("dev.example.com", Some(8443), "/a/b", Some("x=1"), "GET")
        );
        assert_eq!(
            (r.authority(), r.path_and_query()),
            ("dev.example.com:8443".to_string(), "/a/b?x=1".to_string())
        );
        let r =
            Request::parse("http://[::1]", "GET", vec![], IpAddr::from([127, 0, 0, 1])).unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.path.as_str()),
            ("[::1]", None, "/")
        );
        assert!(Request::parse("ftp://x/", "GET", vec![], IpAddr::from([127, 0, 0, 1])).is_err());
    }
}
