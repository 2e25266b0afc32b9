//! Origin groups: a behavior that targets a group sends each request to the primary first and
//! fails over to the secondary on a listed status code, a connection failure (after every
//! attempt) or a response timeout — for GET, HEAD and OPTIONS only. No stickiness.

use edgeway_config::OriginGroup;
use http::{Method, StatusCode};

/// The failover half of a behavior that targets an origin group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// The group's id.
    pub group: String,
    /// Index of the secondary origin.
    pub secondary: usize,
    pub status_codes: Vec<u16>,
}

/// Resolves `target` among `groups`: `(primary index, failover)`; `None` when no group has it.
pub fn resolve(
    target: &str,
    groups: &[OriginGroup],
    origins: &[&str],
) -> Option<Result<(usize, Failover), String>> {
    let g = groups.iter().find(|g| g.origin_id == target)?;
    let index = |id: &str| {
        origins
            .iter()
            .position(|o| *o == id)
            .ok_or_else(|| format!("origin group `{}`: no origin `{id}`", g.origin_id))
    };
    let (Some(p), Some(s)) = (g.member.first(), g.member.get(1)) else {
        return Some(Err(format!(
            "origin group `{}` needs two members",
            g.origin_id
        )));
    };
    Some(index(&p.origin_id).and_then(|p| {
        let s = index(&s.origin_id)?;
        Ok((
            p,
            Failover {
                group: g.origin_id.clone(),
                secondary: s,
                status_codes: g.failover_criteria.status_codes.clone(),
            },
        ))
    }))
}

/// Whether a method may fail over at all.
pub fn method_fails_over(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl Failover {
    /// Whether the primary's `status` sends the request to the secondary.
    pub fn on_status(&self, status: StatusCode) -> bool {
        self.status_codes.contains(&status.as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeway_config::{FailoverCriteria, OriginGroupMember};

    #[test]
    fn groups_resolve_and_decide() {
        let groups = vec![OriginGroup {
            origin_id: "g".into(),
            failover_criteria: FailoverCriteria {
                status_codes: vec![500, 503],
            },
            member: vec![
                OriginGroupMember {
                    origin_id: "b".into(),
                },
                OriginGroupMember {
                    origin_id: "a".into(),
                },
            ],
        }];
        let origins = ["a", "b"];
        assert!(resolve("a", &groups, &origins).is_none());
        let Some(Ok((p, f))) = resolve("g", &groups, &origins) else {
            panic!("group")
        };
        assert_eq!((p, f.secondary), (1, 0));
        assert!(f.on_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!f.on_status(StatusCode::NOT_FOUND));
        for (m, want) in [
            (Method::GET, true),
            (Method::HEAD, true),
            (Method::OPTIONS, true),
            (Method::POST, false),
            (Method::PUT, false),
        ] {
            assert_eq!(method_fails_over(&m), want, "{m}");
        }
    }
}
