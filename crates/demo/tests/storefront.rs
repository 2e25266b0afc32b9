//! The storefront over real sockets: page, stylesheet, script, pictures, 404 and 405.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use http::{Method, StatusCode};
use support::Running;

const PRODUCTS: [&str; 6] = ["watson", "ember", "sprout", "hal", "marvin", "daisy"];

#[tokio::test]
async fn index_page_names_the_instance() {
    let run = Running::start("web-7").await;
    for path in ["/", "/index.html"] {
        let r = run.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("x-instance-id"), "web-7");
        assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(r.header("cache-control"), "no-cache");
        assert_eq!(r.header("content-length"), r.body.len().to_string());
        let html = r.text();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Roboshop</title>"));
        assert!(html.contains("web-7"));
        assert!(html.contains(r#"href="/static/app.css""#));
        assert!(html.contains(r#"<script src="/static/app.js">"#));
        for slug in PRODUCTS {
            assert!(
                html.contains(&format!(r#"<img src="/images/{slug}.png""#)),
                "{slug}"
            );
        }
        assert!(html.contains('$'), "prices shown");
    }
    run.stop().await.unwrap();
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let run = Running::start("web-1").await;
    for path in [
        "/",
        "/static/app.js",
        "/images/hal.png",
        "/media/intro.bin",
        "/health",
        "/api/echo",
    ] {
        let get = run.get(path).await;
        let head = run.request(Method::HEAD, path, &[], "").await;
        assert_eq!(head.status, get.status, "{path}");
        assert!(head.body.is_empty(), "{path}");
        for name in [
            "content-type",
            "content-length",
            "etag",
            "cache-control",
            "x-instance-id",
        ] {
            if name == "content-length" && path == "/api/echo" {
                continue; // the echo document names the method, so its length differs
            }
            assert_eq!(head.header(name), get.header(name), "{path} {name}");
        }
        assert!(!head.header("content-length").is_empty(), "{path}");
    }
    run.stop().await.unwrap();
}

#[tokio::test]
async fn stylesheet_and_script_are_cacheable_with_etags() {
    let run = Running::start("web-1").await;
    for (path, content_type, needle) in [
        ("/static/app.css", "text/css; charset=utf-8", ".product"),
        (
            "/static/app.js",
            "text/javascript; charset=utf-8",
            "/api/echo",
        ),
    ] {
        let r = run.get(path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), content_type);
        assert_eq!(r.header("cache-control"), "max-age=3600");
        assert!(r.text().contains(needle));
        let etag = r.header("etag").to_string();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "strong etag: {etag}"
        );
        let again = run.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), etag);
    }
    run.stop().await.unwrap();
}

#[tokio::test]
async fn product_pictures_are_valid_png() {
    let run = Running::start("web-1").await;
    let mut seen = Vec::new();
    for slug in PRODUCTS {
        let r = run.get(&format!("/images/{slug}.png")).await;
        assert_eq!(r.status, StatusCode::OK, "{slug}");
        assert_eq!(r.header("content-type"), "image/png");
        assert_eq!(r.header("cache-control"), "max-age=86400");
        assert_eq!(r.header("content-length"), r.body.len().to_string());
        let image = png_check::decode(&r.body);
        assert_eq!((image.width, image.height), (128, 128), "{slug}");
        assert!(
            !seen.contains(&image.pixels),
            "{slug} looks like another product"
        );
        seen.push(image.pixels);
    }
    run.stop().await.unwrap();
}

#[tokio::test]
async fn pictures_answer_conditional_gets() {
    let run = Running::start("web-1").await;
    let first = run.get("/images/ember.png").await;
    let etag = first.header("etag").to_string();
    assert!(etag.starts_with('"'), "strong etag: {etag}");

    let hit = run
        .get_with("/images/ember.png", &[("if-none-match", &etag)])
        .await;
    assert_eq!(hit.status, StatusCode::NOT_MODIFIED);
    assert!(hit.body.is_empty());
    assert_eq!(hit.header("etag"), etag);
    assert_eq!(hit.header("x-instance-id"), "web-1");
    assert_eq!(hit.header("cache-control"), "max-age=86400");

    let list = format!("\"nope\", W/{etag}");
    assert_eq!(
        run.get_with("/images/ember.png", &[("if-none-match", &list)])
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        run.get_with("/images/ember.png", &[("if-none-match", "*")])
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );

    let miss = run
        .get_with("/images/ember.png", &[("if-none-match", "\"other\"")])
        .await;
    assert_eq!(miss.status, StatusCode::OK);
    assert_eq!(miss.body, first.body);

    // Another product's validator does not match.
    let other = run.get("/images/hal.png").await;
    let cross = run
        .get_with(
            "/images/ember.png",
            &[("if-none-match", other.header("etag"))],
        )
        .await;
    assert_eq!(cross.status, StatusCode::OK);
    run.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_things_are_404_and_writes_are_405() {
    let run = Running::start("web-1").await;
    for path in [
        "/images/nobody.png",
        "/images/hal.gif",
        "/media/other.bin",
        "/static/x.css",
        "/admin",
        "/%3Cb%3E",
    ] {
        let r = run.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(r.header("x-instance-id"), "web-1");
        assert!(r.text().contains("404"));
    }
    for (method, path) in [
        (Method::POST, "/"),
        (Method::PUT, "/static/app.css"),
        (Method::DELETE, "/images/hal.png"),
        (Method::POST, "/media/intro.bin"),
        (Method::POST, "/health"),
    ] {
        let r = run.request(method.clone(), path, &[], "x").await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(r.header("allow"), "GET, HEAD");
        assert_eq!(r.header("x-instance-id"), "web-1");
    }
    run.stop().await.unwrap();
}

/// An independent PNG reader: checks the signature, every chunk CRC, IHDR, and inflates the stored
/// deflate blocks of IDAT, checking Adler-32 and the scanline layout.
mod png_check {
    pub struct Image {
        pub width: u32,
        pub height: u32,
        pub pixels: Vec<u8>,
    }

    fn crc32(bytes: &[u8]) -> u32 {
        // Bitwise, no table: deliberately not the implementation under test.
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xedb8_8320 & mask);
            }
        }
        !crc
    }

    fn be32(b: &[u8]) -> u32 {
        u32::from_be_bytes(b[..4].try_into().unwrap())
    }

    pub fn decode(file: &[u8]) -> Image {
        assert_eq!(&file[..8], b"\x89PNG\r\n\x1a\n", "signature");
        let mut at = 8;
        let mut chunks = Vec::new();
        let mut idat = Vec::new();
        let mut ihdr = None;
        while at < file.len() {
            let len = be32(&file[at..]) as usize;
            let kind = &file[at + 4..at + 8];
            let data = &file[at + 8..at + 8 + len];
            let crc = be32(&file[at + 8 + len..]);
            assert_eq!(
                crc,
                crc32(&file[at + 4..at + 8 + len]),
                "CRC of {}",
                String::from_utf8_lossy(kind)
            );
            chunks.push(kind.to_vec());
            match kind {
                b"IHDR" => ihdr = Some(data.to_vec()),
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            at += 12 + len;
        }
        assert_eq!(at, file.len(), "no trailing bytes");
        assert_eq!(chunks.first().map(Vec::as_slice), Some(&b"IHDR"[..]));
        assert_eq!(chunks.last().map(Vec::as_slice), Some(&b"IEND"[..]));
        let ihdr = ihdr.unwrap();
        assert_eq!(ihdr.len(), 13);
        let (width, height) = (be32(&ihdr[0..]), be32(&ihdr[4..]));
        assert_eq!(
            &ihdr[8..],
            &[8, 2, 0, 0, 0],
            "8-bit RGB, deflate, no interlace"
        );

        let raw = inflate_stored(&idat);
        let stride = 1 + width as usize * 3;
        assert_eq!(raw.len(), stride * height as usize, "scanline layout");
        let mut pixels = Vec::new();
        for row in raw.chunks(stride) {
            assert_eq!(row[0], 0, "filter type None");
            pixels.extend_from_slice(&row[1..]);
        }
        Image {
            width,
            height,
            pixels,
        }
    }

    fn inflate_stored(z: &[u8]) -> Vec<u8> {
        let (cmf, flg) = (z[0], z[1]);
        assert_eq!(cmf & 0x0f, 8, "deflate");
        assert_eq!(
            (u16::from(cmf) << 8 | u16::from(flg)) % 31,
            0,
            "zlib header check"
        );
        assert_eq!(flg & 0x20, 0, "no preset dictionary");
        let mut at = 2;
        let mut out = Vec::new();
        loop {
            let header = z[at];
            assert_eq!(header & 0b110, 0, "stored block");
            let len = u16::from_le_bytes([z[at + 1], z[at + 2]]);
            let nlen = u16::from_le_bytes([z[at + 3], z[at + 4]]);
            assert_eq!(len, !nlen, "LEN/NLEN");
            out.extend_from_slice(&z[at + 5..at + 5 + len as usize]);
            at += 5 + len as usize;
            if header & 1 == 1 {
                break;
            }
        }
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &out {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(be32(&z[at..]), (b << 16) | a, "Adler-32");
        assert_eq!(at + 4, z.len(), "nothing after the zlib stream");
        out
    }
}
