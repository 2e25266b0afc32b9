//! Identifiers CloudFront shows: the edge's `<hex>.cloudfront.net` host in `Via`, and the
//! per-request `X-Amz-Cf-Id`.

use base64::Engine as _;
use rand::RngCore as _;

/// This process's edge host name for `Via`: 32 random hex digits + `.cloudfront.net`.
pub fn edge_host() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let mut s = String::with_capacity(32 + 15);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s.push_str(".cloudfront.net");
    s
}

/// A fresh `X-Amz-Cf-Id`: 40 random bytes in URL-safe base64, 56 characters ending in `==`.
pub fn request_id() -> String {
    let mut b = [0u8; 40];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE.encode(b)
}

/// `Via` value for an HTTP version: `1.1 <edge> (CloudFront)`.
pub fn via(version: http::Version, edge: &str) -> String {
    format!("{} {edge} (CloudFront)", version_text(version))
}

/// `1.0`, `1.1`, `2.0`, `3.0`.
pub fn version_text(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2.0",
        http::Version::HTTP_3 => "3.0",
        _ => "1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_cloudfronts() {
        let a = request_id();
        let b = request_id();
        assert_eq!(a.len(), 56, "{a}");
        assert!(a.ends_with("=="), "{a}");
        assert!(
            a.trim_end_matches('=')
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn edge_hosts_and_via() {
        let e = edge_host();
        assert_eq!(e.len(), 32 + ".cloudfront.net".len());
        assert!(e[..32]
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(
            via(http::Version::HTTP_2, "x.cloudfront.net"),
            "2.0 x.cloudfront.net (CloudFront)"
        );
        assert_eq!(
            via(http::Version::HTTP_11, "x.cloudfront.net"),
            "1.1 x.cloudfront.net (CloudFront)"
        );
    }
}
