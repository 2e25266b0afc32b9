//! Table tests for answers from record sets with routing policies, under every health
//! combination that matters. `Authority::answer_for` is pure: health, source and seed are inputs.

use super::*;
use crate::authority::tests::request;
use crate::routing::FixedHealth;
use edgeway_config::{
    Config, Dns, FailoverRoutingPolicy, GeoSource, GeolocationRoutingPolicy, LatencyRoutingPolicy,
    Record as ConfigRecord, WeightedRoutingPolicy, Zone,
};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

fn routed(name: &str, id: &str, value: &str, hc: Option<&str>) -> ConfigRecord {
    ConfigRecord {
        name: name.into(),
        kind: "A".into(),
        records: vec![value.into()],
        set_identifier: Some(id.into()),
        health_check_id: hc.map(Into::into),
        ..ConfigRecord::default()
    }
}

fn weighted(name: &str, id: &str, value: &str, weight: u32, hc: Option<&str>) -> ConfigRecord {
    ConfigRecord {
        weighted_routing_policy: Some(WeightedRoutingPolicy { weight }),
        ..routed(name, id, value, hc)
    }
}

fn failover(name: &str, kind: &str, value: &str, hc: Option<&str>) -> ConfigRecord {
    ConfigRecord {
        failover_routing_policy: Some(FailoverRoutingPolicy { kind: kind.into() }),
        ..routed(name, kind, value, hc)
    }
}

fn latency(region: &str, value: &str, hc: Option<&str>) -> ConfigRecord {
    ConfigRecord {
        latency_routing_policy: Some(LatencyRoutingPolicy {
            region: region.into(),
        }),
        ..routed("l", region, value, hc)
    }
}

fn geo(
    name: &str,
    id: &str,
    continent: Option<&str>,
    country: Option<&str>,
    sub: Option<&str>,
    value: &str,
    hc: Option<&str>,
) -> ConfigRecord {
    let g = GeolocationRoutingPolicy {
        continent: continent.map(Into::into),
        country: country.map(Into::into),
        subdivision: sub.map(Into::into),
    };
    ConfigRecord {
        geolocation_routing_policy: Some(g),
        ..routed(name, id, value, hc)
    }
}

fn source(cidr: &str, country: &str, sub: Option<&str>) -> GeoSource {
    GeoSource {
        cidr: cidr.into(),
        continent: None,
        country: Some(country.into()),
        subdivision: sub.map(Into::into),
    }
}

fn config() -> Config {
    let mut records = vec![
        weighted("w", "one", "192.0.2.1", 1, Some("a")),
        weighted("w", "three", "192.0.2.2", 3, Some("b")),
        weighted("w", "zero", "192.0.2.3", 0, Some("z")),
        failover("f", "PRIMARY", "192.0.2.10", Some("p")),
        failover("f", "SECONDARY", "192.0.2.11", Some("s")),
        ConfigRecord {
            alias: Some(Alias {
                load_balancer: Some("web".into()),
                evaluate_target_health: true,
                ..Alias::default()
            }),
            records: Vec::new(),
            ..failover("fa", "PRIMARY", "", None)
        },
        failover("fa", "SECONDARY", "192.0.2.12", None),
        failover("solo", "PRIMARY", "192.0.2.13", Some("p")),
        latency("us-east-1", "192.0.2.20", Some("use1")),
        latency("eu-west-1", "192.0.2.21", Some("euw1")),
        latency("ap-south-1", "192.0.2.22", None),
        geo(
            "g",
            "default",
            None,
            Some("*"),
            None,
            "192.0.2.30",
            Some("dflt"),
        ),
        geo("g", "us", None, Some("US"), None, "192.0.2.31", Some("us")),
        geo("g", "eu", Some("EU"), None, None, "192.0.2.32", None),
        geo(
            "g",
            "wa",
            None,
            Some("US"),
            Some("WA"),
            "192.0.2.33",
            Some("wa"),
        ),
        geo("g2", "us-only", None, Some("US"), None, "192.0.2.34", None),
        ConfigRecord {
            kind: "CNAME".into(),
            weighted_routing_policy: Some(WeightedRoutingPolicy { weight: 1 }),
            ..routed("wc", "to-f", "f.example.com", None)
        },
        ConfigRecord {
            kind: "CNAME".into(),
            weighted_routing_policy: Some(WeightedRoutingPolicy { weight: 0 }),
            ..routed("wc", "to-g", "g.example.com", None)
        },
    ];
    for i in 0..10 {
        records.push(ConfigRecord {
            multivalue_answer_routing_policy: true,
            ..routed(
                "m",
                &format!("m{i}"),
                &format!("192.0.2.{}", 40 + i),
                Some(&format!("m{i}")),
            )
        });
    }
    for r in &mut records {
        r.name = format!("{}.example.com", r.name);
    }
    Config {
        dns: Some(Dns {
            listen: "127.0.0.1:0".into(),
            region: Some("us-east-1".into()),
            geo: vec![
                source("127.0.0.0/8", "US", None),
                source("127.0.0.2/32", "US", Some("WA")),
                source("127.0.0.3/32", "DE", None),
                source("127.0.0.4/32", "JP", None),
            ],
        }),
        zones: vec![Zone {
            name: "example.com".into(),
            records,
        }],
        ..Config::default()
    }
}

