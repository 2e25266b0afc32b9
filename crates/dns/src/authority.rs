//! The answers: which zone a name is in and what it says. Pure: no I/O, no clock.

use crate::geo::GeoMap;
use crate::records::{self, fqdn, owner_key};
use crate::routing::{AllHealthy, Ctx, Health, Member, Policy, DEFAULT_REGION};
use crate::zone::{cname_target, is_within, key_of, key_of_name, Found, ZoneData};
use edgeway_config::{Alias, Config, Record as ConfigRecord, Zone};
use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The UDP payload size this server advertises in its EDNS(0) OPT record.
pub(crate) const SERVER_PAYLOAD: u16 = 4096;
/// Most CNAME hops followed inside a zone before answering with what was found.
const MAX_CNAME_HOPS: usize = 8;
/// TTL of the synthesized apex SOA record (Route 53's default).
const SOA_TTL: u32 = 900;
/// TTL of the synthesized apex NS record (Route 53's default).
const NS_TTL: u32 = 172_800;

/// The current listen addresses of what an alias names (the wiring fills this from the bound
/// listeners).
pub trait AliasAddresses: Send + Sync {
    /// The addresses the alias target listens on now; empty when it is not running.
    fn addresses(&self, alias: &Alias) -> Vec<IpAddr>;
}

/// Keyed by `"distribution/ID"` and `"load_balancer/NAME"`.
impl AliasAddresses for HashMap<String, Vec<IpAddr>> {
    fn addresses(&self, alias: &Alias) -> Vec<IpAddr> {
        let key = match (&alias.distribution, &alias.load_balancer) {
            (Some(d), _) => format!("distribution/{d}"),
            (None, Some(lb)) => format!("load_balancer/{lb}"),
            (None, None) => return Vec::new(),
        };
        self.get(&key).cloned().unwrap_or_default()
    }
}

/// A record set that contributed to an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredSet {
    /// The owner name as configured (`www.example.com`, `*.example.com`).
    pub name: String,
    pub rtype: RecordType,
    /// The `set_identifier` of a record set with a routing policy.
    pub set_identifier: Option<String>,
}

/// The response to one query and the record sets it was built from (for counters).
#[derive(Debug, Clone)]
pub struct Answer {
    pub message: Message,
    pub record_sets: Vec<AnsweredSet>,
}

/// The health view an [`Authority`] answers with.
#[derive(Clone)]
struct HealthRef(Arc<dyn Health>);

impl Default for HealthRef {
    fn default() -> Self {
        Self(Arc::new(AllHealthy))
    }
}

impl std::fmt::Debug for HealthRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health")
    }
}

/// Everything this server is authoritative for, built once per config (and per change of an
/// alias target's addresses) and swapped in whole.
#[derive(Debug, Clone, Default)]
pub struct Authority {
    /// Longest apex first, so the most specific zone wins.
    zones: Vec<ZoneData>,
    problems: Vec<String>,
    health: HealthRef,
    /// The region latency records answer for (`[dns] region`).
    region: String,
    geo: GeoMap,
}

impl Authority {
    /// The authority for a whole config: its zones, and the `[dns]` latency region and
    /// geolocation map. Health is [`AllHealthy`] until [`Authority::with_health`].
    pub fn for_config(cfg: &Config, aliases: &dyn AliasAddresses) -> Authority {
        let mut out = Authority::new(&cfg.zones, aliases);
        if let Some(d) = &cfg.dns {
            if let Some(r) = &d.region {
                out.region = r.trim().to_ascii_lowercase();
            }
            out.geo = GeoMap::new(&d.geo, &mut out.problems);
        }
        out
    }

    /// Answers with this view of health checks and alias targets.
    pub fn with_health(mut self, health: Arc<dyn Health>) -> Authority {
        self.health = HealthRef(health);
        self
    }

    /// Sets the region latency records answer for.
    pub fn with_region(mut self, region: &str) -> Authority {
        self.region = region.trim().to_ascii_lowercase();
        self
    }

