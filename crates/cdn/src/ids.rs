//! Identifiers CloudFront shows: the edge's `<hex>.cloudfront.net` host in `Via`, and the
//! per-request `X-Amz-Cf-Id`.

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
    RequestId::new().as_str().to_string()
}

/// URL-safe base64 (RFC 4648 §5).
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A fresh `X-Amz-Cf-Id` kept on the stack: [`request_id`] without the heap (and without a
/// general base64 engine: 40 bytes are always 13 groups of three and one byte over).
#[derive(Clone, Copy)]
pub struct RequestId([u8; 56]);

impl RequestId {
    pub fn new() -> Self {
        let mut b = [0u8; 40];
        rand::rng().fill_bytes(&mut b);
        Self::encode(&b)
    }

    fn encode(b: &[u8; 40]) -> Self {
        let sym = |i: u32| URL_SAFE[(i & 63) as usize];
        let mut out = [b'='; 56];
        for (src, dst) in b.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
            if let ([x, y, z], [o0, o1, o2, o3]) = (src, dst) {
                let n = u32::from(*x) << 16 | u32::from(*y) << 8 | u32::from(*z);
                *o0 = sym(n >> 18);
                *o1 = sym(n >> 12);
                *o2 = sym(n >> 6);
                *o3 = sym(n);
            }
        }
        // The 40th byte: two symbols, then the `==` already there.
        let last = u32::from(b[39]);
        out[52] = sym(last >> 2);
        out[53] = sym(last << 4);
        Self(out)
    }

    /// The id as text (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl AsRef<[u8]> for RequestId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl RequestId {
    /// The id as a header value whose clones share one buffer (the origin request and the
    /// viewer response carry the same id). Marked sensitive, as [`id_value`] explains.
    pub fn header_value(self) -> Option<http::HeaderValue> {
        let mut v = http::HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(self)).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

/// A request id as a header value, marked sensitive: the id is unique to one request, so an
/// HTTP/2 encoder sends it as a never-indexed literal (RFC 7541 §6.2.3) instead of inserting it
/// into the connection's dynamic table, where it would never be used again and would push out
/// the entries that repeat (`Via`, `X-Cache`, `X-Amz-Cf-Pop`, ...). HTTP/1.1 ignores the mark.
pub fn id_value(id: &str) -> Option<http::HeaderValue> {
    let mut v = http::HeaderValue::from_str(id).ok()?;
    v.set_sensitive(true);
    Some(v)
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
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
    fn request_ids_are_url_safe_base64() {
        use base64::Engine as _;
        let mut inputs = vec![[0u8; 40], [0xff; 40]];
        let mut b = [0u8; 40];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i * 37 + 11) as u8;
        }
        inputs.push(b);
        for _ in 0..200 {
            rand::rng().fill_bytes(&mut b);
            inputs.push(b);
        }
        for b in inputs {
            assert_eq!(
                RequestId::encode(&b).as_str(),
                base64::engine::general_purpose::URL_SAFE.encode(b)
            );
        }
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
