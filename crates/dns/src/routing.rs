//! Route 53 routing policies: which record sets of a group (same name and type, each with a
//! `set_identifier`) answer a query, given their health. Pure: the health view, the viewer's
//! location and the random numbers all come in through [`Ctx`].

use crate::geo::Location;
use edgeway_config::{Alias, Record as ConfigRecord};
use hickory_proto::rr::Record;
use std::cell::Cell;

/// Most records a multivalue answer holds (Route 53's limit).
pub(crate) const MULTIVALUE_MAX: usize = 8;
/// The latency region when `[dns] region` is not set.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// Whether health checks and alias targets are healthy now.
pub trait Health: Send + Sync {
    /// The status of the `[[health_check]]` with this `id`; an unknown id is healthy.
    fn check_healthy(&self, id: &str) -> bool;
    /// Whether an alias target counts as healthy for `evaluate_target_health`.
    fn alias_healthy(&self, alias: &Alias) -> bool;
}

/// Everything is healthy (no health checks configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllHealthy;

impl Health for AllHealthy {
    fn check_healthy(&self, _: &str) -> bool {
        true
    }
    fn alias_healthy(&self, _: &Alias) -> bool {
        true
    }
}

/// A fixed health view: check ids and alias targets (`distribution/ID`, `load_balancer/NAME`)
/// that are unhealthy. For tests and for callers that compute health elsewhere.
#[derive(Debug, Clone, Default)]
pub struct FixedHealth {
    pub unhealthy_checks: Vec<String>,
    pub unhealthy_aliases: Vec<String>,
}

impl Health for FixedHealth {
    fn check_healthy(&self, id: &str) -> bool {
        !self.unhealthy_checks.iter().any(|c| c == id)
    }
    fn alias_healthy(&self, alias: &Alias) -> bool {
        !self
            .unhealthy_aliases
            .iter()
            .any(|a| Some(a.as_str()) == alias_key(alias).as_deref())
    }
}

/// `distribution/ID` or `load_balancer/NAME`.
pub fn alias_key(alias: &Alias) -> Option<String> {
    match (&alias.distribution, &alias.load_balancer) {
        (Some(d), _) => Some(format!("distribution/{d}")),
        (None, Some(lb)) => Some(format!("load_balancer/{lb}")),
        (None, None) => None,
    }
}

/// A record set's routing policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Policy {
    Weighted(u32),
    Failover { primary: bool },
    Latency(String),
    Geo(GeoKey),
    Multivalue,
}

impl Policy {
    /// The policy of a config record set, if it has one.
    pub(crate) fn of(rec: &ConfigRecord) -> Result<Option<Policy>, String> {
        if let Some(w) = &rec.weighted_routing_policy {
            return Ok(Some(Policy::Weighted(w.weight)));
        }
        if let Some(f) = &rec.failover_routing_policy {
            return match f.kind.to_ascii_uppercase().as_str() {
                "PRIMARY" => Ok(Some(Policy::Failover { primary: true })),
                "SECONDARY" => Ok(Some(Policy::Failover { primary: false })),
                other => Err(format!(
                    "failover type {other:?} is not PRIMARY or SECONDARY"
                )),
            };
        }
        if let Some(l) = &rec.latency_routing_policy {
            return Ok(Some(Policy::Latency(l.region.trim().to_ascii_lowercase())));
        }
        if let Some(g) = &rec.geolocation_routing_policy {
            let up = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_ascii_uppercase());
            let key = match (up(&g.continent), up(&g.country), up(&g.subdivision)) {
                (None, Some(c), None) if c == "*" => GeoKey::Default,
                (Some(ct), None, None) => GeoKey::Continent(ct),
                (None, Some(c), None) => GeoKey::Country(c),
                (None, Some(c), Some(s)) => GeoKey::Subdivision(c, s),
                _ => return Err("geolocation names one of continent, country (with subdivision) or country \"*\"".into()),
            };
            return Ok(Some(Policy::Geo(key)));
        }
        if rec.multivalue_answer_routing_policy {
            return Ok(Some(Policy::Multivalue));
        }
        Ok(None)
    }

    fn kind(&self) -> u8 {
        match self {
            Policy::Weighted(_) => 0,
            Policy::Failover { .. } => 1,
            Policy::Latency(_) => 2,
            Policy::Geo(_) => 3,
            Policy::Multivalue => 4,
        }
    }
}

/// The location a geolocation record set is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GeoKey {
    /// `country = "*"`: viewers no other record covers.
    Default,
    Continent(String),
    Country(String),
    Subdivision(String, String),
}

/// One record set of a group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) set_identifier: String,
    pub(crate) policy: Policy,
    pub(crate) health_check: Option<String>,
    /// An alias with `evaluate_target_health = true`.
    pub(crate) evaluate: Option<Alias>,
    pub(crate) records: Vec<Record>,
}

