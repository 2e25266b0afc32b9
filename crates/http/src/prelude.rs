//! The first request head of a connection, read whole before hyper sees it: a client that sends no
//! complete head within the header read timeout gets `408 Request Timeout` (hyper would close
//! silently), and a request line with a version other than HTTP/1.0 or HTTP/1.1 (or an HTTP/2
//! preface where HTTP/2 is off) gets `505 HTTP Version Not Supported`. With [`RequestLimits`]
//! (the edge's listeners), a head or URL over the limits gets `413` and the connection closes.
//! The bytes read are then replayed to hyper unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// What the first bytes of a connection say.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the connection to hyper.
    Serve,
    /// Answer with this status and close.
    Reject(u16),
}

/// CloudFront's request size limits (§1.9), for the listeners that want them: a request line
/// plus headers over `max_head_bytes`, or a URL (the request target) over `max_url_bytes`, is
/// answered `413` and the connection is closed. Listeners without them keep the serving layer's
/// `max_header_bytes`/`max_uri_bytes` rules (431/414, hyper's 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The request line and the header lines, each with its CRLF (not the blank line).
    pub max_head_bytes: usize,
    pub max_url_bytes: usize,
}

impl RequestLimits {
    /// CloudFront's: 20,480 bytes of request line and headers, 8,192 bytes of URL.
    pub const CLOUDFRONT: Self = Self {
        max_head_bytes: 20_480,
        max_url_bytes: 8_192,
    };

    /// Whether the head in `buf` (read so far, maybe incomplete) is over the limits.
    pub fn exceeded_by(&self, buf: &[u8]) -> bool {
        if let Some(eol) = buf.iter().position(|b| *b == b'\n') {
            let line = buf[..eol].strip_suffix(b"\r").unwrap_or(&buf[..eol]);
            let target = line
                .split(|b| *b == b' ')
                .filter(|t| !t.is_empty())
                .nth(1)
                .unwrap_or_default();
            if target.len() > self.max_url_bytes {
                return true;
            }
        }
        match head_end(buf) {
            Some(end) => end > self.max_head_bytes,
            // An unfinished head: at most 3 bytes of the end marker are already in `buf`.
            None => buf.len() > self.max_head_bytes + 3,
        }
    }

    /// Whether a parsed request is over the limits (for the requests after a connection's first).
    pub fn exceeded_by_request<B>(&self, req: &http::Request<B>) -> bool {
        let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if target > self.max_url_bytes {
            return true;
        }
        // `GET /x HTTP/1.1\r\n` and `name: value\r\n` per header.
        let line = req.method().as_str().len() + 1 + target + 1 + 8 + 2;
        let headers: usize = req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
            .sum();
        line + headers > self.max_head_bytes
    }
}

/// The length of the request line and headers (through the last header's line end), when the
/// head is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 1);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Decides from the bytes read so far (`complete`: the head ended or the buffer is full).
pub fn judge(buf: &[u8], h2_allowed: bool) -> Option<Verdict> {
    let eol = buf
        .windows(2)
        .position(|w| w == b"\r\n")
        .or_else(|| buf.iter().position(|b| *b == b'\n'))?;
    let line = &buf[..eol];
    if line == b"PRI * HTTP/2.0" {
        return Some(if h2_allowed {
            Verdict::Serve
        } else {
            Verdict::Reject(505)
        });
    }
    // method SP target SP version: only the version is judged here; hyper judges the rest.
    let version = line.rsplit(|b| *b == b' ').next().unwrap_or_default();
    if version.starts_with(b"HTTP/") && version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        let v = &version[5..];
        // A well-formed but unsupported version (HTTP/2.0, HTTP/3, HTTP/1.2): 505. Garbage: hyper's 400.
        if !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
            return Some(Verdict::Reject(505));
        }
    }
    Some(Verdict::Serve)
}

/// Whether `buf` holds a whole request head (or an HTTP/2 preface).
fn head_complete(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n")
}

/// An IO that replays `prefix` before reading from `inner`.
pub struct Replay<I> {
    prefix: Vec<u8>,
    pos: usize,
    inner: I,
}

impl<I> Replay<I> {
    /// `inner`, whose first bytes were already read into `prefix`.
    pub(crate) fn new(prefix: Vec<u8>, inner: I) -> Self {
        Self {
            prefix,
            pos: 0,
            inner,
        }
    }

    /// The bytes not yet replayed, and the IO.
    pub(crate) fn into_parts(mut self) -> (Vec<u8>, I) {
        self.prefix.drain(..self.pos);
        (self.prefix, self.inner)
    }

