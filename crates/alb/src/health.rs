//! Target health: the settings of a target group's health check and the per-target state
//! machine (pure: fed check outcomes, it answers with transitions).

use std::time::Duration;

/// DescribeTargetHealth states edgeway produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Initial,
    Healthy,
    Unhealthy,
    /// Health checks are disabled: every target gets traffic.
    Unavailable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The target answered with a code outside the matcher.
    ResponseCodeMismatch(u16),
    /// No answer within the check's timeout.
    Timeout,
    /// Connection refused, reset or malformed answer.
    Failed,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(Failure),
}

/// A target group's `health_check`, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    pub path: String,
    /// None: the traffic port.
    pub port: Option<u16>,
    pub https: bool,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: Vec<(u16, u16)>,
}

impl Settings {
    pub fn from_config(h: &edgeway_config::HealthCheck) -> Self {
        Self {
            enabled: h.enabled,
            path: h.path.clone(),
            port: h.port.parse().ok(),
            https: h.protocol == "HTTPS",
            interval: Duration::from_secs(h.interval.max(1)),
            timeout: Duration::from_secs(h.timeout.max(1)),
            healthy_threshold: h.healthy_threshold.max(1),
            unhealthy_threshold: h.unhealthy_threshold.max(1),
            matcher: edgeway_config::parse_matcher(&h.matcher).unwrap_or_else(|_| vec![(200, 200)]),
        }
    }

    /// Whether a response code counts as healthy.
    pub fn code_matches(&self, code: u16) -> bool {
        self.matcher
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }
}

