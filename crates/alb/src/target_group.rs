//! A target group at run time: its targets with their health, selection state and counters.

use crate::health::{Machine, Outcome, Settings, State};
use crate::select::{pick, Algorithm};
use crate::TargetHealthDescription;
use edgeway_http::metrics::{Counter, Metrics};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One registered target.
pub struct Target {
    pub addr: SocketAddr,
    /// `ip:port` (`[v6]:port`), as DescribeTargetHealth names it.
    pub id: String,
    /// Whether the target is healthy (read lock-free on the request path).
    healthy: AtomicBool,
    machine: Mutex<Machine>,
    /// Requests sent and not yet answered in full (least outstanding requests).
    pub in_flight: Arc<AtomicUsize>,
    pub requests: Counter,
    to_healthy: Counter,
    to_unhealthy: Counter,
}

/// A target group.
pub struct TargetGroup {
    pub name: String,
    pub https: bool,
    pub algorithm: Algorithm,
    pub health: Settings,
    pub targets: Vec<Target>,
    /// Whether some listener forwards to this group (else its targets are `unused`).
    pub in_use: bool,
    ticket: AtomicUsize,
}

/// Parses `ip:port`, or `ip` with the group's port.
pub fn parse_target(s: &str, port: Option<u16>) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, port?))
}

impl TargetGroup {
    pub fn from_config(tg: &edgeway_config::TargetGroup, in_use: bool, metrics: &Metrics) -> Self {
        let health = Settings::from_config(&tg.health_check);
        let targets = tg
            .targets
            .iter()
            .filter_map(|t| {
                let addr = parse_target(t, tg.port);
                if addr.is_none() {
                    tracing::warn!(target_group = %tg.name, target = %t, "target is not an ip:port; skipped");
                }
                addr
            })
            .map(|addr| {
                let id = addr.to_string();
                let machine = Machine::new(&health);
                let transitions = |to: &str| {
                    metrics.counter(
                        "edgeway_alb_health_transitions_total",
                        "Target health state changes.",
                        &[("target_group", &tg.name), ("target", &id), ("to", to)],
                    )
                };
                Target {
                    addr,
                    healthy: AtomicBool::new(machine.state() == State::Healthy),
                    machine: Mutex::new(machine),
                    in_flight: Arc::new(AtomicUsize::new(0)),
                    requests: metrics.counter(
                        "edgeway_alb_target_requests_total",
                        "Requests forwarded to a target.",
                        &[("target_group", &tg.name), ("target", &id)],
                    ),
                    to_healthy: transitions("healthy"),
                    to_unhealthy: transitions("unhealthy"),
                    id,
                }
            })
            .collect();
        Self {
            name: tg.name.clone(),
            https: tg.protocol == "HTTPS",
            algorithm: Algorithm::from_config(&tg.load_balancing_algorithm_type),
            health,
            targets,
            in_use,
            ticket: AtomicUsize::new(0),
        }
    }

    /// The target for the next request (None when no target is registered).
    pub fn select(&self) -> Option<&Target> {
        let ticket = match self.algorithm {
            Algorithm::WeightedRandom => rand::random::<u32>() as usize,
            _ => self.ticket.fetch_add(1, Ordering::Relaxed),
        };
        let t = &self.targets;
        let i = pick(
            self.algorithm,
            t.len(),
            |i| t[i].healthy.load(Ordering::Relaxed),
            |i| t[i].in_flight.load(Ordering::Relaxed),
            ticket,
        )?;
        t.get(i)
    }

    /// Records a check outcome for target `i`; returns the new state when it changed.
    pub fn record(&self, i: usize, outcome: Outcome) -> Option<State> {
        let t = self.targets.get(i)?;
        let mut m = t.machine.lock().unwrap_or_else(|e| e.into_inner());
        let changed = m.observe(outcome)?;
        t.healthy.store(changed == State::Healthy, Ordering::Relaxed);
        match changed {
            State::Healthy => t.to_healthy.inc(),
            State::Unhealthy => t.to_unhealthy.inc(),
            _ => {}
        }
        tracing::info!(target_group = %self.name, target = %t.id, to = changed.as_str(), "target health changed");
        Some(changed)
    }

    fn state(&self, t: &Target) -> (State, Option<&'static str>, Option<String>) {
        let m = t.machine.lock().unwrap_or_else(|e| e.into_inner());
        (m.state(), m.reason(), m.description())
    }

    /// Whether the checker should check this group's targets.
    pub fn checks_enabled(&self) -> bool {
        self.health.enabled && self.in_use
    }

    /// DescribeTargetHealth.
    pub fn describe(&self) -> Vec<TargetHealthDescription> {
        self.targets
            .iter()
            .map(|t| {
                if !self.in_use {
                    return TargetHealthDescription {
                        target: t.id.clone(),
                        state: "unused".into(),
                        reason: Some("Target.NotInUse".into()),
                        description: Some("Target group is not configured to receive traffic from the load balancer".into()),
                    };
                }
                let (state, reason, description) = self.state(t);
                TargetHealthDescription { target: t.id.clone(), state: state.as_str().into(), reason: reason.map(Into::into), description }
            })
            .collect()
    }

    /// Whether the group counts as healthy for DNS: it has a healthy target, or checks are off.
    pub fn has_healthy_target(&self) -> bool {
        !self.health.enabled || self.targets.iter().any(|t| t.healthy.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let cases = [
            ("10.0.0.1:8080", None, Some("10.0.0.1:8080")),
            ("10.0.0.1", Some(80), Some("10.0.0.1:80")),
            ("10.0.0.1", None, None),
            ("[::1]:81", None, Some("[::1]:81")),
            ("::1", Some(82), Some("[::1]:82")),
            ("name:80", None, None),
        ];
        for (s, port, want) in cases {
            assert_eq!(parse_target(s, port).map(|a| a.to_string()).as_deref(), want, "{s}");
        }
    }
}
