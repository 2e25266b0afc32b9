//! CloudFront's standard access log (§1.10): one tab-separated line per request after
//! `#Version`/`#Fields:` header lines, written by a background task fed through a bounded
//! channel (a full channel drops the line; requests never wait for the log).

use bytes::Bytes;
use edgeway_http::{Body, BoxError};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

pub const FIELDS: &str = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end";

const QUEUE: usize = 4096;

/// `(YYYY-MM-DD, HH:MM:SS)` in UTC.
pub fn utc(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// A log field: `-` when empty; spaces, tabs and non-ASCII percent-encoded as CloudFront does.
pub fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b'\\' && b != b'"' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The facts of one request known before the response (filled in by the tier).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub pop: String,
    pub client_ip: String,
    pub client_port: u16,
    pub method: String,
    pub host_header: String,
    pub distribution_host: String,
    pub uri_stem: String,
    pub uri_query: String,
    pub referer: String,
    pub user_agent: String,
    pub cookie: String,
    pub request_id: String,
    pub https: bool,
    pub request_bytes: u64,
    pub forwarded_for: String,
    pub ssl_protocol: String,
    pub ssl_cipher: String,
    pub protocol_version: String,
    // Known with the response head:
    pub status: u16,
    pub result: String,
    pub detailed_result: String,
    pub content_type: String,
    pub content_len: String,
    pub range: Option<(u64, u64)>,
    pub header_bytes: u64,
}

impl Entry {
    /// The tab-separated line (no newline).
    pub fn line(&self, end: SystemTime, taken: f64, ttfb: f64, body_bytes: u64) -> String {
        let (date, time) = utc(end);
        let (rs, re) = self
            .range
            .map_or(("-".to_string(), "-".to_string()), |(s, e)| {
                (s.to_string(), e.to_string())
            });
        [
            date,
            time,
            field(&self.pop),
            (self.header_bytes + body_bytes).to_string(),
            field(&self.client_ip),
            field(&self.method),
            field(&self.distribution_host),
            field(&self.uri_stem),
            self.status.to_string(),
            field(&self.referer),
            field(&self.user_agent),
            field(&self.uri_query),
            field(&self.cookie),
            field(&self.result),
            field(&self.request_id),
            field(&self.host_header),
            if self.https {
                "https".into()
            } else {
                "http".into()
            },
            self.request_bytes.to_string(),
            format!("{taken:.3}"),
            field(&self.forwarded_for),
            field(&self.ssl_protocol),
            field(&self.ssl_cipher),
            field(&self.result),
            field(&self.protocol_version),
            "-".into(),
            "-".into(),
            self.client_port.to_string(),
            format!("{ttfb:.3}"),
            field(&self.detailed_result),
            field(&self.content_type),
            field(&self.content_len),
            rs,
            re,
        ]
        .join("\t")
    }
}

/// Completes `e` with what the response head tells.
pub fn finish_entry<B>(
    mut e: Entry,
    resp: &http::Response<B>,
    result: &str,
    detail: &str,
) -> Entry {
    let h = resp.headers();
    let text = |n: http::header::HeaderName| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    e.status = resp.status().as_u16();
    e.result = result.to_string();
    e.detailed_result = detail.to_string();
    e.content_type = text(http::header::CONTENT_TYPE);
    e.content_len = text(http::header::CONTENT_LENGTH);
    e.range = h
        .get(http::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (a, b) = v
                .strip_prefix("bytes ")?
                .split('/')
                .next()?
                .split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        });
    e.header_bytes = h
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>() as u64
        + 17;
    e
}

/// A distribution's log sink.
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<String>,
    pub include_cookies: bool,
}

impl AccessLog {
    /// Starts the writer for `target` (`stdout` or a file path, appended to). Needs a Tokio
    /// runtime; `None` without one.
    pub fn start(target: &str) -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        handle.spawn(write_lines(target.to_string(), rx));
        Some(Self {
            tx,
            include_cookies: false,
        })
    }

    /// `include_cookies`: the viewer's `Cookie` goes into `cs(Cookie)` (otherwise `-`).
    pub fn with_cookies(mut self, include_cookies: bool) -> Self {
        self.include_cookies = include_cookies;
        self
    }

    /// Queues a line; drops it when the writer is behind.
    pub fn send(&self, line: String) {
        let _ = self.tx.try_send(line);
    }
}

async fn write_lines(target: String, mut rx: mpsc::Receiver<String>) {
    let header = format!("#Version: 1.0\n#Fields: {FIELDS}\n");
    let stdout = target == "stdout";
    let mut file = if stdout {
        None
    } else {
        match tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&target)
            .await
        {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(path = %target, error = %e, "access log cannot be opened");
                return;
            }
        }
    };
    let fresh = stdout
        || tokio::fs::metadata(&target)
            .await
            .map_or(true, |m| m.len() == 0);
    let mut pending = if fresh { header } else { String::new() };
    while let Some(line) = rx.recv().await {
        pending.push_str(&line);
        pending.push('\n');
        while let Ok(more) = rx.try_recv() {
            pending.push_str(&more);
            pending.push('\n');
        }
        let ok = match file.as_mut() {
            Some(f) => f.write_all(pending.as_bytes()).await.is_ok() && f.flush().await.is_ok(),
            None => {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                out.write_all(pending.as_bytes()).is_ok() && out.flush().is_ok()
            }
        };
        if !ok {
            return;
        }
        pending.clear();
    }
}

/// The viewer response body, counted; the log line is sent when it ends or is dropped.
pub struct LoggedBody {
    inner: Body,
    entry: Option<Entry>,
    log: AccessLog,
    start: Instant,
    ttfb: f64,
    bytes: u64,
}

impl LoggedBody {
    pub fn new(inner: Body, entry: Entry, log: AccessLog, start: Instant) -> Self {
        let ttfb = start.elapsed().as_secs_f64();
        Self {
            inner,
            entry: Some(entry),
            log,
            start,
            ttfb,
            bytes: 0,
        }
    }

    fn emit(&mut self) {
        if let Some(e) = self.entry.take() {
            self.log.send(e.line(
                SystemTime::now(),
                self.start.elapsed().as_secs_f64(),
                self.ttfb,
                self.bytes,
            ));
        }
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(f))) => this.bytes += f.data_ref().map_or(0, |d| d.len() as u64),
            Poll::Ready(None) => this.emit(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_and_fields() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(utc(t), ("2023-11-14".to_string(), "22:13:20".to_string()));
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400)).0,
            "2000-02-29"
        );
        assert_eq!(field(""), "-");
        assert_eq!(field("Mozilla/5.0 (X11)"), "Mozilla/5.0%20(X11)");
    }

    #[test]
    fn a_line_has_every_field() {
        let e = Entry {
            method: "GET".into(),
            uri_stem: "/a".into(),
            status: 200,
            result: "Hit".into(),
            ..Default::default()
        };
        let line = e.line(UNIX_EPOCH, 0.001, 0.0005, 10);
        assert_eq!(line.split('\t').count(), FIELDS.split(' ').count());
        assert!(line.contains("\tGET\t") && line.contains("\tHit\t"));
    }
}
