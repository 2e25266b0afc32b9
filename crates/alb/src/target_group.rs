//! A target group at run time: its registered targets (from the config and the registration
//! API), their health and lifecycle (`initial` → `healthy`/`unhealthy` → `draining` → gone),
//! selection (health, fail-open, slow start, stickiness) and counters.

use crate::counters::Stats;
use crate::health::{Machine, Outcome, Settings, State};
use crate::select::{pick, pick_weighted_share, ramp, Algorithm, MinHealthy};
use crate::TargetHealthDescription;
use edgeway_http::metrics::Metrics;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// One registered target.
pub struct Target {
    pub addr: SocketAddr,
    /// `addr` as a URI authority, parsed once (None when it does not parse).
    pub authority: Option<http::uri::Authority>,
    /// `ip:port` (`[v6]:port`), as DescribeTargetHealth names it.
    pub id: String,
    /// Whether the target is healthy (read lock-free on the request path).
    healthy: AtomicBool,
    machine: Mutex<Machine>,
    /// Requests sent and not yet answered in full (least outstanding requests).
    pub in_flight: Arc<AtomicUsize>,
    /// Deregistered: no new requests; in-flight ones run until the deadline.
    draining: AtomicBool,
    /// Turns true at the end of the deregistration delay: in-flight requests are cut.
    cut: watch::Sender<bool>,
    /// When the slow-start ramp began (None: full share).
    ramp_from: Mutex<Option<Instant>>,
    /// Whether the next move to healthy starts a slow-start ramp.
    ramp_next: AtomicBool,
    /// A health-check loop runs for this target.
    pub(crate) checked: AtomicBool,
    pub stats: Stats,
}

impl Target {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Resolves when the deregistration delay ends (never, while registered).
    pub fn cut_signal(&self) -> watch::Receiver<bool> {
        self.cut.subscribe()
    }

    /// The target's share now (1.0 outside slow start).
    pub fn share(&self, now: Instant, window: Duration) -> f64 {
        let from = *self.ramp_from.lock().unwrap_or_else(|e| e.into_inner());
        match from {
            Some(t) if !window.is_zero() => ramp(now.saturating_duration_since(t), window),
            _ => 1.0,
        }
    }
}

/// `stickiness {}` of a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stickiness {
    /// `lb_cookie`: `AWSALB`.
    LbCookie { duration: Duration },
    /// `app_cookie`: `AWSALBAPP-0` follows the application's cookie.
    AppCookie { name: String, duration: Duration },
}

/// `protocol_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    Http1,
    Http2,
    Grpc,
}

/// Why a registration API call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// The target has no port and the group none either.
    NoPort(String),
}

/// A target group.
pub struct TargetGroup {
    pub name: String,
    /// What the access log shows as `target_group_arn`.
    pub arn: String,
    /// Its place in the config (what sticky cookies name).
    pub index: u32,
    pub https: bool,
    pub algorithm: Algorithm,
    pub health: Settings,
    pub port: Option<u16>,
    targets: RwLock<Arc<Vec<Arc<Target>>>>,
    /// Whether some listener forwards to this group (else its targets are `unused`).
    pub in_use: bool,
    pub deregistration_delay: Duration,
    pub slow_start: Duration,
    pub stickiness: Option<Stickiness>,
    pub protocol_version: ProtocolVersion,
    pub min_healthy: MinHealthy,
    pub stats: Stats,
    /// Wakes the health-check supervisor when targets are registered.
    pub(crate) changed: Notify,
    metrics: Metrics,
    ticket: AtomicUsize,
}

/// Parses `ip:port`, or `ip` with the group's port.
pub fn parse_target(s: &str, port: Option<u16>) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()?;
    Some(SocketAddr::new(ip, port?))
}

