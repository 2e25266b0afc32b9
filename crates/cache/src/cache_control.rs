//! Parsing `Cache-Control` (RFC 9111 §5.2) and `CDN-Cache-Control` (RFC 9213).
//!
//! Robust by construction: directive names are case-insensitive, values may be quoted (with
//! backslash escapes), unknown directives are ignored, and a directive that appears twice keeps
//! its first value (RFC 9111 §4.2.1). Conflicting directives (`max-age=60, no-cache`) are all
//! recorded; the freshness rules then honour the most restrictive one. An invalid `max-age` or
//! `s-maxage` value counts as `0` (stale: the conservative reading), an invalid
//! `stale-while-revalidate`/`stale-if-error` as absent, and huge numbers saturate at 2^31
//! (RFC 9111 §1.2.2).

use http::header::{HeaderMap, HeaderName};

/// The largest delta-seconds value a cache must represent; larger values saturate to it
/// (RFC 9111 §1.2.2).
pub const DELTA_SECONDS_MAX: u32 = 1 << 31;

/// The `CDN-Cache-Control` header name (RFC 9213).
pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// A directive that is either unqualified or qualified with a list of field names, such as
/// `no-cache` / `no-cache="Set-Cookie"` and `private` / `private="X-User"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldDirective {
    /// The whole response.
    All,
    /// Only these header fields (lowercase names).
    Fields(Vec<String>),
}

impl FieldDirective {
    /// Combines a repeated directive: unqualified wins (it is the more restrictive), qualified
    /// lists are merged.
    fn merge(self, other: FieldDirective) -> FieldDirective {
        match (self, other) {
            (FieldDirective::Fields(mut a), FieldDirective::Fields(b)) => {
                for f in b {
                    if !a.contains(&f) {
                        a.push(f);
                    }
                }
                FieldDirective::Fields(a)
            }
            _ => FieldDirective::All,
        }
    }
}

/// Every directive this cache understands, from a response or a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `max-age=N` (response and request).
    pub max_age: Option<u32>,
    /// `s-maxage=N` (response; shared caches only).
    pub s_maxage: Option<u32>,
    /// `no-cache` or `no-cache="fields"`.
    pub no_cache: Option<FieldDirective>,
    /// `no-store`.
    pub no_store: bool,
    /// `private` or `private="fields"`.
    pub private: Option<FieldDirective>,
    /// `public`.
    pub public: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `proxy-revalidate`.
    pub proxy_revalidate: bool,
    /// `must-understand`.
    pub must_understand: bool,
    /// `no-transform`.
    pub no_transform: bool,
    /// `immutable` (RFC 8246).
    pub immutable: bool,
    /// `stale-while-revalidate=N` (RFC 5861).
    pub stale_while_revalidate: Option<u32>,
    /// `stale-if-error=N` (RFC 5861).
    pub stale_if_error: Option<u32>,
    /// Request `max-stale[=N]`; without a value, any staleness ([`DELTA_SECONDS_MAX`]).
    pub max_stale: Option<u32>,
    /// Request `min-fresh=N`.
    pub min_fresh: Option<u32>,
    /// Request `only-if-cached`.
    pub only_if_cached: bool,
    /// How many directives (known or not) were parsed: 0 means the field was empty or absent.
    pub directives: usize,
}

impl CacheControl {
    /// Parses every line of the `name` header in `headers` as one comma-separated list.
    pub fn from_headers(headers: &HeaderMap, name: &HeaderName) -> CacheControl {
        Self::parse_lines(headers.get_all(name).iter().map(|v| v.as_bytes()))
    }

    /// Parses one header value.
    pub fn parse(value: &str) -> CacheControl {
        Self::parse_lines(std::iter::once(value.as_bytes()))
    }

    /// Parses several field lines, in order, as one list.
    pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> CacheControl {
        let mut cc = CacheControl::default();
        let mut seen = Seen::default();
        for line in lines {
            let line = String::from_utf8_lossy(line);
            for item in split_list(&line) {
                if let Some((name, value)) = split_directive(item) {
                    cc.directives += 1;
                    cc.apply(&name, value, &mut seen);
                }
            }
        }
        cc
    }

