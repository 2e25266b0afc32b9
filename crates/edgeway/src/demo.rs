//! `edgeway demo`: the roboshop architecture, built in (the same file as `examples/roboshop.toml`).

use crate::stack::Stack;

/// The demo's config, as TOML.
pub const CONFIG: &str = include_str!("../../../examples/roboshop.toml");

/// What to print once the demo runs: where everything listens and three commands to try.
pub fn banner(stack: &Stack, ca_path: &std::path::Path) -> String {
    let mut s =
        String::from("edgeway is running: viewer → DNS → edge → load balancer → targets\n\n");
    for (tier, what, url) in &stack.map {
        s.push_str(&format!("  {tier:<7} {what:<42} {url}\n"));
    }
    let edge = stack
        .config
        .distributions
        .first()
        .and_then(|d| {
            let host = d.aliases.first()?.clone();
            let port = d
                .listen
                .iter()
                .find_map(|l| l.strip_prefix("https://"))?
                .rsplit_once(':')?
                .1
                .to_string();
            Some(format!("https://{host}:{port}/"))
        })
        .unwrap_or_default();
    let dns = stack
        .config
        .dns
        .as_ref()
        .map(|d| d.listen.clone())
        .unwrap_or_default();
    let (dns_ip, dns_port) = dns.rsplit_once(':').unwrap_or(("127.0.0.1", "8053"));
    let name = stack
        .config
        .zones
        .first()
        .and_then(|z| z.records.first())
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let admin = stack
        .config
        .admin
        .as_ref()
        .map(|a| a.listen.clone())
        .unwrap_or_default();
    s.push_str("\nTry:\n");
    s.push_str(&format!("  curl --cacert {} {edge}\n", ca_path.display()));
    s.push_str(&format!("  dig @{dns_ip} -p {dns_port} {name} A      (or: edgeway dns query {name} --server {dns})\n"));
    s.push_str(&format!("  curl http://{admin}/metrics\n"));
    s.push_str("\nCtrl-C stops it.\n");
    s
}
