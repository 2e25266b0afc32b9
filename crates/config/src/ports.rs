//! Rewriting every port a config names: tests run a config with each listener moved to a port the
//! kernel chose, and every reference to the old port (origins, targets, name servers) follows.

use crate::model::Config;
use std::collections::HashMap;

/// Old port → new port.
pub type PortMap = HashMap<u16, u16>;

fn remap_addr(addr: &mut String, map: &PortMap) {
    // `scheme://host:port`, `host:port` or `[v6]:port`.
    if let Some(i) = addr.rfind(':') {
        let (head, tail) = addr.split_at(i);
        if let Ok(p) = tail[1..].parse::<u16>() {
            if let Some(n) = map.get(&p) {
                *addr = format!("{head}:{n}");
            }
        }
    }
}

fn remap_port(p: &mut u16, map: &PortMap) {
    if let Some(n) = map.get(p) {
        *p = *n;
    }
}

impl Config {
    /// Every `host:port` this config listens on, as written (listeners of every tier).
    pub fn listen_addresses(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(a) = &self.admin {
            out.push(a.listen.clone());
        }
        if let Some(d) = &self.dns {
            out.push(d.listen.clone());
        }
        for d in &self.distributions {
            for l in &d.listen {
                out.push(
                    l.split_once("://")
                        .map_or(l.as_str(), |(_, r)| r)
                        .to_string(),
                );
            }
        }
        for lb in &self.load_balancers {
            for l in &lb.listeners {
                out.push(crate::validate::join_host_port(&lb.bind_address, l.port));
            }
        }
        for t in &self.demo_targets {
            out.push(t.listen.clone());
        }
        out
    }

    /// Rewrites every port in the config through `map`.
    pub fn remap_ports(&mut self, map: &PortMap) {
        if let Some(a) = &mut self.admin {
            remap_addr(&mut a.listen, map);
        }
        if let Some(d) = &mut self.dns {
            remap_addr(&mut d.listen, map);
        }
        if let Some(r) = &mut self.resolver {
            r.nameservers.iter_mut().for_each(|n| remap_addr(n, map));
        }
        for d in &mut self.distributions {
            d.listen.iter_mut().for_each(|l| remap_addr(l, map));
            for o in &mut d.origins {
                if let Some(c) = &mut o.custom_origin_config {
                    remap_port(&mut c.http_port, map);
                    remap_port(&mut c.https_port, map);
                }
            }
        }
        for lb in &mut self.load_balancers {
            for l in &mut lb.listeners {
                remap_port(&mut l.port, map);
                let actions = std::iter::once(&mut l.default_action)
                    .chain(l.rules.iter_mut().map(|r| &mut r.action));
                for a in actions {
                    if let Some(r) = &mut a.redirect {
                        if let Ok(mut p) = r.port.parse::<u16>() {
                            remap_port(&mut p, map);
                            r.port = p.to_string();
                        }
                    }
                }
            }
        }
        for tg in &mut self.target_groups {
            if let Some(p) = &mut tg.port {
                remap_port(p, map);
            }
            tg.targets.iter_mut().for_each(|t| remap_addr(t, map));
            if let Ok(mut p) = tg.health_check.port.parse::<u16>() {
                remap_port(&mut p, map);
                tg.health_check.port = p.to_string();
            }
        }
        for t in &mut self.demo_targets {
            remap_addr(&mut t.listen, map);
        }
    }
}
