//! Conditional requests (RFC 9110 §13) against a stored response, and revalidation with the
//! origin (RFC 9111 §4.3): building the conditional request, choosing and updating the stored
//! response from a 304.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::http_date::parse_header_date;

/// An entity tag (RFC 9110 §8.8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/` prefix.
    pub weak: bool,
    /// The opaque tag without quotes.
    pub tag: String,
}

impl EntityTag {
    /// Parses one entity tag such as `"abc"` or `W/"abc"`.
    pub fn parse(s: &str) -> Option<EntityTag> {
        parse_one(s.trim()).and_then(|(t, rest)| rest.trim().is_empty().then_some(t))
    }

    /// Strong comparison: both strong and the same tag.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison: the same tag, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.tag == other.tag
    }
}

fn parse_one(s: &str) -> Option<(EntityTag, &str)> {
    let (weak, s) = match s.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let s = s.strip_prefix('"')?;
    let end = s.find('"')?;
    Some((
        EntityTag {
            weak,
            tag: s[..end].to_string(),
        },
        &s[end + 1..],
    ))
}

/// The value of `If-Match` / `If-None-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtagMatch {
    /// `*`.
    Any,
    /// A list of entity tags (unparseable members are skipped).
    Tags(Vec<EntityTag>),
}

impl EtagMatch {
    /// Parses every line of the header `name`; `None` when absent.
    pub fn from_headers(headers: &HeaderMap, name: &HeaderName) -> Option<EtagMatch> {
        let mut tags = Vec::new();
        let mut present = false;
        for v in headers.get_all(name) {
            present = true;
            let s = String::from_utf8_lossy(v.as_bytes());
            let mut rest = s.trim();
            if rest == "*" {
                return Some(EtagMatch::Any);
            }
            while !rest.is_empty() {
                rest = rest.trim_start_matches([',', ' ', '\t']);
                if rest.is_empty() {
                    break;
                }
                match parse_one(rest) {
                    Some((t, r)) => {
                        tags.push(t);
                        rest = r;
                    }
                    None => {
                        // Skip to the next comma.
                        rest = rest.find(',').map_or("", |i| &rest[i..]);
                    }
                }
            }
        }
        present.then_some(EtagMatch::Tags(tags))
    }

    fn matches(&self, etag: Option<&EntityTag>, strong: bool) -> bool {
        match self {
            EtagMatch::Any => true,
            EtagMatch::Tags(tags) => etag.is_some_and(|e| {
                tags.iter()
                    .any(|t| if strong { t.strong_eq(e) } else { t.weak_eq(e) })
            }),
        }
    }
}

/// The stored response's `ETag`, when valid.
pub fn etag(headers: &HeaderMap) -> Option<EntityTag> {
    headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(EntityTag::parse)
}

/// The outcome of evaluating a viewer's preconditions against a stored response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the stored response (or apply Range).
    Proceed,
    /// 304 Not Modified (GET/HEAD).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in the
