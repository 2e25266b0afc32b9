//! Immutable content shared by every demo target in the process, built once on first use.

use std::sync::OnceLock;

use bytes::Bytes;
use http::HeaderValue;

use crate::catalog::{LOGO, PRODUCTS};
use crate::{images, media, page};

/// One servable object: its bytes, media type and strong validator.
#[derive(Debug, Clone)]
pub struct Asset {
    pub body: Bytes,
    pub content_type: &'static str,
    pub etag: HeaderValue,
}

impl Asset {
    pub fn new(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        let body = body.into();
        let etag = etag_for(&body);
        Asset {
            body,
            content_type,
            etag,
        }
    }
}

/// Everything that is the same for every instance.
#[derive(Debug)]
pub struct Assets {
    pub css: Asset,
    pub js: Asset,
    /// `(slug, picture)` in catalogue order.
    pub images: Vec<(&'static str, Asset)>,
    /// `(name, object)` under `/media/`.
    pub media: Vec<(&'static str, Asset)>,
}

impl Assets {
    /// The process-wide assets, built on first call.
    pub fn get() -> &'static Assets {
        static ASSETS: OnceLock<Assets> = OnceLock::new();
        ASSETS.get_or_init(Assets::build)
    }

    fn build() -> Assets {
        Assets {
            css: Asset::new(page::CSS, "text/css; charset=utf-8"),
            js: Asset::new(page::JS, "text/javascript; charset=utf-8"),
            images: PRODUCTS
                .iter()
                .chain(std::iter::once(&LOGO))
                .map(|p| (p.slug, Asset::new(images::portrait(p), "image/png")))
                .collect(),
            media: vec![(
                media::INTRO_NAME,
                Asset::new(media::intro(), "application/octet-stream"),
            )],
        }
    }

    /// The picture served at `/images/{file}`, where `file` is `slug.png`.
    pub fn image(&self, file: &str) -> Option<&Asset> {
        let slug = file.strip_suffix(".png")?;
        self.images.iter().find(|(s, _)| *s == slug).map(|(_, a)| a)
    }

    /// The object served at `/media/{name}`.
    pub fn media(&self, name: &str) -> Option<&Asset> {
        self.media.iter().find(|(n, _)| *n == name).map(|(_, a)| a)
    }
}

/// A strong entity tag from the content: length and 64-bit FNV-1a, e.g. `"1a2b-0123456789abcdef"`.
pub fn etag_for(body: &[u8]) -> HeaderValue {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Only hex digits, '-' and quotes: always a valid header value.
    HeaderValue::from_maybe_shared(Bytes::from(format!("\"{:x}-{hash:016x}\"", body.len())))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_quoted_and_content_based() {
        let a = etag_for(b"hello");
        let b = etag_for(b"hellp");
        assert_ne!(a, b);
        assert_eq!(a, etag_for(b"hello"));
        let s = a.to_str().unwrap_or_default();
        assert!(s.starts_with("\"5-") && s.ends_with('"'), "{s}");
    }

    #[test]
    fn lookups() {
        let assets = Assets::get();
        assert!(assets.image("watson.png").is_some());
        assert!(assets.image("logo.png").is_some());
        assert!(assets.image("watson").is_none());
        assert!(assets.image("nobody.png").is_none());
        assert!(assets.media(media::INTRO_NAME).is_some());
        assert!(assets.media("other.bin").is_none());
    }
}
