//! Validation: every rule a config must follow, checked in one pass. Each problem is a key path
//! and a message; `lib.rs` adds the file position.

use crate::managed;
use crate::model::*;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

type Problems = Vec<(String, String)>;

/// `host:port` with brackets for IPv6.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `http://host:port` or `https://host:port` into (is_https, address).
pub fn parse_listen_url(s: &str) -> Result<(bool, SocketAddr), String> {
    let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("`{s}` must start with http:// or https://"));
    };
    let addr = parse_socket_addr(rest.trim_end_matches('/'))?;
    Ok((https, addr))
}

/// A literal `ip:port` (names are not resolved: listeners bind addresses).
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Some((h, p)) = s.rsplit_once(':') {
        if h == "localhost" {
            if let Ok(p) = p.parse::<u16>() {
                return Ok(SocketAddr::from(([127, 0, 0, 1], p)));
            }
        }
    }
    Err(format!("`{s}` is not an address of the form ip:port"))
}

/// Parses a health-check matcher: `200`, `200,202`, `200-299` (HTTP codes 200–499).
pub fn parse_matcher(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
            return Err(format!(
                "matcher `{s}`: `{part}` is not a code, list or range"
            ));
        };
        if !(200..=499).contains(&lo) || !(200..=499).contains(&hi) || lo > hi {
            return Err(format!("matcher `{s}`: codes must be 200-499, low to high"));
        }
        out.push((lo, hi));
    }
    Ok(out)
}

struct V {
    p: Problems,
    listens: HashMap<SocketAddr, String>,
}

impl V {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.p.push((path.into(), msg.into()));
    }
    fn one_of(&mut self, path: &str, v: &str, allowed: &[&str]) {
        if !allowed.contains(&v) {
            self.err(path, format!("`{v}` is not one of {}", allowed.join(", ")));
        }
    }
    fn range(&mut self, path: &str, v: u64, lo: u64, hi: u64) {
        if v < lo || v > hi {
            self.err(path, format!("{v} is out of range {lo}..={hi}"));
        }
    }
    fn listen(&mut self, path: &str, addr: SocketAddr) {
        if let Some(prev) = self.listens.get(&addr) {
            if addr.port() != 0 {
                let prev = prev.clone();
                self.err(path, format!("{addr} is already a listener at {prev}"));
                return;
            }
        }
        self.listens.insert(addr, path.to_string());
    }
    fn file(&mut self, path: &str, f: &std::path::Path) {
        if !f.is_file() {
            self.err(
                path,
                format!("certificate file `{}` does not exist", f.display()),
            );
        }
    }
}

pub(crate) fn validate(c: &Config) -> Problems {
    let mut v = V {
        p: Vec::new(),
        listens: HashMap::new(),
    };
    if let Some(a) = &c.admin {
        match parse_socket_addr(&a.listen) {
            Ok(addr) => v.listen("admin.listen", addr),
            Err(e) => v.err("admin.listen", e),
        }
    }
    if let Some(d) = &c.dns {
        match parse_socket_addr(&d.listen) {
            Ok(addr) => v.listen("dns.listen", addr),
            Err(e) => v.err("dns.listen", e),
        }
    }
    if let Some(r) = &c.resolver {
        for (i, n) in r.nameservers.iter().enumerate() {
            if let Err(e) = parse_socket_addr(n) {
                v.err(format!("resolver.nameservers[{i}]"), e);
            }
        }
    }
    if c.limits.max_header_bytes < 1024 {
        v.err("limits.max_header_bytes", "must be at least 1024");
    }
    if c.limits.max_connections == 0 {
        v.err("limits.max_connections", "must be at least 1");
    }
    distributions(c, &mut v);
    cache(c, &mut v);
    load_balancers(c, &mut v);
    target_groups(c, &mut v);
    zones(c, &mut v);
    route53(c, &mut v);
    for (i, t) in c.demo_targets.iter().enumerate() {
        match parse_socket_addr(&t.listen) {
            Ok(addr) => v.listen(&format!("demo_target[{i}].listen"), addr),
            Err(e) => v.err(format!("demo_target[{i}].listen"), e),
        }
    }
    v.p
}

const METHODS_2: &[&str] = &["GET", "HEAD"];
const METHODS_3: &[&str] = &["GET", "HEAD", "OPTIONS"];
const METHODS_7: &[&str] = &["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"];
const FORBIDDEN_CUSTOM: &[&str] = &[
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "request-range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "x-real-ip",
];

fn same_set(a: &[String], b: &[&str]) -> bool {
    let a: HashSet<&str> = a.iter().map(String::as_str).collect();
    let b: HashSet<&str> = b.iter().copied().collect();
    a == b && !a.is_empty()
}

fn valid_path_pattern(p: &str) -> bool {
    p.len() <= 255
        && !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.*$/~\"'@:+&?".contains(c))
}