    /// Builds the zones from the config, resolving alias records to the addresses `aliases`
    /// reports now. Record sets that cannot be served (an unknown type, a bad value) are left out
    /// and reported by [`Authority::problems`]; config validation should have caught them.
    pub fn new(zones: &[Zone], aliases: &dyn AliasAddresses) -> Authority {
        let mut out = Authority {
            region: DEFAULT_REGION.to_string(),
            ..Authority::default()
        };
        for zone in zones {
            let key = key_of(&zone.name);
            let origin = match fqdn(&key) {
                Ok(n) if !key.is_empty() => n,
                _ => {
                    out.problems
                        .push(format!("zone {:?}: not a domain name", zone.name));
                    continue;
                }
            };
            if out.zones.iter().any(|z| z.key == key) {
                out.problems.push(format!(
                    "zone {key}: defined twice; the first one is served"
                ));
                continue;
            }
            let mut data = ZoneData::new(key.clone(), origin);
            for rec in &zone.records {
                let owner = owner_key(&key, &rec.name);
                let built = fqdn(&owner).and_then(|name| records::build(rec, &name, aliases));
                match built
                    .and_then(|(rtype, recs)| add_record_set(&mut data, &owner, rec, rtype, recs))
                {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(zone = %key, record = %rec.name, "record set left out: {e}");
                        out.problems
                            .push(format!("zone {key}: record {} {}: {e}", rec.name, rec.kind));
                    }
                }
            }
            synthesize_apex(&mut data);
            out.zones.push(data);
        }
        out.zones
            .sort_by_key(|z| std::cmp::Reverse(z.key.split('.').count()));
        out
    }

    /// Record sets left out when building, one line each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The apex names of the zones served (`example.com`), most specific first.
    pub fn zone_names(&self) -> impl Iterator<Item = &str> {
        self.zones.iter().map(|z| z.key.as_str())
    }

    fn zone_for(&self, key: &str) -> Option<&ZoneData> {
        self.zones.iter().find(|z| is_within(key, &z.key))
    }

    /// The response to `request` from an unknown source, with the first random draw: see
    /// [`Authority::answer_for`].
    pub fn answer(&self, request: &Message) -> Message {
        self.answer_for(request, None, 0).message
    }

    /// The response to `request` from `source`. A pure function of the zones, the health view,
    /// `source` (for geolocation) and `seed` (for weighted and multivalue choices). Never fails:
    /// every problem becomes a response code.
    ///
    /// - opcode other than QUERY: NOTIMP; not exactly one question: FORMERR; EDNS version above 0:
    ///   BADVERS; class other than IN, AXFR/IXFR, or a name outside every zone: REFUSED.
    /// - ANY is answered with every record set at the name.
    pub fn answer_for(&self, request: &Message, source: Option<IpAddr>, seed: u64) -> Answer {
        let mut record_sets = Vec::new();
        let message = self.respond(request, source, seed, &mut record_sets);
        Answer {
            message,
            record_sets,
        }
    }

    fn respond(
        &self,
        request: &Message,
        source: Option<IpAddr>,
        seed: u64,
        sets: &mut Vec<AnsweredSet>,
    ) -> Message {
        let mut resp = Message::response(request.id, request.op_code);
        resp.metadata.recursion_desired = request.recursion_desired;
        resp.metadata.checking_disabled = request.checking_disabled;
        resp.queries = request.queries.clone();
        if let Some(req_edns) = &request.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(SERVER_PAYLOAD).set_version(0);
            resp.edns = Some(edns);
            if req_edns.version() > 0 {
                resp.metadata.response_code = ResponseCode::BADVERS;
                return resp;
            }
        }
        if request.op_code != OpCode::Query {
            resp.metadata.response_code = ResponseCode::NotImp;
            return resp;
        }
        let [question] = request.queries.as_slice() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp;
        };
        let qtype = question.query_type();
        if question.query_class() != DNSClass::IN
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
        {
            resp.metadata.response_code = ResponseCode::Refused;
            return resp;
        }
        let name = question.name().clone();
        let Some(zone) = self.zone_for(&key_of_name(&name)) else {
            resp.metadata.response_code = ResponseCode::Refused;
            return resp;
        };
        resp.metadata.authoritative = true;
        let location = source.and_then(|s| self.geo.locate(s));
        let ctx = Ctx::new(self.health.0.as_ref(), &self.region, location, seed);
        resolve(zone, name, qtype, &ctx, &mut resp, sets);
        resp
    }
}