/// order of RFC 9110 §13.2.2. Preconditions apply only when the stored status is 2xx.
pub fn evaluate(
    method: &Method,
    request: &HeaderMap,
    stored_status: StatusCode,
    stored: &HeaderMap,
) -> Precondition {
    if !stored_status.is_success() {
        return Precondition::Proceed;
    }
    // Most requests carry no precondition: nothing to parse.
    let conditional = [
        &header::IF_MATCH,
        &header::IF_UNMODIFIED_SINCE,
        &header::IF_NONE_MATCH,
        &header::IF_MODIFIED_SINCE,
    ];
    if !conditional.iter().any(|n| request.contains_key(*n)) {
        return Precondition::Proceed;
    }
    let current = etag(stored);
    let last_modified = stored
        .get(header::LAST_MODIFIED)
        .and_then(parse_header_date);
    let get_or_head = method == Method::GET || method == Method::HEAD;

    // 1. If-Match (strong comparison)
    if let Some(m) = EtagMatch::from_headers(request, &header::IF_MATCH) {
        if !m.matches(current.as_ref(), true) {
            return Precondition::Failed;
        }
    } else if let Some(ius) = request
        .get(header::IF_UNMODIFIED_SINCE)
        .and_then(parse_header_date)
    {
        // 2. If-Unmodified-Since (ignored without Last-Modified)
        if last_modified.is_some_and(|lm| lm > ius) {
            return Precondition::Failed;
        }
    }
    // 3. If-None-Match (weak comparison)
    if let Some(m) = EtagMatch::from_headers(request, &header::IF_NONE_MATCH) {
        if m.matches(current.as_ref(), false) {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
        return Precondition::Proceed;
    }
    // 4. If-Modified-Since (GET/HEAD only; Last-Modified, else Date, RFC 9111 §4.3.2)
    if get_or_head {
        if let Some(ims) = request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(parse_header_date)
        {
            let modified =
                last_modified.or_else(|| stored.get(header::DATE).and_then(parse_header_date));
            if modified.is_some_and(|m| m <= ims) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Does `If-Range` allow a partial response (RFC 9110 §13.1.5)? True when absent; an entity tag
/// must match strongly, a date must equal `Last-Modified` exactly.
pub fn if_range_allows(request: &HeaderMap, stored: &HeaderMap) -> bool {
    let Some(v) = request.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let v = v.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        return match (EntityTag::parse(v), etag(stored)) {
            (Some(want), Some(have)) => want.strong_eq(&have),
            _ => false,
        };
    }
    match (
        crate::http_date::parse_http_date(v),
        stored
            .get(header::LAST_MODIFIED)
            .and_then(parse_header_date),
    ) {
        (Some(want), Some(have)) => want == have,
        _ => false,
    }
}

/// Headers a 304 to a viewer carries from the stored 200 (RFC 9110 §15.4.5).
pub fn not_modified_headers(stored: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in [
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::DATE,
        header::ETAG,
        header::EXPIRES,
        header::LAST_MODIFIED,
        header::VARY,
    ] {
        for v in stored.get_all(&name) {
            out.append(name.clone(), v.clone());
        }
    }
    out
}

/// The conditional headers for revalidating a stored response with the origin:
/// `If-None-Match` from `ETag`, `If-Modified-Since` from `Last-Modified`.
pub fn revalidation_headers(stored: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(e) = stored.get(header::ETAG) {
        out.insert(header::IF_NONE_MATCH, e.clone());
    }
    if let Some(lm) = stored.get(header::LAST_MODIFIED) {
        if parse_header_date(lm).is_some() {
            out.insert(header::IF_MODIFIED_SINCE, lm.clone());
        }
    }
    out
}

/// Does a 304 select this stored response for update (RFC 9111 §4.3.4)? By strong `ETag` when
/// the 304 has one, else by `Last-Modified` when it has one, else when the stored response has
/// no validators to contradict it.
pub fn selects_for_update(stored: &HeaderMap, not_modified: &HeaderMap) -> bool {
    let new_etag = etag(not_modified);
    if let Some(n) = new_etag.as_ref() {
        return etag(stored).is_some_and(|s| if n.weak { s.weak_eq(n) } else { s.strong_eq(n) });
    }
    if let Some(lm) = not_modified.get(header::LAST_MODIFIED) {
        return stored.get(header::LAST_MODIFIED) == Some(lm);
    }
    true
}

/// Fields a 304 never updates in a stored response: framing, hop-by-hop and content coding.
const NOT_UPDATED: &[&str] = &[
    "content-length",
    "content-encoding",
    "content-range",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// The stored headers updated with a 304's (RFC 9111 §3.2 and §4.3.4): each field the 304
/// carries replaces the stored one, except framing, hop-by-hop and content-coding fields and
/// those named by its `Connection`.
pub fn merge_not_modified(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let connection_listed: Vec<String> = not_modified
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = stored.clone();
    for name in not_modified.keys() {
        let n = name.as_str();
        if NOT_UPDATED.contains(&n) || connection_listed.iter().any(|c| c == n) {
            continue;
        }
        let values: Vec<HeaderValue> = not_modified.get_all(name).iter().cloned().collect();
        out.remove(name);
        for v in values {
            out.append(name.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &str = "Sat, 05 Nov 1994 08:49:37 GMT";
    const AFTER: &str = "Mon, 07 Nov 1994 08:49:37 GMT";

    #[test]
    fn etag_parse_table() {
        let rows: &[(&str, Option<(bool, &str)>)] = &[
            ("\"abc\"", Some((false, "abc"))),
            ("W/\"abc\"", Some((true, "abc"))),
            (" \"\" ", Some((false, ""))),
            ("abc", None),
            ("\"abc", None),
            ("\"a\" junk", None),
            ("w/\"abc\"", None),
        ];
        for (s, want) in rows {
            let got = EntityTag::parse(s).map(|t| (t.weak, t.tag));
            assert_eq!(got, want.map(|(w, t)| (w, t.to_string())), "{s:?}");
        }
    }

    #[test]
    fn evaluate_table() {
        use Precondition::*;
        let stored = hm(&[("etag", "\"v1\""), ("last-modified", LM)]);
        let weak_stored = hm(&[("etag", "W/\"v1\""), ("last-modified", LM)]);
        let empty = hm(&[]);
        let date_only = hm(&[("date", LM)]);
        let rows: Vec<(
            &str,
            Method,
            Vec<(&str, &str)>,
            &HeaderMap,
            u16,
            Precondition,
        )> = vec![
            (
                "no conditionals",
                Method::GET,
                vec![],
                &stored,
                200,
                Proceed,
            ),
            (
                "inm match",
                Method::GET,
                vec![("if-none-match", "\"v1\"")],
                &stored,
                200,
                NotModified,
            ),
            (
                "inm match head",
                Method::HEAD,
                vec![("if-none-match", "\"v1\"")],
                &stored,
                200,
                NotModified,
            ),
            (
                "inm weak match",
                Method::GET,
                vec![("if-none-match", "W/\"v1\"")],
                &stored,
                200,
                NotModified,
            ),
            (
                "inm weak stored",
                Method::GET,
                vec![("if-none-match", "\"v1\"")],
                &weak_stored,
                200,
                NotModified,
            ),
            (
                "inm list",
                Method::GET,
                vec![("if-none-match", "\"x\", \"v1\"")],
                &stored,
                200,
                NotModified,
            ),
            (
                "inm two lines",
                Method::GET,
                vec![("if-none-match", "\"x\""), ("if-none-match", "\"v1\"")],
                &stored,
                200,
                NotModified,
            ),
            (
                "inm star",
                Method::GET,
                vec![("if-none-match", "*")],
                &stored,
                200,
                NotModified,
            ),
            (
                "inm miss",
                Method::GET,
                vec![("if-none-match", "\"v2\"")],
                &stored,
                200,
                Proceed,
            ),
            (
                "inm garbage",
                Method::GET,
                vec![("if-none-match", "v1")],
                &stored,
                200,
                Proceed,
            ),
            (
                "inm match on POST",
                Method::POST,
                vec![("if-none-match", "\"v1\"")],
                &stored,
                200,
                Failed,
            ),
            (
                "inm beats ims",
                Method::GET,
                vec![("if-none-match", "\"v2\""), ("if-modified-since", AFTER)],
                &stored,
                200,
                Proceed,
            ),
            (
                "ims not modified",
                Method::GET,
                vec![("if-modified-since", LM)],
                &stored,
                200,
                NotModified,
            ),
            (
                "ims later",
                Method::GET,
                vec![("if-modified-since", AFTER)],
                &stored,
                200,
                NotModified,
            ),
            (
                "ims earlier",
                Method::GET,
                vec![("if-modified-since", BEFORE)],
                &stored,
                200,
                Proceed,
            ),
            (
                "ims invalid",
                Method::GET,
                vec![("if-modified-since", "yesterday")],
                &stored,
                200,
                Proceed,
            ),
            (
                "ims on POST ignored",
                Method::POST,
                vec![("if-modified-since", AFTER)],
                &stored,
                200,
                Proceed,
            ),
            (
                "ims uses Date without LM",
                Method::GET,
                vec![("if-modified-since", AFTER)],
                &date_only,
                200,
                NotModified,
            ),
            (
                "ims no dates",
                Method::GET,
                vec![("if-modified-since", AFTER)],
                &empty,
                200,
                Proceed,
            ),
            (
                "if-match ok",
                Method::GET,
                vec![("if-match", "\"v1\"")],
                &stored,
                200,
                Proceed,
            ),
            (
                "if-match star",
                Method::GET,
                vec![("if-match", "*")],
                &stored,
                200,
                Proceed,
            ),
            (
                "if-match miss",
                Method::GET,
                vec![("if-match", "\"v2\"")],
                &stored,
                200,
                Failed,
            ),
            (
                "if-match weak never",
                Method::GET,
                vec![("if-match", "W/\"v1\"")],
                &stored,
                200,
                Failed,
            ),
            (
                "if-match weak stored",
                Method::GET,
                vec![("if-match", "\"v1\"")],
                &weak_stored,
                200,
                Failed,
            ),
            (
                "if-match no etag",
                Method::GET,
                vec![("if-match", "\"v1\"")],
                &empty,
                200,
                Failed,
            ),
            (
                "ius ok",
                Method::GET,
                vec![("if-unmodified-since", LM)],
                &stored,
                200,
                Proceed,
            ),
            (
                "ius modified since",
                Method::GET,
                vec![("if-unmodified-since", BEFORE)],
                &stored,
                200,
                Failed,
            ),
            (
                "ius ignored with if-match",
                Method::GET,
                vec![("if-match", "\"v1\""), ("if-unmodified-since", BEFORE)],
                &stored,
                200,
                Proceed,
            ),
            (
                "ius without LM ignored",
                Method::GET,
                vec![("if-unmodified-since", BEFORE)],
                &empty,
                200,
                Proceed,
            ),
            (
                "ius invalid ignored",
                Method::GET,
                vec![("if-unmodified-since", "nope")],
                &stored,
                200,
                Proceed,
            ),
            (
                "if-match before inm",
                Method::GET,
                vec![("if-match", "\"v2\""), ("if-none-match", "\"v1\"")],
                &stored,
                200,
                Failed,
            ),
            (
                "non-2xx stored",
                Method::GET,
                vec![("if-none-match", "\"v1\"")],
                &stored,
                404,
                Proceed,
            ),
        ];
        for (name, method, req, stored, status, want) in rows {
            let got = evaluate(
                &method,
                &hm(&req),
                StatusCode::from_u16(status).unwrap(),
                stored,
            );
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn if_range_table() {
        let stored = hm(&[("etag", "\"v1\""), ("last-modified", LM)]);
        let rows: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("if-range", "\"v1\"")], true),
            (&[("if-range", "\"v2\"")], false),
            (&[("if-range", "W/\"v1\"")], false),
            (&[("if-range", LM)], true),
            (&[("if-range", AFTER)], false),
            (&[("if-range", "junk")], false),
        ];
        for (req, want) in rows {
            assert_eq!(if_range_allows(&hm(req), &stored), *want, "{req:?}");
        }
        assert!(!if_range_allows(
            &hm(&[("if-range", "\"v1\"")]),
            &hm(&[("etag", "W/\"v1\"")])
        ));
    }

    #[test]
    fn revalidation_and_304_headers() {
        let stored = hm(&[
            ("etag", "\"v1\""),
            ("last-modified", LM),
            ("content-type", "text/plain"),
            ("cache-control", "max-age=5"),
        ]);
        let r = revalidation_headers(&stored);
        assert_eq!(r.get(header::IF_NONE_MATCH).unwrap(), "\"v1\"");
        assert_eq!(r.get(header::IF_MODIFIED_SINCE).unwrap(), LM);
        assert!(revalidation_headers(&hm(&[("last-modified", "bad")])).is_empty());
        let nm = not_modified_headers(&stored);
        assert!(nm.get(header::CONTENT_TYPE).is_none());
        assert_eq!(nm.get(header::ETAG).unwrap(), "\"v1\"");
        assert_eq!(nm.get(header::CACHE_CONTROL).unwrap(), "max-age=5");
    }

    #[test]
    fn selects_for_update_table() {
        let stored = hm(&[("etag", "\"v1\""), ("last-modified", LM)]);
        let rows: &[(&[(&str, &str)], bool)] = &[
            (&[("etag", "\"v1\"")], true),
            (&[("etag", "\"v2\"")], false),
            (&[("etag", "W/\"v1\"")], true),
            (&[("last-modified", LM)], true),
            (&[("last-modified", AFTER)], false),
            (&[], true),
        ];
        for (nm, want) in rows {
            assert_eq!(selects_for_update(&stored, &hm(nm)), *want, "{nm:?}");
        }
    }

    #[test]
    fn merge_table() {
        let stored = hm(&[
            ("cache-control", "max-age=5"),
            ("content-length", "100"),
            ("content-type", "text/plain"),
            ("x-multi", "a"),
            ("x-multi", "b"),
            ("etag", "\"v1\""),
        ]);
        let nm = hm(&[
            ("cache-control", "max-age=60"),
            ("content-length", "0"),
            ("x-multi", "c"),
            ("x-new", "n"),
            ("connection", "x-hop"),
            ("x-hop", "h"),
            ("transfer-encoding", "chunked"),
        ]);
        let merged = merge_not_modified(&stored, &nm);
        let all = |n: &str| {
            merged
                .get_all(n)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(all("cache-control"), vec!["max-age=60"]);
        assert_eq!(all("content-length"), vec!["100"]);
        assert_eq!(all("content-type"), vec!["text/plain"]);
        assert_eq!(all("x-multi"), vec!["c"]);
        assert_eq!(all("x-new"), vec!["n"]);
        assert_eq!(all("etag"), vec!["\"v1\""]);
        assert!(all("x-hop").is_empty());
        assert!(all("connection").is_empty());
        assert!(all("transfer-encoding").is_empty());
    }
}
