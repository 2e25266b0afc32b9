//! CloudFront's compression (§1.7): when it applies (behavior `compress`, a caching policy with
//! gzip/brotli in the key, a viewer that offers them and is not HTTP/1.0, status 200/403/404, no
//! `Content-Encoding`, `Content-Length` 1,000–10,000,000, a listed `Content-Type`), brotli over
//! gzip, and the header changes (`Content-Encoding`, `Content-Length`, weak `ETag`, `Vary`).
//!
//! zstd is an edgeway extension CloudFront lacks: a cache policy with
//! `enable_accept_encoding_zstd` puts it in the normalized `Accept-Encoding`, and the viewer's
//! offer is honoured in the order br, zstd, gzip.

use crate::behavior::Behavior;
use crate::headers::normalized_accept_encoding;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{StatusCode, Version};
use std::io::Write as _;

/// A content coding the edge produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Br,
    Zstd,
}

impl Coding {
    pub fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Br => "br",
            Self::Zstd => "zstd",
        }
    }
}

pub const MIN_BYTES: u64 = 1_000;
pub const MAX_BYTES: u64 = 10_000_000;

const TYPES: &[&str] = &[
    "application/dash+xml",
    "application/eot",
    "application/font",
    "application/font-sfnt",
    "application/javascript",
    "application/json",
    "application/opentype",
    "application/otf",
    "application/pkcs7-mime",
    "application/protobuf",
    "application/rss+xml",
    "application/truetype",
    "application/ttf",
    "application/vnd.apple.mpegurl",
    "application/vnd.mapbox-vector-tile",
    "application/vnd.ms-fontobject",
    "application/xhtml+xml",
    "application/xml",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "application/x-font-ttf",
    "application/x-httpd-cgi",
    "application/x-javascript",
    "application/x-mpegurl",
    "application/x-opentype",
    "application/x-otf",
    "application/x-perl",
    "application/x-ttf",
    "font/eot",
    "font/opentype",
    "font/otf",
    "font/ttf",
    "image/svg+xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/js",
    "text/plain",
    "text/richtext",
    "text/tab-separated-values",
    "text/xml",
    "text/x-component",
    "text/x-java-source",
    "text/x-script",
    "vnd.apple.mpegurl",
];

/// Whether `content_type` (parameters ignored, case-insensitive) is compressible.
pub fn compressible_type(content_type: &str) -> bool {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    TYPES.contains(&t.as_str())
}

/// The coding to apply to this response for this viewer, if any.
pub fn choose(
    behavior: &Behavior,
    viewer: &HeaderMap,
    version: Version,
    status: StatusCode,
    response: &HeaderMap,
) -> Option<Coding> {
    let key = &behavior.cache_policy.key;
    if !behavior.compress
        || !key.normalizes_accept_encoding()
        || behavior.cache_policy.caching_disabled()
    {
        return None;
    }
    if !matches!(status.as_u16(), 200 | 403 | 404)
        || response.contains_key(header::CONTENT_ENCODING)
    {
        return None;
    }
    let len = response
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    if !(MIN_BYTES..=MAX_BYTES).contains(&len) {
        return None;
    }
    if !response
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(compressible_type)
    {
        return None;
    }
    coding_for(normalized_accept_encoding(
        viewer,
        key.accept_encoding_gzip,
        key.accept_encoding_brotli,
        key.accept_encoding_zstd,
        version,
    ))
}

/// The preferred coding of a normalized `Accept-Encoding`: br, then zstd, then gzip.
pub fn coding_for(normalized: &str) -> Option<Coding> {
    let has = |c: &str| normalized.split(',').any(|t| t == c);
    if has("br") {
        Some(Coding::Br)
    } else if has("zstd") {
        Some(Coding::Zstd)
    } else if has("gzip") {
        Some(Coding::Gzip)
    } else {
        None
    }
}

