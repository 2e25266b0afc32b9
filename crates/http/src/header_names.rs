//! The field names that nearly every request and response carries, recognised by length and a
//! case-insensitive compare: cheaper than `HeaderName::from_bytes`, which lower-cases every name
//! through a table before matching it. Anything else falls back to `from_bytes`.

use http::header::{self, HeaderName, InvalidHeaderName};

/// `name` as a `HeaderName` (lower-cased), as `HeaderName::from_bytes` gives it.
pub(crate) fn parse(name: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    match known(name) {
        Some(n) => Ok(n),
        None => HeaderName::from_bytes(name),
    }
}

fn known(b: &[u8]) -> Option<HeaderName> {
    let is = |s: &str| b.eq_ignore_ascii_case(s.as_bytes());
    Some(match b.len() {
        3 if is("age") => header::AGE,
        4 if is("host") => header::HOST,
        4 if is("date") => header::DATE,
        4 if is("etag") => header::ETAG,
        4 if is("vary") => header::VARY,
        5 if is("range") => header::RANGE,
        6 if is("server") => header::SERVER,
        6 if is("accept") => header::ACCEPT,
        6 if is("cookie") => header::COOKIE,
        6 if is("origin") => header::ORIGIN,
        6 if is("pragma") => header::PRAGMA,
        7 if is("expires") => header::EXPIRES,
        7 if is("referer") => header::REFERER,
        7 if is("upgrade") => header::UPGRADE,
        8 if is("location") => header::LOCATION,
        10 if is("connection") => header::CONNECTION,
        10 if is("user-agent") => header::USER_AGENT,
        10 if is("set-cookie") => header::SET_COOKIE,
        10 if is("keep-alive") => HeaderName::from_static("keep-alive"),
        12 if is("content-type") => header::CONTENT_TYPE,
        13 if is("cache-control") => header::CACHE_CONTROL,
        13 if is("accept-ranges") => header::ACCEPT_RANGES,
        13 if is("last-modified") => header::LAST_MODIFIED,
        13 if is("if-none-match") => header::IF_NONE_MATCH,
        13 if is("authorization") => header::AUTHORIZATION,
        14 if is("content-length") => header::CONTENT_LENGTH,
        15 if is("accept-encoding") => header::ACCEPT_ENCODING,
        15 if is("accept-language") => header::ACCEPT_LANGUAGE,
        15 if is("x-forwarded-for") => HeaderName::from_static("x-forwarded-for"),
        16 if is("content-encoding") => header::CONTENT_ENCODING,
        17 if is("transfer-encoding") => header::TRANSFER_ENCODING,
        17 if is("if-modified-since") => header::IF_MODIFIED_SINCE,
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn known_names_are_what_from_bytes_gives() {
        for name in [
            "age",
            "host",
            "date",
            "etag",
            "vary",
            "range",
            "server",
            "accept",
            "cookie",
            "origin",
            "pragma",
            "expires",
            "referer",
            "upgrade",
            "location",
            "connection",
            "user-agent",
            "set-cookie",
            "keep-alive",
            "content-type",
            "cache-control",
            "accept-ranges",
            "last-modified",
            "if-none-match",
            "authorization",
            "content-length",
            "accept-encoding",
            "accept-language",
            "x-forwarded-for",
            "content-encoding",
            "transfer-encoding",
            "if-modified-since",
        ] {
            let want = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(super::known(name.as_bytes()), Some(want.clone()), "{name}");
            let upper = name.to_ascii_uppercase();
            assert_eq!(super::parse(upper.as_bytes()).unwrap(), want, "{upper}");
        }
        for other in ["x-custom", "hostx", "dat", "content-lengths"] {
            assert!(super::known(other.as_bytes()).is_none(), "{other}");
            assert_eq!(
                super::parse(other.as_bytes()).unwrap(),
                http::HeaderName::from_bytes(other.as_bytes()).unwrap()
            );
        }
        assert!(super::parse(b"bad name").is_err());
    }
}
