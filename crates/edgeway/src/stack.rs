//! Starting a whole node from a validated config and bound sockets: demo targets, the load
//! balancer, the DNS tier, the edge and the admin listener, each on its own sockets, and stopping
//! them all.

use crate::bind::{distribution_listens, Bound};
use crate::certs;
use crate::resolve::DnsResolve;
use edgeway_alb::AlbTier;
use edgeway_cdn::CdnTier;
use edgeway_config::{parse_socket_addr, Config};
use edgeway_http::ca::LocalCa;
use edgeway_http::metrics::Metrics;
use edgeway_http::{serve, Resolve, ServeOptions, SystemResolve};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A running node.
pub struct Stack {
    /// The config as running (ports as bound).
    pub config: Config,
    pub metrics: Metrics,
    pub alb: AlbTier,
    /// Where the local CA's certificate is, and its PEM.
    pub ca_pem: String,
    /// One line per listener: (tier, what, url).
    pub map: Vec<(String, String, String)>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Where the tiers' tasks run. By default every tier runs on the runtime that starts the stack;
/// `balancer` gives the load balancer tier (its listeners, health checks, connections to targets
/// and access log) a runtime of its own, such as a [`crate::tier_thread::TierThread`]'s.
#[derive(Clone, Default)]
pub struct Placement {
    pub balancer: Option<Handle>,
}

/// Spawns `f` into `tasks` on `rt`, or on the current runtime.
fn spawn_in<F>(tasks: &mut JoinSet<()>, rt: Option<&Handle>, f: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match rt {
        Some(h) => {
            tasks.spawn_on(f, h);
        }
        None => {
            tasks.spawn(f);
        }
    }
}

/// A future that resolves when the stack is told to stop.
fn stopped(rx: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// The addresses an alias resolves to, from the bound listeners.
fn alias_addresses(cfg: &Config) -> HashMap<String, Vec<IpAddr>> {
    let mut m: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for d in &cfg.distributions {
        let e = m.entry(format!("distribution/{}", d.id)).or_default();
        for (_, a) in distribution_listens(&d.listen) {
            if !e.contains(&a.ip()) {
                e.push(a.ip());
            }
        }
    }
    for lb in &cfg.load_balancers {
        if let Ok(ip) = lb.bind_address.parse::<IpAddr>() {
            m.insert(format!("load_balancer/{}", lb.name), vec![ip]);
        } else if lb.bind_address == "localhost" {
            m.insert(
                format!("load_balancer/{}", lb.name),
                vec![IpAddr::from([127, 0, 0, 1])],
            );
        }
    }
    m
}

/// The resolver the edge uses for origin names: `[resolver]`, else the DNS tier, else the system.
fn origin_resolver(cfg: &Config) -> Arc<dyn Resolve> {
    let mut ns: Vec<SocketAddr> = cfg
        .resolver
        .as_ref()
        .map(|r| {
            r.nameservers
                .iter()
                .filter_map(|n| parse_socket_addr(n).ok())
                .collect()
        })
        .unwrap_or_default();
    if ns.is_empty() && cfg.resolver.is_none() {
        if let Some(d) = &cfg.dns {
            ns.extend(parse_socket_addr(&d.listen).ok());
        }
    }
    if ns.is_empty() {
        Arc::new(SystemResolve)
    } else {
        Arc::new(DnsResolve::new(ns))
    }
}

impl Stack {
    /// Starts every tier `cfg` names on the sockets in `bound`, all on the current runtime.
    pub async fn start(cfg: Config, bound: Bound, ca: Arc<LocalCa>) -> Result<Stack, String> {
        Self::start_on(cfg, bound, ca, &Placement::default()).await
    }

    /// [`Stack::start`] with the tiers placed as `placement` says.
    pub async fn start_on(
        cfg: Config,
        mut bound: Bound,
        ca: Arc<LocalCa>,
        placement: &Placement,
    ) -> Result<Stack, String> {
        let alb_rt = placement.balancer.as_ref();
        let metrics = Metrics::new();
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut map = Vec::new();
        let limits = cfg.limits.clone();

        // Targets first, so the first health checks find them.
        for t in &cfg.demo_targets {
            let addr = parse_socket_addr(&t.listen)?;
            let l = bound.take(addr)?;
            let addr = l.local_addr().unwrap_or(addr);
            let target = edgeway_demo::DemoTarget::new(t.id.clone());
            let s = stopped(&stop_rx);
            tasks.spawn(async move {
                if let Err(e) = target.serve(l, s).await {
                    tracing::error!(error = %e, "demo target stopped");
                }
            });
            map.push((
                "target".into(),
                format!("demo target {}", t.id),
                format!("http://{addr}"),
            ));
        }

        // The load balancer tier (built inside its runtime, so that what it starts, such as an
        // access log writer, runs there too).
        let alb = {
            let _in = alb_rt.map(Handle::enter);
            AlbTier::new(&cfg, metrics.clone())
        };
        {
            let alb = alb.clone();
            let s = stopped(&stop_rx);
            spawn_in(&mut tasks, alb_rt, async move {
                alb.run_health_checks(s).await;
            });
        }
        for lb in &cfg.load_balancers {
            let names = certs::load_balancer_names(&cfg, lb);
            for l in &lb.listeners {
                let ip: IpAddr = if lb.bind_address == "localhost" {
                    IpAddr::from([127, 0, 0, 1])
                } else {
                    lb.bind_address
                        .parse()
                        .map_err(|_| format!("bad bind_address {}", lb.bind_address))?
                };
                let addr = SocketAddr::new(ip, l.port);
                let listener = bound.take(addr)?;
                // Port 0: the map shows the port the kernel chose.
                let shown = listener.local_addr().unwrap_or(addr);
                let handler = alb.handler(&lb.name, l.port).ok_or_else(|| {
                    format!("load balancer {} has no listener on {}", lb.name, l.port)
                })?;
                let https = l.protocol == "HTTPS";
                let mut opts = ServeOptions::new(
                    format!("alb {} {}:{}", lb.name, l.protocol, l.port),
                    &limits,
                );
                opts.h2 = lb.enable_http2 && https;
                // ALB closes a client connection that sends nothing for `idle_timeout` (408 while a
                // request head is incomplete).
                opts.header_read_timeout = Duration::from_secs(lb.idle_timeout);
                if https {
                    let configured: Vec<_> = l
                        .certificate
                        .iter()
                        .chain(l.additional_certificates.iter())
                        .collect();
                    opts.tls = Some(certs::tls_config(
                        &ca,
                        &configured,
                        &names,
                        lb.enable_http2,
                        l.ssl_policy.as_deref(),
                    )?);
                }
                let s = stopped(&stop_rx);
                match alb_rt {
                    None => {
                        tasks.spawn(serve(listener, handler, opts, s));
                    }
                    // The socket moves to the balancer's runtime: registered with that runtime's
                    // reactor, its readiness does not wait on this thread's loop.
                    Some(rt) => {
                        let listener = listener
                            .into_std()
                            .map_err(|e| format!("{addr}: cannot move the listener: {e}"))?;
                        tasks.spawn_on(
                            async move {
                                match tokio::net::TcpListener::from_std(listener) {
                                    Ok(l) => serve(l, handler, opts, s).await,
                                    Err(e) => {
                                        tracing::error!(%addr, error = %e, "load balancer listener stopped");
                                    }
                                }
                            },
                            rt,
                        );
                    }
                }
                let scheme = if https { "https" } else { "http" };
                map.push((
                    "alb".into(),
                    format!("load balancer {} ({})", lb.name, l.protocol),
                    format!("{scheme}://{shown}"),
                ));
            }
        }

        // The DNS tier, with its Route 53 health checks; evaluate_target_health asks the ALB tier.
        let alias_alb = alb.clone();
        let dns_checks = edgeway_dns::HealthChecks::new(&cfg.health_checks, metrics.clone())
            .with_alias_health(Arc::new(move |a: &edgeway_config::Alias| {
                a.load_balancer
                    .as_deref()
                    .is_none_or(|lb| alias_alb.is_healthy(lb))
            }));
        if let (Some(d), Some((udp, tcp))) = (&cfg.dns, bound.dns.take()) {
            let aliases = alias_addresses(&cfg);
            let authority = edgeway_dns::Authority::for_config(&cfg, &aliases)
                .with_health(Arc::new(dns_checks.clone()));
            let authority = Arc::new(arc_swap::ArcSwap::from_pointee(authority));
            let s = stopped(&stop_rx);
            let m = metrics.clone();
            tasks.spawn(async move { edgeway_dns::serve(udp, tcp, authority, m, s).await });
            let (checks, s) = (dns_checks.clone(), stopped(&stop_rx));
            tasks.spawn(async move { checks.run(s).await });
            map.push((
                "dns".into(),
                "DNS (UDP and TCP)".into(),
                format!("dns://{}", d.listen),
            ));
        }

        // The edge.
        let mut cdn_tier = None;
        if !cfg.distributions.is_empty() {
            let cdn = CdnTier::new(
                &cfg,
                origin_resolver(&cfg),
                vec![ca.cert_der().clone()],
                metrics.clone(),
            )?;
            cdn_tier = Some(cdn.clone());
            for d in &cfg.distributions {
                let names = certs::distribution_names(&cfg, d);
                for (https, addr) in distribution_listens(&d.listen) {
                    let listener = bound.take(addr)?;
                    // Port 0: the map shows the port the kernel chose.
                    let shown = listener.local_addr().unwrap_or(addr);
                    let handler = cdn
                        .handler(&d.id, https, addr.port())
                        .ok_or_else(|| format!("distribution {} is missing", d.id))?;
                    let scheme = if https { "https" } else { "http" };
                    let mut opts =
                        ServeOptions::new(format!("cdn {} {scheme}://{addr}", d.id), &limits);
                    let h2 = d.http_version != "http1.1";
                    opts.h2 = h2;
                    // §1.9: 20,480 bytes of request line and headers, 8,192 of URL, else 413.
                    opts.request_limits = Some(edgeway_http::prelude::RequestLimits::CLOUDFRONT);
                    if https {
                        let configured: Vec<_> = d
                            .viewer_certificate
                            .iter()
                            .flat_map(|v| v.certificate.iter())
                            .collect();
                        opts.tls = Some(certs::tls_config(&ca, &configured, &names, h2, None)?);
                    }
                    let s = stopped(&stop_rx);
                    tasks.spawn(serve(listener, handler, opts, s));
                    map.push((
                        "cdn".into(),
                        format!("distribution {}", d.id),
                        format!("{scheme}://{shown}"),
                    ));
                }
            }
        }

        // The admin listener.
        if let Some(a) = &cfg.admin {
            let addr = parse_socket_addr(&a.listen)?;
            let listener = bound.take(addr)?;
            let addr = listener.local_addr().unwrap_or(addr);
            let mut admin = edgeway_admin::Admin::new(metrics.clone());
            let view_alb = alb.clone();
            let groups: Vec<String> = cfg.target_groups.iter().map(|t| t.name.clone()).collect();
            let view_dns = dns_checks.clone();
            admin.add_view(
                "/dns/health-checks",
                "Route 53 health check statuses (GetHealthCheckStatus)",
                Arc::new(move || {
                    (
                        "application/json",
                        serde_json::to_string(&view_dns.statuses()).unwrap_or_default(),
                    )
                }),
            );
            admin.add_view(
                "/targets",
                "target health of every target group (DescribeTargetHealth)",
                Arc::new(move || {
                    let mut out = serde_json::Map::new();
                    for g in &groups {
                        let v = view_alb.target_health(g).unwrap_or_default();
                        out.insert(g.clone(), serde_json::to_value(v).unwrap_or_default());
                    }
                    (
                        "application/json",
                        serde_json::Value::Object(out).to_string(),
                    )
                }),
            );
            if let Some(cdn) = cdn_tier.clone() {
                admin.add_route(
                    "/distributions/",
                    "CloudFront invalidations (POST /distributions/ID/invalidations {\"paths\": [...]}, GET .../invalidations/INV)",
                    Arc::new(move |m, p, b| {
                        cdn.admin_api(m, p, b).map(|r| edgeway_admin::Reply { status: r.status, content_type: "application/json", body: r.body })
                    }),
                );
            }
            let api_alb = alb.clone();
            admin.add_route(
                "/target-groups",
                "target registration API (POST /target-groups/NAME/register|deregister, GET /target-groups/NAME/health)",
                Arc::new(move |m, p, b| {
                    api_alb.api(m.as_str(), p, b).map(|r| edgeway_admin::Reply { status: r.status, content_type: "application/json", body: r.body })
                }),
            );
            let s = stopped(&stop_rx);
            tasks.spawn(serve(
                listener,
                admin.handler(),
                ServeOptions::new("admin", &limits),
                s,
            ));
            map.push((
                "admin".into(),
                "admin (/metrics, /healthz, /targets, /target-groups)".into(),
                format!("http://{addr}"),
            ));
        }

        Ok(Stack {
            config: cfg,
            metrics,
            alb,
            ca_pem: ca.cert_pem().to_string(),
            map,
            stop,
            tasks,
        })
    }

    /// Stops accepting everywhere, lets in-flight requests finish (bounded) and waits for every
    /// tier to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let grace = Duration::from_secs(self.config.limits.shutdown_grace + 2);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            self.tasks.abort_all();
        }
    }
}
