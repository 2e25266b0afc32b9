//! `Vary` (RFC 9111 §4.1): a stored response is reused only for requests whose listed header
//! fields match the request it answered. The match is by a *secondary key* built from those
//! fields: names case-insensitive, values trimmed, list elements with whitespace around commas
//! normalized, multiple field lines combined. `Vary: *` never matches.

use http::header::{self, HeaderMap};

/// The `Vary` of a response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VarySpec {
    /// No `Vary` (or an empty one): every request matches.
    #[default]
    None,
    /// `Vary: *`: no request matches.
    Any,
    /// The request header names (lowercase, sorted, deduplicated) that select the variant.
    Headers(Vec<String>),
}

impl VarySpec {
    /// Reads every `Vary` line of a response.
    pub fn from_headers(headers: &HeaderMap) -> VarySpec {
        Self::from_values(headers.get_all(header::VARY).iter().map(|v| v.as_bytes()))
    }

    /// Parses `Vary` field lines.
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> VarySpec {
        let mut names: Vec<String> = Vec::new();
        for v in values {
            for name in String::from_utf8_lossy(v).split(',') {
                let name = name.trim();
                if name == "*" {
                    return VarySpec::Any;
                }
                if !name.is_empty() {
                    names.push(name.to_ascii_lowercase());
                }
            }
        }
        if names.is_empty() {
            return VarySpec::None;
        }
        names.sort();
        names.dedup();
        VarySpec::Headers(names)
    }

    /// The secondary key of `request` under this spec; `None` for `Vary: *` (matches nothing).
    /// Without `Vary` the key is empty.
    pub fn secondary_key(&self, request: &HeaderMap) -> Option<String> {
        match self {
            VarySpec::None => Some(String::new()),
            VarySpec::Any => None,
            VarySpec::Headers(names) => {
                let mut key = String::new();
                for name in names {
                    key.push_str(name);
                    let mut values = request.get_all(name.as_str()).iter().peekable();
                    if values.peek().is_none() {
                        // Absent differs from present-but-empty.
                        key.push('\u{1}');
                    } else {
                        key.push(':');
                        let mut first = true;
                        for v in values {
                            for element in String::from_utf8_lossy(v.as_bytes()).split(',') {
                                let element = element.trim();
                                if !first {
                                    key.push(',');
                                }
                                first = false;
                                key.push_str(element);
                            }
                        }
                    }
                    key.push('\n');
                }
                Some(key)
            }
        }
    }

    /// Does `request` select the variant whose secondary key is `stored_key`?
    pub fn matches(&self, stored_key: &str, request: &HeaderMap) -> bool {
        self.secondary_key(request).is_some_and(|k| k == stored_key)
    }

    /// The header names as a list (for storing the spec).
    pub fn names(&self) -> &[String] {
        match self {
            VarySpec::Headers(n) => n,
            _ => &[],
        }
    }
}

/// The storage key of one variant: the primary key, a separator no URL contains, then the
/// secondary key. A prefix purge of the primary key removes every variant.
pub fn variant_key(primary: &str, secondary: &str) -> String {
    let mut k = String::with_capacity(primary.len() + 1 + secondary.len());
    k.push_str(primary);
    k.push('\u{1f}');
    k.push_str(secondary);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn parse_table() {
        let h = |v: &[&str]| VarySpec::Headers(v.iter().map(|s| s.to_string()).collect());
        let rows: Vec<(&[&str], VarySpec)> = vec![
            (&[], VarySpec::None),
            (&[""], VarySpec::None),
            (&[" , "], VarySpec::None),
            (&["Accept-Encoding"], h(&["accept-encoding"])),
            (
                &["Accept-Encoding, Origin"],
                h(&["accept-encoding", "origin"]),
            ),
            (
                &["origin", "ACCEPT-ENCODING, Origin"],
                h(&["accept-encoding", "origin"]),
            ),
            (&["*"], VarySpec::Any),
            (&["Accept, *"], VarySpec::Any),
            (&["accept", " * "], VarySpec::Any),
        ];
        for (values, want) in rows {
            assert_eq!(
                VarySpec::from_values(values.iter().map(|s| s.as_bytes())),
                want,
                "{values:?}"
            );
        }
    }

    #[test]
    fn matching_table() {
        let spec = VarySpec::from_values([b"Accept-Encoding, X-Lang".as_slice()]);
        // (stored request, new request, match?)
        let rows: Vec<(Vec<(&str, &str)>, Vec<(&str, &str)>, bool)> = vec![
            (vec![], vec![], true),
            (
                vec![("accept-encoding", "gzip")],
                vec![("Accept-Encoding", "gzip")],
                true,
            ),
            (
                vec![("accept-encoding", "gzip")],
                vec![("accept-encoding", " gzip ")],
                true,
            ),
            (
                vec![("accept-encoding", "gzip, br")],
                vec![("accept-encoding", "gzip,br")],
                true,
            ),
            (
                vec![("accept-encoding", "gzip, br")],
                vec![("accept-encoding", "gzip"), ("accept-encoding", "br")],
                true,
            ),
            (
                vec![("accept-encoding", "gzip, br")],
                vec![("accept-encoding", "br, gzip")],
                false,
            ),
            (
                vec![("accept-encoding", "gzip")],
                vec![("accept-encoding", "GZIP")],
                false,
            ),
            (vec![("accept-encoding", "gzip")], vec![], false),
            (vec![("accept-encoding", "")], vec![], false),
            (
                vec![("x-lang", "en")],
                vec![("x-lang", "en"), ("cookie", "a=b")],
                true,
            ),
            (vec![("x-lang", "en")], vec![("x-lang", "fr")], false),
        ];
        for (stored, new, want) in rows {
            let key = spec.secondary_key(&hm(&stored)).unwrap();
            assert_eq!(spec.matches(&key, &hm(&new)), want, "{stored:?} vs {new:?}");
        }
    }

    #[test]
    fn star_never_matches_and_none_always_does() {
        assert_eq!(VarySpec::Any.secondary_key(&HeaderMap::new()), None);
        assert!(!VarySpec::Any.matches("", &HeaderMap::new()));
        assert!(VarySpec::None.matches("", &hm(&[("accept", "x")])));
    }

    #[test]
    fn variant_keys_share_the_primary_prefix() {
        assert!(variant_key("/a", "accept:x\n").starts_with("/a"));
        assert_ne!(variant_key("/a", "x"), variant_key("/ax", ""));
    }
}