fn distributions(c: &Config, v: &mut V) {
    let mut ids = HashSet::new();
    let mut aliases: HashMap<String, String> = HashMap::new();
    for (di, d) in c.distributions.iter().enumerate() {
        let dp = format!("distribution[{di}]");
        if !ids.insert(d.id.as_str()) {
            v.err(
                format!("{dp}.id"),
                format!("distribution `{}` is defined twice", d.id),
            );
        }
        if d.listen.is_empty() {
            v.err(
                format!("{dp}.listen"),
                "needs at least one http:// or https:// address",
            );
        }
        for (i, l) in d.listen.iter().enumerate() {
            match parse_listen_url(l) {
                Ok((_, addr)) => v.listen(&format!("{dp}.listen[{i}]"), addr),
                Err(e) => v.err(format!("{dp}.listen[{i}]"), e),
            }
        }
        for (i, a) in d.aliases.iter().enumerate() {
            let key = a.to_ascii_lowercase();
            if let Some(other) = aliases.get(&key) {
                v.err(
                    format!("{dp}.aliases[{i}]"),
                    format!("`{a}` is already an alias of distribution `{other}`"),
                );
            } else {
                aliases.insert(key, d.id.clone());
            }
        }
        if let Some(o) = &d.default_root_object {
            if o.starts_with('/') {
                v.err(format!("{dp}.default_root_object"), "must not start with /");
            }
        }
        v.one_of(
            &format!("{dp}.http_version"),
            &d.http_version,
            &["http1.1", "http2", "http2and3", "http3"],
        );
        if let Some(vc) = &d.viewer_certificate {
            for (i, cf) in vc.certificate.iter().enumerate() {
                v.file(
                    &format!("{dp}.viewer_certificate.certificate[{i}].cert_file"),
                    &cf.cert_file,
                );
                v.file(
                    &format!("{dp}.viewer_certificate.certificate[{i}].key_file"),
                    &cf.key_file,
                );
            }
        }
        let mut oids = HashSet::new();
        if d.origins.is_empty() {
            v.err(
                format!("{dp}.origin"),
                "a distribution needs at least one origin",
            );
        }
        for (oi, o) in d.origins.iter().enumerate() {
            origin(v, &format!("{dp}.origin[{oi}]"), o);
            if !oids.insert(o.origin_id.as_str()) {
                v.err(
                    format!("{dp}.origin[{oi}].origin_id"),
                    format!("origin `{}` is defined twice", o.origin_id),
                );
            }
        }
        behavior(
            c,
            d,
            v,
            &format!("{dp}.default_cache_behavior"),
            &d.default_cache_behavior,
            true,
        );
        for (bi, b) in d.ordered_cache_behavior.iter().enumerate() {
            behavior(
                c,
                d,
                v,
                &format!("{dp}.ordered_cache_behavior[{bi}]"),
                b,
                false,
            );
        }
        if d.ordered_cache_behavior.len() > 25 {
            v.err(
                format!("{dp}.ordered_cache_behavior"),
                "at most 25 cache behaviors per distribution",
            );
        }
        origin_groups(d, v, &dp, &oids);
        if let Some(l) = &d.access_log {
            if l.is_empty() {
                v.err(
                    format!("{dp}.access_log"),
                    "must be \"stdout\" or a file path",
                );
            }
        }
        for (i, e) in d.custom_error_response.iter().enumerate() {
            let p = format!("{dp}.custom_error_response[{i}]");
            if !(400..=599).contains(&e.error_code) {
                v.err(format!("{p}.error_code"), "must be a 4xx or 5xx code");
            }
            if let Some(pp) = &e.response_page_path {
                if !pp.starts_with('/') {
                    v.err(format!("{p}.response_page_path"), "must start with /");
                }
            }
        }
    }
}

/// Origin groups: two members that are origins of the distribution, failover codes from
/// CloudFront's list, ids distinct from origins, at most 10.
fn origin_groups(d: &Distribution, v: &mut V, dp: &str, oids: &HashSet<&str>) {
    if d.origin_group.len() > 10 {
        v.err(
            format!("{dp}.origin_group"),
            "at most 10 origin groups per distribution",
        );
    }
    for (gi, g) in d.origin_group.iter().enumerate() {
        let gp = format!("{dp}.origin_group[{gi}]");
        if oids.contains(g.origin_id.as_str()) {
            v.err(
                format!("{gp}.origin_id"),
                format!("`{}` is already an origin id", g.origin_id),
            );
        }
        if g.member.len() != 2 {
            v.err(
                format!("{gp}.member"),
                "an origin group has exactly two members",
            );
        }
        for (mi, m) in g.member.iter().enumerate() {
            if !oids.contains(m.origin_id.as_str()) {
                v.err(
                    format!("{gp}.member[{mi}].origin_id"),
                    format!("no origin `{}` in this distribution", m.origin_id),
                );
            }
        }
        if g.failover_criteria.status_codes.is_empty() {
            v.err(
                format!("{gp}.failover_criteria.status_codes"),
                "needs at least one status code",
            );
        }
        for (ci, c) in g.failover_criteria.status_codes.iter().enumerate() {
            if ![400, 403, 404, 416, 500, 502, 503, 504].contains(c) {
                v.err(
                    format!("{gp}.failover_criteria.status_codes[{ci}]"),
                    format!("{c} is not one of 400, 403, 404, 416, 500, 502, 503, 504"),
                );
            }
        }
    }
}

fn cache(c: &Config, v: &mut V) {
    let k = &c.cache;
    if k.memory_bytes == 0 {
        v.err("cache.memory_bytes", "must be above 0");
    }
    if k.max_object_bytes == 0 {
        v.err("cache.max_object_bytes", "must be above 0");
    }
    if k.disk_dir.is_some() && k.disk_bytes == 0 {
        v.err("cache.disk_bytes", "must be above 0 when disk_dir is set");
    }
}