fn authority(unhealthy: &[&str], region: Option<&str>) -> Authority {
    let mut targets: HashMap<String, Vec<IpAddr>> = HashMap::new();
    targets.insert(
        "load_balancer/web".into(),
        vec![IpAddr::from([127, 0, 0, 9])],
    );
    let (aliases, checks): (Vec<&str>, Vec<&str>) = unhealthy.iter().partition(|u| u.contains('/'));
    let health = FixedHealth {
        unhealthy_checks: checks.iter().map(|s| s.to_string()).collect(),
        unhealthy_aliases: aliases.iter().map(|s| s.to_string()).collect(),
    };
    let auth = Authority::for_config(&config(), &targets).with_health(Arc::new(health));
    match region {
        Some(r) => auth.with_region(r),
        None => auth,
    }
}

/// The A values answered for `name`, sorted.
fn values(auth: &Authority, name: &str, source: Option<&str>, seed: u64) -> Vec<String> {
    let src = source.and_then(|s| s.parse().ok());
    let m = auth
        .answer_for(&request(name, RecordType::A), src, seed)
        .message;
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::A)
        .map(|r| r.data.to_string())
        .collect();
    v.sort();
    v
}

/// How often each value is answered over `n` seeds.
fn spread(auth: &Authority, name: &str, n: u64) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for seed in 0..n {
        for v in values(auth, name, None, seed.wrapping_mul(0x2545_F491_4F6C_DD1D)) {
            *out.entry(v).or_default() += 1;
        }
    }
    out
}

#[test]
fn builds_without_problems() {
    assert_eq!(authority(&[], None).problems(), &[] as &[String]);
}

#[test]
fn weighted_table() {
    // (unhealthy checks, values that may be answered)
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["192.0.2.1", "192.0.2.2"]),
        (&["a"], &["192.0.2.2"]),
        (&["b", "z"], &["192.0.2.1"]),
        // Weight 0 answers only when every weighted record set is unhealthy.
        (&["a", "b"], &["192.0.2.3"]),
        // None healthy: all are treated as healthy, so weight 0 stays out again.
        (&["a", "b", "z"], &["192.0.2.1", "192.0.2.2"]),
        (&["z"], &["192.0.2.1", "192.0.2.2"]),
    ];
    for (unhealthy, want) in cases {
        let got = spread(&authority(unhealthy, None), "w.example.com", 400);
        let keys: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(keys, *want, "unhealthy {unhealthy:?}");
        assert_eq!(got.values().sum::<u64>(), 400, "one record per answer");
    }
    // Shares: 1/4 and 3/4.
    let got = spread(&authority(&[], None), "w.example.com", 4000);
    let one = got.get("192.0.2.1").copied().unwrap_or(0);
    assert!(
        (850..=1150).contains(&one),
        "weight 1 of 4 answered {one} of 4000"
    );
}

#[test]
fn same_seed_same_answer() {
    let auth = authority(&[], None);
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(
            values(&auth, "w.example.com", None, seed),
            values(&auth, "w.example.com", None, seed)
        );
        assert_eq!(
            values(&auth, "m.example.com", None, seed),
            values(&auth, "m.example.com", None, seed)
        );
    }
}

