//! Maps key paths and byte spans of the source text to `line:col`, so that every error names
//! where it is.

use crate::error::ConfigError;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// One node of the source: its key path, the span of its key (if any) and of its value.
struct Node {
    path: String,
    key: Option<Range<usize>>,
    value: Range<usize>,
}

/// Keys with a second accepted spelling: (canonical, alias).
const ALIASES: &[(&str, &str)] = &[
    ("cache_policy_id", "cache_policy"),
    ("origin_request_policy_id", "origin_request_policy"),
    ("target_group", "target_group_arn"),
    ("name", "arn"),
];

pub(crate) struct Locator {
    line_starts: Vec<usize>,
    nodes: Vec<Node>,
}

impl Locator {
    pub(crate) fn new(src: &str) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        let mut nodes = Vec::new();
        if let Ok(root) = DeTable::parse(src) {
            walk_table(root.get_ref(), "", &mut nodes);
        }
        Self { line_starts, nodes }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let col = offset - self.line_starts.get(line).copied().unwrap_or(0) + 1;
        (line + 1, col)
    }

    /// Where `path` is: the value's start, else the nearest ancestor that exists in the file.
    fn offset_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(n) = self.nodes.iter().find(|n| n.path == p) {
                // Unknown keys and bad values point at the key when there is one.
                return Some(n.key.as_ref().map_or(n.value.start, |k| k.start));
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    pub(crate) fn error(&self, file: &str, path: &str, message: String) -> ConfigError {
        // A key the file spelled with its serde alias is reported as written.
        let written = ALIASES.iter().find_map(|(canon, alias)| {
            let p = path.strip_suffix(canon)?;
            let a = format!("{p}{alias}");
            self.nodes.iter().any(|n| n.path == a).then_some(a)
        });
        let path = written.as_deref().unwrap_or(path);
        let (line, col) = self.offset_of(path).map_or((0, 0), |o| self.line_col(o));
        ConfigError {
            file: file.to_string(),
            line,
            col,
            path: path.to_string(),
            message,
        }
    }

    /// An error from the TOML parser or from serde: position from its span, key path from the
    /// innermost node that holds the span.
    pub(crate) fn toml_error(&self, file: &str, e: &toml::de::Error) -> ConfigError {
        let message = e.message().trim().to_string();
        let Some(span) = e.span() else {
            return ConfigError {
                file: file.to_string(),
                line: 0,
                col: 0,
                path: String::new(),
                message,
            };
        };
        let path = self
            .nodes
            .iter()
            .filter(|n| {
                let s = n
                    .key
                    .as_ref()
                    .map_or(n.value.start, |k| k.start.min(n.value.start));
                s <= span.start && span.end <= n.value.end.max(s + 1)
            })
            .max_by_key(|n| n.path.len())
            .map(|n| n.path.clone())
            .unwrap_or_default();
        let (line, col) = self.line_col(span.start);
        ConfigError {
            file: file.to_string(),
            line,
            col,
            path,
            message,
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk_table(t: &DeTable<'_>, prefix: &str, out: &mut Vec<Node>) {
    for (k, v) in t.iter() {
        let path = join(prefix, k.get_ref());
        out.push(Node {
            path: path.clone(),
            key: Some(k.span()),
            value: v.span(),
        });
        walk_value(v.get_ref(), &path, out);
    }
}

fn walk_value(v: &DeValue<'_>, path: &str, out: &mut Vec<Node>) {
    match v {
        DeValue::Table(t) => walk_table(t, path, out),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.push(Node {
                    path: p.clone(),
                    key: None,
                    value: item.span(),
                });
                walk_value(item.get_ref(), &p, out);
            }
        }
        _ => {}
    }
}

/// serde_ignored writes `distribution.0.origin.1.foo`; we write `distribution[0].origin[1].foo`.
pub(crate) fn normalize_path(p: &str) -> String {
    let mut out = String::new();
    for seg in p.split('.') {
        if seg == "?" {
            // serde_ignored's mark for the inside of an Option.
            continue;
        }
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_serde_ignored_paths() {
        assert_eq!(
            normalize_path("distribution.0.origin.1.foo"),
            "distribution[0].origin[1].foo"
        );
        assert_eq!(normalize_path("admin.x"), "admin.x");
        assert_eq!(normalize_path("admin.?.port"), "admin.port");
    }

    #[test]
    fn finds_nested_array_positions() {
        let src = "[[a]]\nx = 1\n[[a]]\ny = 2\n[a.b]\nz = 3\n";
        let l = Locator::new(src);
        let e = l.error("f", "a[1].y", "m".into());
        assert_eq!((e.line, e.col), (4, 1));
        let e = l.error("f", "a[1].b.z", "m".into());
        assert_eq!((e.line, e.col), (6, 1));
        // A missing key points at its nearest existing parent.
        let e = l.error("f", "a[1].b.missing", "m".into());
        assert_eq!(e.line, 5);
    }
}
