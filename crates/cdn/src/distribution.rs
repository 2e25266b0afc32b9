//! Which distribution a request is for: its Host (or `:authority`, or the TLS SNI) against the
//! distribution's `aliases`.

use std::net::IpAddr;

/// The host part of a Host header value: lower-cased, without port, IPv6 brackets kept.
pub fn host_without_port(host: &str) -> String {
    let h = host.trim();
    let bare = if let Some(rest) = h.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, _)) => return format!("[{}]", ip.to_ascii_lowercase()),
            None => h,
        }
    } else {
        match h.rsplit_once(':') {
            // One colon: host:port. More: an unbracketed IPv6 literal.
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => h,
        }
    };
    bare.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` (already through [`host_without_port`]) names an IP address.
fn is_ip_literal(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// Whether a distribution with these `aliases` (and id) serves `host`: any alias
/// (case-insensitive, `*.example.com` covers one label), the distribution's own domain
/// (`<id>.cloudfront.net`, `localhost`, IP literals), or anything when it has no aliases.
pub fn serves_host(aliases: &[String], id: &str, host: Option<&str>) -> bool {
    if aliases.is_empty() {
        return true;
    }
    let Some(host) = host else { return false };
    let host = host_without_port(host);
    if host == "localhost" || is_ip_literal(&host) {
        return true;
    }
    if host
        .strip_suffix(".cloudfront.net")
        .is_some_and(|d| d.eq_ignore_ascii_case(id))
    {
        return true;
    }
    aliases.iter().any(|a| {
        let a = a.trim_end_matches('.');
        match a.strip_prefix("*.") {
            Some(suffix) => host.split_once('.').is_some_and(|(label, rest)| {
                !label.is_empty() && rest.eq_ignore_ascii_case(suffix)
            }),
            None => a.eq_ignore_ascii_case(&host),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let table: &[(&str, &str)] = &[
            ("Example.COM", "example.com"),
            ("example.com:8080", "example.com"),
            ("example.com.", "example.com"),
            ("127.0.0.1:80", "127.0.0.1"),
            ("[::1]:443", "[::1]"),
            ("[::1]", "[::1]"),
            ("::1", "::1"),
        ];
        for (input, want) in table {
            assert_eq!(host_without_port(input), *want, "{input}");
        }
    }

    #[test]
    fn distribution_by_host() {
        let aliases = vec![
            "www.example.com".to_string(),
            "*.cdn.example.com".to_string(),
        ];
        let table: &[(&[String], Option<&str>, bool)] = &[
            (&aliases, Some("www.example.com"), true),
            (&aliases, Some("WWW.Example.com:8443"), true),
            (&aliases, Some("a.cdn.example.com"), true),
            (&aliases, Some("cdn.example.com"), false),
            (&aliases, Some("other.example.com"), false),
            (&aliases, Some("localhost:8080"), true),
            (&aliases, Some("127.0.0.1:8080"), true),
            (&aliases, Some("[::1]:8080"), true),
            (&aliases, Some("web.cloudfront.net"), true),
            (&aliases, Some("other.cloudfront.net"), false),
            (&aliases, None, false),
            (&[], Some("anything.test"), true),
            (&[], None, true),
        ];
        for (a, host, want) in table {
            assert_eq!(serves_host(a, "web", *host), *want, "{host:?}");
        }
    }
}
