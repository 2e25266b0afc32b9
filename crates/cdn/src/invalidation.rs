//! Invalidations (§1.9): paths that are exact or end in `*`, case-sensitive, matched against the
//! path and query of every cache key of the distribution, so every variant (headers, cookies,
//! encodings, Vary) goes from both tiers. Each invalidation is recorded with an id and reads
//! `InProgress` when created and `Completed` afterwards, as CloudFront reports them.

use crate::access_log::utc;
use rand::Rng as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// The distribution and the `path?query` of a cache key (`OPTIONS ` prefix dropped).
pub fn key_resource(key: &str) -> Option<(&str, &str)> {
    let (dist, rest) = key.split_once('\n')?;
    let rest = rest.strip_prefix("OPTIONS ").unwrap_or(rest);
    let end = rest.find(['\n', '\u{1f}']).unwrap_or(rest.len());
    Some((dist, &rest[..end]))
}

/// An invalidation path, normalized: leading `/`, characters outside the URL-safe set
/// percent-encoded; `*` only as the last character.
pub fn normalize_path(p: &str) -> Result<String, String> {
    let p = p.trim();
    if p.is_empty() {
        return Err("an invalidation path cannot be empty".into());
    }
    if p.find('*').is_some_and(|i| i != p.len() - 1) {
        return Err(format!("`{p}`: `*` may only be the last character"));
    }
    let mut out = String::with_capacity(p.len() + 1);
    if !p.starts_with('/') {
        out.push('/');
    }
    for b in p.bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// Whether the normalized invalidation `path` covers `resource` (`path?query` of a key).
pub fn covers(path: &str, resource: &str) -> bool {
    match path.strip_suffix('*') {
        Some(prefix) => resource.starts_with(prefix),
        None => resource == path,
    }
}

/// One recorded invalidation.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub completed: bool,
    pub paths: Vec<String>,
    pub caller_reference: String,
    pub create_time: SystemTime,
    pub removed: usize,
}

impl Record {
    pub fn json(&self, distribution: &str) -> Value {
        let (date, time) = utc(self.create_time);
        json!({
            "Location": format!("/distributions/{distribution}/invalidations/{}", self.id),
            "Invalidation": {
                "Id": self.id,
                "Status": if self.completed { "Completed" } else { "InProgress" },
                "CreateTime": format!("{date}T{time}Z"),
                "InvalidationBatch": {
                    "Paths": { "Quantity": self.paths.len(), "Items": self.paths },
                    "CallerReference": self.caller_reference,
                },
                "ObjectsRemoved": self.removed,
            }
        })
    }
}

/// Every distribution's invalidations.
#[derive(Default)]
pub struct Ledger {
    records: Mutex<HashMap<String, Vec<Record>>>,
}

fn new_id() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut r = rand::rng();
    (0..14)
        .map(|i| {
            if i == 0 {
                'I'
            } else {
                A[r.random_range(0..A.len())] as char
            }
        })
        .collect()
}

impl Ledger {
    /// Records a new invalidation (status `InProgress`) and returns it.
    pub fn open(
        &self,
        distribution: &str,
        paths: Vec<String>,
        caller_reference: String,
        removed: usize,
        now: SystemTime,
    ) -> Record {
        let r = Record {
            id: new_id(),
            completed: false,
            paths,
            caller_reference,
            create_time: now,
            removed,
        };
        self.lock()
            .entry(distribution.to_string())
            .or_default()
            .push(r.clone());
        r
    }

    /// Marks `id` completed.
    pub fn complete(&self, distribution: &str, id: &str) {
        if let Some(r) = self
            .lock()
            .get_mut(distribution)
            .and_then(|v| v.iter_mut().find(|r| r.id == id))
        {
            r.completed = true;
        }
    }

    pub fn get(&self, distribution: &str, id: &str) -> Option<Record> {
        self.lock()
            .get(distribution)
            .and_then(|v| v.iter().find(|r| r.id == id).cloned())
    }

