//! One hosted zone as a lookup table: lowercase owner names to record sets.

use crate::routing::{self, Ctx, Member};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;

/// The lookup key of a name: lowercase, no trailing dot (`www.example.com`).
pub(crate) fn key_of(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The key of a wire name.
pub(crate) fn key_of_name(name: &Name) -> String {
    key_of(&name.to_ascii())
}

/// Whether `key` is `zone` or below it (on a label boundary).
pub(crate) fn is_within(key: &str, zone: &str) -> bool {
    zone.is_empty()
        || key == zone
        || (key.len() > zone.len()
            && key.ends_with(zone)
            && key.as_bytes()[key.len() - zone.len() - 1] == b'.')
}

/// The parent of a key (`a.b.c` → `b.c`), or `None` at a single label.
fn parent(key: &str) -> Option<&str> {
    key.split_once('.').map(|(_, rest)| rest)
}

/// The records of one type at one name: a plain record set, or a group of record sets with a
/// routing policy (each with its `set_identifier`).
#[derive(Debug, Clone)]
pub(crate) enum RecordSet {
    Simple(Vec<Record>),
    Routed(Vec<Member>),
}

/// Records chosen to answer one type at one name, and which record sets they came from (`None`
/// for a plain record set).
#[derive(Debug, Default)]
pub(crate) struct Selected {
    pub(crate) records: Vec<Record>,
    pub(crate) sets: Vec<(RecordType, Option<String>)>,
}

/// The record sets at one owner name. An empty node is an empty non-terminal (a name with
/// descendants but no records of its own): it exists, so it answers NODATA rather than NXDOMAIN.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    /// The owner key as configured (`*.wild.example.com` for a wildcard).
    pub(crate) owner: String,
    sets: Vec<(RecordType, RecordSet)>,
}

impl Node {
    /// The plain records of one type at this name (routed groups are not returned).
    pub(crate) fn get(&self, rtype: RecordType) -> Option<&[Record]> {
        self.sets.iter().find_map(|(t, set)| match set {
            RecordSet::Simple(r) if *t == rtype && !r.is_empty() => Some(r.as_slice()),
            _ => None,
        })
    }

    /// The records that answer `rtype` now: a plain set as is, a routed group by its policy.
    pub(crate) fn select(&self, rtype: RecordType, ctx: &Ctx<'_>) -> Option<Selected> {
        let (_, set) = self.sets.iter().find(|(t, _)| *t == rtype)?;
        let mut out = Selected::default();
        match set {
            RecordSet::Simple(r) => {
                out.records.extend(r.iter().cloned());
                out.sets.push((rtype, None));
            }
            RecordSet::Routed(members) => {
                for m in routing::select(members, ctx) {
                    out.records.extend(m.records.iter().cloned());
                    out.sets.push((rtype, Some(m.set_identifier.clone())));
                }
                if matches!(
                    members.first().map(|m| &m.policy),
                    Some(routing::Policy::Multivalue)
                ) {
                    out.records.truncate(routing::MULTIVALUE_MAX);
                }
            }
        }
        (!out.records.is_empty()).then_some(out)
    }

    /// Every record at this name that answers now, in configuration order of their types.
    pub(crate) fn all(&self, ctx: &Ctx<'_>) -> Selected {
        let mut out = Selected::default();
        for (t, _) in &self.sets {
            if let Some(s) = self.select(*t, ctx) {
                out.records.extend(s.records);
                out.sets.extend(s.sets);
            }
        }
        out
    }

    /// Adds records of one type (merging with records of the same type already there).
    pub(crate) fn add(&mut self, rtype: RecordType, records: Vec<Record>) -> Result<(), String> {
        match self.sets.iter_mut().find(|(t, _)| *t == rtype) {
            Some((_, RecordSet::Simple(existing))) => existing.extend(records),
            Some((_, RecordSet::Routed(_))) => {
                return Err("the name has record sets with a routing policy of this type".into())
            }
            None => self.sets.push((rtype, RecordSet::Simple(records))),
        }
        Ok(())
    }

    /// Adds one record set with a routing policy to the group of its type.
    pub(crate) fn add_member(&mut self, rtype: RecordType, member: Member) -> Result<(), String> {
        match self.sets.iter_mut().find(|(t, _)| *t == rtype) {
            Some((_, RecordSet::Routed(group))) => {
                if group
                    .iter()
                    .any(|m| m.set_identifier == member.set_identifier)
                {
                    return Err(format!(
                        "set_identifier {:?} is used twice",
                        member.set_identifier
                    ));
                }
                group.push(member);
            }
            Some((_, RecordSet::Simple(_))) => {
                return Err(
                    "the name has a record set without a routing policy of this type".into(),
                )
            }
            None => self.sets.push((rtype, RecordSet::Routed(vec![member]))),
        }
        Ok(())
    }
}

