use super::*;
use edgeway_config::Record as ConfigRecord;
use hickory_proto::op::{MessageType, Query};

fn rec(name: &str, kind: &str, values: &[&str]) -> ConfigRecord {
    ConfigRecord {
        name: name.into(),
        kind: kind.into(),
        ttl: None,
        records: values.iter().map(|v| v.to_string()).collect(),
        ..ConfigRecord::default()
    }
}

fn alias(
    name: &str,
    kind: &str,
    distribution: Option<&str>,
    load_balancer: Option<&str>,
) -> ConfigRecord {
    ConfigRecord {
        alias: Some(Alias {
            distribution: distribution.map(str::to_string),
            load_balancer: load_balancer.map(str::to_string),
            evaluate_target_health: false,
        }),
        ..rec(name, kind, &[])
    }
}

pub(crate) fn fixture() -> Authority {
    let mut ttl = rec("short", "A", &["192.0.2.7"]);
    ttl.ttl = Some(5);
    let zones = vec![
        Zone {
            name: "Example.com.".into(),
            records: vec![
                alias("", "A", Some("site"), None),
                alias("example.com", "AAAA", Some("site"), None),
                alias("api", "A", None, Some("web")),
                alias("api.example.com", "AAAA", None, Some("web")),
                rec("www", "CNAME", &["example.com"]),
                rec("@", "TXT", &["v=spf1 -all"]),
                rec("example.com.", "MX", &["10 mail.example."]),
                rec("v6", "AAAA", &["2001:db8::1"]),
                rec("ext", "CNAME", &["target.example.net."]),
                rec("a.b", "A", &["192.0.2.1"]),
                rec("*.wild", "A", &["192.0.2.9"]),
                rec("sub", "NS", &["ns.sub.example.com."]),
                rec("ns.sub", "A", &["192.0.2.53"]),
                rec("loop1", "CNAME", &["loop2.example.com"]),
                rec("loop2", "CNAME", &["loop1.example.com"]),
                rec("bad", "A", &["not-an-ip"]),
                ttl,
            ],
        },
        Zone {
            name: "inner.example.com".into(),
            records: vec![rec("", "A", &["192.0.2.100"])],
        },
    ];
    let mut targets: HashMap<String, Vec<IpAddr>> = HashMap::new();
    targets.insert(
        "distribution/site".into(),
        vec!["127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))],
    );
    targets.insert(
        "load_balancer/web".into(),
        vec![
            IpAddr::from([127, 0, 0, 2]),
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ],
    );
    Authority::new(&zones, &targets)
}

pub(crate) fn request(name: &str, rtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    let mut n = Name::from_ascii(name).unwrap_or_default();
    n.set_fqdn(true);
    m.add_query(Query::query(n, rtype));
    m
}

/// `RCODE aa=BOOL | answer; answer | authority types`
fn summary(m: &Message) -> String {
    let answers: Vec<String> = m
        .answers
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.record_type(), r.ttl, r.data))
        .collect();
    let auth: Vec<String> = m
        .authorities
        .iter()
        .map(|r| format!("{} {}", r.record_type(), r.ttl))
        .collect();
    format!(
        "{:?} aa={} | {} | {}",
        m.response_code,
        m.authoritative,
        answers.join("; "),
        auth.join(" ")
    )
}