impl TargetGroup {
    pub fn from_config(
        tg: &edgeway_config::TargetGroup,
        index: u32,
        in_use: bool,
        metrics: &Metrics,
    ) -> Self {
        let health = Settings::from_config(&tg.health_check);
        let stickiness = tg.stickiness.as_ref().filter(|s| s.enabled).map(|s| {
            let duration = Duration::from_secs(s.cookie_duration.max(1));
            match (s.kind.as_str(), &s.cookie_name) {
                ("app_cookie", Some(name)) => Stickiness::AppCookie {
                    name: name.clone(),
                    duration,
                },
                _ => Stickiness::LbCookie { duration },
            }
        });
        let routing = tg
            .target_group_health
            .as_ref()
            .and_then(|h| h.unhealthy_state_routing.as_ref());
        let min_healthy = MinHealthy {
            count: routing.map_or(1, |r| r.minimum_healthy_targets_count as usize),
            percent: routing.and_then(|r| r.minimum_healthy_targets_percentage.parse().ok()),
        };
        let g = Self {
            name: tg.name.clone(),
            arn: crate::load_balancer::target_group_arn(&tg.name),
            index,
            https: tg.protocol == "HTTPS",
            algorithm: Algorithm::from_config(&tg.load_balancing_algorithm_type),
            health,
            port: tg.port,
            targets: RwLock::new(Arc::new(Vec::new())),
            in_use,
            deregistration_delay: Duration::from_secs(tg.deregistration_delay),
            slow_start: Duration::from_secs(tg.slow_start),
            stickiness,
            protocol_version: match tg.protocol_version.as_str() {
                "HTTP2" => ProtocolVersion::Http2,
                "GRPC" => ProtocolVersion::Grpc,
                _ => ProtocolVersion::Http1,
            },
            min_healthy,
            stats: Stats::new(metrics, &tg.name, None),
            changed: Notify::new(),
            metrics: metrics.clone(),
            ticket: AtomicUsize::new(0),
        };
        for t in &tg.targets {
            match parse_target(t, tg.port) {
                // Targets in the config are the group's first batch: no slow start for them.
                Some(addr) => g.add(addr, false),
                None => {
                    tracing::warn!(target_group = %tg.name, target = %t, "target is not an ip:port; skipped")
                }
            }
        }
        g
    }

