//! One hosted zone as a lookup table: lowercase owner names to record sets.

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
        || (key.len() > zone.len() && key.ends_with(zone) && key.as_bytes()[key.len() - zone.len() - 1] == b'.')
}

/// The parent of a key (`a.b.c` → `b.c`), or `None` at a single label.
fn parent(key: &str) -> Option<&str> {
    key.split_once('.').map(|(_, rest)| rest)
}

/// The record sets at one owner name. An empty node is an empty non-terminal (a name with
/// descendants but no records of its own): it exists, so it answers NODATA rather than NXDOMAIN.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    sets: Vec<(RecordType, Vec<Record>)>,
}

impl Node {
    /// The records of one type at this name.
    pub(crate) fn get(&self, rtype: RecordType) -> Option<&[Record]> {
        self.sets.iter().find(|(t, r)| *t == rtype && !r.is_empty()).map(|(_, r)| r.as_slice())
    }

    /// Every record at this name, in configuration order of their types.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Record> {
        self.sets.iter().flat_map(|(_, r)| r.iter())
    }

    /// Adds records of one type (merging with records of the same type already there).
    pub(crate) fn add(&mut self, rtype: RecordType, records: Vec<Record>) {
        match self.sets.iter_mut().find(|(t, _)| *t == rtype) {
            Some((_, existing)) => existing.extend(records),
            None => self.sets.push((rtype, records)),
        }
    }

    /// The target of this name's CNAME record, if it has one.
    pub(crate) fn cname(&self) -> Option<&Name> {
        self.get(RecordType::CNAME)?.iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(&c.0),
            _ => None,
        })
    }
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
        nodes.insert(key.clone(), Node::default());
        Self { key, origin, nodes }
    }

    /// Adds records at `owner` (a key inside this zone), creating empty non-terminals above it.
    pub(crate) fn add(&mut self, owner: &str, rtype: RecordType, records: Vec<Record>) {
        let mut up = parent(owner);
        while let Some(p) = up {
            if !is_within(p, &self.key) || p == self.key {
                break;
            }
            self.nodes.entry(p.to_string()).or_default();
            up = parent(p);
        }
        self.nodes.entry(owner.to_string()).or_default().add(rtype, records);
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
        let Some(node) = self.nodes.get(key) else { return Vec::new() };
        [RecordType::A, RecordType::AAAA].iter().filter_map(|t| node.get(*t)).flatten().cloned().collect()
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
