//! Route 53 routing policies, health checks and the `[dns]` local settings: every mistake is
//! reported at once, with its key path.

fn errors(src: &str) -> Vec<String> {
    match edgeway_config::parse("t.toml", src) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// `key.path: message` without the position, sorted.
fn messages(src: &str) -> Vec<String> {
    let mut v: Vec<String> = errors(src)
        .iter()
        .map(|e| e.splitn(4, ':').nth(3).unwrap_or(e).trim().to_string())
        .collect();
    v.sort();
    v
}

const HEAD: &str = r#"
[dns]
listen = "127.0.0.1:0"
region = "us-east-1"
geo = [{ cidr = "127.0.0.0/8", country = "US" }, { cidr = "::1", continent = "EU" }]

[[health_check]]
id = "web"
type = "HTTPS_STR_MATCH"
fqdn = "localhost"
resource_path = "/health"
search_string = "ok"
request_interval = 10
failure_threshold = 2

[[zone]]
name = "example.com"
"#;

#[test]
fn every_policy_parses_and_validates() {
    let src = format!(
        r#"{HEAD}
[[zone.record]]
name = "w.example.com"
type = "A"
records = ["192.0.2.1"]
set_identifier = "a"
weighted_routing_policy = {{ weight = 0 }}
health_check_id = "web"

[[zone.record]]
name = "w.example.com"
type = "A"
records = ["192.0.2.2"]
set_identifier = "b"
weighted_routing_policy = {{ weight = 255 }}

[[zone.record]]
name = "f.example.com"
type = "CNAME"
records = ["w.example.com"]
set_identifier = "p"
failover_routing_policy = {{ type = "PRIMARY" }}

[[zone.record]]
name = "l.example.com"
type = "TXT"
records = ["x"]
set_identifier = "l"
latency_routing_policy = {{ region = "eu-west-1" }}

[[zone.record]]
name = "g.example.com"
type = "A"
records = ["192.0.2.3"]
set_identifier = "d"
geolocation_routing_policy = {{ country = "*" }}

[[zone.record]]
name = "g.example.com"
type = "A"
records = ["192.0.2.4"]
set_identifier = "wa"
geolocation_routing_policy = {{ country = "US", subdivision = "WA" }}

[[zone.record]]
name = "m.example.com"
type = "A"
records = ["192.0.2.5"]
set_identifier = "m"
multivalue_answer_routing_policy = true
"#
    );
    assert_eq!(errors(&src), Vec::<String>::new());
    let cfg = edgeway_config::parse("t.toml", &src).unwrap_or_default();
    assert_eq!(cfg.health_checks[0].failure_threshold, 2);
    assert_eq!(
        cfg.zones[0].records[1]
            .weighted_routing_policy
            .as_ref()
            .map(|w| w.weight),
        Some(255)
    );
    assert!(cfg.zones[0].records[6].multivalue_answer_routing_policy);
    assert_eq!(cfg.dns.as_ref().map(|d| d.geo.len()), Some(2));
    // Defaults: interval 30, threshold 3.
    let d = edgeway_config::parse(
        "t.toml",
        "[[health_check]]\nid = \"x\"\ntype = \"TCP\"\nip_address = \"127.0.0.1\"\nport = 1\n",
    )
    .unwrap_or_default();
    assert_eq!(
        (
            d.health_checks[0].request_interval,
            d.health_checks[0].failure_threshold
        ),
        (30, 3)
    );
}

#[test]
fn mistakes_are_all_reported() {
    let src = r#"
[dns]
listen = "127.0.0.1:0"
region = ""
geo = [{ cidr = "nope", country = "usa" }, { cidr = "10.0.0.0/8" }, { cidr = "10.1.0.0/16", continent = "XX" }]

[[health_check]]
id = "a"
type = "PING"
ip_address = "not-an-ip"
request_interval = 15
failure_threshold = 11

[[health_check]]
id = "a"
type = "HTTP_STR_MATCH"
fqdn = "localhost"
resource_path = "health"

[[health_check]]
id = "t"
type = "TCP"
ip_address = "127.0.0.1"
search_string = "x"

[[health_check]]
id = "n"
type = "HTTP"
search_string = "x"

[[load_balancer]]
name = "lb"
bind_address = "127.0.0.1"

[[zone]]
name = "example.com"

[[zone.record]]
name = "w.example.com"
type = "A"
records = ["192.0.2.1"]
weighted_routing_policy = { weight = 256 }
failover_routing_policy = { type = "TERTIARY" }
health_check_id = "missing"

[[zone.record]]
name = "w.example.com"
type = "A"
records = ["192.0.2.2"]
set_identifier = "x"

[[zone.record]]
name = "g.example.com"
type = "A"
records = ["192.0.2.3"]
set_identifier = "g"
geolocation_routing_policy = { continent = "EU", country = "FR" }

[[zone.record]]
name = "g.example.com"
type = "A"
records = ["192.0.2.3"]
set_identifier = "g"
latency_routing_policy = { region = "us-east-1" }

[[zone.record]]
name = "m.example.com"
type = "A"
set_identifier = "m"
multivalue_answer_routing_policy = true
alias = { load_balancer = "lb" }

[[zone.record]]
name = "m.example.com"
type = "A"
records = ["192.0.2.4"]

[[zone.record]]
name = "d.example.com"
type = "A"
set_identifier = "d"
geolocation_routing_policy = { country = "*", subdivision = "WA" }
alias = { load_balancer = "lb", evaluate_target_health = true }
"#;
    let want = [
        "dns.geo[0].cidr: `nope` is not a CIDR block",
        "dns.geo[0].country: `usa` is not a two-letter country code",
        "dns.geo[1]: needs a country or a continent",
        "dns.geo[2].continent: `XX` is not one of AF, AN, AS, EU, NA, OC, SA",
        "dns.region: must not be empty",
        "health_check[0].failure_threshold: 11 is out of range 1..=10",
        "health_check[0].ip_address: `not-an-ip` is not an IP address",
        "health_check[0].request_interval: 15 is not 10 or 30",
        "health_check[0].type: `PING` is not one of HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP",
        "health_check[1].id: `a` is defined twice",
        "health_check[1].resource_path: must start with `/` and be at most 255 characters",
        "health_check[1].search_string: a HTTP_STR_MATCH health check needs a search_string",
        "health_check[2].port: a TCP health check needs a port",
        "health_check[2].search_string: only *_STR_MATCH health checks search",
        "health_check[2]: a TCP health check has no resource_path or search_string",
        "health_check[3].search_string: only *_STR_MATCH health checks search",
        "health_check[3]: needs an ip_address or an fqdn",
        "zone[0].record[0].failover_routing_policy.type: `TERTIARY` is not one of PRIMARY, SECONDARY",
        "zone[0].record[0].health_check_id: no health_check `missing`",
        "zone[0].record[0].set_identifier: a record with a routing policy needs one",
        "zone[0].record[0].weighted_routing_policy.weight: 256 is out of range 0..=255",
        "zone[0].record[0]: has more than one routing policy (weighted, failover)",
        "zone[0].record[1].set_identifier: is only for records with a routing policy",
        "zone[0].record[2].geolocation_routing_policy: names exactly one of continent or country",
        "zone[0].record[3].set_identifier: `g` is used twice for g.example.com A",
        "zone[0].record[3]: g.example.com A mixes routing policies (geolocation and latency)",
        "zone[0].record[4].alias: multivalue answer records cannot be aliases",
        "zone[0].record[5]: m.example.com A has record sets with a routing policy too",
        "zone[0].record[6].geolocation_routing_policy.subdivision: the default location has no subdivision",
    ];
    // Problems outside the DNS tier (the bare load balancer) are other tests' business.
    let got: Vec<String> = messages(src)
        .into_iter()
        .filter(|m| m.starts_with("dns") || m.starts_with("health_check") || m.starts_with("zone"))
        .collect();
    assert_eq!(got, want, "{:#?}", errors(src));
}