    /// Every registered target, draining ones included (a snapshot).
    pub fn targets(&self) -> Arc<Vec<Arc<Target>>> {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registered targets that take new requests.
    pub fn live_targets(&self) -> Vec<Arc<Target>> {
        self.targets()
            .iter()
            .filter(|t| !t.is_draining())
            .cloned()
            .collect()
    }

    fn add(&self, addr: SocketAddr, ramp_next: bool) {
        let id = addr.to_string();
        let machine = Machine::new(&self.health);
        let (cut, _) = watch::channel(false);
        let t = Arc::new(Target {
            addr,
            authority: id.parse().ok(),
            healthy: AtomicBool::new(machine.state() == State::Healthy),
            machine: Mutex::new(machine),
            in_flight: Arc::new(AtomicUsize::new(0)),
            draining: AtomicBool::new(false),
            cut,
            ramp_from: Mutex::new(None),
            ramp_next: AtomicBool::new(ramp_next && !self.slow_start.is_zero()),
            checked: AtomicBool::new(false),
            stats: Stats::new(&self.metrics, &self.name, Some(&id)),
            id,
        });
        let mut w = self.targets.write().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<Arc<Target>> = w.iter().filter(|o| o.addr != addr).cloned().collect();
        list.push(t);
        *w = Arc::new(list);
        drop(w);
        self.changed.notify_one();
    }

    /// RegisterTargets: each new target starts `initial` and gets traffic once a health check
    /// passes. Registering a registered target does nothing; a draining one registers anew.
    pub fn register(&self, targets: &[(IpAddr, Option<u16>)]) -> Result<(), RegisterError> {
        let addrs = self.resolve(targets)?;
        for addr in addrs {
            let existing = self.targets().iter().find(|t| t.addr == addr).cloned();
            if existing.as_ref().is_some_and(|t| !t.is_draining()) {
                continue;
            }
            if let Some(old) = existing {
                old.cut.send_replace(true);
            }
            // Slow start applies unless the group was empty (its first batch).
            let had_targets = self.targets().iter().any(|t| !t.is_draining());
            self.add(addr, had_targets);
        }
        Ok(())
    }

    /// DeregisterTargets: each target drains for `deregistration_delay`, then is removed; requests
    /// still in flight then are cut. Unknown targets are ignored, as AWS does.
    pub fn deregister(
        self: &Arc<Self>,
        targets: &[(IpAddr, Option<u16>)],
    ) -> Result<(), RegisterError> {
        let addrs = self.resolve(targets)?;
        for addr in addrs {
            let Some(t) = self
                .targets()
                .iter()
                .find(|t| t.addr == addr && !t.is_draining())
                .cloned()
            else {
                continue;
            };
            t.draining.store(true, Ordering::Relaxed);
            tracing::info!(target_group = %self.name, target = %t.id, delay = ?self.deregistration_delay, "target draining");
            let (g, delay) = (self.clone(), self.deregistration_delay);
            match tokio::runtime::Handle::try_current() {
                Ok(rt) if !delay.is_zero() => {
                    rt.spawn(async move {
                        tokio::time::sleep(delay).await;
                        g.remove(&t);
                    });
                }
                _ => g.remove(&t),
            }
        }
        Ok(())
    }

    /// Ends a drain: cuts what is still in flight and forgets the target.
    fn remove(&self, t: &Arc<Target>) {
        t.cut.send_replace(true);
        let mut w = self.targets.write().unwrap_or_else(|e| e.into_inner());
        let list: Vec<Arc<Target>> = w.iter().filter(|o| !Arc::ptr_eq(o, t)).cloned().collect();
        *w = Arc::new(list);
        tracing::info!(target_group = %self.name, target = %t.id, "target deregistered");
    }

    fn resolve(&self, targets: &[(IpAddr, Option<u16>)]) -> Result<Vec<SocketAddr>, RegisterError> {
        targets
            .iter()
            .map(|(ip, port)| match port.or(self.port) {
                Some(p) => Ok(SocketAddr::new(*ip, p)),
                None => Err(RegisterError::NoPort(ip.to_string())),
            })
            .collect()
    }

    /// The target for the next request, and whether it is the pinned one (stickiness). A pin
    /// holds while its target is registered, not draining and healthy (or the group fails open).
    /// None when no target is registered.
    pub fn select(&self, pinned: Option<SocketAddr>) -> Option<(Arc<Target>, bool)> {
        let all = self.targets();
        // Usually no target is draining: then the snapshot is the live list, no copy.
        let filtered: Vec<Arc<Target>>;
        let live: &[Arc<Target>] = if all.iter().any(|t| t.is_draining()) {
            filtered = all.iter().filter(|t| !t.is_draining()).cloned().collect();
            &filtered
        } else {
            &all
        };
        let n = live.len();
        if n == 0 {
            return None;
        }
        let healthy_count = live.iter().filter(|t| t.is_healthy()).count();
        let fail_open = self.min_healthy.fails_open(healthy_count, n);
        let eligible = |i: usize| fail_open || live[i].is_healthy();
        if let Some(pin) = pinned {
            if let Some(i) = (0..n).find(|&i| live[i].addr == pin && eligible(i)) {
                return live.get(i).map(|t| (t.clone(), true));
            }
        }
        // Shares only matter while some target ramps up, which needs slow start and an
        // algorithm other than least outstanding requests (without slow start every share is 1).
        let shares: Option<Vec<f64>> =
            if self.slow_start.is_zero() || self.algorithm == Algorithm::LeastOutstandingRequests {
                None
            } else {
                let now = Instant::now();
                let shares: Vec<f64> = (0..n)
                    .map(|i| {
                        if eligible(i) {
                            live[i].share(now, self.slow_start)
                        } else {
                            0.0
                        }
                    })
                    .collect();
                shares
                    .iter()
                    .any(|s| *s > 0.0 && *s < 1.0)
                    .then_some(shares)
            };
        let i = if let Some(shares) = shares {
            pick_weighted_share(n, |i| shares[i], rand::random::<f64>())
        } else {
            let ticket = match self.algorithm {
                Algorithm::WeightedRandom => rand::random::<u32>() as usize,
                _ => self.ticket.fetch_add(1, Ordering::Relaxed),
            };
            pick(
                self.algorithm,
                n,
                eligible,
                |i| live[i].in_flight.load(Ordering::Relaxed),
                ticket,
            )
        }?;
        live.get(i).map(|t| (t.clone(), false))
    }

    /// Whether a target other than `not` is registered and not draining: only then can
    /// [`select_other`](Self::select_other) find one for a retry.
    pub fn has_other(&self, not: SocketAddr) -> bool {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|t| t.addr != not && !t.is_draining())
    }

