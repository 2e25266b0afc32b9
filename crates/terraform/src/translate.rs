//! Terraform resources → an edgeway [`Config`].

use crate::eval::{EBody, Evaluator, Marker, ResourceInstance, VarValue};
use crate::read::{Reader, Warning, Warnings};
use crate::source::Loc;
use edgeway_config::{
    managed, Action, Admin, Alias, CacheBehavior, CachePolicy, Condition, Config, CookiesConfig,
    CustomErrorResponse, CustomHeader, CustomOriginConfig, DemoTarget, Distribution, Dns,
    FixedResponse, Forward, ForwardedCookies, ForwardedValues, GroupStickiness, HeadersConfig,
    HealthCheck, HttpHeaderCondition, Items, KeyParameters, Listener, LoadBalancer, Origin,
    OriginRequestPolicy, QueryStringCondition, QueryStringsConfig, Record, Redirect, Rule,
    Stickiness, TargetGroup, Values, ViewerCertificate, WeightedTargetGroup, Zone,
};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// What `edgeway import terraform` was asked.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// A `.tf` file or a directory of them (the root module).
    pub path: PathBuf,
    /// `--var NAME=VALUE`.
    pub vars: Vec<(String, String)>,
    /// `--var-file F` (after `terraform.tfvars` and `*.auto.tfvars`).
    pub var_files: Vec<PathBuf>,
    /// `--target TG=ADDR,ADDR`: a target group (edgeway name or Terraform name) → addresses.
    pub targets: Vec<(String, Vec<String>)>,
    /// `--listen NAME=URL[,URL]` (distribution), `NAME=IP` (load balancer bind address),
    /// `NAME:PORT=LOCALPORT` (a load balancer listener), `dns=ADDR`, `admin=ADDR`.
    pub listens: Vec<(String, String)>,
    /// Run a built-in demo target for each target group that has no targets.
    pub demo_targets: bool,
}

/// What the import made.
#[derive(Debug, Clone)]
pub struct ImportResult {
    pub config: Config,
    /// The config as TOML (with a header comment).
    pub toml: String,
    /// One line per ignored or untranslatable thing, in file order.
    pub warnings: Vec<Warning>,
    /// Why the result cannot run (no resource edgeway knows; validation errors).
    pub errors: Vec<String>,
}

impl ImportResult {
    pub fn runs(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Types that are read only when something refers to them.
const QUIET_TYPES: &[&str] = &[
    "aws_acm_certificate",
    "aws_acm_certificate_validation",
    "aws_lb_listener_certificate",
];

struct Tx<'e> {
    ev: &'e Evaluator,
    w: &'e Warnings,
    opts: &'e ImportOptions,
    /// Terraform address → edgeway name.
    lb_names: HashMap<String, String>,
    tg_names: HashMap<String, String>,
    dist_ids: HashMap<String, String>,
    policy_names: HashMap<String, String>,
    zone_index: HashMap<String, usize>,
    hc_ids: HashMap<String, String>,
    tg_locs: HashMap<String, Loc>,
    /// Listener address → (load balancer index, listener index).
    listeners: HashMap<String, (usize, usize)>,
    /// Per load balancer: Terraform port → local port.
    port_maps: Vec<HashMap<u16, u16>>,
    used_ports: BTreeSet<u16>,
    cfg: Config,
}

fn marker_base(m: &Marker) -> String {
    m.address.clone()
}

/// A model struct from a minimal JSON object: every field not given takes its serde default.
fn base<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// Splits `NAME=VALUE`.
pub fn split_assignment(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// Imports the Terraform configuration at `opts.path`.
pub fn import(opts: &ImportOptions) -> Result<ImportResult, String> {
    let root = crate::eval::ModuleSrc::load(&opts.path)?;
    let mut vars: HashMap<String, VarValue> = HashMap::new();
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&root.dir) {
        let mut auto: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".auto.tfvars"))
            .collect();
        auto.sort();
        let main = root.dir.join("terraform.tfvars");
        if main.is_file() {
            files.push(main);
        }
        files.extend(auto);
    }
    files.extend(opts.var_files.iter().cloned());
    for f in files {
        vars.extend(crate::eval::read_tfvars(&f)?);
    }
    for (k, v) in &opts.vars {
        vars.insert(k.clone(), VarValue::Raw(v.clone()));
    }
    let ev = Evaluator::new(root, vars);
    let mut early = Vec::new();
    let resources = ev.all_resources(&mut early);
    let w = Warnings::default();
    let mut tx = Tx {
        ev: &ev,
        w: &w,
        opts,
        lb_names: HashMap::new(),
        tg_names: HashMap::new(),
        dist_ids: HashMap::new(),
        policy_names: HashMap::new(),
        zone_index: HashMap::new(),
        hc_ids: HashMap::new(),
        tg_locs: HashMap::new(),
        listeners: HashMap::new(),
        port_maps: Vec::new(),
        used_ports: BTreeSet::new(),
        cfg: Config::default(),
    };
    for (loc, path, why) in early {
        tx.w.borrow_mut().push(Warning { loc, path, why });
    }
    tx.run(&resources);
    let mut errors = Vec::new();
    let cfg = tx.cfg;
    let known =
        !cfg.distributions.is_empty() || !cfg.load_balancers.is_empty() || !cfg.zones.is_empty();
    if !known {
        errors.push(format!(
            "{}: no resource edgeway knows (aws_cloudfront_distribution, aws_lb, aws_route53_zone, ...)",
            crate::source::display_path(&opts.path)
        ));
    }
    let body = toml::to_string(&cfg).map_err(|e| format!("cannot write the config: {e}"))?;
    let toml = format!(
        "# Imported from Terraform ({}) by `edgeway import terraform`.\n# Local-only settings (listen addresses, targets) come from flags and defaults.\n\n{body}",
        crate::source::display_path(&opts.path)
    );
    if known {
        if let Err(e) = edgeway_config::parse("imported.toml", &toml) {
            errors.extend(e.to_string().lines().map(str::to_string));
        }
    }
    let mut warnings = w.into_inner();
    warnings.sort_by(|a, b| {
        (a.loc.file.as_ref(), a.loc.line, a.loc.col).cmp(&(
            b.loc.file.as_ref(),
            b.loc.line,
            b.loc.col,
        ))
    });
    warnings.dedup();
    Ok(ImportResult {
        config: cfg,
        toml,
        warnings,
        errors,
    })
}

impl<'e> Tx<'e> {
    fn body(&self, r: &ResourceInstance) -> EBody {
        self.ev.eval_body(&r.block.body, &r.scope)
    }