    pub fn list(&self, distribution: &str) -> Vec<Record> {
        self.lock().get(distribution).cloned().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Record>>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The paths of a request body: `{"paths": [...]}` or CloudFront's
/// `{"InvalidationBatch": {"Paths": {"Items": [...]}, "CallerReference": "..."}}`.
pub fn parse_request(body: &[u8]) -> Result<(Vec<String>, String), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let batch = v.get("InvalidationBatch");
    let items = v
        .get("paths")
        .or_else(|| v.get("Paths"))
        .or_else(|| {
            batch
                .and_then(|b| b.get("Paths"))
                .and_then(|p| p.get("Items"))
        })
        .and_then(Value::as_array)
        .ok_or("expected {\"paths\": [\"/path\", \"/prefix*\"]}")?;
    let mut paths = Vec::with_capacity(items.len());
    for i in items {
        let p = i.as_str().ok_or("every path must be a string")?;
        paths.push(normalize_path(p)?);
    }
    if paths.is_empty() {
        return Err("no paths to invalidate".into());
    }
    let caller = batch
        .and_then(|b| b.get("CallerReference"))
        .or_else(|| v.get("caller_reference"))
        .and_then(Value::as_str)
        .map_or_else(|| format!("edgeway-{}", new_id()), str::to_string);
    Ok((paths, caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_resources() {
        let rows: &[(&str, Option<(&str, &str)>)] = &[
            ("web\n/a.jpg", Some(("web", "/a.jpg"))),
            ("web\n/a.jpg?x=1\nhost:h", Some(("web", "/a.jpg?x=1"))),
            ("web\nOPTIONS /a\naccept-encoding:gzip", Some(("web", "/a"))),
            ("web\n/a\u{1f}accept-encoding:gzip", Some(("web", "/a"))),
            ("nokey", None),
        ];
        for (k, want) in rows {
            assert_eq!(key_resource(k), *want, "{k:?}");
        }
    }

    #[test]
    fn paths_and_matching() {
        let rows: &[(&str, &str, bool)] = &[
            ("/images/*", "/images/a.jpg", true),
            ("/images/*", "/images/x/y.png?v=2", true),
            ("/images/*", "/Images/a.jpg", false),
            ("/images*", "/images.html", true),
            ("/images/logo.*", "/images/logo.png", true),
            ("/*", "/anything", true),
            ("/a.jpg", "/a.jpg", true),
            ("/a.jpg", "/a.jpg?x=1", false),
            ("/a.jpg*", "/a.jpg?x=1", true),
            ("/a.jpg?x=1", "/a.jpg?x=1", true),
            ("/A.jpg", "/a.jpg", false),
        ];
        for (p, r, want) in rows {
            assert_eq!(covers(p, r), *want, "{p} {r}");
        }
        assert!(normalize_path("/images/*.jpg").is_err());
        assert!(normalize_path("").is_err());
        assert_eq!(normalize_path("images/*").as_deref(), Ok("/images/*"));
        assert_eq!(normalize_path("/a b").as_deref(), Ok("/a%20b"));
    }

    #[test]
    fn requests_and_records() {
        let (p, _) = parse_request(br#"{"paths": ["/a", "/b/*"]}"#).unwrap_or_default();
        assert_eq!(p, vec!["/a".to_string(), "/b/*".to_string()]);
        let (p, c) = parse_request(br#"{"InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/x"]}, "CallerReference": "r1"}}"#).unwrap_or_default();
        assert_eq!((p, c.as_str()), (vec!["/x".to_string()], "r1"));
        assert!(parse_request(b"nope").is_err());
        assert!(parse_request(br#"{"paths": []}"#).is_err());
        let l = Ledger::default();
        let r = l.open(
            "web",
            vec!["/a".into()],
            "c".into(),
            2,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(r.json("web")["Invalidation"]["Status"], "InProgress");
        assert_eq!(r.id.len(), 14);
        l.complete("web", &r.id);
        let got = l.get("web", &r.id).map(|r| r.json("web"));
        assert_eq!(
            got.as_ref().map(|g| g["Invalidation"]["Status"].clone()),
            Some(Value::from("Completed"))
        );
        assert_eq!(
            got.map(|g| g["Invalidation"]["CreateTime"].clone()),
            Some(Value::from("1970-01-01T00:00:00Z"))
        );
        assert_eq!(l.list("web").len(), 1);
        assert!(l.get("other", &r.id).is_none());
    }
}