    /// Another target than `not` that may take a request now (a retry after a refused connection).
    pub fn select_other(&self, not: SocketAddr) -> Option<Arc<Target>> {
        let live = self.live_targets();
        let healthy_count = live.iter().filter(|t| t.is_healthy()).count();
        let fail_open = self.min_healthy.fails_open(healthy_count, live.len());
        let others: Vec<&Arc<Target>> = live
            .iter()
            .filter(|t| t.addr != not && (fail_open || t.is_healthy()))
            .collect();
        if others.is_empty() {
            return None;
        }
        let i = self.ticket.fetch_add(1, Ordering::Relaxed) % others.len();
        others.get(i).map(|t| (*t).clone())
    }

    /// Records a check outcome for a target; returns the new state when it changed.
    pub fn record(&self, t: &Target, outcome: Outcome) -> Option<State> {
        if t.is_draining() {
            return None;
        }
        let mut m = t.machine.lock().unwrap_or_else(|e| e.into_inner());
        let changed = m.observe(outcome)?;
        drop(m);
        t.healthy
            .store(changed == State::Healthy, Ordering::Relaxed);
        match changed {
            State::Healthy => {
                crate::counters::both(&t.stats, &self.stats, |s| s.to_healthy.inc());
                let ramp = t.ramp_next.swap(false, Ordering::Relaxed) && !self.slow_start.is_zero();
                *t.ramp_from.lock().unwrap_or_else(|e| e.into_inner()) = ramp.then(Instant::now);
            }
            State::Unhealthy => {
                crate::counters::both(&t.stats, &self.stats, |s| s.to_unhealthy.inc());
                // A target that recovers slow-starts again.
                t.ramp_next
                    .store(!self.slow_start.is_zero(), Ordering::Relaxed);
                *t.ramp_from.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            _ => {}
        }
        tracing::info!(target_group = %self.name, target = %t.id, to = changed.as_str(), "target health changed");
        Some(changed)
    }

    /// Whether the checker should check this group's targets.
    pub fn checks_enabled(&self) -> bool {
        self.health.enabled && self.in_use
    }

    /// DescribeTargetHealth.
    pub fn describe(&self) -> Vec<TargetHealthDescription> {
        self.targets()
            .iter()
            .map(|t| {
                let row = |state: &str, reason: Option<&str>, description: Option<String>| TargetHealthDescription {
                    target: t.id.clone(),
                    id: t.addr.ip().to_string(),
                    port: t.addr.port(),
                    state: state.into(),
                    reason: reason.map(Into::into),
                    description,
                };
                if t.is_draining() {
                    return row("draining", Some("Target.DeregistrationInProgress"), Some("Target deregistration is in progress".into()));
                }
                if !self.in_use {
                    return row(
                        "unused",
                        Some("Target.NotInUse"),
                        Some("Target group is not configured to receive traffic from the load balancer".into()),
                    );
                }
                let m = t.machine.lock().unwrap_or_else(|e| e.into_inner());
                row(m.state().as_str(), m.reason(), m.description())
            })
            .collect()
    }

    /// Whether the group counts as healthy for DNS: it has a healthy target, or checks are off.
    pub fn has_healthy_target(&self) -> bool {
        !self.health.enabled || self.live_targets().iter().any(|t| t.is_healthy())
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
            assert_eq!(
                parse_target(s, port).map(|a| a.to_string()).as_deref(),
                want,
                "{s}"
            );
        }
    }