    fn reader<'b>(&self, r: &ResourceInstance, body: &'b EBody) -> Reader<'b>
    where
        'e: 'b,
    {
        Reader::new(body, r.address.clone(), r.block.loc.clone(), self.w)
    }

    fn listen_flag(&self, key: &str) -> Option<String> {
        self.opts
            .listens
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// A free local port: `want`, else `want + 100`, ...
    fn port(&mut self, want: u16) -> u16 {
        let mut p = want;
        while self.used_ports.contains(&p) && p < 65_000 {
            p += 100;
        }
        self.used_ports.insert(p);
        p
    }

    fn run(&mut self, all: &[ResourceInstance]) {
        let of = |t: &str, data: bool| {
            all.iter()
                .filter(move |r| r.rtype == t && r.data == data)
                .collect::<Vec<_>>()
        };
        // Ports named by flags are taken first.
        for (k, v) in &self.opts.listens {
            if k.contains(':') || k == "dns" || k == "admin" || v.contains("://") {
                for part in v.split(',') {
                    if let Some(p) = part
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
                    {
                        self.used_ports.insert(p);
                    }
                }
            }
        }
        // Names first, so references resolve whatever the file order.
        for r in of("aws_lb", false) {
            self.name_lb(r);
        }
        for r in of("aws_lb_target_group", false) {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let name = rd.str("name").unwrap_or_else(|| r.local_name.clone());
            self.tg_names.insert(r.address.clone(), name);
            self.tg_locs.insert(r.address.clone(), r.block.loc.clone());
        }
        for r in of("aws_cloudfront_distribution", false) {
            self.dist_ids
                .insert(r.address.clone(), r.local_name.clone());
        }
        for r in of("aws_cloudfront_cache_policy", false)
            .into_iter()
            .chain(of("aws_cloudfront_origin_request_policy", false))
        {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let name = rd.str("name").unwrap_or_else(|| r.local_name.clone());
            self.policy_names.insert(r.address.clone(), name);
        }
        for r in of("aws_cloudfront_cache_policy", true) {
            self.data_policy(r, true);
        }
        for r in of("aws_cloudfront_origin_request_policy", true) {
            self.data_policy(r, false);
        }
        self.target_groups(&of("aws_lb_target_group", false));
        self.attachments(&of("aws_lb_target_group_attachment", false));
        self.listeners_pass(&of("aws_lb_listener", false));
        self.rules(&of("aws_lb_listener_rule", false));
        self.zones(
            &of("aws_route53_zone", false),
            &of("aws_route53_zone", true),
        );
        for r in of("aws_route53_health_check", false) {
            self.health_check(r);
        }
        self.records(&of("aws_route53_record", false));
        for r in of("aws_cloudfront_cache_policy", false) {
            self.cache_policy(r);
        }
        for r in of("aws_cloudfront_origin_request_policy", false) {
            self.origin_request_policy(r);
        }
        for r in of("aws_cloudfront_distribution", false) {
            self.distribution(r);
        }
        self.finish_targets();
        if !self.cfg.zones.is_empty() {
            let listen = self
                .listen_flag("dns")
                .unwrap_or_else(|| "127.0.0.1:8053".into());
            self.cfg.dns = base::<Dns>(serde_json::json!({ "listen": listen })).ok();
        }
        if !self.cfg.distributions.is_empty() || !self.cfg.load_balancers.is_empty() {
            let listen = self
                .listen_flag("admin")
                .unwrap_or_else(|| "127.0.0.1:9900".into());
            self.cfg.admin = Some(Admin { listen });
        }
        const HANDLED: &[&str] = &[
            "aws_lb",
            "aws_lb_target_group",
            "aws_lb_target_group_attachment",
            "aws_lb_listener",
            "aws_lb_listener_rule",
            "aws_cloudfront_distribution",
            "aws_cloudfront_cache_policy",
            "aws_cloudfront_origin_request_policy",
            "aws_route53_zone",
            "aws_route53_record",
            "aws_route53_health_check",
        ];
        for r in all {
            if r.data {
                if !matches!(
                    r.rtype.as_str(),
                    "aws_cloudfront_cache_policy"
                        | "aws_cloudfront_origin_request_policy"
                        | "aws_route53_zone"
                        | "aws_acm_certificate"
                ) {
                    self.warn_block(r, format!("data source {} is not read (edgeway has no AWS account to ask); references to it cannot be resolved", r.rtype));
                }
            } else if !HANDLED.contains(&r.rtype.as_str())
                && !QUIET_TYPES.contains(&r.rtype.as_str())
            {
                let why = match r.rtype.as_str() {
                    "aws_lb_listener_certificate" => {
                        "extra listener certificates come from the local CA".to_string()
                    }
                    t if t.starts_with("aws_cloudfront_") => {
                        format!("{t} is not supported by edgeway yet; ignored")
                    }
                    t if t.starts_with("aws_lb") || t.starts_with("aws_alb") => {
                        format!("{t} is not supported by edgeway; ignored")
                    }
                    t if t.starts_with("aws_route53_") => {
                        format!("{t} is not supported by edgeway; ignored")
                    }
                    t => format!(
                        "{t} is outside what edgeway emulates (DNS, CloudFront, ALB); ignored"
                    ),
                };
                self.warn_block(r, why);
            }
        }
    }

    fn warn_block(&self, r: &ResourceInstance, why: String) {
        self.w.borrow_mut().push(Warning {
            loc: r.block.loc.clone(),
            path: r.address.clone(),
            why,
        });
    }

    // ---- load balancers ----

    fn name_lb(&mut self, r: &ResourceInstance) {
        let body = self.body(r);
        let rd = self.reader(r, &body);
        let kind = rd
            .str("load_balancer_type")
            .unwrap_or_else(|| "application".into());
        if kind != "application" {
            rd.warn("load_balancer_type", format!("only application load balancers are emulated; this {kind} load balancer and its listeners are skipped"));
            return;
        }
        let name = rd.str("name").unwrap_or_else(|| r.local_name.clone());
        let bind_address = self
            .listen_flag(&name)
            .or_else(|| self.listen_flag(&r.name))
            .unwrap_or_else(|| "127.0.0.1".into());
        let Ok(mut d) = base::<LoadBalancer>(serde_json::json!({ "name": name })) else {
            return;
        };
        d.bind_address = bind_address;
        d.idle_timeout = rd.u64("idle_timeout").unwrap_or(60);
        d.enable_http2 = rd.bool("enable_http2").unwrap_or(true);
        d.xff_header_processing_mode = rd
            .str("xff_header_processing_mode")
            .unwrap_or_else(|| "append".into());
        d.enable_xff_client_port = rd.bool("enable_xff_client_port").unwrap_or(false);
        d.preserve_host_header = rd.bool("preserve_host_header").unwrap_or(false);
        d.desync_mitigation_mode = rd
            .str("desync_mitigation_mode")
            .unwrap_or_else(|| "defensive".into());
        d.drop_invalid_header_fields = rd.bool("drop_invalid_header_fields").unwrap_or(false);
        if let Some(a) = rd.block("access_logs") {
            let enabled = a.bool("enabled").unwrap_or(true);
            if let (true, Some(bucket)) = (enabled, a.str("bucket")) {
                let prefix = a.str("prefix").unwrap_or_default();
                d.access_logs = base::<edgeway_config::AccessLogs>(
                    serde_json::json!({ "enabled": true, "bucket": bucket, "prefix": prefix }),
                )
                .ok();
            }
        }
        rd.skip("load_balancer_type");
        rd.finish(&[
            "internal",
            "security_groups",
            "subnets",
            "subnet_mapping",
            "ip_address_type",
            "enable_deletion_protection",
            "enable_cross_zone_load_balancing",
            "name_prefix",
            "customer_owned_ipv4_pool",
            "client_keep_alive",
            "dns_record_client_routing_policy",
        ]);
        self.lb_names.insert(r.address.clone(), name);
        self.cfg.load_balancers.push(d);
        self.port_maps.push(HashMap::new());
    }

    fn lb_index_by_marker(&self, v: &str) -> Option<usize> {
        let m = self.ev.marker(v)?;
        let name = self.lb_names.get(&marker_base(&m))?;
        self.cfg.load_balancers.iter().position(|l| &l.name == name)
    }

    fn lb_local_port(&mut self, lb: usize, tf_port: u16) -> u16 {
        if let Some(p) = self.port_maps[lb].get(&tf_port) {
            return *p;
        }
        let name = self.cfg.load_balancers[lb].name.clone();
        let flagged = self
            .listen_flag(&format!("{name}:{tf_port}"))
            .and_then(|v| v.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
        let local = match flagged {
            Some(p) => p,
            None => {
                let want = match tf_port {
                    80 => 9080,
                    443 => 9443,
                    p if p < 1024 => 9000 + p,
                    p => p,
                };
                self.port(want)
            }
        };
        self.port_maps[lb].insert(tf_port, local);
        local
    }

    fn tg_name(&self, rd: &Reader<'_>, key: &str, v: &str) -> Option<String> {
        if let Some(m) = self.ev.marker(v) {
            if let Some(n) = self.tg_names.get(&marker_base(&m)) {
                return Some(n.clone());
            }
            rd.warn(
                key,
                format!("{} is not a target group edgeway imported", m.address),
            );
            return None;
        }
        // A literal ARN: arn:aws:elasticloadbalancing:...:targetgroup/NAME/ID.
        if let Some(rest) = v.split("targetgroup/").nth(1) {
            let name = rest.split('/').next().unwrap_or(rest);
            if self.tg_names.values().any(|n| n == name) {
                return Some(name.to_string());
            }
        }
        if self.tg_names.values().any(|n| n == v) {
            return Some(v.to_string());
        }
        rd.warn(
            key,
            format!("{v:?} is not a target group in this configuration"),
        );
        None
    }

    /// `default_action` / `action` blocks → the action edgeway runs (the last one in `order`;
    /// authenticate actions are reported and skipped).
    fn action(
        &mut self,
        actions: Vec<Reader<'_>>,
        lb: usize,
        what: &str,
        owner: &Reader<'_>,
    ) -> Option<Action> {
        let mut actions: Vec<(u64, Reader<'_>)> = actions
            .into_iter()
            .enumerate()
            .map(|(i, a)| (a.u64("order").unwrap_or(i as u64 + 1), a))
            .collect();
        actions.sort_by_key(|(o, _)| *o);
        let mut chosen = None;
        for (_, a) in actions {
            let kind = a.str("type").unwrap_or_default();
            if kind.starts_with("authenticate") {
                a.warn("type", format!("{kind} actions are not emulated; the request goes on to the next action unauthenticated"));
                a.finish(&["authenticate_oidc", "authenticate_cognito", "order"]);
                continue;
            }
            if chosen.is_some() {
                a.warn(
                    "",
                    "only one terminal action is allowed; this one is ignored",
                );
                continue;
            }
            let mut act = Action {
                kind: kind.clone(),
                target_group: None,
                forward: None,
                redirect: None,
                fixed_response: None,
            };
            if let Some(arn) = a.str("target_group_arn") {
                act.target_group = self.tg_name(&a, "target_group_arn", &arn);
            }
            if let Some(f) = a.block("forward") {
                let mut groups = Vec::new();
                for g in f.blocks("target_group") {
                    let Some(arn) = g.str("arn") else { continue };
                    if let Some(name) = self.tg_name(&g, "arn", &arn) {
                        groups.push(WeightedTargetGroup {
                            name,
                            weight: g.u32("weight").unwrap_or(1),
                        });
                    }
                }
                let stickiness = f.block("stickiness").map(|s| GroupStickiness {
                    enabled: s.bool("enabled").unwrap_or(false),
                    duration: s.u64("duration").unwrap_or(1),
                });
                if act.target_group.is_none() && groups.len() == 1 && stickiness.is_none() {
                    act.target_group = groups.pop().map(|g| g.name);
                } else if !groups.is_empty() {
                    act.target_group = None;
                    act.forward = Some(Forward {
                        target_group: groups,
                        stickiness,
                    });
                }
            }
            if let Some(r) = a.block("redirect") {
                let mut port = r.str("port").unwrap_or_else(|| "#{port}".into());
                if let Ok(p) = port.parse::<u16>() {
                    if self.port_maps[lb].contains_key(&p) || p == 80 || p == 443 {
                        port = self.lb_local_port(lb, p).to_string();
                    }
                }
                act.redirect = Some(Redirect {
                    protocol: r.str("protocol").unwrap_or_else(|| "#{protocol}".into()),
                    host: r.str("host").unwrap_or_else(|| "#{host}".into()),
                    port,
                    path: r.str("path").unwrap_or_else(|| "/#{path}".into()),
                    query: r.str("query").unwrap_or_else(|| "#{query}".into()),
                    status_code: r.str("status_code").unwrap_or_else(|| "HTTP_301".into()),
                });
            }
            if let Some(f) = a.block("fixed_response") {
                act.fixed_response = Some(FixedResponse {
                    content_type: f.str("content_type").unwrap_or_else(|| "text/plain".into()),
                    message_body: f.str("message_body"),
                    status_code: f.str("status_code").unwrap_or_else(|| "200".into()),
                });
            }
            a.skip("order");
            chosen = Some(act);
        }
        if chosen.is_none() {
            owner.warn(
                what,
                "no action edgeway can run; the listener or rule is skipped",
            );
        }
        chosen
    }

    fn listeners_pass(&mut self, list: &[&ResourceInstance]) {
        // Ports first, so redirects between listeners map to the local ports.
        let mut pending = Vec::new();
        for r in list {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let Some(lb_ref) = rd.str("load_balancer_arn") else {
                rd.warn(
                    "load_balancer_arn",
                    "a listener needs load_balancer_arn; skipped",
                );
                continue;
            };
            let Some(lb) = self.lb_index_by_marker(&lb_ref) else {
                rd.warn("load_balancer_arn", format!("{} is not an application load balancer edgeway imported; the listener is skipped", lb_ref.trim_start_matches("${").trim_end_matches('}')));
                continue;
            };
            let tf_port = rd.u16("port").unwrap_or(80);
            self.lb_local_port(lb, tf_port);
            pending.push((*r, lb, tf_port));
        }
        for (r, lb, tf_port) in pending {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            rd.skip("load_balancer_arn");
            rd.skip("port");
            let protocol = rd.str("protocol").unwrap_or_else(|| "HTTP".into());
            if protocol != "HTTP" && protocol != "HTTPS" {
                rd.warn("protocol", format!("{protocol} listeners are not emulated (application load balancers speak HTTP and HTTPS); skipped"));
                continue;
            }
            let ssl_policy = rd.str("ssl_policy");
            if rd.has("certificate_arn") {
                rd.skip("certificate_arn");
            }
            let local = self.lb_local_port(lb, tf_port);
            let Some(default_action) =
                self.action(rd.blocks("default_action"), lb, "default_action", &rd)
            else {
                continue;
            };
            rd.finish(&["certificate_arn", "alpn_policy", "mutual_authentication"]);
            let l = Listener {
                port: local,
                protocol,
                ssl_policy,
                certificate: None,
                additional_certificates: Vec::new(),
                default_action,
                rules: Vec::new(),
            };
            let lbs = &mut self.cfg.load_balancers[lb];
            lbs.listeners.push(l);
            self.listeners
                .insert(r.address.clone(), (lb, lbs.listeners.len() - 1));
        }
    }

    fn rules(&mut self, list: &[&ResourceInstance]) {
        // Rules with a priority first; the others get the next free one, as AWS assigns it.
        let explicit = |r: &&&ResourceInstance| r.block.body.attr("priority").is_some();
        let ordered: Vec<&ResourceInstance> = list
            .iter()
            .filter(explicit)
            .chain(list.iter().filter(|r| !explicit(r)))
            .copied()
            .collect();
        for r in ordered {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let Some(l_ref) = rd.str("listener_arn") else {
                rd.warn("listener_arn", "a rule needs listener_arn; skipped");
                continue;
            };
            let Some(&(lb, li)) = self
                .ev
                .marker(&l_ref)
                .and_then(|m| self.listeners.get(&marker_base(&m)))
            else {
                rd.warn(
                    "listener_arn",
                    format!(
                        "{} is not a listener edgeway imported; the rule is skipped",
                        l_ref.trim_start_matches("${").trim_end_matches('}')
                    ),
                );
                continue;
            };
            let mut conditions = Vec::new();
            for c in rd.blocks("condition") {
                if let Some(cond) = condition(&c) {
                    conditions.push(cond);
                }
            }
            let Some(action) = self.action(rd.blocks("action"), lb, "action", &rd) else {
                continue;
            };
            let taken: Vec<u32> = self.cfg.load_balancers[lb].listeners[li]
                .rules
                .iter()
                .map(|r| r.priority)
                .collect();
            let priority = rd
                .u32("priority")
                .unwrap_or_else(|| taken.iter().max().map_or(1, |m| m + 1));
            rd.finish(&["tags"]);
            if conditions.is_empty() {
                rd.warn(
                    "condition",
                    "a rule without a condition edgeway understands is skipped",
                );
                continue;
            }
            self.cfg.load_balancers[lb].listeners[li].rules.push(Rule {
                priority,
                condition: conditions,
                action,
            });
        }
        for lb in &mut self.cfg.load_balancers {
            for l in &mut lb.listeners {
                l.rules.sort_by_key(|r| r.priority);
            }
        }
    }

    // ---- target groups ----

    fn target_groups(&mut self, list: &[&ResourceInstance]) {
        for r in list {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let Some(name) = self.tg_names.get(&r.address).cloned() else {
                continue;
            };
            rd.skip("name");
            let target_type = rd.str("target_type").unwrap_or_else(|| "instance".into());
            if target_type != "instance" && target_type != "ip" {
                rd.warn("target_type", format!("{target_type} targets are not emulated; give addresses with --target {name}=HOST:PORT"));
            }
            let protocol = rd.str("protocol").unwrap_or_else(|| "HTTP".into());
            // The AWS provider's quirk: a `health_check {}` block sends its own schema defaults
            // (3 and 3 thresholds); without the block AWS's API defaults apply (5 and 2).
            let health_check = match rd.block("health_check") {
                Some(h) => HealthCheck {
                    enabled: h.bool("enabled").unwrap_or(true),
                    path: h.str("path").unwrap_or_else(|| "/".into()),
                    port: h.str("port").unwrap_or_else(|| "traffic-port".into()),
                    protocol: h.str("protocol").unwrap_or_else(|| "HTTP".into()),
                    interval: h.u64("interval").unwrap_or(30),
                    timeout: h.u64("timeout").unwrap_or(5),
                    healthy_threshold: h.u32("healthy_threshold").unwrap_or(3),
                    unhealthy_threshold: h.u32("unhealthy_threshold").unwrap_or(3),
                    matcher: h.str("matcher").unwrap_or_else(|| "200".into()),
                },
                None => HealthCheck {
                    protocol: if protocol == "HTTPS" {
                        "HTTPS".into()
                    } else {
                        "HTTP".into()
                    },
                    ..HealthCheck::default()
                },
            };
            let stickiness = rd.block("stickiness").map(|s| Stickiness {
                kind: s.str("type").unwrap_or_else(|| "lb_cookie".into()),
                enabled: s.bool("enabled").unwrap_or(true),
                cookie_duration: s.u64("cookie_duration").unwrap_or(86_400),
                cookie_name: s.str("cookie_name"),
            });
            let Ok(mut tg) = base::<TargetGroup>(serde_json::json!({ "name": name })) else {
                continue;
            };
            tg.protocol = protocol;
            tg.port = rd.u16("port");
            tg.protocol_version = rd.str("protocol_version").unwrap_or_else(|| "HTTP1".into());
            tg.target_type = if target_type == "ip" {
                "ip".into()
            } else {
                "instance".into()
            };
            tg.load_balancing_algorithm_type = rd
                .str("load_balancing_algorithm_type")
                .unwrap_or_else(|| "round_robin".into());
            tg.slow_start = rd.u64("slow_start").unwrap_or(0);
            tg.deregistration_delay = rd.u64("deregistration_delay").unwrap_or(300);
            tg.health_check = health_check;
            tg.stickiness = stickiness;
            if let Some(h) = rd.block("target_group_health") {
                let routing = |b: &str| {
                    h.block(b).and_then(|u| {
                        let count = u.u32("minimum_healthy_targets_count").unwrap_or(1);
                        let pct = u.str("minimum_healthy_targets_percentage").unwrap_or_else(|| "off".into());
                        base::<edgeway_config::UnhealthyStateRouting>(serde_json::json!({ "minimum_healthy_targets_count": count, "minimum_healthy_targets_percentage": pct })).ok()
                    })
                };
                tg.target_group_health = Some(edgeway_config::TargetGroupHealth {
                    unhealthy_state_routing: routing("unhealthy_state_routing"),
                    dns_failover: routing("dns_failover"),
                });
            }
            rd.finish(&[
                "vpc_id",
                "name_prefix",
                "ip_address_type",
                "connection_termination",
                "proxy_protocol_v2",
                "preserve_client_ip",
                "lambda_multi_value_headers_enabled",
                "load_balancing_cross_zone_enabled",
            ]);
            self.cfg.target_groups.push(tg);
        }
    }

    fn attachments(&mut self, list: &[&ResourceInstance]) {
        for r in list {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let Some(arn) = rd.str("target_group_arn") else {
                continue;
            };
            let Some(name) = self.tg_name(&rd, "target_group_arn", &arn) else {
                continue;
            };
            let Some(id) = rd.str("target_id") else {
                continue;
            };
            let port = rd.u16("port");
            rd.finish(&["availability_zone"]);
            if self.opts.targets.iter().any(|(k, _)| *k == name) {
                continue;
            }
            let Some(tg) = self.cfg.target_groups.iter_mut().find(|t| t.name == name) else {
                continue;
            };
            if id.parse::<std::net::IpAddr>().is_ok() {
                let port = port.or(tg.port);
                tg.targets.push(match port {
                    Some(p) => edgeway_config::join_host_port(&id, p),
                    None => id,
                });
            } else {
                let what = self
                    .ev
                    .marker(&id)
                    .map_or(id.clone(), |m| format!("{}.{}", m.address, m.attr));
                rd.warn("target_id", format!("{what} is not an address edgeway can reach; give targets with --target {name}=HOST:PORT"));
            }
        }
    }

    /// `--target` flags, demo targets, and a warning for target groups left without targets.
    fn finish_targets(&mut self) {
        let mut demo_port = 9101u16;
        for (key, addrs) in &self.opts.targets {
            let by_tf = self
                .tg_names
                .iter()
                .find(|(addr, _)| addr.rsplit('.').next() == Some(key.as_str()) || *addr == key)
                .map(|(_, n)| n.clone());
            let name = if self.cfg.target_groups.iter().any(|t| &t.name == key) {
                Some(key.clone())
            } else {
                by_tf
            };
            match name.and_then(|n| self.cfg.target_groups.iter_mut().find(|t| t.name == n)) {
                Some(tg) => tg.targets = addrs.clone(),
                None => self.w.borrow_mut().push(Warning {
                    loc: Loc {
                        file: "--target".into(),
                        line: 0,
                        col: 0,
                    },
                    path: key.clone(),
                    why: "no target group has this name".into(),
                }),
            }
        }
        let used: Vec<String> = self
            .cfg
            .load_balancers
            .iter()
            .flat_map(|lb| lb.listeners.iter())
            .flat_map(|l| {
                std::iter::once(&l.default_action).chain(l.rules.iter().map(|r| &r.action))
            })
            .flat_map(|a| a.target_groups().into_iter().map(|(n, _)| n.to_string()))
            .collect();
        let mut demos = Vec::new();
        for tg in &mut self.cfg.target_groups {
            if !tg.targets.is_empty() || !used.contains(&tg.name) {
                continue;
            }
            if self.opts.demo_targets {
                while self.used_ports.contains(&demo_port) {
                    demo_port += 100;
                }
                self.used_ports.insert(demo_port);
                let listen = format!("127.0.0.1:{demo_port}");
                tg.targets.push(listen.clone());
                demos.push(DemoTarget {
                    listen,
                    id: format!("{}-1", tg.name),
                });
                demo_port += 100;
                continue;
            }
            let addr = self
                .tg_names
                .iter()
                .find(|(_, n)| **n == tg.name)
                .map(|(a, _)| a.clone())
                .unwrap_or_default();
            let loc = self.tg_locs.get(&addr).cloned().unwrap_or_else(|| Loc {
                file: "--target".into(),
                line: 0,
                col: 0,
            });
            self.w.borrow_mut().push(Warning {
                loc,
                path: addr,
                why: format!("target group {} has no targets: requests to it get 503; pass --target {}=HOST:PORT[,HOST:PORT] or --demo-targets", tg.name, tg.name),
            });
        }
        self.cfg.demo_targets.extend(demos);
    }

    // ---- DNS ----

    fn zones(&mut self, list: &[&ResourceInstance], data: &[&ResourceInstance]) {
        for r in list.iter().chain(data.iter()) {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let Some(name) = rd.str("name") else {
                if !r.data {
                    rd.warn("name", "a zone needs a name; skipped");
                }
                continue;
            };
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if r.data {
                rd.finish(&["private_zone", "zone_id", "vpc_id"]);
            } else {
                rd.finish(&["comment", "force_destroy", "delegation_set_id", "vpc"]);
            }
            let idx = match self.cfg.zones.iter().position(|z| z.name == name) {
                Some(i) => i,
                None => {
                    self.cfg.zones.push(Zone {
                        name,
                        records: Vec::new(),
                    });
                    self.cfg.zones.len() - 1
                }
            };
            self.zone_index.insert(r.address.clone(), idx);
        }
    }

    fn records(&mut self, list: &[&ResourceInstance]) {
        for r in list {
            let body = self.body(r);
            let rd = self.reader(r, &body);
            let zone_ref = rd.str("zone_id").unwrap_or_default();
            let Some(mut name) = rd
                .str("name")
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            else {
                continue;
            };
            let zi = match self
                .ev
                .marker(&zone_ref)
                .and_then(|m| self.zone_index.get(&marker_base(&m)).copied())
            {
                Some(i) => Some(i),
                None => self
                    .cfg
                    .zones
                    .iter()
                    .position(|z| name == z.name || name.ends_with(&format!(".{}", z.name))),
            };
            let Some(zi) = zi else {
                rd.warn(
                    "zone_id",
                    format!(
                        "{} is not a zone edgeway imported; the record is skipped",
                        zone_ref.trim_start_matches("${").trim_end_matches('}')
                    ),
                );
                continue;
            };
            let zone = self.cfg.zones[zi].name.clone();
            // The provider appends the zone to a relative name.
            if name != zone && !name.ends_with(&format!(".{zone}")) {
                name = format!("{name}.{zone}");
            }
            let kind = rd.str("type").unwrap_or_else(|| "A".into());
            let mut rec = Record {
                name,
                kind,
                set_identifier: rd.str("set_identifier"),
                ..Record::default()
            };
            if let Some(h) = rd.str("health_check_id") {
                match self.ev.marker(&h).and_then(|m| self.hc_ids.get(&marker_base(&m)).cloned()) {
                    Some(id) => rec.health_check_id = Some(id),
                    None => rd.warn("health_check_id", format!("{h} is not a health check edgeway imported; the record is always answered")),
                }
            }
            if let Some(p) = rd.block("weighted_routing_policy") {
                rec.weighted_routing_policy = p
                    .u32("weight")
                    .map(|weight| edgeway_config::WeightedRoutingPolicy { weight });
            }
            if let Some(p) = rd.block("failover_routing_policy") {
                rec.failover_routing_policy = p
                    .str("type")
                    .map(|kind| edgeway_config::FailoverRoutingPolicy { kind });
            }
            if let Some(p) = rd.block("latency_routing_policy") {
                rec.latency_routing_policy = p
                    .str("region")
                    .map(|region| edgeway_config::LatencyRoutingPolicy { region });
            }
            if let Some(p) = rd.block("geolocation_routing_policy") {
                rec.geolocation_routing_policy = Some(edgeway_config::GeolocationRoutingPolicy {
                    continent: p.str("continent"),
                    country: p.str("country"),
                    subdivision: p.str("subdivision"),
                });
            }
            rec.multivalue_answer_routing_policy =
                rd.bool("multivalue_answer_routing_policy").unwrap_or(false);
            if let Some(a) = rd.block("alias") {
                let target = a.str("name").unwrap_or_default();
                a.skip("zone_id");
                let eth = a.bool("evaluate_target_health").unwrap_or(false);
                let ms = self.ev.markers_in(&target);
                let mut alias = None;
                for m in ms {
                    if let Some(id) = self.dist_ids.get(&marker_base(&m)) {
                        alias = Some(Alias {
                            distribution: Some(id.clone()),
                            load_balancer: None,
                            evaluate_target_health: false,
                        });
                    } else if let Some(lb) = self.lb_names.get(&marker_base(&m)) {
                        alias = Some(Alias {
                            distribution: None,
                            load_balancer: Some(lb.clone()),
                            evaluate_target_health: eth,
                        });
                    }
                }
                match alias {
                    Some(al) => rec.alias = Some(al),
                    None => {
                        a.warn("name", format!("alias to {target}: only aliases to an imported distribution or load balancer are emulated; the record is skipped"));
                        rd.finish(&["allow_overwrite", "ttl"]);
                        continue;
                    }
                }
                if rd.has("ttl") {
                    rd.skip("ttl");
                }
            } else {
                rec.ttl = rd.u32("ttl");
                rec.records = rd.strings("records").unwrap_or_default();
            }
            rd.finish(&["allow_overwrite"]);
            self.cfg.zones[zi].records.push(rec);
        }
    }

    fn health_check(&mut self, r: &ResourceInstance) {
        let body = self.body(r);
        let rd = self.reader(r, &body);
        let id = r.local_name.clone();
        let Some(kind) = rd.str("type") else { return };
        let Ok(mut hc) = base::<edgeway_config::Route53HealthCheck>(
            serde_json::json!({ "id": id, "type": kind }),
        ) else {
            return;
        };
        hc.ip_address = rd.str("ip_address");
        hc.fqdn = rd.str("fqdn");
        hc.port = rd.u16("port");
        hc.resource_path = rd.str("resource_path");
        hc.search_string = rd.str("search_string");
        hc.request_interval = rd.u64("request_interval").unwrap_or(30);
        hc.failure_threshold = rd.u32("failure_threshold").unwrap_or(3);
        hc.invert_healthcheck = rd.bool("invert_healthcheck").unwrap_or(false);
        hc.disabled = rd.bool("disabled").unwrap_or(false);
        rd.finish(&[
            "measure_latency",
            "regions",
            "reference_name",
            "enable_sni",
            "cloudwatch_alarm_region",
            "cloudwatch_alarm_name",
        ]);
        self.hc_ids.insert(r.address.clone(), id);
        self.cfg.health_checks.push(hc);
    }

    // ---- CloudFront ----

    fn data_policy(&mut self, r: &ResourceInstance, cache: bool) {
        let body = self.body(r);
        let rd = self.reader(r, &body);
        let key = rd.str("name").or_else(|| rd.str("id")).unwrap_or_default();
        let bare = key.strip_prefix("Managed-").unwrap_or(&key);
        let managed_name = if cache {
            managed::cache_policy(bare).map(|p| p.name.to_string())
        } else {
            managed::origin_request_policy(bare).map(str::to_string)
        };
        rd.finish(&[]);
        match managed_name {
            Some(n) => {
                self.policy_names.insert(r.address.clone(), n);
            }
            None => {
                // A custom policy looked up by name: fine when this configuration defines it.
                self.policy_names
                    .insert(r.address.clone(), bare.to_string());
            }
        }
    }

    fn policy_ref(&self, rd: &Reader<'_>, key: &str, cache: bool) -> Option<String> {
        let v = rd.str(key)?;
        if let Some(m) = self.ev.marker(&v) {
            if let Some(n) = self.policy_names.get(&marker_base(&m)) {
                return Some(n.clone());
            }
            rd.warn(
                key,
                format!("{} is not a policy edgeway imported", m.address),
            );
            return None;
        }
        let managed_name = if cache {
            managed::cache_policy(&v).map(|p| p.name.to_string())
        } else {
            managed::origin_request_policy(&v).map(str::to_string)
        };
        if managed_name.is_none() && !self.policy_names.values().any(|n| *n == v) {
            rd.warn(
                key,
                format!("{v:?} is neither a managed policy nor a policy in this configuration"),
            );
        }
        Some(managed_name.unwrap_or(v))
    }

    fn cache_policy(&mut self, r: &ResourceInstance) {
        let body = self.body(r);
        let rd = self.reader(r, &body);
        let Some(name) = self.policy_names.get(&r.address).cloned() else {
            return;
        };
        rd.skip("name");
        let p = rd.block("parameters_in_cache_key_and_forwarded_to_origin");
        let params = p.as_ref().map(|p| KeyParameters {
            enable_accept_encoding_gzip: p.bool("enable_accept_encoding_gzip").unwrap_or(false),
            enable_accept_encoding_brotli: p.bool("enable_accept_encoding_brotli").unwrap_or(false),
            enable_accept_encoding_zstd: false,
            headers_config: headers_config(p),
            cookies_config: cookies_config(p),
            query_strings_config: query_strings_config(p),
        });
        let cp = CachePolicy {
            name,
            comment: rd.str("comment"),
            min_ttl: rd.u64("min_ttl").unwrap_or(0),
            default_ttl: rd.u64("default_ttl").unwrap_or(86_400),
            max_ttl: rd.u64("max_ttl").unwrap_or(31_536_000),
            parameters_in_cache_key_and_forwarded_to_origin: params.unwrap_or_default(),
        };
        rd.finish(&[]);
        self.cfg.cache_policies.push(cp);
    }

    fn origin_request_policy(&mut self, r: &ResourceInstance) {
        let body = self.body(r);
        let rd = self.reader(r, &body);
        let Some(name) = self.policy_names.get(&r.address).cloned() else {
            return;
        };
        rd.skip("name");
        let p = OriginRequestPolicy {
            name,
            comment: rd.str("comment"),
            headers_config: headers_config(&rd),
            cookies_config: cookies_config(&rd),
            query_strings_config: query_strings_config(&rd),
        };
        rd.finish(&[]);
        self.cfg.origin_request_policies.push(p);
    }

    /// `logging_config { bucket, prefix, include_cookies }` → the distribution's `access_log` (and
    /// `access_log_include_cookies`): the
    /// local file `<bucket>/<prefix><id>.log` (CloudFront names its files `<prefix><id>.…`), the
    /// bucket's name without its `.s3[.region].amazonaws.com` suffix.
    fn access_log(&self, l: &Reader<'_>, id: &str) -> Option<(String, bool)> {
        let raw = l.str("bucket")?;
        let bucket = match self.ev.marker(&raw) {
            Some(m) => m.name,
            None => bucket_name(&raw),
        };
        if bucket.is_empty() {
            l.warn("bucket", "no bucket name: no access log is written");
            return None;
        }
        let prefix = l.str("prefix").unwrap_or_default();
        let path = format!("{bucket}/{}{id}.log", prefix.trim_start_matches('/'));
        let dir = std::path::Path::new(&path)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        l.warn("bucket", format!("S3 is not emulated: log lines go to the local file {path} (the folder {dir} must exist)"));
        Some((path, l.bool("include_cookies").unwrap_or(false)))
    }

    /// The load balancer an origin domain leads to: its `dns_name`, or a record aliasing it.
    fn origin_lb(&self, domain: &str) -> Option<usize> {
        if let Some(i) = self.lb_index_by_marker(domain) {
            return Some(i);
        }
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        let name = self
            .cfg
            .zones
            .iter()
            .flat_map(|z| z.records.iter())
            .find(|r| r.name == d)
            .and_then(|r| r.alias.as_ref())
            .and_then(|a| a.load_balancer.clone())?;
        self.cfg.load_balancers.iter().position(|l| l.name == name)
    }

    fn distribution(&mut self, r: &ResourceInstance) {
        let body = self.body(r);
        let rd = self.reader(r, &body);
        let Some(id) = self.dist_ids.get(&r.address).cloned() else {
            return;
        };
        let n = self.cfg.distributions.len() as u16;
        let listen = match self.listen_flag(&id).or_else(|| self.listen_flag(&r.name)) {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => {
                let (h, s) = (self.port(8080 + n), self.port(8443 + n));
                vec![
                    format!("http://127.0.0.1:{h}"),
                    format!("https://127.0.0.1:{s}"),
                ]
            }
        };
        // Origins.
        let mut origins = Vec::new();
        for o in rd.blocks("origin") {
            let Some(origin_id) = o.str("origin_id") else {
                continue;
            };
            let mut domain = o.str("domain_name").unwrap_or_default();
            let lb = self.origin_lb(&domain);
            if let Some(m) = self.ev.marker(&domain) {
                match lb {
                    Some(i) => {
                        let name = self.cfg.load_balancers[i].name.clone();
                        let rec = self.cfg.zones.iter().flat_map(|z| z.records.iter()).find(|r| r.alias.as_ref().and_then(|a| a.load_balancer.as_deref()) == Some(name.as_str()));
                        domain = match rec {
                            Some(rec) => rec.name.clone(),
                            None => self.cfg.load_balancers[i].bind_address.clone(),
                        };
                    }
                    None => o.warn("domain_name", format!("{}.{} cannot be reached locally; give the origin a name or address edgeway serves", m.address, m.attr)),
                }
            }
            if o.has("s3_origin_config") {
                o.warn("s3_origin_config", "S3 origins are not emulated; requests to this origin fail unless domain_name is served locally");
                o.skip("s3_origin_config");
            }
            if o.has("origin_access_control_id") {
                o.skip("origin_access_control_id");
            }
            let custom_origin_config = o.block("custom_origin_config").map(|c| {
                let mut cc = CustomOriginConfig {
                    http_port: c.u16("http_port").unwrap_or(80),
                    https_port: c.u16("https_port").unwrap_or(443),
                    origin_protocol_policy: c
                        .str("origin_protocol_policy")
                        .unwrap_or_else(|| "https-only".into()),
                    origin_ssl_protocols: c.strings("origin_ssl_protocols").unwrap_or_default(),
                    origin_read_timeout: c.u64("origin_read_timeout").unwrap_or(30),
                    origin_keepalive_timeout: c.u64("origin_keepalive_timeout").unwrap_or(5),
                };
                c.finish(&[]);
                if let Some(i) = lb {
                    if let Some(p) = self.port_maps[i].get(&cc.http_port) {
                        cc.http_port = *p;
                    }
                    if let Some(p) = self.port_maps[i].get(&cc.https_port) {
                        cc.https_port = *p;
                    }
                }
                cc
            });
            let custom_header = o
                .blocks("custom_header")
                .iter()
                .filter_map(|h| {
                    Some(CustomHeader {
                        name: h.str("name")?,
                        value: h.str("value")?,
                    })
                })
                .collect();
            origins.push(Origin {
                origin_id,
                domain_name: domain,
                origin_path: o.str("origin_path").filter(|p| !p.is_empty()),
                connection_attempts: o.u32("connection_attempts").unwrap_or(3),
                connection_timeout: o.u64("connection_timeout").unwrap_or(10),
                custom_origin_config,
                custom_header,
            });
        }
        // Origin groups: failover from the first member to the second.
        let mut origin_group = Vec::new();
        for g in rd.blocks("origin_group") {
            let Some(gid) = g.str("origin_id") else {
                continue;
            };
            let members: Vec<edgeway_config::OriginGroupMember> = g
                .blocks("member")
                .iter()
                .filter_map(|m| m.str("origin_id"))
                .map(|origin_id| edgeway_config::OriginGroupMember { origin_id })
                .collect();
            let status_codes: Vec<u16> = g
                .block("failover_criteria")
                .and_then(|f| f.value("status_codes"))
                .and_then(|v| crate::eval::list_of(&v).ok())
                .map(|l| {
                    l.iter()
                        .filter_map(|x| crate::funcs::to_f64(x).ok())
                        .map(|x| x as u16)
                        .collect()
                })
                .unwrap_or_default();
            origin_group.push(edgeway_config::OriginGroup {
                origin_id: gid,
                failover_criteria: edgeway_config::FailoverCriteria { status_codes },
                member: members,
            });
        }
        let behavior = |b: &Reader<'_>, ordered: bool| -> Option<CacheBehavior> {
            let target = b.str("target_origin_id")?;
            let cache_policy_id = self.policy_ref(b, "cache_policy_id", true);
            let origin_request_policy_id = self.policy_ref(b, "origin_request_policy_id", false);
            let forwarded_values = b.block("forwarded_values").map(|f| ForwardedValues {
                query_string: f.bool("query_string").unwrap_or(false),
                query_string_cache_keys: f.strings("query_string_cache_keys").unwrap_or_default(),
                headers: f.strings("headers").unwrap_or_default(),
                cookies: f.block("cookies").map(|c| ForwardedCookies {
                    forward: c.str("forward").unwrap_or_else(|| "none".into()),
                    whitelisted_names: c.strings("whitelisted_names").unwrap_or_default(),
                }),
            });
            let (mut min_ttl, mut default_ttl, mut max_ttl) =
                (b.u64("min_ttl"), b.u64("default_ttl"), b.u64("max_ttl"));
            if cache_policy_id.is_some() {
                for (k, v) in [
                    ("min_ttl", min_ttl),
                    ("default_ttl", default_ttl),
                    ("max_ttl", max_ttl),
                ] {
                    if v.is_some_and(|v| v > 0) {
                        b.warn(k, "CloudFront ignores behavior TTLs when a cache policy is set; the policy's TTLs apply");
                    }
                }
                (min_ttl, default_ttl, max_ttl) = (None, None, None);
            }
            let out = CacheBehavior {
                path_pattern: if ordered { b.str("path_pattern") } else { None },
                target_origin_id: target,
                viewer_protocol_policy: b
                    .str("viewer_protocol_policy")
                    .unwrap_or_else(|| "allow-all".into()),
                allowed_methods: b
                    .strings("allowed_methods")
                    .unwrap_or_else(|| vec!["GET".into(), "HEAD".into()]),
                cached_methods: b
                    .strings("cached_methods")
                    .unwrap_or_else(|| vec!["GET".into(), "HEAD".into()]),
                cache_policy_id,
                origin_request_policy_id,
                compress: b.bool("compress").unwrap_or(false),
                min_ttl,
                default_ttl,
                max_ttl,
                forwarded_values,
            };
            b.finish(&["smooth_streaming"]);
            Some(out)
        };
        let Some(default_cache_behavior) = rd
            .block("default_cache_behavior")
            .and_then(|b| behavior(&b, false))
        else {
            rd.warn(
                "default_cache_behavior",
                "a distribution needs a default_cache_behavior with target_origin_id; skipped",
            );
            return;
        };
        let ordered_cache_behavior = rd
            .blocks("ordered_cache_behavior")
            .iter()
            .filter_map(|b| behavior(b, true))
            .collect();
        let custom_error_response = rd
            .blocks("custom_error_response")
            .iter()
            .filter_map(|c| {
                Some(CustomErrorResponse {
                    error_code: c.u16("error_code")?,
                    response_code: c.u16("response_code"),
                    response_page_path: c.str("response_page_path").filter(|p| !p.is_empty()),
                    error_caching_min_ttl: c.u64("error_caching_min_ttl"),
                })
            })
            .collect();
        let viewer_certificate = rd.block("viewer_certificate").map(|v| {
            let arn = v
                .str("acm_certificate_arn")
                .map(|a| match self.ev.marker(&a) {
                    Some(m) => m.address,
                    None => a,
                });
            ViewerCertificate {
                cloudfront_default_certificate: v
                    .bool("cloudfront_default_certificate")
                    .unwrap_or(false),
                acm_certificate_arn: arn,
                minimum_protocol_version: v.str("minimum_protocol_version"),
                ssl_support_method: v.str("ssl_support_method"),
                certificate: Vec::new(),
            }
        });
        if let Some(rs) = rd.block("restrictions") {
            if let Some(g) = rs.block("geo_restriction") {
                let t = g.str("restriction_type").unwrap_or_else(|| "none".into());
                g.skip("locations");
                if t != "none" {
                    g.warn(
                        "restriction_type",
                        format!("geo restriction ({t}) is not emulated: every viewer is served"),
                    );
                }
            }
        }
        let Ok(dcb) = serde_json::to_value(&default_cache_behavior) else {
            return;
        };
        let Ok(mut d) = base::<Distribution>(
            serde_json::json!({ "id": id, "listen": listen, "default_cache_behavior": dcb }),
        ) else {
            return;
        };
        d.aliases = rd.strings("aliases").unwrap_or_default();
        d.enabled = rd.bool("enabled").unwrap_or(true);
        d.comment = rd.str("comment");
        d.default_root_object = rd.str("default_root_object").filter(|s| !s.is_empty());
        d.http_version = rd.str("http_version").unwrap_or_else(|| "http2".into());
        d.price_class = rd.str("price_class");
        d.viewer_certificate = viewer_certificate;
        d.origins = origins;
        d.ordered_cache_behavior = ordered_cache_behavior;
        d.custom_error_response = custom_error_response;
        d.origin_group = origin_group;
        if let Some((path, cookies)) = rd
            .block("logging_config")
            .and_then(|l| self.access_log(&l, &id))
        {
            d.access_log = Some(path);
            d.access_log_include_cookies = cookies;
        }
        rd.finish(&[
            "is_ipv6_enabled",
            "wait_for_deployment",
            "retain_on_delete",
            "staging",
            "continuous_deployment_policy_id",
        ]);
        self.cfg.distributions.push(d);
    }
}

/// `logs.s3.amazonaws.com` / `logs.s3.eu-west-1.amazonaws.com` / `logs` → `logs`.
fn bucket_name(b: &str) -> String {
    let b = b.trim().trim_end_matches('.');
    let b = match b.find(".s3.").or_else(|| b.find(".s3-")) {
        Some(i) if b.ends_with(".amazonaws.com") => &b[..i],
        _ => b,
    };
    b.trim_matches('/').to_string()
}

fn items(rd: &Reader<'_>, block: &str) -> Items {
    Items {
        items: rd
            .block(block)
            .and_then(|b| b.strings("items"))
            .unwrap_or_default(),
    }
}

fn headers_config(rd: &Reader<'_>) -> HeadersConfig {
    rd.block("headers_config")
        .map(|h| HeadersConfig {
            header_behavior: h.str("header_behavior").unwrap_or_else(|| "none".into()),
            headers: items(&h, "headers"),
        })
        .unwrap_or_default()
}

fn cookies_config(rd: &Reader<'_>) -> CookiesConfig {
    rd.block("cookies_config")
        .map(|h| CookiesConfig {
            cookie_behavior: h.str("cookie_behavior").unwrap_or_else(|| "none".into()),
            cookies: items(&h, "cookies"),
        })
        .unwrap_or_default()
}

fn query_strings_config(rd: &Reader<'_>) -> QueryStringsConfig {
    rd.block("query_strings_config")
        .map(|h| QueryStringsConfig {
            query_string_behavior: h
                .str("query_string_behavior")
                .unwrap_or_else(|| "none".into()),
            query_strings: items(&h, "query_strings"),
        })
        .unwrap_or_default()
}

/// A `condition` block (one kind per block; the legacy `field`/`values` form too).
fn condition(c: &Reader<'_>) -> Option<Condition> {
    let vals = |b: &Reader<'_>| b.strings("values").map(|values| Values { values });
    let mut out = Condition::default();
    if let Some(field) = c.str("field") {
        let v = vals(c)?;
        match field.as_str() {
            "path-pattern" => out.path_pattern = Some(v),
            "host-header" => out.host_header = Some(v),
            other => {
                c.warn("field", format!("condition field {other:?} is not known"));
                return None;
            }
        }
        return Some(out);
    }
    if let Some(b) = c.block("host_header") {
        out.host_header = vals(&b);
    } else if let Some(b) = c.block("path_pattern") {
        out.path_pattern = vals(&b);
    } else if let Some(b) = c.block("http_request_method") {
        out.http_request_method = vals(&b);
    } else if let Some(b) = c.block("source_ip") {
        out.source_ip = vals(&b);
    } else if let Some(b) = c.block("http_header") {
        out.http_header = Some(HttpHeaderCondition {
            http_header_name: b.str("http_header_name")?,
            values: b.strings("values")?,
        });
    } else {
        let qs = c.blocks("query_string");
        if qs.is_empty() {
            c.warn(
                "",
                "a condition edgeway does not understand; the rule is skipped",
            );
            return None;
        }
        out.query_string = qs
            .iter()
            .filter_map(|q| {
                Some(QueryStringCondition {
                    key: q.str("key"),
                    value: q.str("value")?,
                })
            })
            .collect();
    }
    Some(out)
}
