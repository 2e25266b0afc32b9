//! Named counters shared by every tier, rendered in Prometheus text format by the admin tier.
//! Take a [`Counter`] once (at startup or per listener) and bump it on the request path: a bump is
//! one relaxed atomic add, no lock, no allocation.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (open connections, in-flight requests, health state).
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<std::sync::atomic::AtomicI64>);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct Inner {
    /// name → help text
    help: BTreeMap<String, String>,
    /// (name, rendered labels) → counter
    counters: BTreeMap<(String, String), Counter>,
    gauges: BTreeMap<(String, String), Gauge>,
}

/// The registry of every counter and gauge. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

fn render_labels(labels: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter `name{labels}`, created at zero on first use. Names follow Prometheus
    /// conventions: `edgeway_<tier>_<what>_total`.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.help
            .entry(name.to_string())
            .or_insert_with(|| help.to_string());
        g.counters
            .entry((name.to_string(), render_labels(labels)))
            .or_default()
            .clone()
    }

    /// The gauge `name{labels}`.
    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.help
            .entry(name.to_string())
            .or_insert_with(|| help.to_string());
        g.gauges
            .entry((name.to_string(), render_labels(labels)))
            .or_default()
            .clone()
    }

    /// The current value of `name{labels}` (0 when it does not exist): for tests and the dashboard.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = (name.to_string(), render_labels(labels));
        g.counters
            .get(&key)
            .map(Counter::get)
            .or_else(|| g.gauges.get(&key).map(|x| x.get().max(0) as u64))
            .unwrap_or(0)
    }

    /// The sum of `name` over every label set.
    pub fn sum(&self, name: &str) -> u64 {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.counters
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, c)| c.get())
            .sum()
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let mut last = "";
        for ((name, labels), c) in &g.counters {
            if name != last {
                let help = g.help.get(name).map_or("", String::as_str);
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {}", c.get());
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {}", c.get());
            }
        }
        last = "";
        for ((name, labels), c) in &g.gauges {
            if name != last {
                let help = g.help.get(name).map_or("", String::as_str);
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {}", c.get());
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {}", c.get());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        let c = m.counter(
            "edgeway_cdn_requests_total",
            "Requests.",
            &[("listener", "a\"b")],
        );
        c.inc();
        c.add(2);
        m.gauge("edgeway_open", "Open.", &[]).set(4);
        let text = m.render();
        assert!(
            text.contains("# TYPE edgeway_cdn_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains("edgeway_cdn_requests_total{listener=\"a\\\"b\"} 3"),
            "{text}"
        );
        assert!(text.contains("edgeway_open 4"), "{text}");
        assert_eq!(
            m.value("edgeway_cdn_requests_total", &[("listener", "a\"b")]),
            3
        );
    }
}
