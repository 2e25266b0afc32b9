//! The counters kept per target group and per target: requests, active requests, responses by
//! class, health transitions, connection errors and retries.

use edgeway_http::metrics::{Counter, Gauge, Metrics};

/// One set of counters (a target group's, or one target's with a `target` label).
#[derive(Clone, Default)]
pub struct Stats {
    pub requests: Counter,
    pub active: Gauge,
    /// Target responses by class: `1xx` .. `5xx`.
    pub codes: [Counter; 5],
    pub to_healthy: Counter,
    pub to_unhealthy: Counter,
    pub connection_errors: Counter,
    pub retries: Counter,
}

impl Stats {
    /// Counters labelled `target_group` (and `target` when given).
    pub fn new(metrics: &Metrics, group: &str, target: Option<&str>) -> Self {
        let (prefix, labels) = match target {
            Some(t) => (
                "edgeway_alb_target",
                vec![("target_group", group), ("target", t)],
            ),
            None => ("edgeway_alb_target_group", vec![("target_group", group)]),
        };
        let c = |name: &str, help: &str, labels: &[(&str, &str)]| {
            metrics.counter(&format!("{prefix}_{name}"), help, labels)
        };
        let codes = ["1xx", "2xx", "3xx", "4xx", "5xx"].map(|class| {
            let mut l = labels.clone();
            l.push(("class", class));
            c("responses_total", "Target responses by status class.", &l)
        });
        let transition = |to: &'static str| {
            let mut l = labels.clone();
            l.push(("to", to));
            c(
                "health_transitions_total",
                "Target health state changes.",
                &l,
            )
        };
        Self {
            requests: c("requests_total", "Requests forwarded.", &labels),
            active: metrics.gauge(
                &format!("{prefix}_active_requests"),
                "Requests forwarded and not yet answered in full.",
                &labels,
            ),
            codes,
            to_healthy: transition("healthy"),
            to_unhealthy: transition("unhealthy"),
            connection_errors: c(
                "connection_errors_total",
                "Requests that could not reach the target.",
                &labels,
            ),
            retries: c(
                "retries_total",
                "Requests sent again to another target after a connection error.",
                &labels,
            ),
        }
    }

    /// Counts a target response.
    pub fn response(&self, status: u16) {
        if let Some(c) = self.codes.get(usize::from(status / 100).wrapping_sub(1)) {
            c.inc();
        }
    }
}

/// Bumps the same counter on a target and its group.
pub fn both(a: &Stats, b: &Stats, f: impl Fn(&Stats)) {
    f(a);
    f(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_classes() {
        let m = Metrics::new();
        let t = Stats::new(&m, "app", Some("127.0.0.1:1"));
        let g = Stats::new(&m, "app", None);
        for code in [200, 204, 302, 404, 503, 99, 600] {
            both(&t, &g, |s| s.response(code));
        }
        t.active.inc();
        assert_eq!(
            m.value(
                "edgeway_alb_target_responses_total",
                &[
                    ("target_group", "app"),
                    ("target", "127.0.0.1:1"),
                    ("class", "2xx")
                ]
            ),
            2
        );
        assert_eq!(
            m.value(
                "edgeway_alb_target_group_responses_total",
                &[("target_group", "app"), ("class", "5xx")]
            ),
            1
        );
        assert_eq!(m.sum("edgeway_alb_target_group_responses_total"), 5);
        assert_eq!(
            m.value(
                "edgeway_alb_target_active_requests",
                &[("target_group", "app"), ("target", "127.0.0.1:1")]
            ),
            1
        );
    }
}
