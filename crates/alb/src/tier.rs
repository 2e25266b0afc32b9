//! The ALB tier: every load balancer, listener and target group of a config, built once.

use crate::action::{Action, Fixed, Forward, Redirect};
use crate::condition::Condition;
use crate::health_check::Checker;
use crate::listener::{Listener, ListenerHandler};
use crate::load_balancer::LoadBalancer;
use crate::rules::{Rule, RuleSet};
use crate::target_group::TargetGroup;
use crate::TargetHealthDescription;
use edgeway_http::metrics::Metrics;
use edgeway_http::Handler;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

/// The ALB tier (cheap to clone).
#[derive(Clone)]
pub struct AlbTier(Arc<Inner>);

struct Inner {
    listeners: HashMap<(String, u16), Arc<ListenerHandler>>,
    groups: BTreeMap<String, Arc<TargetGroup>>,
    /// The target groups each load balancer forwards to.
    lb_groups: HashMap<String, Vec<Arc<TargetGroup>>>,
    checker: Option<Checker>,
}

impl AlbTier {
    /// Builds every load balancer, listener rule set and target group of a validated config.
    pub fn new(cfg: &edgeway_config::Config, metrics: Metrics) -> Self {
        let tls = match edgeway_http::tls::insecure_client_config() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot set up TLS to targets; the ALB tier answers 500");
                None
            }
        };
        let in_use: HashSet<&str> = cfg
            .load_balancers
            .iter()
            .flat_map(|lb| &lb.listeners)
            .flat_map(|l| {
                std::iter::once(&l.default_action).chain(l.rules.iter().map(|r| &r.action))
            })
            .flat_map(|a| a.target_groups())
            .map(|(name, _)| name)
            .collect();
        let groups: BTreeMap<String, Arc<TargetGroup>> = cfg
            .target_groups
            .iter()
            .enumerate()
            .map(|(i, tg)| {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                (
                    tg.name.clone(),
                    Arc::new(TargetGroup::from_config(
                        tg,
                        index,
                        in_use.contains(tg.name.as_str()),
                        &metrics,
                    )),
                )
            })
            .collect();
        let mut listeners = HashMap::new();
        let mut lb_groups: HashMap<String, Vec<Arc<TargetGroup>>> = HashMap::new();
        for lbc in &cfg.load_balancers {
            let lb = Arc::new(LoadBalancer::from_config(lbc, tls.clone(), &metrics));
            let used = lb_groups.entry(lbc.name.clone()).or_default();
            for l in &lbc.listeners {
                let port = l.port.to_string();
                let mut compile = |priority: u32,
                                   conditions: &[edgeway_config::Condition],
                                   a: &edgeway_config::Action| {
                    Rule {
                    priority,
                    conditions: conditions.iter().map(Condition::compile).collect(),
                    action: compile_action(a, &groups, used),
                    matches: metrics.counter(
                        "edgeway_alb_rule_matches_total",
                        "Requests that matched a listener rule (priority 0: the default action).",
                        &[("lb", &lbc.name), ("listener", &port), ("priority", &priority.to_string())],
                    ),
                }
                };
                let rules: Vec<Rule> = l
                    .rules
                    .iter()
                    .map(|r| compile(r.priority, &r.condition, &r.action))
                    .collect();
                let default = compile(0, &[], &l.default_action);
                let listener =
                    Listener::new(lb.clone(), l.port, RuleSet::new(rules, default), &metrics);
                listeners.insert(
                    (lbc.name.clone(), l.port),
                    Arc::new(ListenerHandler(Arc::new(listener))),
                );
            }
        }
        Self(Arc::new(Inner {
            listeners,
            groups,
            lb_groups,
            checker: tls.map(Checker::new),
        }))
    }

    /// The handler for listener `port` of load balancer `lb` (None if it does not exist).
    pub fn handler(&self, lb: &str, port: u16) -> Option<Arc<dyn Handler>> {
        self.0
            .listeners
            .get(&(lb.to_string(), port))
            .map(|h| h.clone() as Arc<dyn Handler>)
    }

    /// Runs every target group's health checks until `shutdown` resolves: each target is checked
    /// at once, then every `interval`; targets registered later get their own loop.
    pub async fn run_health_checks(&self, shutdown: impl Future<Output = ()> + Send) {
        let mut loops = Vec::new();
        if let Some(checker) = &self.0.checker {
            for g in self.0.groups.values().filter(|g| g.checks_enabled()) {
                let (checker, g) = (checker.clone(), g.clone());
                loops.push(async move { checker.supervise(g).await });
            }
        }
        let all = async {
            futures_util::future::join_all(loops).await;
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = shutdown => {}
            _ = all => {}
        }
    }

    /// Checks every target once, now (tests, and an admin "check now").
    pub async fn check_now(&self) {
        let Some(checker) = &self.0.checker else {
            return;
        };
        let groups = self
            .0
            .groups
            .values()
            .filter(|g| g.checks_enabled())
            .map(|g| checker.check_group(g));
        futures_util::future::join_all(groups).await;
    }

    /// DescribeTargetHealth for a target group.
    pub fn target_health(&self, target_group: &str) -> Option<Vec<TargetHealthDescription>> {
        self.0.groups.get(target_group).map(|g| g.describe())
    }

    /// Whether each target group `lb` forwards to that has targets has a healthy target.
    pub fn is_healthy(&self, lb: &str) -> bool {
        match self.0.lb_groups.get(lb) {
            Some(groups) => groups
                .iter()
                .filter(|g| !g.live_targets().is_empty())
                .all(|g| g.has_healthy_target()),
            None => false,
        }
    }

    /// A target group by name (the registration API).
    pub fn target_group(&self, name: &str) -> Option<Arc<TargetGroup>> {
        self.0.groups.get(name).cloned()
    }

    /// The names of every target group.
    pub fn target_group_names(&self) -> Vec<String> {
        self.0.groups.keys().cloned().collect()
    }
}

fn compile_action(
    a: &edgeway_config::Action,
    groups: &BTreeMap<String, Arc<TargetGroup>>,
    used: &mut Vec<Arc<TargetGroup>>,
) -> Action {
    match a.kind.as_str() {
        "redirect" => {
            if let Some(r) = &a.redirect {
                return Action::Redirect(Redirect::compile(r));
            }
        }
        "fixed-response" => {
            if let Some(f) = &a.fixed_response {
                return Action::Fixed(Fixed::compile(f));
            }
        }
        _ => {}
    }
    let weighted: Vec<(Arc<TargetGroup>, u32)> = a
        .target_groups()
        .into_iter()
        .filter_map(|(name, w)| groups.get(name).map(|g| (g.clone(), w)))
        .collect();
    for (g, _) in &weighted {
        if !used.iter().any(|u| Arc::ptr_eq(u, g)) {
            used.push(g.clone());
        }
    }
    let stickiness = a
        .forward
        .as_ref()
        .and_then(|f| f.stickiness.as_ref())
        .filter(|s| s.enabled)
        .map(|s| std::time::Duration::from_secs(s.duration.max(1)));
    Action::Forward(Forward::new(weighted, stickiness))
}