fn origin(v: &mut V, p: &str, o: &Origin) {
    if o.domain_name.is_empty() {
        v.err(format!("{p}.domain_name"), "must not be empty");
    }
    if let Some(op) = &o.origin_path {
        if !op.starts_with('/') || op.ends_with('/') {
            v.err(
                format!("{p}.origin_path"),
                "must start with / and not end with /",
            );
        }
    }
    v.range(
        &format!("{p}.connection_attempts"),
        o.connection_attempts.into(),
        1,
        3,
    );
    v.range(
        &format!("{p}.connection_timeout"),
        o.connection_timeout,
        1,
        10,
    );
    if let Some(cc) = &o.custom_origin_config {
        let cp = format!("{p}.custom_origin_config");
        v.one_of(
            &format!("{cp}.origin_protocol_policy"),
            &cc.origin_protocol_policy,
            &["http-only", "https-only", "match-viewer"],
        );
        for (k, port) in [("http_port", cc.http_port), ("https_port", cc.https_port)] {
            if !(port == 80 || port == 443 || port >= 1024) {
                v.err(
                    format!("{cp}.{k}"),
                    format!("{port} is not 80, 443 or 1024-65535"),
                );
            }
        }
        v.range(
            &format!("{cp}.origin_read_timeout"),
            cc.origin_read_timeout,
            1,
            120,
        );
        v.range(
            &format!("{cp}.origin_keepalive_timeout"),
            cc.origin_keepalive_timeout,
            1,
            120,
        );
        for (i, s) in cc.origin_ssl_protocols.iter().enumerate() {
            v.one_of(
                &format!("{cp}.origin_ssl_protocols[{i}]"),
                s,
                &["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"],
            );
        }
    }
    if o.custom_header.len() > 10 {
        v.err(
            format!("{p}.custom_header"),
            "at most 10 custom headers per origin",
        );
    }
    for (i, h) in o.custom_header.iter().enumerate() {
        let n = h.name.to_ascii_lowercase();
        if FORBIDDEN_CUSTOM.contains(&n.as_str())
            || n.starts_with("if-")
            || n.starts_with("x-amz-")
            || n.starts_with("x-edge-")
        {
            v.err(
                format!("{p}.custom_header[{i}].name"),
                format!("`{}` cannot be a custom origin header", h.name),
            );
        } else if http_token(&h.name).is_err() {
            v.err(
                format!("{p}.custom_header[{i}].name"),
                format!("`{}` is not a valid header name", h.name),
            );
        }
    }
}

fn http_token(s: &str) -> Result<(), ()> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        Ok(())
    } else {
        Err(())
    }
}

fn behavior(c: &Config, d: &Distribution, v: &mut V, p: &str, b: &CacheBehavior, default: bool) {
    match (&b.path_pattern, default) {
        (Some(_), true) => v.err(
            format!("{p}.path_pattern"),
            "the default cache behavior has no path_pattern",
        ),
        (None, false) => v.err(p, "an ordered cache behavior needs a path_pattern"),
        (Some(pp), false) if !valid_path_pattern(pp) => v.err(
            format!("{p}.path_pattern"),
            format!("`{pp}` has characters a path pattern cannot have, or is over 255 characters"),
        ),
        _ => {}
    }
    if d.origin(&b.target_origin_id).is_none()
        && !d
            .origin_group
            .iter()
            .any(|g| g.origin_id == b.target_origin_id)
    {
        v.err(
            format!("{p}.target_origin_id"),
            format!("no origin `{}` in this distribution", b.target_origin_id),
        );
    }
    v.one_of(
        &format!("{p}.viewer_protocol_policy"),
        &b.viewer_protocol_policy,
        &["allow-all", "redirect-to-https", "https-only"],
    );
    if !(same_set(&b.allowed_methods, METHODS_2)
        || same_set(&b.allowed_methods, METHODS_3)
        || same_set(&b.allowed_methods, METHODS_7))
    {
        v.err(
            format!("{p}.allowed_methods"),
            "must be [GET, HEAD], [GET, HEAD, OPTIONS] or all seven methods",
        );
    }
    if !(same_set(&b.cached_methods, METHODS_2) || same_set(&b.cached_methods, METHODS_3)) {
        v.err(
            format!("{p}.cached_methods"),
            "must be [GET, HEAD] or [GET, HEAD, OPTIONS]",
        );
    } else if b
        .cached_methods
        .iter()
        .any(|m| !b.allowed_methods.contains(m))
    {
        v.err(
            format!("{p}.cached_methods"),
            "every cached method must be an allowed method",
        );
    }
    if let Some(cp) = &b.cache_policy_id {
        if managed::cache_policy(cp).is_none() && !c.cache_policies.iter().any(|x| &x.name == cp) {
            v.err(
                format!("{p}.cache_policy_id"),
                format!("no managed cache policy or [[cache_policy]] named `{cp}`"),
            );
        }
        if b.forwarded_values.is_some() {
            v.err(
                format!("{p}.forwarded_values"),
                "use either cache_policy_id or forwarded_values, not both",
            );
        }
    } else if b.forwarded_values.is_none()
        && b.min_ttl.is_none()
        && b.default_ttl.is_none()
        && b.max_ttl.is_none()
    {
        // AWS requires one of the two; we accept neither as CachingDisabled would be surprising,
        // so say so.
        v.err(p, "needs cache_policy_id (a managed policy name such as CachingOptimized) or forwarded_values");
    }
    if let Some(orp) = &b.origin_request_policy_id {
        if managed::origin_request_policy(orp).is_none()
            && !c.origin_request_policies.iter().any(|x| &x.name == orp)
        {
            v.err(
                format!("{p}.origin_request_policy_id"),
                format!(
                    "no managed origin request policy or [[origin_request_policy]] named `{orp}`"
                ),
            );
        }
    }
    if let (Some(min), Some(max)) = (b.min_ttl, b.max_ttl) {
        if min > max {
            v.err(format!("{p}.min_ttl"), "min_ttl is greater than max_ttl");
        }
    }
}