/// The target of a selected CNAME.
pub(crate) fn cname_target(records: &[Record]) -> Option<&Name> {
    records.iter().find_map(|r| match &r.data {
        RData::CNAME(c) => Some(&c.0),
        _ => None,
    })
}

/// What a name is inside a zone.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    /// The name (or a wildcard that covers it) exists.
    Node(&'a Node),
    /// The name is at or below a delegation point: the NS records of the cut.
    Delegation(&'a [Record]),
    /// No such name.
    Missing,
}

/// A hosted zone: its apex and every owner name in it.
#[derive(Debug, Clone)]
pub(crate) struct ZoneData {
    /// The apex key (`example.com`).
    pub(crate) key: String,
    /// The apex as a wire name (`example.com.`).
    pub(crate) origin: Name,
    nodes: HashMap<String, Node>,
}

impl ZoneData {
    /// An empty zone with only its apex.
    pub(crate) fn new(key: String, origin: Name) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            key.clone(),
            Node {
                owner: key.clone(),
                ..Node::default()
            },
        );
        Self { key, origin, nodes }
    }

    /// The node at `owner` (a key inside this zone), created with empty non-terminals above it.
    pub(crate) fn node_mut(&mut self, owner: &str) -> &mut Node {
        let mut up = parent(owner);
        while let Some(p) = up {
            if !is_within(p, &self.key) || p == self.key {
                break;
            }
            self.nodes.entry(p.to_string()).or_insert_with(|| Node {
                owner: p.to_string(),
                ..Node::default()
            });
            up = parent(p);
        }
        self.nodes.entry(owner.to_string()).or_insert_with(|| Node {
            owner: owner.to_string(),
            ..Node::default()
        })
    }

    /// Adds plain records at `owner`.
    pub(crate) fn add(
        &mut self,
        owner: &str,
        rtype: RecordType,
        records: Vec<Record>,
    ) -> Result<(), String> {
        self.node_mut(owner).add(rtype, records)
    }

    /// The apex node.
    pub(crate) fn apex(&self) -> Option<&Node> {
        self.nodes.get(&self.key)
    }

    /// The apex SOA record.
    pub(crate) fn soa(&self) -> Option<&Record> {
        self.apex()?.get(RecordType::SOA)?.first()
    }

    /// Finds `key` (which must be inside this zone): delegations first, then the exact name, then
    /// a wildcard at the closest existing ancestor.
    pub(crate) fn find(&self, key: &str) -> Found<'_> {
        // A delegation: NS records at any name strictly below the apex, at or above `key`.
        let mut chain: Vec<&str> = Vec::new();
        let mut cur = Some(key);
        while let Some(k) = cur {
            if k == self.key || !is_within(k, &self.key) {
                break;
            }
            chain.push(k);
            cur = parent(k);
        }
        for k in chain.iter().rev() {
            if let Some(ns) = self.nodes.get(*k).and_then(|n| n.get(RecordType::NS)) {
                return Found::Delegation(ns);
            }
        }
        if let Some(node) = self.nodes.get(key) {
            return Found::Node(node);
        }
        // Wildcard: only at the closest encloser (the nearest ancestor that exists).
        let mut up = parent(key);
        while let Some(p) = up {
            if self.nodes.contains_key(p) {
                return match self.nodes.get(&format!("*.{p}")) {
                    Some(node) => Found::Node(node),
                    None => Found::Missing,
                };
            }
            if p == self.key {
                break;
            }
            up = parent(p);
        }
        Found::Missing
    }

    /// The A and AAAA records at `key`, for glue.
    pub(crate) fn addresses(&self, key: &str) -> Vec<Record> {
        let Some(node) = self.nodes.get(key) else {
            return Vec::new();
        };
        [RecordType::A, RecordType::AAAA]
            .iter()
            .filter_map(|t| node.get(*t))
            .flatten()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_respects_label_boundaries() {
        assert!(is_within("www.example.com", "example.com"));
        assert!(is_within("example.com", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("com", "example.com"));
        assert_eq!(key_of("WWW.Example.COM."), "www.example.com");
    }
}