/// What one answer depends on besides the zone data.
pub(crate) struct Ctx<'a> {
    pub(crate) health: &'a dyn Health,
    pub(crate) region: &'a str,
    pub(crate) location: Option<&'a Location>,
    rng: Cell<u64>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        health: &'a dyn Health,
        region: &'a str,
        location: Option<&'a Location>,
        seed: u64,
    ) -> Self {
        Self {
            health,
            region,
            location,
            rng: Cell::new(seed),
        }
    }

    /// splitmix64: small, fast, and good enough to spread answers.
    fn next(&self) -> u64 {
        let s = self.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.rng.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn healthy(&self, m: &Member) -> bool {
        m.health_check
            .as_deref()
            .is_none_or(|id| self.health.check_healthy(id))
            && m.evaluate
                .as_ref()
                .is_none_or(|a| self.health.alias_healthy(a))
    }
}

/// The members of a group that answer, in answer order. Members whose policy differs from the
/// first member's are ignored (validation rejects such groups).
pub(crate) fn select<'m>(members: &'m [Member], ctx: &Ctx<'_>) -> Vec<&'m Member> {
    let Some(first) = members.first() else {
        return Vec::new();
    };
    let group: Vec<&Member> = members
        .iter()
        .filter(|m| m.policy.kind() == first.policy.kind())
        .collect();
    let mut healthy: Vec<bool> = group.iter().map(|m| ctx.healthy(m)).collect();
    // When no record of the group is healthy, Route 53 treats them all as healthy.
    if !healthy.contains(&true) {
        healthy.iter_mut().for_each(|h| *h = true);
    }
    let ok = |i: usize| healthy.get(i).copied().unwrap_or(false);
    match &first.policy {
        Policy::Weighted(_) => weighted(&group, &healthy, ctx).into_iter().collect(),
        Policy::Failover { .. } => {
            let find = |primary: bool| {
                group
                    .iter()
                    .enumerate()
                    .find(|(_, m)| m.policy == Policy::Failover { primary })
            };
            match (find(true), find(false)) {
                (Some((i, p)), _) if ok(i) => vec![*p],
                (_, Some((i, s))) if ok(i) => vec![*s],
                (Some((_, p)), _) => vec![*p],
                (None, Some((_, s))) => vec![*s],
                (None, None) => Vec::new(),
            }
        }
        Policy::Latency(_) => {
            // The local region first, then the others in config order.
            let mut order: Vec<usize> = (0..group.len()).collect();
            order.sort_by_key(
                |&i| !matches!(&group[i].policy, Policy::Latency(r) if r == ctx.region),
            );
            order
                .iter()
                .find(|&&i| ok(i))
                .or(order.first())
                .map(|&i| group[i])
                .into_iter()
                .collect()
        }
        Policy::Geo(_) => {
            let candidates = geo_candidates(&group, ctx.location);
            candidates
                .iter()
                .find(|&&i| ok(i))
                .or(candidates.first())
                .map(|&i| group[i])
                .into_iter()
                .collect()
        }
        Policy::Multivalue => {
            let mut pool: Vec<&Member> = group
                .iter()
                .enumerate()
                .filter(|(i, _)| ok(*i))
                .map(|(_, m)| *m)
                .collect();
            // Fisher-Yates, stopping once the first MULTIVALUE_MAX places are drawn.
            let take = pool.len().min(MULTIVALUE_MAX);
            for i in 0..take {
                let j = i + ctx.below((pool.len() - i) as u64) as usize;
                pool.swap(i, j);
            }
            pool.truncate(take);
            pool
        }
    }
}

/// One member by weight among the healthy ones with a weight above 0; among the healthy ones
/// with weight 0 (equally) when there are none.
fn weighted<'m>(group: &[&'m Member], healthy: &[bool], ctx: &Ctx<'_>) -> Option<&'m Member> {
    let weight = |m: &Member| match m.policy {
        Policy::Weighted(w) => u64::from(w),
        _ => 0,
    };
    let live: Vec<&Member> = group
        .iter()
        .zip(healthy)
        .filter(|(_, h)| **h)
        .map(|(m, _)| *m)
        .collect();
    let total: u64 = live.iter().map(|m| weight(m)).sum();
    if total == 0 {
        return live.get(ctx.below(live.len() as u64) as usize).copied();
    }
    let mut pick = ctx.below(total);
    for m in &live {
        let w = weight(m);
        if pick < w {
            return Some(*m);
        }
        pick -= w;
    }
    live.last().copied()
}

/// Indexes of the geolocation members that cover `loc`, most specific first: subdivision,
/// country, continent, then the default record.
fn geo_candidates(group: &[&Member], loc: Option<&Location>) -> Vec<usize> {
    let find = |want: &GeoKey| {
        group
            .iter()
            .position(|m| m.policy == Policy::Geo(want.clone()))
    };
    let mut keys = Vec::new();
    if let Some(loc) = loc {
        if let (Some(c), Some(s)) = (&loc.country, &loc.subdivision) {
            keys.push(GeoKey::Subdivision(c.clone(), s.clone()));
        }
        if let Some(c) = &loc.country {
            keys.push(GeoKey::Country(c.clone()));
        }
        if let Some(ct) = &loc.continent {
            keys.push(GeoKey::Continent(ct.clone()));
        }
    }
    keys.push(GeoKey::Default);
    keys.iter().filter_map(find).collect()
}