const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
];

fn action(c: &Config, v: &mut V, p: &str, a: &Action, listener_https: bool) {
    match a.kind.as_str() {
        "forward" => {
            let groups = a.target_groups();
            if groups.is_empty() {
                v.err(
                    format!("{p}.target_group"),
                    "a forward action needs target_group (or forward.target_group)",
                );
            }
            if groups.len() > 5 {
                v.err(
                    format!("{p}.forward.target_group"),
                    "at most 5 target groups per action",
                );
            }
            for (i, (name, weight)) in groups.iter().enumerate() {
                let kp = if a.forward.is_some() {
                    format!("{p}.forward.target_group[{i}].name")
                } else {
                    format!("{p}.target_group")
                };
                if c.target_group(name).is_none() {
                    v.err(kp.clone(), format!("no target group `{name}`"));
                }
                if *weight > 999 {
                    v.err(kp, "weight must be 0-999");
                }
            }
        }
        "redirect" => match &a.redirect {
            None => v.err(
                format!("{p}.redirect"),
                "a redirect action needs a redirect block",
            ),
            Some(r) => {
                v.one_of(
                    &format!("{p}.redirect.status_code"),
                    &r.status_code,
                    &["HTTP_301", "HTTP_302"],
                );
                if !(r.protocol == "#{protocol}" || r.protocol == "HTTP" || r.protocol == "HTTPS") {
                    v.err(
                        format!("{p}.redirect.protocol"),
                        "must be HTTP, HTTPS or #{protocol}",
                    );
                }
                if listener_https && r.protocol == "HTTP" {
                    v.err(
                        format!("{p}.redirect.protocol"),
                        "a redirect from HTTPS to HTTP is not allowed",
                    );
                }
                if r.protocol == "#{protocol}"
                    && r.host == "#{host}"
                    && r.port == "#{port}"
                    && r.path == "/#{path}"
                {
                    v.err(
                        format!("{p}.redirect"),
                        "a redirect must change the protocol, host, port or path, or it loops",
                    );
                }
                if !r.path.starts_with('/') {
                    v.err(format!("{p}.redirect.path"), "must start with /");
                }
                if r.query.starts_with('?') {
                    v.err(format!("{p}.redirect.query"), "must not start with ?");
                }
            }
        },
        "fixed-response" => match &a.fixed_response {
            None => v.err(
                format!("{p}.fixed_response"),
                "a fixed-response action needs a fixed_response block",
            ),
            Some(f) => {
                v.one_of(
                    &format!("{p}.fixed_response.content_type"),
                    &f.content_type,
                    CONTENT_TYPES,
                );
                match f.status_code.parse::<u16>() {
                    Ok(s) if (200..=299).contains(&s) || (400..=599).contains(&s) => {}
                    _ => v.err(
                        format!("{p}.fixed_response.status_code"),
                        "must be a 2XX, 4XX or 5XX code",
                    ),
                }
                if f.message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                    v.err(
                        format!("{p}.fixed_response.message_body"),
                        "at most 1024 bytes",
                    );
                }
            }
        },
        other => v.err(
            format!("{p}.type"),
            format!("`{other}` is not one of forward, redirect, fixed-response"),
        ),
    }
}

fn condition(v: &mut V, p: &str, cond: &Condition) {
    let set = [
        cond.host_header.is_some(),
        cond.path_pattern.is_some(),
        cond.http_request_method.is_some(),
        cond.source_ip.is_some(),
        cond.http_header.is_some(),
        !cond.query_string.is_empty(),
    ];
    if set.iter().filter(|x| **x).count() != 1 {
        v.err(p, "a condition names exactly one of host_header, path_pattern, http_header, http_request_method, query_string, source_ip");
    }
    if let Some(s) = &cond.source_ip {
        for (i, ip) in s.values.iter().enumerate() {
            if ip.parse::<ipnet::IpNet>().is_err() {
                v.err(
                    format!("{p}.source_ip.values[{i}]"),
                    format!("`{ip}` is not a CIDR block"),
                );
            }
        }
    }
    if let Some(m) = &cond.http_request_method {
        for (i, x) in m.values.iter().enumerate() {
            if x.is_empty()
                || !x
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
            {
                v.err(
                    format!("{p}.http_request_method.values[{i}]"),
                    "methods are upper case letters, - and _",
                );
            }
        }
    }
    for (k, vals) in [
        ("host_header", &cond.host_header),
        ("path_pattern", &cond.path_pattern),
    ] {
        if let Some(vals) = vals {
            if vals.values.is_empty() {
                v.err(format!("{p}.{k}.values"), "needs at least one value");
            }
            for (i, x) in vals.values.iter().enumerate() {
                if x.len() > 128 {
                    v.err(format!("{p}.{k}.values[{i}]"), "at most 128 characters");
                }
            }
        }
    }
}