#[test]
fn failover_table() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("f", &[], "192.0.2.10"),
        ("f", &["p"], "192.0.2.11"),
        ("f", &["s"], "192.0.2.10"),
        // Both unhealthy: all count as healthy, so the primary answers.
        ("f", &["p", "s"], "192.0.2.10"),
        // evaluate_target_health on an alias primary.
        ("fa", &[], "127.0.0.9"),
        ("fa", &["load_balancer/web"], "192.0.2.12"),
        // A primary alone answers even when unhealthy.
        ("solo", &["p"], "192.0.2.13"),
    ];
    for (name, unhealthy, want) in cases {
        let got = values(
            &authority(unhealthy, None),
            &format!("{name}.example.com"),
            None,
            7,
        );
        assert_eq!(
            got,
            vec![want.to_string()],
            "{name} unhealthy {unhealthy:?}"
        );
    }
}

#[test]
fn latency_table() {
    let cases: &[(Option<&str>, &[&str], &str)] = &[
        (None, &[], "192.0.2.20"),
        (Some("eu-west-1"), &[], "192.0.2.21"),
        (Some("AP-South-1"), &[], "192.0.2.22"),
        // The local region unhealthy: the next region in config order.
        (None, &["use1"], "192.0.2.21"),
        (None, &["use1", "euw1"], "192.0.2.22"),
        (Some("eu-west-1"), &["euw1"], "192.0.2.20"),
        // A region without a record: the first healthy one in config order.
        (Some("sa-east-1"), &[], "192.0.2.20"),
        (Some("sa-east-1"), &["use1"], "192.0.2.21"),
    ];
    for (region, unhealthy, want) in cases {
        let got = values(&authority(unhealthy, *region), "l.example.com", None, 3);
        assert_eq!(
            got,
            vec![want.to_string()],
            "region {region:?} unhealthy {unhealthy:?}"
        );
    }
}

#[test]
fn geolocation_table() {
    // (name, source, unhealthy, answer; empty is NODATA)
    let cases: &[(&str, Option<&str>, &[&str], &str)] = &[
        ("g", Some("127.0.0.1"), &[], "192.0.2.31"),
        ("g", Some("127.0.0.2"), &[], "192.0.2.33"),
        ("g", Some("127.0.0.3"), &[], "192.0.2.32"),
        // JP (Asia): no record for it, so the default.
        ("g", Some("127.0.0.4"), &[], "192.0.2.30"),
        ("g", Some("10.0.0.1"), &[], "192.0.2.30"),
        ("g", None, &[], "192.0.2.30"),
        ("g", Some("::ffff:127.0.0.2"), &[], "192.0.2.33"),
        // Unhealthy: up to the larger area, then the default.
        ("g", Some("127.0.0.2"), &["wa"], "192.0.2.31"),
        ("g", Some("127.0.0.2"), &["wa", "us"], "192.0.2.30"),
        // Nothing covering the viewer is healthy: the most specific one anyway.
        ("g", Some("127.0.0.2"), &["wa", "us", "dflt"], "192.0.2.33"),
        ("g", Some("127.0.0.4"), &["dflt"], "192.0.2.30"),
        ("g2", Some("127.0.0.1"), &[], "192.0.2.34"),
        // No record covers the viewer and there is no default: NODATA.
        ("g2", Some("127.0.0.4"), &[], ""),
    ];
    for (name, src, unhealthy, want) in cases {
        let auth = authority(unhealthy, None);
        let got = values(&auth, &format!("{name}.example.com"), *src, 1).join(",");
        assert_eq!(got, *want, "{name} from {src:?} unhealthy {unhealthy:?}");
        let m = auth
            .answer_for(
                &request(&format!("{name}.example.com"), RecordType::A),
                src.and_then(|s| s.parse().ok()),
                1,
            )
            .message;
        assert_eq!(m.response_code, ResponseCode::NoError);
        assert_eq!(
            m.authorities.len(),
            usize::from(want.is_empty()),
            "SOA only in NODATA"
        );
    }
}

