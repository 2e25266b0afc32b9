//! Target selection (pure): which target of a group gets the next request. Only healthy targets
//! are candidates; when fewer are healthy than the group's minimum (default: none), every target
//! is (fail-open). Targets in slow start get a share that grows linearly over the window.

use std::time::Duration;

/// `load_balancing_algorithm_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    LeastOutstandingRequests,
    WeightedRandom,
}

impl Algorithm {
    pub fn from_config(s: &str) -> Self {
        match s {
            "least_outstanding_requests" => Self::LeastOutstandingRequests,
            "weighted_random" => Self::WeightedRandom,
            _ => Self::RoundRobin,
        }
    }
}

/// Picks one of `n` targets. `healthy(i)` says whether target `i` may get traffic; `load(i)` is
/// its outstanding requests. `ticket` is a rotating counter (round robin, tie-breaking) or a
/// random number (weighted random: every target has weight 1 here).
pub fn pick(
    alg: Algorithm,
    n: usize,
    healthy: impl Fn(usize) -> bool,
    load: impl Fn(usize) -> usize,
    ticket: usize,
) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let healthy_count = (0..n).filter(|&i| healthy(i)).count();
    let fail_open = healthy_count == 0;
    let candidate = |i: &usize| fail_open || healthy(*i);
    let m = if fail_open { n } else { healthy_count };
    match alg {
        Algorithm::RoundRobin | Algorithm::WeightedRandom => {
            (0..n).filter(candidate).nth(ticket % m)
        }
        Algorithm::LeastOutstandingRequests => {
            let start = ticket % n;
            (0..n)
                .map(|j| (start + j) % n)
                .filter(candidate)
                .min_by_key(|&i| load(i))
        }
    }
}

/// `target_group_health.unhealthy_state_routing`: below this, route to every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinHealthy {
    /// `minimum_healthy_targets_count` (AWS default 1).
    pub count: usize,
    /// `minimum_healthy_targets_percentage` (None: `off`).
    pub percent: Option<u32>,
}

impl Default for MinHealthy {
    fn default() -> Self {
        Self {
            count: 1,
            percent: None,
        }
    }
}

impl MinHealthy {
    /// Whether `healthy` of `total` targets is below the threshold (then: fail open).
    pub fn fails_open(&self, healthy: usize, total: usize) -> bool {
        healthy == 0
            || healthy < self.count.min(total)
            || self
                .percent
                .is_some_and(|p| (healthy as u64) * 100 < u64::from(p) * total as u64)
    }
}

/// A target's share during slow start: `elapsed / window`, from 1% up to 100%.
pub fn ramp(elapsed: Duration, window: Duration) -> f64 {
    if window.is_zero() || elapsed >= window {
        return 1.0;
    }
    (elapsed.as_secs_f64() / window.as_secs_f64()).clamp(0.01, 1.0)
}

/// Weighted pick among the candidates: `weight(i)` is a target's share (0 for non-candidates);
/// `unit` is a uniform number in [0, 1).
pub fn pick_weighted_share(n: usize, weight: impl Fn(usize) -> f64, unit: f64) -> Option<usize> {
    let total: f64 = (0..n).map(&weight).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = unit.clamp(0.0, 1.0) * total;
    let mut last = None;
    for i in 0..n {
        let w = weight(i);
        if w <= 0.0 {
            continue;
        }
        last = Some(i);
        if x < w {
            return Some(i);
        }
        x -= w;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use Algorithm::*;

    #[test]
    fn ramps() {
        let w = Duration::from_secs(100);
        let cases = [
            (0, 0.01),
            (1, 0.01),
            (25, 0.25),
            (50, 0.5),
            (99, 0.99),
            (100, 1.0),
            (500, 1.0),
        ];
        for (secs, want) in cases {
            assert!(
                (ramp(Duration::from_secs(secs), w) - want).abs() < 1e-9,
                "{secs}s"
            );
        }
        assert_eq!(ramp(Duration::ZERO, Duration::ZERO), 1.0);
    }

    #[test]
    fn weighted_shares() {
        let weights = [1.0, 0.0, 0.25];
        let mut counts = [0usize; 3];
        for k in 0..1000 {
            let i = pick_weighted_share(3, |i| weights[i], f64::from(k) / 1000.0).unwrap();
            counts[i] += 1;
        }
        assert_eq!(counts, [800, 0, 200]);
        assert_eq!(pick_weighted_share(2, |_| 0.0, 0.5), None);
    }

    #[test]
    fn minimum_healthy() {
        let off = MinHealthy::default();
        let two = MinHealthy {
            count: 2,
            percent: None,
        };
        let half = MinHealthy {
            count: 1,
            percent: Some(50),
        };
        let cases = [
            (off, 0, 3, true),
            (off, 1, 3, false),
            (two, 1, 3, true),
            (two, 2, 3, false),
            (two, 1, 1, false),
            (half, 1, 3, true),
            (half, 2, 4, false),
        ];
        for (m, healthy, total, want) in cases {
            assert_eq!(
                m.fails_open(healthy, total),
                want,
                "{m:?} {healthy}/{total}"
            );
        }
    }

    fn run(
        alg: Algorithm,
        healthy: &[bool],
        load: &[usize],
        tickets: std::ops::Range<usize>,
    ) -> Vec<Option<usize>> {
        tickets
            .map(|t| pick(alg, healthy.len(), |i| healthy[i], |i| load[i], t))
            .collect()
    }

    #[test]
    fn table() {
        let s = Some;
        let cases: Vec<(&str, Algorithm, Vec<bool>, Vec<usize>, Vec<Option<usize>>)> = vec![
            ("no targets", RoundRobin, vec![], vec![], vec![None; 4]),
            (
                "round robin all healthy",
                RoundRobin,
                vec![true, true, true],
                vec![0; 3],
                vec![s(0), s(1), s(2), s(0)],
            ),
            (
                "round robin skips unhealthy",
                RoundRobin,
                vec![true, false, true],
                vec![0; 3],
                vec![s(0), s(2), s(0), s(2)],
            ),
            (
                "fail-open: all unhealthy get traffic",
                RoundRobin,
                vec![false, false],
                vec![0; 2],
                vec![s(0), s(1), s(0), s(1)],
            ),
            (
                "one healthy takes all",
                RoundRobin,
                vec![false, true],
                vec![0; 2],
                vec![s(1), s(1), s(1), s(1)],
            ),
            (
                "least outstanding",
                LeastOutstandingRequests,
                vec![true, true, true],
                vec![3, 1, 2],
                vec![s(1), s(1), s(1), s(1)],
            ),
            (
                "least outstanding ties rotate",
                LeastOutstandingRequests,
                vec![true, true],
                vec![0, 0],
                vec![s(0), s(1), s(0), s(1)],
            ),
            (
                "least outstanding healthy only",
                LeastOutstandingRequests,
                vec![true, false],
                vec![5, 0],
                vec![s(0), s(0), s(0), s(0)],
            ),
            (
                "least outstanding fail-open",
                LeastOutstandingRequests,
                vec![false, false],
                vec![5, 0],
                vec![s(1), s(1), s(1), s(1)],
            ),
            (
                "weighted random uses the ticket",
                WeightedRandom,
                vec![true, false, true],
                vec![0; 3],
                vec![s(0), s(2), s(0), s(2)],
            ),
        ];
        for (name, alg, healthy, load, want) in cases {
            assert_eq!(run(alg, &healthy, &load, 0..4), want, "{name}");
        }
    }
}
