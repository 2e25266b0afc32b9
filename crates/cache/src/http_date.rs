//! HTTP-date parsing (RFC 9110 §5.6.7) that tolerates the three formats (IMF-fixdate, RFC 850,
//! asctime), surrounding whitespace and a wrong day-of-week name.

use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Parses an HTTP-date; `None` when it is not one.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let v = value.trim();
    if let Ok(t) = httpdate::parse_http_date(v) {
        return Some(t);
    }
    // A wrong day-of-week name makes httpdate refuse the date; the name carries no information.
    let (day, rest) = match v.split_once(", ") {
        Some(x) => x,
        None => {
            // asctime: "Sun Nov  6 08:49:37 1994"
            let (day, rest) = v.split_at_checked(3)?;
            if !rest.starts_with(' ') || !SHORT_DAYS.iter().any(|d| d.eq_ignore_ascii_case(day)) {
                return None;
            }
            return SHORT_DAYS
                .iter()
                .find_map(|d| httpdate::parse_http_date(&format!("{d}{rest}")).ok());
        }
    };
    let names: &[&str] = if day.len() == 3 {
        &SHORT_DAYS
    } else {
        &LONG_DAYS
    };
    if !names.iter().any(|d| d.eq_ignore_ascii_case(day)) {
        return None;
    }
    names
        .iter()
        .find_map(|d| httpdate::parse_http_date(&format!("{d}, {rest}")).ok())
}

/// Parses a header value as an HTTP-date.
pub fn parse_header_date(value: &HeaderValue) -> Option<SystemTime> {
    value.to_str().ok().and_then(parse_http_date)
}

/// For `Expires`: an invalid date (such as `0` or `-1`) means "already expired" (RFC 9111 §5.3).
pub fn parse_expires(value: &HeaderValue) -> SystemTime {
    parse_header_date(value).unwrap_or(UNIX_EPOCH)
}

/// Formats a time as an IMF-fixdate, clamped to the range httpdate can represent.
pub fn format_http_date(t: SystemTime) -> String {
    // httpdate panics past year 9999.
    const MAX_SECS: u64 = 253_402_300_799;
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .min(MAX_SECS);
    httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_table() {
        let t = UNIX_EPOCH + Duration::from_secs(784111777); // Sun, 06 Nov 1994 08:49:37 GMT
        let rows: &[(&str, Option<SystemTime>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(t)),
            ("  Sun, 06 Nov 1994 08:49:37 GMT ", Some(t)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(t)),
            ("Sun Nov  6 08:49:37 1994", Some(t)),
            // wrong weekday names are tolerated
            ("Mon, 06 Nov 1994 08:49:37 GMT", Some(t)),
            ("Friday, 06-Nov-94 08:49:37 GMT", Some(t)),
            ("Tue Nov  6 08:49:37 1994", Some(t)),
            ("0", None),
            ("-1", None),
            ("", None),
            ("yesterday", None),
            ("Xyz, 06 Nov 1994 08:49:37 GMT", None),
            ("Sun, 32 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 PST", None),
            ("Sun, 06 Nov 1994 25:49:37 GMT", None),
        ];
        for (v, want) in rows {
            assert_eq!(parse_http_date(v), *want, "{v:?}");
        }
    }

    #[test]
    fn invalid_expires_is_the_past() {
        assert_eq!(parse_expires(&HeaderValue::from_static("0")), UNIX_EPOCH);
        assert_eq!(
            parse_expires(&HeaderValue::from_static("Thu, 01 Jan 1970 00:00:10 GMT")),
            UNIX_EPOCH + Duration::from_secs(10)
        );
    }

    #[test]
    fn format_clamps() {
        assert_eq!(
            format_http_date(UNIX_EPOCH + Duration::from_secs(784111777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert!(format_http_date(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)).contains("9999"));
    }
}