    /// Whether the connection opened with the HTTP/2 preface (prior knowledge).
    pub fn is_h2_preface(&self) -> bool {
        self.prefix.starts_with(b"PRI * HTTP/2.0\r\n")
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Replay<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Replay<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

fn status_bytes(code: u16) -> &'static [u8] {
    match code {
        413 => b"HTTP/1.1 413 Request Entity Too Large\r\ncontent-type: text/plain\r\ncontent-length: 29\r\nconnection: close\r\n\r\n413 Request Entity Too Large\n",
        408 => b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 20\r\nconnection: close\r\n\r\n408 Request Timeout\n",
        _ => b"HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain\r\ncontent-length: 31\r\nconnection: close\r\n\r\n505 HTTP Version Not Supported\n",
    }
}

/// Reads the first request line (bounded by `max` bytes and `timeout`). Returns the IO to serve,
/// or None when the connection was answered (408/505, 413 over `limits`) or closed.
pub async fn first_head<I>(
    mut io: I,
    timeout: Duration,
    max: usize,
    h2_allowed: bool,
    limits: Option<RequestLimits>,
) -> Option<Replay<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let read = async {
        loop {
            // Judge the request line as soon as it is there; wait for the whole head otherwise.
            let verdict = judge(&buf, h2_allowed);
            if !matches!(verdict, Some(Verdict::Reject(_)))
                && limits.is_some_and(|l| l.exceeded_by(&buf))
            {
                return Ok(Verdict::Reject(413));
            }
            match verdict {
                Some(Verdict::Reject(c)) => return Ok(Verdict::Reject(c)),
                Some(Verdict::Serve) if head_complete(&buf) => return Ok(Verdict::Serve),
                _ => {}
            }
            if buf.len() >= max {
                return Ok(Verdict::Serve);
            }
            let n = io.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let verdict = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(v)) => v,
        // Closed before a request line: nothing to answer.
        Ok(Err(_)) => return None,
        Err(_) => {
            if !buf.is_empty() {
                let _ = io.write_all(status_bytes(408)).await;
                let _ = io.shutdown().await;
            }
            return None;
        }
    };
    match verdict {
        Verdict::Serve => Some(Replay {
            prefix: buf,
            pos: 0,
            inner: io,
        }),
        Verdict::Reject(code) => {
            let _ = io.write_all(status_bytes(code)).await;
            let _ = io.shutdown().await;
            if code == 413 {
                linger(&mut io).await;
            }
            None
        }
    }
}

/// Reads and drops what the client is still sending (the rest of an oversized head) for a
/// moment before the connection is dropped: closing with unread bytes would reset it, and the
/// client could lose the answer.
async fn linger<I: AsyncRead + Unpin>(io: &mut I) {
    let mut chunk = [0u8; 4096];
    let mut left: usize = 1 << 20;
    let drain = async {
        while left > 0 {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_request_lines() {
        assert_eq!(judge(b"GET / HTTP/1.1\r\n", false), Some(Verdict::Serve));
        assert_eq!(judge(b"GET / HTTP/1.0\r\n", false), Some(Verdict::Serve));
        assert_eq!(
            judge(b"GET / HTTP/2.0\r\n", true),
            Some(Verdict::Reject(505))
        );
        assert_eq!(
            judge(b"GET / HTTP/3\r\n", false),
            Some(Verdict::Reject(505))
        );
        assert_eq!(
            judge(b"PRI * HTTP/2.0\r\n\r\nSM", false),
            Some(Verdict::Reject(505))
        );
        assert_eq!(
            judge(b"PRI * HTTP/2.0\r\n\r\nSM", true),
            Some(Verdict::Serve)
        );
        assert_eq!(
            judge(b"GET / HTTP/x\r\n", false),
            Some(Verdict::Serve),
            "garbage is hyper's 400"
        );
        assert_eq!(
            judge(b"GET / HTTP/1.1", false),
            None,
            "not a whole line yet"
        );
    }

    #[test]
    fn request_limits() {
        let l = RequestLimits {
            max_head_bytes: 100,
            max_url_bytes: 20,
        };
        let head = |target: &str, header: usize| {
            format!(
                "GET {target} HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n",
                "p".repeat(header)
            )
        };
        // `GET /a HTTP/1.1\r\n` (17) + `host: x\r\n` (9) + `x-pad: …\r\n` (9 + n).
        let rows: &[(String, bool)] = &[
            (head("/a", 0), false),
            (head("/a", 65), false),
            (head("/a", 66), true),
            (head(&format!("/{}", "u".repeat(19)), 0), false),
            (head(&format!("/{}", "u".repeat(20)), 0), true),
            // Unfinished heads: judged by what has arrived.
            (format!("GET /{} HTTP/1.1\r\nhost", "u".repeat(30)), true),
            (
                format!("GET /a HTTP/1.1\r\nx-pad: {}", "p".repeat(90)),
                true,
            ),
            (
                format!("GET /a HTTP/1.1\r\nx-pad: {}", "p".repeat(10)),
                false,
            ),
            ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_string(), false),
        ];
        for (i, (buf, want)) in rows.iter().enumerate() {
            assert_eq!(l.exceeded_by(buf.as_bytes()), *want, "row {i}");
        }
        let req = |target: &str, pad: usize| {
            http::Request::builder()
                .uri(target)
                .header("host", "x")
                .header("x-pad", "p".repeat(pad))
                .body(())
                .unwrap_or_default()
        };
        assert!(!l.exceeded_by_request(&req("/a", 65)));
        assert!(l.exceeded_by_request(&req("/a", 66)));
        assert!(l.exceeded_by_request(&req(&format!("/{}", "u".repeat(20)), 0)));
    }
}
