//! The registration API, shaped like ELBv2's RegisterTargets / DeregisterTargets /
//! DescribeTargetHealth, served by the admin listener:
//!
//! - `POST /target-groups/{name}/register` (or `POST .../targets`) with
//!   `{"targets": [{"id": "127.0.0.1", "port": 9103}]}` (AWS's `Targets`/`Id`/`Port` also work)
//! - `POST /target-groups/{name}/deregister` (or `DELETE .../targets`), same body
//! - `GET /target-groups/{name}/health`: each target's state, reason and description
//! - `GET /target-groups`: the group names
//!
//! Errors are JSON `{"error": {"code": ..., "message": ...}}` with 400, 404 or 405.

use crate::target_group::RegisterError;
use crate::AlbTier;
use serde_json::{json, Value};
use std::net::IpAddr;

/// The API's answer: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

fn reply(status: u16, v: &Value) -> Reply {
    Reply {
        status,
        body: v.to_string(),
    }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    reply(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

/// Parses `{"targets": [{"id": ip, "port": n}]}` (or AWS's capitalized keys).
pub fn parse_targets(body: &[u8]) -> Result<Vec<(IpAddr, Option<u16>)>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let list = v
        .get("targets")
        .or_else(|| v.get("Targets"))
        .and_then(Value::as_array)
        .ok_or("the body needs a `targets` list")?;
    if list.is_empty() {
        return Err("`targets` is empty".into());
    }
    list.iter()
        .map(|t| {
            let id = t
                .get("id")
                .or_else(|| t.get("Id"))
                .and_then(Value::as_str)
                .ok_or("each target needs an `id` (an IP address)")?;
            let ip: IpAddr = id.parse().map_err(|_| {
                format!("`{id}` is not an IP address (targets are registered by IP)")
            })?;
            let port = match t.get("port").or_else(|| t.get("Port")) {
                None | Some(Value::Null) => None,
                Some(p) => Some(
                    p.as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|p| *p > 0)
                        .ok_or_else(|| format!("bad port {p}"))?,
                ),
            };
            Ok((ip, port))
        })
        .collect()
}