/// ALB's per-rule quotas: (condition values, wildcards) across every condition of a rule.
fn rule_quota(conds: &[Condition]) -> (usize, usize) {
    let mut values: Vec<&str> = Vec::new();
    for c in conds {
        for vals in [
            &c.host_header,
            &c.path_pattern,
            &c.http_request_method,
            &c.source_ip,
        ]
        .into_iter()
        .flatten()
        {
            values.extend(vals.values.iter().map(String::as_str));
        }
        if let Some(h) = &c.http_header {
            values.extend(h.values.iter().map(String::as_str));
        }
        for q in &c.query_string {
            values.push(q.value.as_str());
            values.extend(q.key.as_deref());
        }
    }
    let wildcards = values
        .iter()
        .map(|x| x.chars().filter(|ch| *ch == '*' || *ch == '?').count())
        .sum();
    // A query_string key/value pair is one value (its key was pushed beside its value).
    let keys = conds
        .iter()
        .flat_map(|c| c.query_string.iter())
        .filter(|q| q.key.is_some())
        .count();
    (values.len().saturating_sub(keys), wildcards)
}

fn load_balancers(c: &Config, v: &mut V) {
    let mut names = HashSet::new();
    for (li, lb) in c.load_balancers.iter().enumerate() {
        let lp = format!("load_balancer[{li}]");
        if !names.insert(lb.name.as_str()) {
            v.err(
                format!("{lp}.name"),
                format!("load balancer `{}` is defined twice", lb.name),
            );
        }
        let bind: Option<IpAddr> = match lb.bind_address.parse() {
            Ok(ip) => Some(ip),
            Err(_) if lb.bind_address == "localhost" => Some(IpAddr::from([127, 0, 0, 1])),
            Err(_) => {
                v.err(
                    format!("{lp}.bind_address"),
                    format!("`{}` is not an IP address", lb.bind_address),
                );
                None
            }
        };
        v.range(&format!("{lp}.idle_timeout"), lb.idle_timeout, 1, 4000);
        if lb.access_log.as_deref() == Some("") {
            v.err(format!("{lp}.access_log"), "must be stdout or a file path");
        }
        if lb
            .access_logs
            .as_ref()
            .is_some_and(|a| a.enabled && a.bucket.is_empty())
        {
            v.err(
                format!("{lp}.access_logs.bucket"),
                "an enabled access log needs a bucket (a local folder)",
            );
        }
        v.one_of(
            &format!("{lp}.xff_header_processing_mode"),
            &lb.xff_header_processing_mode,
            &["append", "preserve", "remove"],
        );
        v.one_of(
            &format!("{lp}.desync_mitigation_mode"),
            &lb.desync_mitigation_mode,
            &["monitor", "defensive", "strictest"],
        );
        if lb.listeners.is_empty() {
            v.err(
                format!("{lp}.listener"),
                "a load balancer needs at least one listener",
            );
        }
        for (i, l) in lb.listeners.iter().enumerate() {
            let p = format!("{lp}.listener[{i}]");
            if let Some(ip) = bind {
                v.listen(&format!("{p}.port"), SocketAddr::new(ip, l.port));
            }
            v.one_of(&format!("{p}.protocol"), &l.protocol, &["HTTP", "HTTPS"]);
            let https = l.protocol == "HTTPS";
            if !https && (l.certificate.is_some() || !l.additional_certificates.is_empty()) {
                v.err(
                    format!("{p}.certificate"),
                    "only HTTPS listeners have certificates",
                );
            }
            if let Some(sp) = &l.ssl_policy {
                if !sp.starts_with("ELBSecurityPolicy-") {
                    v.err(
                        format!("{p}.ssl_policy"),
                        format!("`{sp}` is not an ELBSecurityPolicy-* name"),
                    );
                }
            }
            for (k, cf) in l
                .certificate
                .iter()
                .map(|c| ("certificate".to_string(), c))
                .chain(
                    l.additional_certificates
                        .iter()
                        .enumerate()
                        .map(|(j, c)| (format!("additional_certificates[{j}]"), c)),
                )
            {
                v.file(&format!("{p}.{k}.cert_file"), &cf.cert_file);
                v.file(&format!("{p}.{k}.key_file"), &cf.key_file);
            }
            action(
                c,
                v,
                &format!("{p}.default_action"),
                &l.default_action,
                https,
            );
            let mut prios = HashSet::new();
            for (ri, r) in l.rules.iter().enumerate() {
                let rp = format!("{p}.rule[{ri}]");
                if !(1..=50_000).contains(&r.priority) {
                    v.err(format!("{rp}.priority"), "must be 1-50000");
                } else if !prios.insert(r.priority) {
                    v.err(
                        format!("{rp}.priority"),
                        format!("priority {} is used twice on this listener", r.priority),
                    );
                }
                if r.condition.is_empty() {
                    v.err(
                        format!("{rp}.condition"),
                        "a rule needs at least one condition",
                    );
                }
                for (ci, cond) in r.condition.iter().enumerate() {
                    condition(v, &format!("{rp}.condition[{ci}]"), cond);
                }
                let (values, wildcards) = rule_quota(&r.condition);
                if values > 5 {
                    v.err(
                        format!("{rp}.condition"),
                        format!("{values} condition values; ALB allows at most 5 per rule"),
                    );
                }
                if wildcards > 5 {
                    v.err(
                        format!("{rp}.condition"),
                        format!("{wildcards} wildcards; ALB allows at most 5 per rule"),
                    );
                }
                action(c, v, &format!("{rp}.action"), &r.action, https);
            }
        }
    }
}