    fn apply(&mut self, name: &str, value: Option<String>, seen: &mut Seen) {
        match name {
            "max-age" => first(&mut seen.max_age, &mut self.max_age, || {
                Some(delta_or_zero(value.as_deref()))
            }),
            "s-maxage" => first(&mut seen.s_maxage, &mut self.s_maxage, || {
                Some(delta_or_zero(value.as_deref()))
            }),
            "stale-while-revalidate" => {
                first(&mut seen.swr, &mut self.stale_while_revalidate, || {
                    value.as_deref().and_then(parse_delta)
                })
            }
            "stale-if-error" => first(&mut seen.sie, &mut self.stale_if_error, || {
                value.as_deref().and_then(parse_delta)
            }),
            "min-fresh" => first(&mut seen.min_fresh, &mut self.min_fresh, || {
                value.as_deref().and_then(parse_delta)
            }),
            "max-stale" => first(&mut seen.max_stale, &mut self.max_stale, || {
                match value.as_deref() {
                    None => Some(DELTA_SECONDS_MAX),
                    Some(v) => parse_delta(v),
                }
            }),
            "no-cache" => merge_field(&mut self.no_cache, value),
            "private" => merge_field(&mut self.private, value),
            "no-store" => self.no_store = true,
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "must-understand" => self.must_understand = true,
            "no-transform" => self.no_transform = true,
            "immutable" => self.immutable = true,
            "only-if-cached" => self.only_if_cached = true,
            _ => {}
        }
    }

    /// True when the response must not be reused at all without validation: unqualified
    /// `no-cache`.
    pub fn no_cache_all(&self) -> bool {
        matches!(self.no_cache, Some(FieldDirective::All))
    }

    /// True when a shared cache must not store the response: `no-store` or unqualified `private`.
    pub fn forbids_shared_storage(&self) -> bool {
        self.no_store || matches!(self.private, Some(FieldDirective::All))
    }