impl AlbTier {
    /// Answers an API request, or None when `path` is not the API's.
    pub fn api(&self, method: &str, path: &str, body: &[u8]) -> Option<Reply> {
        let rest = path.strip_prefix("/target-groups")?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() {
            return Some(if method == "GET" {
                reply(200, &json!({ "target_groups": self.target_group_names() }))
            } else {
                error(405, "MethodNotAllowed", "use GET")
            });
        }
        let rest = rest.strip_prefix('/')?;
        let (name, op) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(g) = self.target_group(name) else {
            return Some(error(
                404,
                "TargetGroupNotFound",
                &format!("no target group named `{name}`"),
            ));
        };
        let change = match (method, op) {
            ("GET", "health") | ("GET", "targets") => {
                let rows = g.describe();
                let aws: Vec<Value> = rows
                    .iter()
                    .map(|d| {
                        json!({
                            "Target": { "Id": d.id, "Port": d.port },
                            "HealthCheckPort": g.health.port.unwrap_or(d.port).to_string(),
                            "TargetHealth": { "State": d.state, "Reason": d.reason, "Description": d.description },
                        })
                    })
                    .collect();
                return Some(reply(
                    200,
                    &json!({ "target_group": g.name, "targets": rows, "TargetHealthDescriptions": aws }),
                ));
            }
            ("POST", "register") | ("POST", "targets") => true,
            ("POST", "deregister") | ("DELETE", "targets") => false,
            (_, "health" | "register" | "deregister" | "targets") => {
                return Some(error(
                    405,
                    "MethodNotAllowed",
                    &format!("{method} is not allowed here"),
                ))
            }
            _ => {
                return Some(error(
                    404,
                    "NotFound",
                    "try /target-groups/{name}/register, /deregister or /health",
                ))
            }
        };
        let targets = match parse_targets(body) {
            Ok(t) => t,
            Err(e) => return Some(error(400, "ValidationError", &e)),
        };
        let done = if change {
            g.register(&targets)
        } else {
            g.deregister(&targets)
        };
        Some(match done {
            Ok(()) => reply(
                200,
                &json!({ "target_group": g.name, if change { "registered" } else { "deregistered" }: targets.len() }),
            ),
            Err(RegisterError::NoPort(ip)) => error(
                400,
                "ValidationError",
                &format!("target {ip} needs a port (the group has none)"),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bodies() {
        let ok =
            parse_targets(br#"{"targets":[{"id":"127.0.0.1","port":9103},{"Id":"::1"}]}"#).unwrap();
        assert_eq!(
            ok,
            vec![
                ("127.0.0.1".parse().unwrap(), Some(9103)),
                ("::1".parse().unwrap(), None)
            ]
        );
        assert_eq!(
            parse_targets(br#"{"Targets":[{"Id":"10.0.0.1","Port":80}]}"#)
                .unwrap()
                .len(),
            1
        );
        let bad: [&[u8]; 6] = [
            b"nope",
            b"{}",
            br#"{"targets":[]}"#,
            br#"{"targets":[{"port":1}]}"#,
            br#"{"targets":[{"id":"i-123"}]}"#,
            br#"{"targets":[{"id":"1.1.1.1","port":70000}]}"#,
        ];
        for b in bad {
            assert!(parse_targets(b).is_err(), "{}", String::from_utf8_lossy(b));
        }
    }

    #[tokio::test]
    async fn routes() {
        let cfg = edgeway_config::parse(
            "t.toml",
            r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = 80
default_action = { type = "forward", target_group = "app" }
[[target_group]]
name = "app"
port = 9000
deregistration_delay = 0
targets = ["127.0.0.1"]
[[target_group]]
name = "noport"
"#,
        )
        .unwrap();
        let tier = AlbTier::new(&cfg, edgeway_http::metrics::Metrics::new());
        let body = br#"{"targets":[{"id":"127.0.0.2","port":9001}]}"#;
        let status = |m: &str, p: &str, b: &[u8]| tier.api(m, p, b).map(|r| r.status);
        let cases: Vec<(&str, &str, &[u8], Option<u16>)> = vec![
            ("GET", "/metrics", b"", None),
            ("GET", "/target-groups", b"", Some(200)),
            ("GET", "/target-groups/nope/health", b"", Some(404)),
            ("POST", "/target-groups/app/register", b"{", Some(400)),
            ("PUT", "/target-groups/app/register", body, Some(405)),
            ("GET", "/target-groups/app/other", b"", Some(404)),
            (
                "POST",
                "/target-groups/noport/register",
                br#"{"targets":[{"id":"127.0.0.2"}]}"#,
                Some(400),
            ),
            ("POST", "/target-groups/app/register", body, Some(200)),
        ];
        for (m, p, b, want) in cases {
            assert_eq!(status(m, p, b), want, "{m} {p}");
        }
        let health: Value = serde_json::from_str(
            &tier
                .api("GET", "/target-groups/app/health", b"")
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(health["targets"][1]["target"], "127.0.0.2:9001");
        assert_eq!(health["targets"][1]["state"], "initial");
        assert_eq!(
            health["TargetHealthDescriptions"][1]["TargetHealth"]["Reason"],
            "Elb.InitialHealthChecking"
        );
        assert_eq!(
            health["TargetHealthDescriptions"][0]["Target"]["Port"],
            9000
        );
        assert_eq!(
            status("DELETE", "/target-groups/app/targets", body),
            Some(200)
        );
        let health: Value = serde_json::from_str(
            &tier
                .api("GET", "/target-groups/app/health", b"")
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(
            health["targets"].as_array().unwrap().len(),
            1,
            "a zero delay removes at once"
        );
    }
}