fn target_groups(c: &Config, v: &mut V) {
    let mut names = HashSet::new();
    for (ti, tg) in c.target_groups.iter().enumerate() {
        let p = format!("target_group[{ti}]");
        if !names.insert(tg.name.as_str()) {
            v.err(
                format!("{p}.name"),
                format!("target group `{}` is defined twice", tg.name),
            );
        }
        v.one_of(&format!("{p}.protocol"), &tg.protocol, &["HTTP", "HTTPS"]);
        v.one_of(
            &format!("{p}.protocol_version"),
            &tg.protocol_version,
            &["HTTP1", "HTTP2", "GRPC"],
        );
        v.one_of(
            &format!("{p}.target_type"),
            &tg.target_type,
            &["instance", "ip"],
        );
        v.one_of(
            &format!("{p}.load_balancing_algorithm_type"),
            &tg.load_balancing_algorithm_type,
            &[
                "round_robin",
                "least_outstanding_requests",
                "weighted_random",
            ],
        );
        if tg.slow_start != 0 && !(30..=900).contains(&tg.slow_start) {
            v.err(format!("{p}.slow_start"), "must be 0 or 30-900");
        }
        v.range(
            &format!("{p}.deregistration_delay"),
            tg.deregistration_delay,
            0,
            3600,
        );
        if tg.slow_start != 0 && tg.load_balancing_algorithm_type == "least_outstanding_requests" {
            v.err(
                format!("{p}.slow_start"),
                "slow start cannot be combined with least_outstanding_requests",
            );
        }
        let routing = tg.target_group_health.iter().flat_map(|h| {
            [
                ("unhealthy_state_routing", &h.unhealthy_state_routing),
                ("dns_failover", &h.dns_failover),
            ]
        });
        for (key, r) in routing {
            let Some(r) = r else { continue };
            let rp = format!("{p}.target_group_health.{key}");
            v.range(
                &format!("{rp}.minimum_healthy_targets_count"),
                r.minimum_healthy_targets_count.into(),
                1,
                1000,
            );
            let pct = &r.minimum_healthy_targets_percentage;
            if pct != "off" && !pct.parse::<u64>().is_ok_and(|n| (1..=100).contains(&n)) {
                v.err(
                    format!("{rp}.minimum_healthy_targets_percentage"),
                    "must be off or 1-100",
                );
            }
        }
        for (i, t) in tg.targets.iter().enumerate() {
            if parse_socket_addr(t).is_err() {
                let ok_ip = t.parse::<IpAddr>().is_ok() && tg.port.is_some();
                if !ok_ip {
                    v.err(
                        format!("{p}.targets[{i}]"),
                        format!("`{t}` is not ip:port (or an ip with the group's port)"),
                    );
                }
            }
        }
        let hp = format!("{p}.health_check");
        let hc = &tg.health_check;
        v.one_of(&format!("{hp}.protocol"), &hc.protocol, &["HTTP", "HTTPS"]);
        if hc.port != "traffic-port" && hc.port.parse::<u16>().is_err() {
            v.err(
                format!("{hp}.port"),
                "must be traffic-port or a port number",
            );
        }
        if !hc.path.starts_with('/') {
            v.err(format!("{hp}.path"), "must start with /");
        }
        v.range(&format!("{hp}.interval"), hc.interval, 5, 300);
        v.range(&format!("{hp}.timeout"), hc.timeout, 2, 120);
        if hc.timeout >= hc.interval && hc.interval >= 5 {
            v.err(format!("{hp}.timeout"), "must be less than interval");
        }
        v.range(
            &format!("{hp}.healthy_threshold"),
            hc.healthy_threshold.into(),
            2,
            10,
        );
        v.range(
            &format!("{hp}.unhealthy_threshold"),
            hc.unhealthy_threshold.into(),
            2,
            10,
        );
        if let Err(e) = parse_matcher(&hc.matcher) {
            v.err(format!("{hp}.matcher"), e);
        }
        if let Some(s) = &tg.stickiness {
            v.one_of(
                &format!("{p}.stickiness.type"),
                &s.kind,
                &["lb_cookie", "app_cookie"],
            );
            v.range(
                &format!("{p}.stickiness.cookie_duration"),
                s.cookie_duration,
                1,
                604_800,
            );
            if s.kind == "app_cookie" && s.cookie_name.is_none() {
                v.err(
                    format!("{p}.stickiness.cookie_name"),
                    "app_cookie stickiness needs cookie_name",
                );
            }
            let reserved = s
                .cookie_name
                .as_deref()
                .is_some_and(|n| n.starts_with("AWSALB"));
            if s.kind == "app_cookie" && reserved {
                v.err(
                    format!("{p}.stickiness.cookie_name"),
                    "names starting with AWSALB (AWSALB, AWSALBAPP, AWSALBTG) are reserved",
                );
            }
        }
    }
}