/// Adds one config record set (built into `recs`) at `owner`: plain, or a member of its routing
/// group.
fn add_record_set(
    data: &mut ZoneData,
    owner: &str,
    rec: &ConfigRecord,
    rtype: RecordType,
    recs: Vec<Record>,
) -> Result<(), String> {
    let node = data.node_mut(owner);
    match (Policy::of(rec)?, &rec.set_identifier) {
        (None, None) => node.add(rtype, recs),
        (Some(policy), Some(id)) => node.add_member(
            rtype,
            Member {
                set_identifier: id.clone(),
                policy,
                health_check: rec.health_check_id.clone(),
                evaluate: rec.alias.clone().filter(|a| a.evaluate_target_health),
                records: recs,
            },
        ),
        (Some(_), None) => Err("a record set with a routing policy needs a set_identifier".into()),
        (None, Some(_)) => Err("a record set with a set_identifier needs a routing policy".into()),
    }
}

/// Fills `resp` with the answer to `name`/`qtype` inside `zone`, following CNAMEs in the zone.
fn resolve(
    zone: &ZoneData,
    mut name: Name,
    qtype: RecordType,
    ctx: &Ctx<'_>,
    resp: &mut Message,
    sets: &mut Vec<AnsweredSet>,
) {
    for _ in 0..MAX_CNAME_HOPS {
        let key = key_of_name(&name);
        let node = match zone.find(&key) {
            Found::Node(node) => node,
            Found::Missing => {
                resp.metadata.response_code = ResponseCode::NXDomain;
                negative(zone, resp);
                return;
            }
            Found::Delegation(ns) => {
                if resp.answers.is_empty() {
                    resp.metadata.authoritative = false;
                    resp.authorities.extend(ns.iter().cloned());
                    for r in ns {
                        if let RData::NS(NS(target)) = &r.data {
                            resp.additionals
                                .extend(zone.addresses(&key_of_name(target)));
                        }
                    }
                }
                return;
            }
        };
        let owned = |r: &Record| {
            let mut r = r.clone();
            r.name = name.clone();
            r
        };
        let mut note = |s: &crate::zone::Selected| {
            sets.extend(s.sets.iter().map(|(t, id)| AnsweredSet {
                name: node.owner.clone(),
                rtype: *t,
                set_identifier: id.clone(),
            }));
        };
        let before = resp.answers.len();
        if qtype == RecordType::ANY {
            let all = node.all(ctx);
            note(&all);
            resp.answers.extend(all.records.iter().map(owned));
        } else if let Some(sel) = node.select(qtype, ctx) {
            note(&sel);
            resp.answers.extend(sel.records.iter().map(owned));
        } else if let Some(sel) = node.select(RecordType::CNAME, ctx) {
            note(&sel);
            resp.answers.extend(sel.records.iter().map(owned));
            let Some(target) = cname_target(&sel.records).cloned() else {
                return;
            };
            if is_within(&key_of_name(&target), &zone.key) {
                name = target;
                continue;
            }
            return;
        }
        if resp.answers.len() == before {
            // NODATA: the name exists without records of this type.
            negative(zone, resp);
        }
        return;
    }
}

/// Puts the zone's SOA in the authority section, its TTL capped at the SOA minimum (RFC 2308).
fn negative(zone: &ZoneData, resp: &mut Message) {
    if let Some(soa) = zone.soa() {
        let mut soa = soa.clone();
        if let RData::SOA(s) = &soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        resp.authorities.push(soa);
    }
}

/// Adds the apex SOA and NS records Route 53 creates with every hosted zone, unless configured.
fn synthesize_apex(zone: &mut ZoneData) {
    let origin = zone.origin.clone();
    let ns_name = origin
        .prepend_label("ns-1")
        .unwrap_or_else(|_| origin.clone());
    let apex = zone.key.clone();
    if zone.apex().and_then(|n| n.get(RecordType::SOA)).is_none() {
        let rname = origin
            .prepend_label("hostmaster")
            .unwrap_or_else(|_| origin.clone());
        let soa = SOA::new(ns_name.clone(), rname, 1, 7200, 900, 1_209_600, 86_400);
        let _ = zone.add(
            &apex,
            RecordType::SOA,
            vec![Record::from_rdata(origin.clone(), SOA_TTL, RData::SOA(soa))],
        );
    }
    if zone.apex().and_then(|n| n.get(RecordType::NS)).is_none() {
        let _ = zone.add(
            &apex,
            RecordType::NS,
            vec![Record::from_rdata(origin, NS_TTL, RData::NS(NS(ns_name)))],
        );
    }
}

#[cfg(test)]
#[path = "authority_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "routing_tests.rs"]
mod routing_tests;