    fn group(extra: &str) -> Arc<TargetGroup> {
        let toml = format!("[[target_group]]\nname = \"g\"\nport = 80\ntargets = [\"10.0.0.1\", \"10.0.0.2\"]\n{extra}");
        let cfg = edgeway_config::parse("t.toml", &toml).unwrap();
        Arc::new(TargetGroup::from_config(
            &cfg.target_groups[0],
            0,
            true,
            &Metrics::new(),
        ))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn states(g: &TargetGroup) -> Vec<(String, String)> {
        g.describe()
            .into_iter()
            .map(|d| (d.target, d.state))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn register_and_drain() {
        let g = group("deregistration_delay = 30");
        g.register(&[(ip("10.0.0.3"), None), (ip("10.0.0.1"), Some(80))])
            .unwrap();
        assert_eq!(g.targets().len(), 3);
        assert_eq!(states(&g)[2], ("10.0.0.3:80".into(), "initial".into()));
        g.deregister(&[(ip("10.0.0.3"), Some(80)), (ip("10.9.9.9"), None)])
            .unwrap();
        let d = g.describe();
        assert_eq!(
            (d[2].state.as_str(), d[2].reason.as_deref()),
            ("draining", Some("Target.DeregistrationInProgress"))
        );
        let cut = g.targets()[2].cut_signal();
        for _ in 0..20 {
            let (t, _) = g.select(None).unwrap();
            assert_ne!(t.addr.to_string(), "10.0.0.3:80");
        }
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert_eq!(g.targets().len(), 3);
        assert!(!*cut.borrow());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(g.targets().len(), 2);
        assert!(*cut.borrow());
    }

    #[tokio::test]
    async fn no_port_is_an_error() {
        let toml = "[[target_group]]\nname = \"g\"\n";
        let cfg = edgeway_config::parse("t.toml", toml).unwrap();
        let g = Arc::new(TargetGroup::from_config(
            &cfg.target_groups[0],
            0,
            true,
            &Metrics::new(),
        ));
        assert_eq!(
            g.register(&[(ip("10.0.0.1"), None)]),
            Err(RegisterError::NoPort("10.0.0.1".into()))
        );
        g.deregister(&[(ip("10.0.0.1"), Some(1))]).unwrap();
    }

    #[tokio::test]
    async fn pins_hold_while_eligible() {
        let g = group("");
        let a: SocketAddr = "10.0.0.2:80".parse().unwrap();
        // All initial: the group fails open, so the pin holds.
        assert_eq!(g.select(Some(a)).map(|(t, s)| (t.addr, s)), Some((a, true)));
        // One healthy: a pin to the other re-picks.
        let first = g.targets()[0].clone();
        g.record(&first, Outcome::Pass);
        assert_eq!(
            g.select(Some(a)).map(|(t, s)| (t.addr.to_string(), s)),
            Some(("10.0.0.1:80".into(), false))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_ramps_registered_targets_only() {
        let g = group("slow_start = 100");
        for t in g.targets().iter() {
            g.record(t, Outcome::Pass);
        }
        let now = Instant::now();
        assert!(
            g.targets()
                .iter()
                .all(|t| t.share(now, g.slow_start) == 1.0),
            "the first batch does not slow-start"
        );
        g.register(&[(ip("10.0.0.3"), None)]).unwrap();
        let new = g.targets()[2].clone();
        g.record(&new, Outcome::Pass);
        tokio::time::sleep(Duration::from_secs(50)).await;
        assert!((new.share(Instant::now(), g.slow_start) - 0.5).abs() < 1e-6);
        let n = 10_000;
        let to_new = (0..n)
            .filter(|_| g.select(None).is_some_and(|(t, _)| Arc::ptr_eq(&t, &new)))
            .count();
        let share = to_new as f64 / f64::from(n);
        assert!(
            (share - 0.2).abs() < 0.02,
            "half-way through the ramp: 0.5 / (1 + 1 + 0.5) = 20%, got {share}"
        );
        tokio::time::sleep(Duration::from_secs(50)).await;
        assert_eq!(new.share(Instant::now(), g.slow_start), 1.0);
        let to_new = (0..3000)
            .filter(|_| g.select(None).is_some_and(|(t, _)| Arc::ptr_eq(&t, &new)))
            .count();
        assert_eq!(to_new, 1000, "after the window: plain round robin");
    }
}