/// One target's health as DescribeTargetHealth shows it.
#[derive(Debug, Clone)]
pub struct Machine {
    state: State,
    last_failure: Option<Failure>,
    passes: u32,
    failures: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl Machine {
    /// A newly registered target: `initial`, or `unavailable` when checks are disabled.
    pub fn new(s: &Settings) -> Self {
        Self {
            state: if s.enabled {
                State::Initial
            } else {
                State::Unavailable
            },
            last_failure: None,
            passes: 0,
            failures: 0,
            healthy_threshold: s.healthy_threshold,
            unhealthy_threshold: s.unhealthy_threshold,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Feeds one check outcome; returns the new state when it changed.
    pub fn observe(&mut self, o: Outcome) -> Option<State> {
        let before = self.state;
        match o {
            Outcome::Pass => {
                self.failures = 0;
                self.passes = self.passes.saturating_add(1);
                let needed = if self.state == State::Unhealthy {
                    self.healthy_threshold
                } else {
                    1
                };
                if matches!(self.state, State::Initial | State::Unhealthy) && self.passes >= needed
                {
                    self.state = State::Healthy;
                    self.last_failure = None;
                }
            }
            Outcome::Fail(f) => {
                self.passes = 0;
                self.failures = self.failures.saturating_add(1);
                self.last_failure = Some(f);
                if matches!(self.state, State::Initial | State::Healthy)
                    && self.failures >= self.unhealthy_threshold
                {
                    self.state = State::Unhealthy;
                }
            }
        }
        if self.state == State::Unavailable {
            self.state = before;
        }
        (self.state != before).then_some(self.state)
    }

    /// AWS's reason code for the current state.
    pub fn reason(&self) -> Option<&'static str> {
        match self.state {
            State::Initial => Some("Elb.InitialHealthChecking"),
            State::Healthy => None,
            State::Unavailable => Some("Target.HealthCheckDisabled"),
            State::Unhealthy => Some(match self.last_failure {
                Some(Failure::ResponseCodeMismatch(_)) => "Target.ResponseCodeMismatch",
                Some(Failure::Timeout) => "Target.Timeout",
                _ => "Target.FailedHealthChecks",
            }),
        }
    }

    /// AWS's description for the current state.
    pub fn description(&self) -> Option<String> {
        match self.state {
            State::Initial => Some("Target registration is in progress".into()),
            State::Healthy => None,
            State::Unavailable => Some("Health checks disabled".into()),
            State::Unhealthy => Some(match self.last_failure {
                Some(Failure::ResponseCodeMismatch(c)) => {
                    format!("Health checks failed with these codes: [{c}]")
                }
                Some(Failure::Timeout) => "Request timed out".into(),
                _ => "Health checks failed".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(enabled: bool, healthy: u32, unhealthy: u32) -> Settings {
        let mut s = Settings::from_config(&edgeway_config::HealthCheck::default());
        s.enabled = enabled;
        s.healthy_threshold = healthy;
        s.unhealthy_threshold = unhealthy;
        s
    }

    const P: Outcome = Outcome::Pass;
    fn mismatch() -> Outcome {
        Outcome::Fail(Failure::ResponseCodeMismatch(500))
    }
    fn timeout() -> Outcome {
        Outcome::Fail(Failure::Timeout)
    }
    fn failed() -> Outcome {
        Outcome::Fail(Failure::Failed)
    }

    #[test]
    fn table() {
        use State::*;
        // (name, healthy_threshold, unhealthy_threshold, outcomes, final state, reason)
        let cases: Vec<(&str, u32, u32, Vec<Outcome>, State, Option<&str>)> = vec![
            (
                "new target",
                3,
                2,
                vec![],
                Initial,
                Some("Elb.InitialHealthChecking"),
            ),
            (
                "one pass makes a new target healthy",
                5,
                2,
                vec![P],
                Healthy,
                None,
            ),
            (
                "one failure keeps it initial",
                3,
                2,
                vec![mismatch()],
                Initial,
                Some("Elb.InitialHealthChecking"),
            ),
            (
                "initial fails to unhealthy",
                3,
                2,
                vec![mismatch(), mismatch()],
                Unhealthy,
                Some("Target.ResponseCodeMismatch"),
            ),
            (
                "healthy stays on one failure",
                3,
                2,
                vec![P, timeout()],
                Healthy,
                None,
            ),
            (
                "healthy to unhealthy, timeout",
                3,
                2,
                vec![P, timeout(), timeout()],
                Unhealthy,
                Some("Target.Timeout"),
            ),
            (
                "failures must be consecutive",
                3,
                2,
                vec![P, failed(), P, failed()],
                Healthy,
                None,
            ),
            (
                "connection errors",
                3,
                3,
                vec![P, failed(), failed(), failed()],
                Unhealthy,
                Some("Target.FailedHealthChecks"),
            ),
            (
                "reason is the latest failure",
                3,
                2,
                vec![failed(), failed(), timeout()],
                Unhealthy,
                Some("Target.Timeout"),
            ),
            (
                "unhealthy needs threshold passes",
                3,
                2,
                vec![failed(), failed(), P, P],
                Unhealthy,
                Some("Target.FailedHealthChecks"),
            ),
            (
                "unhealthy back to healthy",
                3,
                2,
                vec![failed(), failed(), P, P, P],
                Healthy,
                None,
            ),
            (
                "passes must be consecutive",
                3,
                2,
                vec![failed(), failed(), P, P, failed(), P, P],
                Unhealthy,
                Some("Target.FailedHealthChecks"),
            ),
        ];
        for (name, h, u, outcomes, state, reason) in cases {
            let mut m = Machine::new(&settings(true, h, u));
            for o in outcomes {
                m.observe(o);
            }
            assert_eq!(m.state(), state, "{name}");
            assert_eq!(m.reason(), reason, "{name}");
        }
    }

    #[test]
    fn transitions_are_reported_once() {
        let mut m = Machine::new(&settings(true, 2, 2));
        assert_eq!(m.observe(P), Some(State::Healthy));
        assert_eq!(m.observe(P), None);
        assert_eq!(m.observe(failed()), None);
        assert_eq!(m.observe(failed()), Some(State::Unhealthy));
        assert_eq!(m.observe(failed()), None);
        assert_eq!(m.observe(P), None);
        assert_eq!(m.observe(P), Some(State::Healthy));
        assert_eq!(m.description(), None);
    }

    #[test]
    fn disabled_is_unavailable_forever() {
        let mut m = Machine::new(&settings(false, 2, 2));
        assert_eq!(m.state(), State::Unavailable);
        assert_eq!(m.observe(failed()), None);
        assert_eq!(m.observe(failed()), None);
        assert_eq!(m.state(), State::Unavailable);
        assert_eq!(m.reason(), Some("Target.HealthCheckDisabled"));
    }

    #[test]
    fn descriptions() {
        let mut m = Machine::new(&settings(true, 2, 2));
        m.observe(mismatch());
        m.observe(mismatch());
        assert_eq!(
            m.description().as_deref(),
            Some("Health checks failed with these codes: [500]")
        );
    }

    #[test]
    fn matcher() {
        let mut s = settings(true, 2, 2);
        s.matcher = edgeway_config::parse_matcher("200,202-204").unwrap();
        let got: Vec<bool> = [200, 201, 202, 204, 205, 500]
            .iter()
            .map(|c| s.code_matches(*c))
            .collect();
        assert_eq!(got, vec![true, false, true, true, false, false]);
    }
}