/// `body` compressed with `coding`.
pub fn encode(coding: Coding, body: &[u8]) -> std::io::Result<Bytes> {
    match coding {
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 3),
                flate2::Compression::new(6),
            );
            e.write_all(body)?;
            Ok(Bytes::from(e.finish()?))
        }
        Coding::Br => {
            let mut out = Vec::with_capacity(body.len() / 3);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(body)?;
                w.flush()?;
            }
            Ok(Bytes::from(out))
        }
        Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL).map(Bytes::from),
    }
}

/// zstd's default level: about gzip 6's speed with a better ratio.
const ZSTD_LEVEL: i32 = 3;

/// The response headers after compressing to `len` bytes with `coding`.
pub fn rewrite_headers(h: &mut HeaderMap, coding: Coding, len: usize) {
    h.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Some(etag) = h.get(header::ETAG).and_then(|v| v.to_str().ok()) {
        if etag.starts_with('"') {
            if let Ok(weak) = HeaderValue::from_str(&format!("W/{etag}")) {
                h.insert(header::ETAG, weak);
            }
        }
    }
    let varies = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"));
    if !varies {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.remove(header::ACCEPT_RANGES);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{CachePolicyResolved, KeyConfig};
    use crate::viewer::ViewerProtocolPolicy;
    use http::Method;
    use std::io::Read as _;

    fn behavior(compress: bool, gzip: bool, br: bool, ttl: u64) -> Behavior {
        Behavior {
            pattern: None,
            origin: 0,
            failover: None,
            viewer_protocol_policy: ViewerProtocolPolicy::AllowAll,
            allowed_methods: vec![Method::GET, Method::HEAD],
            cached_methods: vec![Method::GET, Method::HEAD],
            cache_policy: CachePolicyResolved {
                name: "p".into(),
                min_ttl: 0,
                default_ttl: ttl,
                max_ttl: ttl,
                key: KeyConfig {
                    accept_encoding_gzip: gzip,
                    accept_encoding_brotli: br,
                    ..Default::default()
                },
            },
            origin_request_policy: None,
            compress,
        }
    }

    fn hm(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn rules_table() {
        let on = behavior(true, true, true, 60);
        let gz_only = behavior(true, true, false, 60);
        let off = behavior(false, true, true, 60);
        let disabled = behavior(true, true, true, 0);
        let ok = [
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", "5000"),
        ];
        let both = [("accept-encoding", "gzip, deflate, br")];
        let rows: Vec<(
            &Behavior,
            &[(&'static str, &'static str)],
            Version,
            u16,
            Vec<(&'static str, &'static str)>,
            Option<Coding>,
        )> = vec![
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                ok.to_vec(),
                Some(Coding::Br),
            ),
            (
                &gz_only,
                &both,
                Version::HTTP_11,
                200,
                ok.to_vec(),
                Some(Coding::Gzip),
            ),
            (
                &on,
                &[("accept-encoding", "gzip")],
                Version::HTTP_2,
                404,
                ok.to_vec(),
                Some(Coding::Gzip),
            ),
            (
                &on,
                &[("accept-encoding", "deflate")],
                Version::HTTP_11,
                200,
                ok.to_vec(),
                None,
            ),
            (&on, &both, Version::HTTP_10, 200, ok.to_vec(), None),
            (&off, &both, Version::HTTP_11, 200, ok.to_vec(), None),
            (&disabled, &both, Version::HTTP_11, 200, ok.to_vec(), None),
            (
                &on,
                &both,
                Version::HTTP_11,
                403,
                ok.to_vec(),
                Some(Coding::Br),
            ),
            (&on, &both, Version::HTTP_11, 500, ok.to_vec(), None),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![("content-type", "text/html"), ("content-length", "999")],
                None,
            ),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![("content-type", "text/html"), ("content-length", "1000")],
                Some(Coding::Br),
            ),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![
                    ("content-type", "text/html"),
                    ("content-length", "10000001"),
                ],
                None,
            ),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![("content-type", "text/html")],
                None,
            ),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![("content-type", "image/png"), ("content-length", "5000")],
                None,
            ),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![
                    ("content-type", "image/svg+xml"),
                    ("content-length", "5000"),
                ],
                Some(Coding::Br),
            ),
            (
                &on,
                &both,
                Version::HTTP_11,
                200,
                vec![
                    ("content-type", "text/css"),
                    ("content-length", "5000"),
                    ("content-encoding", "identity"),
                ],
                None,
            ),
        ];
        for (i, (b, viewer, version, status, resp, want)) in rows.into_iter().enumerate() {
            let got = choose(
                b,
                &hm(viewer),
                version,
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                &hm(&resp),
            );
            assert_eq!(got, want, "row {i}");
        }
    }

    #[test]
    fn zstd_when_the_policy_enables_it() {
        let mut z = behavior(true, true, true, 60);
        z.cache_policy.key.accept_encoding_zstd = true;
        let mut z_only = behavior(true, false, false, 60);
        z_only.cache_policy.key.accept_encoding_zstd = true;
        let plain = behavior(true, true, true, 60);
        let ok = hm(&[
            ("content-type", "application/json"),
            ("content-length", "5000"),
        ]);
        let rows: &[(&Behavior, &'static str, Version, Option<Coding>)] = &[
            (
                &z,
                "gzip, deflate, br, zstd",
                Version::HTTP_11,
                Some(Coding::Br),
            ),
            (&z, "zstd, gzip", Version::HTTP_11, Some(Coding::Zstd)),
            (
                &z,
                "gzip;q=1.0, zstd;q=0.1",
                Version::HTTP_2,
                Some(Coding::Zstd),
            ),
            (&z, "zstd", Version::HTTP_11, Some(Coding::Zstd)),
            (&z, "ZSTD", Version::HTTP_11, Some(Coding::Zstd)),
            (&z, "zstd;q=0, gzip", Version::HTTP_11, Some(Coding::Gzip)),
            (&z, "zstd", Version::HTTP_10, None),
            (
                &z_only,
                "zstd, br, gzip",
                Version::HTTP_11,
                Some(Coding::Zstd),
            ),
            (&z_only, "br, gzip", Version::HTTP_11, None),
            (&plain, "zstd", Version::HTTP_11, None),
            (&plain, "zstd, gzip", Version::HTTP_11, Some(Coding::Gzip)),
        ];
        for (i, (b, offer, version, want)) in rows.iter().enumerate() {
            let viewer = hm(&[("accept-encoding", offer)]);
            assert_eq!(
                choose(b, &viewer, *version, StatusCode::OK, &ok),
                *want,
                "row {i}: {offer}"
            );
        }
        assert_eq!(coding_for("br,zstd,gzip"), Some(Coding::Br));
        assert_eq!(coding_for("zstd,gzip"), Some(Coding::Zstd));
        assert_eq!(coding_for("gzip"), Some(Coding::Gzip));
        assert_eq!(coding_for("identity"), None);
    }

    #[test]
    fn encodes_and_rewrites() {
        let body = "hello world ".repeat(200);
        let gz = encode(Coding::Gzip, body.as_bytes()).unwrap_or_default();
        let mut out = String::new();
        let _ = flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut out);
        assert_eq!(out, body);
        let br = encode(Coding::Br, body.as_bytes()).unwrap_or_default();
        let mut out = String::new();
        let _ = brotli::Decompressor::new(&br[..], 4096).read_to_string(&mut out);
        assert_eq!(out, body);
        let zs = encode(Coding::Zstd, body.as_bytes()).unwrap_or_default();
        assert!(zs.len() < body.len());
        assert_eq!(
            zstd::bulk::decompress(&zs, body.len()).unwrap_or_default(),
            body.as_bytes()
        );
        let mut h = hm(&[("etag", "\"abc\""), ("content-length", "2400")]);
        rewrite_headers(&mut h, Coding::Br, br.len());
        assert_eq!(h["etag"], "W/\"abc\"");
        assert_eq!(h["content-encoding"], "br");
        assert_eq!(h["vary"], "Accept-Encoding");
        assert_eq!(h["content-length"], br.len().to_string().as_str());
    }
}
