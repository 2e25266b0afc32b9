//! Query strings and cookies: which reach the origin (cache key ∪ origin request policy) and
//! which go into the cache key. Names are case-sensitive; `&` is the only query delimiter.

use crate::policy::NameSet;
use http::HeaderMap;

/// The name of a `name=value` query parameter (the whole part when there is no `=`).
fn param_name(part: &str) -> &str {
    part.split_once('=').map_or(part, |(n, _)| n)
}

/// The query parameters in `query` whose names either set contains, in the viewer's order and
/// spelling. `None` when nothing is left.
pub fn filter_query(query: Option<&str>, key: &NameSet, orp: Option<&NameSet>) -> Option<String> {
    let q = query?;
    if matches!(key, NameSet::All) || matches!(orp, Some(NameSet::All)) {
        return if q.is_empty() {
            None
        } else {
            Some(q.to_string())
        };
    }
    let kept: Vec<&str> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let n = param_name(p);
            key.contains(n) || orp.is_some_and(|o| o.contains(n))
        })
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("&"))
    }
}

/// Every cookie in the viewer's `Cookie` headers (HTTP/2 may split them) as (name, `name=value`).
pub fn viewer_cookies(h: &HeaderMap) -> Vec<(&str, &str)> {
    h.get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let c = c.trim();
            if c.is_empty() {
                return None;
            }
            Some((c.split_once('=').map_or(c, |(n, _)| n), c))
        })
        .collect()
}

/// The `Cookie` header value for the origin: the cookies either set contains, sorted by name.
pub fn filter_cookies(h: &HeaderMap, key: &NameSet, orp: Option<&NameSet>) -> Option<String> {
    if key.is_none() && orp.is_none_or(NameSet::is_none) {
        return None;
    }
    let mut kept: Vec<(&str, &str)> = viewer_cookies(h)
        .into_iter()
        .filter(|(n, _)| key.contains(n) || orp.is_some_and(|o| o.contains(n)))
        .collect();
    if kept.is_empty() {
        return None;
    }
    kept.sort_by(|a, b| a.0.cmp(b.0));
    Some(
        kept.iter()
            .map(|(_, pair)| *pair)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn wl(v: &[&str]) -> NameSet {
        NameSet::Whitelist(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn query_strings() {
        let all = NameSet::All;
        let none = NameSet::None;
        let table: Vec<(Option<&str>, NameSet, Option<NameSet>, Option<&str>)> = vec![
            (Some("a=1&b=2"), none.clone(), None, None),
            (Some("a=1&b=2"), all.clone(), None, Some("a=1&b=2")),
            (
                Some("b=2&a=1"),
                none.clone(),
                Some(all.clone()),
                Some("b=2&a=1"),
            ),
            (Some("a=1&b=2&A=3"), wl(&["a"]), None, Some("a=1")),
            (
                Some("a=1&b=2&c"),
                wl(&["a"]),
                Some(wl(&["c"])),
                Some("a=1&c"),
            ),
            (
                Some("a=1&b=2"),
                NameSet::AllExcept(vec!["a".into()]),
                None,
                Some("b=2"),
            ),
            (Some(""), all.clone(), None, None),
            (None, all.clone(), None, None),
            (
                Some("x=%20y&&y=1"),
                wl(&["x", "y"]),
                None,
                Some("x=%20y&y=1"),
            ),
        ];
        for (q, key, orp, want) in table {
            assert_eq!(
                filter_query(q, &key, orp.as_ref()).as_deref(),
                want,
                "{q:?} {key:?} {orp:?}"
            );
        }
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("z=1; session=abc; a=2"));
        h.append("cookie", HeaderValue::from_static("flag"));
        let table: Vec<(NameSet, Option<NameSet>, Option<&str>)> = vec![
            (NameSet::None, None, None),
            (NameSet::None, Some(NameSet::None), None),
            (NameSet::All, None, Some("a=2; flag; session=abc; z=1")),
            (wl(&["session"]), None, Some("session=abc")),
            (wl(&["session"]), Some(wl(&["z"])), Some("session=abc; z=1")),
            (
                NameSet::AllExcept(vec!["z".into(), "flag".into()]),
                None,
                Some("a=2; session=abc"),
            ),
            (wl(&["sess*"]), None, Some("session=abc")),
            (wl(&["Session"]), None, None),
        ];
        for (key, orp, want) in table {
            assert_eq!(
                filter_cookies(&h, &key, orp.as_ref()).as_deref(),
                want,
                "{key:?} {orp:?}"
            );
        }
    }
}