fn zones(c: &Config, v: &mut V) {
    if !c.zones.is_empty() && c.dns.is_none() {
        v.err("zone", "zones need a [dns] section with a listen address");
    }
    for (zi, z) in c.zones.iter().enumerate() {
        let zp = format!("zone[{zi}]");
        let zname = z.name.trim_end_matches('.').to_ascii_lowercase();
        if zname.is_empty() {
            v.err(format!("{zp}.name"), "must not be empty");
        }
        for (ri, r) in z.records.iter().enumerate() {
            let rp = format!("{zp}.record[{ri}]");
            let rname = r.name.trim_end_matches('.').to_ascii_lowercase();
            if !(rname == zname || rname.ends_with(&format!(".{zname}"))) {
                v.err(
                    format!("{rp}.name"),
                    format!("`{}` is not in zone `{}`", r.name, z.name),
                );
            }
            v.one_of(
                &format!("{rp}.type"),
                &r.kind,
                &["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA"],
            );
            match &r.alias {
                Some(a) => {
                    if !r.records.is_empty() || r.ttl.is_some() {
                        v.err(
                            format!("{rp}.alias"),
                            "an alias record has no records or ttl",
                        );
                    }
                    if !(r.kind == "A" || r.kind == "AAAA") {
                        v.err(format!("{rp}.type"), "alias records are A or AAAA");
                    }
                    match (&a.distribution, &a.load_balancer) {
                        (Some(d), None) => {
                            if c.distribution(d).is_none() {
                                v.err(
                                    format!("{rp}.alias.distribution"),
                                    format!("no distribution `{d}`"),
                                );
                            }
                        }
                        (None, Some(l)) => {
                            if c.load_balancer(l).is_none() {
                                v.err(
                                    format!("{rp}.alias.load_balancer"),
                                    format!("no load balancer `{l}`"),
                                );
                            }
                        }
                        _ => v.err(
                            format!("{rp}.alias"),
                            "names exactly one of distribution or load_balancer",
                        ),
                    }
                }
                None => {
                    if r.records.is_empty() {
                        v.err(
                            format!("{rp}.records"),
                            "a record needs records (or an alias)",
                        );
                    }
                    for (i, val) in r.records.iter().enumerate() {
                        let ok = match r.kind.as_str() {
                            "A" => val.parse::<std::net::Ipv4Addr>().is_ok(),
                            "AAAA" => val.parse::<std::net::Ipv6Addr>().is_ok(),
                            _ => true,
                        };
                        if !ok {
                            v.err(
                                format!("{rp}.records[{i}]"),
                                format!("`{val}` is not an {} address", r.kind),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Route 53 routing policies, health checks and the `[dns]` local settings for them.
fn route53(c: &Config, v: &mut V) {
    const CONTINENTS: &[&str] = &["AF", "AN", "AS", "EU", "NA", "OC", "SA"];
    let country_ok = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase());
    if let Some(d) = &c.dns {
        if d.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
            v.err("dns.region", "must not be empty");
        }
        for (i, g) in d.geo.iter().enumerate() {
            let p = format!("dns.geo[{i}]");
            if g.cidr.parse::<ipnet::IpNet>().is_err() && g.cidr.parse::<IpAddr>().is_err() {
                v.err(
                    format!("{p}.cidr"),
                    format!("`{}` is not a CIDR block", g.cidr),
                );
            }
            if let Some(ct) = &g.continent {
                v.one_of(&format!("{p}.continent"), ct, CONTINENTS);
            }
            match &g.country {
                Some(cc) if !country_ok(cc) => v.err(
                    format!("{p}.country"),
                    format!("`{cc}` is not a two-letter country code"),
                ),
                None if g.continent.is_none() => v.err(p.clone(), "needs a country or a continent"),
                None if g.subdivision.is_some() => {
                    v.err(format!("{p}.subdivision"), "needs a country")
                }
                _ => {}
            }
        }
    }
    let mut ids = HashSet::new();
    for (i, h) in c.health_checks.iter().enumerate() {
        let p = format!("health_check[{i}]");
        if h.id.is_empty() {
            v.err(format!("{p}.id"), "must not be empty");
        } else if !ids.insert(h.id.as_str()) {
            v.err(format!("{p}.id"), format!("`{}` is defined twice", h.id));
        }
        v.one_of(
            &format!("{p}.type"),
            &h.kind,
            &["HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"],
        );
        match (&h.ip_address, &h.fqdn) {
            (Some(ip), _) if ip.parse::<IpAddr>().is_err() => {
                v.err(
                    format!("{p}.ip_address"),
                    format!("`{ip}` is not an IP address"),
                );
            }
            (None, None) => v.err(p.clone(), "needs an ip_address or an fqdn"),
            (None, Some(f)) if f.trim().is_empty() => {
                v.err(format!("{p}.fqdn"), "must not be empty")
            }
            _ => {}
        }
        if h.kind == "TCP" {
            if h.port.is_none() {
                v.err(format!("{p}.port"), "a TCP health check needs a port");
            }
            if h.resource_path.is_some() || h.search_string.is_some() {
                v.err(
                    p.clone(),
                    "a TCP health check has no resource_path or search_string",
                );
            }
        }
        if h.port == Some(0) {
            v.err(format!("{p}.port"), "must be 1-65535");
        }
        if let Some(rp) = &h.resource_path {
            if !rp.starts_with('/') || rp.len() > 255 {
                v.err(
                    format!("{p}.resource_path"),
                    "must start with `/` and be at most 255 characters",
                );
            }
        }
        match (&h.search_string, h.kind.ends_with("_STR_MATCH")) {
            (None, true) => v.err(
                format!("{p}.search_string"),
                format!("a {} health check needs a search_string", h.kind),
            ),
            (Some(_), false) => v.err(
                format!("{p}.search_string"),
                "only *_STR_MATCH health checks search",
            ),
            (Some(s), true) if s.is_empty() || s.len() > 255 => {
                v.err(format!("{p}.search_string"), "must be 1-255 characters")
            }
            _ => {}
        }
        if h.request_interval != 10 && h.request_interval != 30 {
            v.err(
                format!("{p}.request_interval"),
                format!("{} is not 10 or 30", h.request_interval),
            );
        }
        v.range(
            &format!("{p}.failure_threshold"),
            u64::from(h.failure_threshold),
            1,
            10,
        );
    }
    for (zi, z) in c.zones.iter().enumerate() {
        // Record sets with the same name and type: (policies, identifiers, has a plain one).
        type Group<'a> = (Vec<&'static str>, Vec<&'a str>, bool);
        let mut groups: HashMap<(String, String), Group> = HashMap::new();
        for (ri, r) in z.records.iter().enumerate() {
            let rp = format!("zone[{zi}].record[{ri}]");
            let mut policies = Vec::new();
            if let Some(w) = &r.weighted_routing_policy {
                policies.push("weighted");
                v.range(
                    &format!("{rp}.weighted_routing_policy.weight"),
                    u64::from(w.weight),
                    0,
                    255,
                );
            }
            if let Some(f) = &r.failover_routing_policy {
                policies.push("failover");
                v.one_of(
                    &format!("{rp}.failover_routing_policy.type"),
                    &f.kind,
                    &["PRIMARY", "SECONDARY"],
                );
            }
            if let Some(l) = &r.latency_routing_policy {
                policies.push("latency");
                if l.region.trim().is_empty() {
                    v.err(
                        format!("{rp}.latency_routing_policy.region"),
                        "must not be empty",
                    );
                }
            }
            if let Some(g) = &r.geolocation_routing_policy {
                policies.push("geolocation");
                let gp = format!("{rp}.geolocation_routing_policy");
                match (&g.continent, &g.country) {
                    (Some(ct), None) => {
                        v.one_of(&format!("{gp}.continent"), ct, CONTINENTS);
                        if g.subdivision.is_some() {
                            v.err(format!("{gp}.subdivision"), "needs a country");
                        }
                    }
                    (None, Some(cc)) => {
                        if cc == "*" && g.subdivision.is_some() {
                            v.err(
                                format!("{gp}.subdivision"),
                                "the default location has no subdivision",
                            );
                        } else if cc != "*" && !country_ok(cc) {
                            v.err(
                                format!("{gp}.country"),
                                format!("`{cc}` is not a two-letter country code or `*`"),
                            );
                        }
                    }
                    _ => v.err(gp, "names exactly one of continent or country"),
                }
            }
            if r.multivalue_answer_routing_policy {
                policies.push("multivalue");
            }
            if policies.len() > 1 {
                v.err(
                    rp.clone(),
                    format!("has more than one routing policy ({})", policies.join(", ")),
                );
            }
            match (&r.set_identifier, policies.is_empty()) {
                (Some(_), true) => v.err(
                    format!("{rp}.set_identifier"),
                    "is only for records with a routing policy",
                ),
                (None, false) => v.err(
                    format!("{rp}.set_identifier"),
                    "a record with a routing policy needs one",
                ),
                (Some(s), false) if s.is_empty() || s.len() > 128 => {
                    v.err(format!("{rp}.set_identifier"), "must be 1-128 characters");
                }
                _ => {}
            }
            if let Some(id) = &r.health_check_id {
                if c.health_check(id).is_none() {
                    v.err(
                        format!("{rp}.health_check_id"),
                        format!("no health_check `{id}`"),
                    );
                }
            }
            if let Some(a) = &r.alias {
                if a.evaluate_target_health && a.distribution.is_some() {
                    v.err(
                        format!("{rp}.alias.evaluate_target_health"),
                        "cannot be true for a CloudFront distribution",
                    );
                }
            }
            if r.multivalue_answer_routing_policy && r.alias.is_some() {
                v.err(
                    format!("{rp}.alias"),
                    "multivalue answer records cannot be aliases",
                );
            }
            let key = (
                r.name.trim_end_matches('.').to_ascii_lowercase(),
                r.kind.clone(),
            );
            let g = groups.entry(key).or_default();
            match (&r.set_identifier, policies.first()) {
                (Some(id), Some(p)) => {
                    if g.1.contains(&id.as_str()) {
                        v.err(
                            format!("{rp}.set_identifier"),
                            format!("`{id}` is used twice for {} {}", r.name, r.kind),
                        );
                    }
                    g.1.push(id);
                    if !g.0.is_empty() && !g.0.contains(p) {
                        v.err(
                            rp.clone(),
                            format!(
                                "{} {} mixes routing policies ({} and {p})",
                                r.name, r.kind, g.0[0]
                            ),
                        );
                    }
                    g.0.push(p);
                    if g.2 {
                        v.err(
                            rp.clone(),
                            format!(
                                "{} {} has a record set without a routing policy too",
                                r.name, r.kind
                            ),
                        );
                    }
                }
                _ => {
                    if !g.1.is_empty() {
                        v.err(
                            rp.clone(),
                            format!(
                                "{} {} has record sets with a routing policy too",
                                r.name, r.kind
                            ),
                        );
                    }
                    g.2 = true;
                }
            }
        }
    }
}
