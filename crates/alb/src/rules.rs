//! A listener's rules: evaluated by ascending priority, the first whose conditions all match
//! wins, the default action last (priority 0, as the access log shows it).

use crate::action::Action;
use crate::condition::{Condition, RequestView};
use edgeway_http::metrics::Counter;

/// One rule.
pub struct Rule {
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub action: Action,
    /// `edgeway_alb_rule_matches_total` for this rule.
    pub matches: Counter,
}

/// The rules of a listener, sorted, and its default action.
pub struct RuleSet {
    rules: Vec<Rule>,
    default: Rule,
}

impl RuleSet {
    pub fn new(mut rules: Vec<Rule>, default: Rule) -> Self {
        rules.sort_by_key(|r| r.priority);
        Self { rules, default }
    }

    /// The rule for a request.
    pub fn select(&self, r: &RequestView<'_>) -> &Rule {
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.conditions.iter().all(|c| c.matches(r)))
            .unwrap_or(&self.default);
        rule.matches.inc();
        rule
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().chain(std::iter::once(&self.default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Fixed;
    use edgeway_config::{Condition as C, Values};

    fn rule(priority: u32, conditions: Vec<C>) -> Rule {
        let body = priority.to_string();
        Rule {
            priority,
            conditions: conditions.iter().map(Condition::compile).collect(),
            action: Action::Fixed(Fixed::compile(&edgeway_config::FixedResponse {
                content_type: "text/plain".into(),
                message_body: Some(body),
                status_code: "200".into(),
            })),
            matches: Counter::default(),
        }
    }

    fn vals(v: &[&str]) -> Option<Values> {
        Some(Values {
            values: v.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn priority_order_and_and_of_conditions() {
        let set = RuleSet::new(
            vec![
                rule(
                    20,
                    vec![C {
                        path_pattern: vals(&["/api/*"]),
                        ..C::default()
                    }],
                ),
                rule(
                    10,
                    vec![
                        C {
                            path_pattern: vals(&["/api/*"]),
                            ..C::default()
                        },
                        C {
                            http_request_method: vals(&["POST"]),
                            ..C::default()
                        },
                    ],
                ),
                rule(
                    5,
                    vec![C {
                        host_header: vals(&["admin.*"]),
                        ..C::default()
                    }],
                ),
            ],
            rule(0, vec![]),
        );
        let h = http::HeaderMap::new();
        let view = |method, host, path| RequestView {
            method,
            host: Some(host),
            path,
            query: None,
            headers: &h,
            peer: "127.0.0.1".parse().unwrap(),
        };
        let cases = [
            ("GET", "shop.com", "/api/x", 20),
            ("POST", "shop.com", "/api/x", 10),
            ("POST", "admin.shop.com", "/api/x", 5),
            ("GET", "shop.com", "/", 0),
        ];
        for (m, host, path, want) in cases {
            assert_eq!(
                set.select(&view(m, host, path)).priority,
                want,
                "{m} {host}{path}"
            );
        }
        assert_eq!(
            set.rules().map(|r| r.matches.get()).collect::<Vec<_>>(),
            vec![1, 1, 1, 1]
        );
    }
}
