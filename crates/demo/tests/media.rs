//! `/media/intro.bin` over real sockets: validators and byte ranges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use http::StatusCode;
use support::Running;

const PATH: &str = "/media/intro.bin";

#[tokio::test]
async fn full_object_with_validators() {
    let run = Running::start("media-1").await;
    let r = run.get(PATH).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), 1 << 20);
    assert_eq!(r.header("content-length"), (1u32 << 20).to_string());
    assert_eq!(r.header("content-type"), "application/octet-stream");
    assert_eq!(r.header("accept-ranges"), "bytes");
    assert_eq!(r.header("cache-control"), "max-age=86400");
    assert_eq!(r.header("x-instance-id"), "media-1");
    let etag = r.header("etag").to_string();
    assert!(etag.starts_with('"'));

    // Deterministic: a second instance serves the same bytes under the same validator.
    let other = Running::start("media-2").await;
    let again = other.get(PATH).await;
    assert_eq!(again.body, r.body);
    assert_eq!(again.header("etag"), etag);

    let not_modified = run.get_with(PATH, &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), etag);
    run.stop().await.unwrap();
    other.stop().await.unwrap();
}

#[tokio::test]
async fn single_ranges_are_206() {
    let run = Running::start("media-1").await;
    let full = run.get(PATH).await.body;
    let len = full.len();
    let cases = [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=1048000-", 1_048_000, len - 1),
        ("bytes=-500", len - 500, len - 1),
        ("bytes=1048570-9999999", 1_048_570, len - 1),
        ("bytes=-99999999", 0, len - 1),
    ];
    for (range, start, end) in cases {
        let r = run.get_with(PATH, &[("range", range)]).await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            r.header("content-range"),
            format!("bytes {start}-{end}/{len}"),
            "{range}"
        );
        assert_eq!(
            r.header("content-length"),
            (end - start + 1).to_string(),
            "{range}"
        );
        assert_eq!(&r.body[..], &full[start..=end], "{range}");
        assert_eq!(r.header("x-instance-id"), "media-1");
        assert!(!r.header("etag").is_empty());
    }
    run.stop().await.unwrap();
}

#[tokio::test]
async fn unsatisfiable_ranges_are_416() {
    let run = Running::start("media-1").await;
    let len = 1u32 << 20;
    for range in ["bytes=1048576-", "bytes=2000000-3000000", "bytes=-0"] {
        let r = run.get_with(PATH, &[("range", range)]).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            r.header("content-range"),
            format!("bytes */{len}"),
            "{range}"
        );
        assert_eq!(r.header("content-length"), r.body.len().to_string());
    }
    run.stop().await.unwrap();
}

#[tokio::test]
async fn ranges_that_are_ignored_send_everything() {
    let run = Running::start("media-1").await;
    let etag = run.get(PATH).await.header("etag").to_string();
    for headers in [
        vec![("range", "bytes=0-1,10-20")],
        vec![("range", "bytes=5-1")],
        vec![("range", "lines=1-2")],
        vec![("range", "bytes=0-9"), ("if-range", "\"stale\"")],
    ] {
        let r = run.get_with(PATH, &headers).await;
        assert_eq!(r.status, StatusCode::OK, "{headers:?}");
        assert_eq!(r.body.len(), 1 << 20, "{headers:?}");
    }
    let r = run
        .get_with(PATH, &[("range", "bytes=0-9"), ("if-range", &etag)])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body.len(), 10);
    run.stop().await.unwrap();
}

#[tokio::test]
async fn pictures_take_ranges_too() {
    let run = Running::start("media-1").await;
    let r = run
        .get_with("/images/sprout.png", &[("range", "bytes=0-7")])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.body[..], b"\x89PNG\r\n\x1a\n");
    run.stop().await.unwrap();
}