#[test]
fn multivalue_table() {
    let all: Vec<String> = (40..50).map(|i| format!("192.0.2.{i}")).collect();
    let m = |i: usize| format!("m{i}");
    let first8: Vec<String> = (0..8).map(m).collect();
    let first9: Vec<String> = (0..9).map(m).collect();
    let every: Vec<String> = (0..10).map(m).collect();
    // (unhealthy, how many answered, values that may appear)
    let cases: Vec<(Vec<String>, usize, Vec<String>)> = vec![
        (Vec::new(), 8, all.clone()),
        (first8, 2, all[8..].to_vec()),
        (first9, 1, all[9..].to_vec()),
        // None healthy: up to 8 of all of them.
        (every, 8, all.clone()),
    ];
    for (unhealthy, n, allowed) in cases {
        let refs: Vec<&str> = unhealthy.iter().map(String::as_str).collect();
        let auth = authority(&refs, None);
        let mut seen = BTreeSet::new();
        for seed in 0..200u64 {
            let got = values(&auth, "m.example.com", None, seed.wrapping_mul(0x9E37_79B9));
            assert_eq!(got.len(), n, "unhealthy {refs:?}");
            let distinct: BTreeSet<&String> = got.iter().collect();
            assert_eq!(distinct.len(), n, "no value twice");
            assert!(
                got.iter().all(|v| allowed.contains(v)),
                "{got:?} not within {allowed:?}"
            );
            seen.extend(got);
        }
        assert_eq!(
            seen.len(),
            allowed.len(),
            "every allowed value shows up at random"
        );
    }
}

#[test]
fn weighted_cname_is_chosen_then_followed() {
    let auth = authority(&["p"], None);
    for seed in 0..50 {
        let m = auth
            .answer_for(&request("wc.example.com", RecordType::A), None, seed)
            .message;
        let got: Vec<String> = m
            .answers
            .iter()
            .map(|r| format!("{} {}", r.record_type(), r.data))
            .collect();
        // Weight 0 (to g) never while to-f is healthy; then f's failover answers the secondary.
        assert_eq!(
            got,
            vec![
                "CNAME f.example.com.".to_string(),
                "A 192.0.2.11".to_string()
            ]
        );
    }
}

#[test]
fn answered_record_sets_are_reported() {
    let auth = authority(&["p"], None);
    let a = auth.answer_for(&request("wc.example.com", RecordType::A), None, 0);
    let got: Vec<(String, String, Option<String>)> = a
        .record_sets
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.rtype.to_string(),
                s.set_identifier.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("wc.example.com".into(), "CNAME".into(), Some("to-f".into())),
            ("f.example.com".into(), "A".into(), Some("SECONDARY".into())),
        ]
    );
    let a = auth.answer_for(&request("example.com", RecordType::SOA), None, 0);
    assert_eq!(a.record_sets.len(), 1);
    assert_eq!(a.record_sets[0].set_identifier, None);
}

#[test]
fn any_at_a_routed_name_answers_the_chosen_record_only() {
    let m = authority(&[], None)
        .answer_for(&request("f.example.com", RecordType::ANY), None, 0)
        .message;
    let got: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(got, vec!["192.0.2.10"]);
}

#[test]
fn bad_groups_are_reported() {
    let mut cfg = config();
    let z = &mut cfg.zones[0].records;
    // A plain record set next to a routed group of the same name and type.
    z.push(ConfigRecord {
        name: "w.example.com".into(),
        kind: "A".into(),
        records: vec!["192.0.2.99".into()],
        ..ConfigRecord::default()
    });
    // A set_identifier used twice.
    z.push(weighted("w.example.com", "one", "192.0.2.98", 1, None));
    // A routing policy without a set_identifier.
    z.push(ConfigRecord {
        set_identifier: None,
        ..weighted("x.example.com", "", "192.0.2.97", 1, None)
    });
    let auth = Authority::for_config(&cfg, &HashMap::<String, Vec<IpAddr>>::new());
    assert_eq!(auth.problems().len(), 3, "{:?}", auth.problems());
    // The group itself still answers.
    assert!(!values(&auth, "w.example.com", None, 0).contains(&"192.0.2.99".to_string()));
}
