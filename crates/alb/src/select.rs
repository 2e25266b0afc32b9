//! Target selection (pure): which target of a group gets the next request. Only healthy targets
//! are candidates; when none is healthy, every target is (fail-open).

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
pub fn pick(alg: Algorithm, n: usize, healthy: impl Fn(usize) -> bool, load: impl Fn(usize) -> usize, ticket: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let healthy_count = (0..n).filter(|&i| healthy(i)).count();
    let fail_open = healthy_count == 0;
    let candidate = |i: &usize| fail_open || healthy(*i);
    let m = if fail_open { n } else { healthy_count };
    match alg {
        Algorithm::RoundRobin | Algorithm::WeightedRandom => (0..n).filter(candidate).nth(ticket % m),
        Algorithm::LeastOutstandingRequests => {
            let start = ticket % n;
            (0..n).map(|j| (start + j) % n).filter(candidate).min_by_key(|&i| load(i))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Algorithm::*;

    fn run(alg: Algorithm, healthy: &[bool], load: &[usize], tickets: std::ops::Range<usize>) -> Vec<Option<usize>> {
        tickets.map(|t| pick(alg, healthy.len(), |i| healthy[i], |i| load[i], t)).collect()
    }

    #[test]
    fn table() {
        let s = Some;
        let cases: Vec<(&str, Algorithm, Vec<bool>, Vec<usize>, Vec<Option<usize>>)> = vec![
            ("no targets", RoundRobin, vec![], vec![], vec![None; 4]),
            ("round robin all healthy", RoundRobin, vec![true, true, true], vec![0; 3], vec![s(0), s(1), s(2), s(0)]),
            ("round robin skips unhealthy", RoundRobin, vec![true, false, true], vec![0; 3], vec![s(0), s(2), s(0), s(2)]),
            ("fail-open: all unhealthy get traffic", RoundRobin, vec![false, false], vec![0; 2], vec![s(0), s(1), s(0), s(1)]),
            ("one healthy takes all", RoundRobin, vec![false, true], vec![0; 2], vec![s(1), s(1), s(1), s(1)]),
            ("least outstanding", LeastOutstandingRequests, vec![true, true, true], vec![3, 1, 2], vec![s(1), s(1), s(1), s(1)]),
            ("least outstanding ties rotate", LeastOutstandingRequests, vec![true, true], vec![0, 0], vec![s(0), s(1), s(0), s(1)]),
            ("least outstanding healthy only", LeastOutstandingRequests, vec![true, false], vec![5, 0], vec![s(0), s(0), s(0), s(0)]),
            ("least outstanding fail-open", LeastOutstandingRequests, vec![false, false], vec![5, 0], vec![s(1), s(1), s(1), s(1)]),
            ("weighted random uses the ticket", WeightedRandom, vec![true, false, true], vec![0; 3], vec![s(0), s(2), s(0), s(2)]),
        ];
        for (name, alg, healthy, load, want) in cases {
            assert_eq!(run(alg, &healthy, &load, 0..4), want, "{name}");
        }
    }
}