    /// Header fields a shared cache must drop before storing or reusing the response: the
    /// fields of qualified `private="…"` (must not be stored) and of qualified `no-cache="…"`
    /// (must not be reused without revalidation; CloudFront honours `no-cache="Set-Cookie"`
    /// this way). Lowercase names.
    pub fn fields_to_strip(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in [&self.private, &self.no_cache].into_iter().flatten() {
            if let FieldDirective::Fields(fields) = d {
                for f in fields {
                    if !out.contains(f) {
                        out.push(f.clone());
                    }
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct Seen {
    max_age: bool,
    s_maxage: bool,
    swr: bool,
    sie: bool,
    min_fresh: bool,
    max_stale: bool,
}

/// Sets `slot` from `value()` the first time a directive is seen; later duplicates are ignored.
fn first(seen: &mut bool, slot: &mut Option<u32>, value: impl FnOnce() -> Option<u32>) {
    if !*seen {
        *seen = true;
        *slot = value();
    }
}

fn merge_field(slot: &mut Option<FieldDirective>, value: Option<String>) {
    let new = match value {
        None => FieldDirective::All,
        Some(v) => {
            let fields: Vec<String> = v
                .split(',')
                .map(|f| f.trim().to_ascii_lowercase())
                .filter(|f| !f.is_empty())
                .collect();
            if fields.is_empty() {
                FieldDirective::All
            } else {
                FieldDirective::Fields(fields)
            }
        }
    };
    *slot = Some(match slot.take() {
        None => new,
        Some(old) => old.merge(new),
    });
}

/// Parses delta-seconds: ASCII digits only, saturating at [`DELTA_SECONDS_MAX`].
pub fn parse_delta(value: &str) -> Option<u32> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in v.bytes() {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        if n >= u64::from(DELTA_SECONDS_MAX) {
            return Some(DELTA_SECONDS_MAX);
        }
    }
    u32::try_from(n).ok()
}

/// `max-age`/`s-maxage`: an invalid or missing value reads as 0 (stale), the conservative choice.
fn delta_or_zero(value: Option<&str>) -> u32 {
    value.and_then(parse_delta).unwrap_or(0)
}

/// Splits a comma-separated list, keeping commas inside quoted strings.
pub(crate) fn split_list(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == ',' {
            out.push(line[start..i].trim());
            start = i + 1;
        }
    }
    out.push(line[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// `name[=value]` → lowercase name and unquoted value. `None` for an empty or nameless item.
fn split_directive(item: &str) -> Option<(String, Option<String>)> {
    let (name, value) = match item.find('=') {
        Some(i) => (&item[..i], Some(unquote(item[i + 1..].trim()))),
        None => (item, None),
    };
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Removes surrounding double quotes and backslash escapes; an unterminated quote runs to the end.
pub(crate) fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            break;
        } else {
            out.push(c);
        }
    }
    out
}

/// Where the effective directives of a response came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectiveSource {
    /// A targeted field such as `CDN-Cache-Control` (RFC 9213): `Cache-Control` and `Expires`
    /// are ignored.
    Targeted,
    /// `Cache-Control`.
    CacheControl,
    /// Neither field had a directive.
    None,
}

/// The directives a CDN applies to a response: the first targeted field (in `targets` order)
/// with a non-empty value wins over `Cache-Control` (RFC 9213 §2.1); otherwise `Cache-Control`.
pub fn effective_directives(
    headers: &HeaderMap,
    targets: &[HeaderName],
) -> (CacheControl, DirectiveSource) {
    for t in targets {
        let cc = CacheControl::from_headers(headers, t);
        if cc.directives > 0 {
            return (cc, DirectiveSource::Targeted);
        }
    }
    let cc = CacheControl::from_headers(headers, &http::header::CACHE_CONTROL);
    let source = if cc.directives > 0 {
        DirectiveSource::CacheControl
    } else {
        DirectiveSource::None
    };
    (cc, source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn fields(v: &[&str]) -> Option<FieldDirective> {
        Some(FieldDirective::Fields(
            v.iter().map(|s| s.to_string()).collect(),
        ))
    }

    #[test]
    fn parse_table() {
        let all = Some(FieldDirective::All);
        let rows: Vec<(&str, CacheControl)> = vec![
            ("", CacheControl::default()),
            (
                "max-age=60",
                CacheControl {
                    max_age: Some(60),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "MAX-AGE=60",
                CacheControl {
                    max_age: Some(60),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age=\"60\"",
                CacheControl {
                    max_age: Some(60),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age = 60",
                CacheControl {
                    max_age: Some(60),
                    directives: 1,
                    ..Default::default()
                },
            ),
            // duplicates: the first wins
            (
                "max-age=60, max-age=10",
                CacheControl {
                    max_age: Some(60),
                    directives: 2,
                    ..Default::default()
                },
            ),
            // invalid numbers: max-age reads as 0 (stale)
            (
                "max-age=abc",
                CacheControl {
                    max_age: Some(0),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age=-1",
                CacheControl {
                    max_age: Some(0),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age=1.5",
                CacheControl {
                    max_age: Some(0),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age",
                CacheControl {
                    max_age: Some(0),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age=",
                CacheControl {
                    max_age: Some(0),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-age=+5",
                CacheControl {
                    max_age: Some(0),
                    directives: 1,
                    ..Default::default()
                },
            ),
            // first is invalid: still first wins
            (
                "max-age=x, max-age=60",
                CacheControl {
                    max_age: Some(0),
                    directives: 2,
                    ..Default::default()
                },
            ),
            // huge numbers saturate
            (
                "max-age=99999999999999999999999",
                CacheControl {
                    max_age: Some(DELTA_SECONDS_MAX),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "s-maxage=2147483648",
                CacheControl {
                    s_maxage: Some(DELTA_SECONDS_MAX),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "s-maxage=2147483647",
                CacheControl {
                    s_maxage: Some(2147483647),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "no-cache",
                CacheControl {
                    no_cache: all.clone(),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "No-Cache=\"Set-Cookie\"",
                CacheControl {
                    no_cache: fields(&["set-cookie"]),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "no-cache=\"Set-Cookie, X-A\", no-cache=\"x-b\"",
                CacheControl {
                    no_cache: fields(&["set-cookie", "x-a", "x-b"]),
                    directives: 2,
                    ..Default::default()
                },
            ),
            // qualified then unqualified: the unqualified (more restrictive) wins
            (
                "no-cache=\"x\", no-cache",
                CacheControl {
                    no_cache: all.clone(),
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "no-cache=\"\"",
                CacheControl {
                    no_cache: all.clone(),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "private",
                CacheControl {
                    private: all.clone(),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "private=\"x-user\"",
                CacheControl {
                    private: fields(&["x-user"]),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "no-store",
                CacheControl {
                    no_store: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "no-store=\"junk\"",
                CacheControl {
                    no_store: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "public",
                CacheControl {
                    public: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "must-revalidate",
                CacheControl {
                    must_revalidate: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "proxy-revalidate",
                CacheControl {
                    proxy_revalidate: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "immutable",
                CacheControl {
                    immutable: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "must-understand, no-store",
                CacheControl {
                    must_understand: true,
                    no_store: true,
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "stale-while-revalidate=30, stale-if-error=600",
                CacheControl {
                    stale_while_revalidate: Some(30),
                    stale_if_error: Some(600),
                    directives: 2,
                    ..Default::default()
                },
            ),
            // invalid stale-* values are ignored
            (
                "stale-while-revalidate=x, stale-if-error",
                CacheControl {
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "max-stale",
                CacheControl {
                    max_stale: Some(DELTA_SECONDS_MAX),
                    directives: 1,
                    ..Default::default()
                },
            ),
            (
                "max-stale=5, min-fresh=3",
                CacheControl {
                    max_stale: Some(5),
                    min_fresh: Some(3),
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "only-if-cached",
                CacheControl {
                    only_if_cached: true,
                    directives: 1,
                    ..Default::default()
                },
            ),
            // conflicting directives are all recorded
            (
                "max-age=60, no-cache, public",
                CacheControl {
                    max_age: Some(60),
                    no_cache: all.clone(),
                    public: true,
                    directives: 3,
                    ..Default::default()
                },
            ),
            // unknown directives and junk
            (
                "foo=bar, , ,max-age=5,",
                CacheControl {
                    max_age: Some(5),
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "community=\"UCI\", max-age=5",
                CacheControl {
                    max_age: Some(5),
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "=5, \"quoted\", max-age=7",
                CacheControl {
                    max_age: Some(7),
                    directives: 1,
                    ..Default::default()
                },
            ),
            // a comma inside a quoted value does not split
            (
                "private=\"a, b\", max-age=9",
                CacheControl {
                    private: fields(&["a", "b"]),
                    max_age: Some(9),
                    directives: 2,
                    ..Default::default()
                },
            ),
            // escapes and an unterminated quote
            (
                "foo=\"a\\\"b\", max-age=3",
                CacheControl {
                    max_age: Some(3),
                    directives: 2,
                    ..Default::default()
                },
            ),
            (
                "max-age=\"12",
                CacheControl {
                    max_age: Some(12),
                    directives: 1,
                    ..Default::default()
                },
            ),
        ];
        for (input, want) in rows {
            assert_eq!(CacheControl::parse(input), want, "input {input:?}");
        }
    }

    #[test]
    fn several_lines_are_one_list() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=10"),
        );
        h.append(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=20, no-store"),
        );
        let cc = CacheControl::from_headers(&h, &http::header::CACHE_CONTROL);
        assert_eq!(cc.max_age, Some(10));
        assert!(cc.no_store);
    }

    #[test]
    fn parse_delta_table() {
        let rows: &[(&str, Option<u32>)] = &[
            ("0", Some(0)),
            ("007", Some(7)),
            (" 42 ", Some(42)),
            ("2147483647", Some(2147483647)),
            ("2147483648", Some(DELTA_SECONDS_MAX)),
            ("18446744073709551616", Some(DELTA_SECONDS_MAX)),
            ("", None),
            ("-1", None),
            ("1e3", None),
            ("0x10", None),
            ("１", None),
        ];
        for (v, want) in rows {
            assert_eq!(parse_delta(v), *want, "{v:?}");
        }
    }

    #[test]
    fn targeted_field_wins() {
        let rows: &[(&[(&str, &str)], Option<u32>, DirectiveSource)] = &[
            (
                &[("cache-control", "max-age=10")],
                Some(10),
                DirectiveSource::CacheControl,
            ),
            (
                &[
                    ("cache-control", "max-age=10"),
                    ("cdn-cache-control", "max-age=99"),
                ],
                Some(99),
                DirectiveSource::Targeted,
            ),
            // CDN-Cache-Control without max-age still replaces Cache-Control entirely
            (
                &[
                    ("cache-control", "max-age=10"),
                    ("cdn-cache-control", "no-store"),
                ],
                None,
                DirectiveSource::Targeted,
            ),
            // an empty targeted field is ignored
            (
                &[("cache-control", "max-age=10"), ("cdn-cache-control", " ")],
                Some(10),
                DirectiveSource::CacheControl,
            ),
            (&[], None, DirectiveSource::None),
        ];
        for (hdrs, max_age, source) in rows {
            let mut h = HeaderMap::new();
            for (k, v) in hdrs.iter() {
                h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
            }
            let (cc, src) = effective_directives(&h, &[CDN_CACHE_CONTROL]);
            assert_eq!((cc.max_age, src), (*max_age, *source), "{hdrs:?}");
        }
    }

    #[test]
    fn fields_to_strip_merges_private_and_no_cache() {
        let cc = CacheControl::parse("private=\"X-A\", no-cache=\"Set-Cookie, x-a\"");
        assert_eq!(
            cc.fields_to_strip(),
            vec!["x-a".to_string(), "set-cookie".to_string()]
        );
        assert!(CacheControl::parse("no-cache").fields_to_strip().is_empty());
        assert!(!cc.forbids_shared_storage());
        assert!(CacheControl::parse("private").forbids_shared_storage());
    }
}