#[test]
fn answers_table() {
    let auth = fixture();
    let t = RecordType::A;
    let cases: &[(&str, RecordType, &str)] = &[
        ("example.com", t, "NoError aa=true | example.com. A 60 127.0.0.1 | "),
        ("EXAMPLE.com.", t, "NoError aa=true | EXAMPLE.com. A 60 127.0.0.1 | "),
        // An A-only alias target: AAAA is NODATA.
        ("example.com", RecordType::AAAA, "NoError aa=true |  | SOA 900"),
        ("api.example.com", t, "NoError aa=true | api.example.com. A 60 127.0.0.2 | "),
        ("api.example.com", RecordType::AAAA, "NoError aa=true | api.example.com. AAAA 60 ::1 | "),
        ("example.com", RecordType::TXT, "NoError aa=true | example.com. TXT 300 v=spf1 -all | "),
        ("example.com", RecordType::MX, "NoError aa=true | example.com. MX 300 10 mail.example. | "),
        (
            "example.com",
            RecordType::SOA,
            "NoError aa=true | example.com. SOA 900 ns-1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400 | ",
        ),
        ("example.com", RecordType::NS, "NoError aa=true | example.com. NS 172800 ns-1.example.com. | "),
        // CNAME followed inside the zone.
        ("www.example.com", t, "NoError aa=true | www.example.com. CNAME 300 example.com.; example.com. A 60 127.0.0.1 | "),
        ("www.example.com", RecordType::CNAME, "NoError aa=true | www.example.com. CNAME 300 example.com. | "),
        ("www.example.com", RecordType::MX, "NoError aa=true | www.example.com. CNAME 300 example.com.; example.com. MX 300 10 mail.example. | "),
        // CNAME to another zone: the resolver chases it.
        ("ext.example.com", t, "NoError aa=true | ext.example.com. CNAME 300 target.example.net. | "),
        ("v6.example.com", t, "NoError aa=true |  | SOA 900"),
        ("missing.example.com", t, "NXDomain aa=true |  | SOA 900"),
        // Empty non-terminal: exists, no data.
        ("b.example.com", t, "NoError aa=true |  | SOA 900"),
        ("a.b.example.com", t, "NoError aa=true | a.b.example.com. A 300 192.0.2.1 | "),
        ("x.y.wild.example.com", t, "NoError aa=true | x.y.wild.example.com. A 300 192.0.2.9 | "),
        ("wild.example.com", t, "NoError aa=true |  | SOA 900"),
        // Delegation: a referral, not authoritative.
        ("host.sub.example.com", t, "NoError aa=false |  | NS 300"),
        ("short.example.com", t, "NoError aa=true | short.example.com. A 5 192.0.2.7 | "),
        // The more specific zone wins.
        ("inner.example.com", t, "NoError aa=true | inner.example.com. A 300 192.0.2.100 | "),
        ("x.inner.example.com", t, "NXDomain aa=true |  | SOA 900"),
        ("example.org", t, "Refused aa=false |  | "),
        ("badexample.com", t, "Refused aa=false |  | "),
        ("bad.example.com", t, "NXDomain aa=true |  | SOA 900"),
        ("example.com", RecordType::AXFR, "Refused aa=false |  | "),
    ];
    for (name, rtype, want) in cases {
        let resp = auth.answer(&request(name, *rtype));
        assert_eq!(summary(&resp), *want, "{name} {rtype}");
        assert_eq!(resp.message_type, MessageType::Response);
        assert!(!resp.recursion_available, "RA is never set");
        assert!(resp.recursion_desired, "RD is copied");
    }
    assert_eq!(auth.problems().len(), 1, "{:?}", auth.problems());
}

#[test]
fn referral_carries_glue() {
    let resp = fixture().answer(&request("sub.example.com", RecordType::NS));
    assert_eq!(resp.additionals.len(), 1);
    assert_eq!(resp.additionals[0].data.to_string(), "192.0.2.53");
}

#[test]
fn cname_loop_stops() {
    let resp = fixture().answer(&request("loop1.example.com", RecordType::A));
    assert_eq!(resp.response_code, ResponseCode::NoError);
    assert_eq!(resp.answers.len(), MAX_CNAME_HOPS);
}

#[test]
fn any_returns_everything_at_the_name() {
    let resp = fixture().answer(&request("example.com", RecordType::ANY));
    let mut types: Vec<String> = resp
        .answers
        .iter()
        .map(|r| r.record_type().to_string())
        .collect();
    types.sort();
    // The AAAA alias has no addresses (its target is IPv4-only), so it is absent.
    assert_eq!(types, ["A", "MX", "NS", "SOA", "TXT"]);
}

#[test]
fn header_errors() {
    let auth = fixture();
    let mut notify = request("example.com", RecordType::A);
    notify.metadata.op_code = OpCode::Notify;
    assert_eq!(auth.answer(&notify).response_code, ResponseCode::NotImp);

    let mut two = request("example.com", RecordType::A);
    two.add_query(Query::query(Name::root(), RecordType::A));
    assert_eq!(auth.answer(&two).response_code, ResponseCode::FormErr);

    let mut none = request("example.com", RecordType::A);
    none.queries.clear();
    assert_eq!(auth.answer(&none).response_code, ResponseCode::FormErr);

    let mut chaos = request("version.bind", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(auth.answer(&chaos).response_code, ResponseCode::Refused);

    let mut v1 = request("example.com", RecordType::A);
    let mut edns = Edns::new();
    edns.set_version(1);
    v1.set_edns(edns);
    let resp = auth.answer(&v1);
    assert_eq!(resp.response_code, ResponseCode::BADVERS);
    assert!(resp.edns.is_some());
}

#[test]
fn edns_is_echoed() {
    let auth = fixture();
    let mut req = request("example.com", RecordType::A);
    assert!(auth.answer(&req).edns.is_none());
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    req.set_edns(edns);
    let resp = auth.answer(&req);
    assert_eq!(
        resp.edns.as_ref().map(Edns::max_payload),
        Some(SERVER_PAYLOAD)
    );
}

#[test]
fn configured_soa_and_ns_win() {
    let zones = vec![Zone {
        name: "example.net".into(),
        records: vec![
            rec("", "SOA", &["ns.other. admin.other. 42 1 2 3 60"]),
            rec("", "NS", &["ns.other."]),
        ],
    }];
    let auth = Authority::new(&zones, &HashMap::new());
    let resp = auth.answer(&request("nope.example.net", RecordType::A));
    assert_eq!(summary(&resp), "NXDomain aa=true |  | SOA 60");
    let resp = auth.answer(&request("example.net", RecordType::NS));
    assert_eq!(
        summary(&resp),
        "NoError aa=true | example.net. NS 300 ns.other. | "
    );
}
