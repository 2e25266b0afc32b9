//! The first request head of a connection, read whole before hyper sees it: a client that sends no
//! complete head within the header read timeout gets `408 Request Timeout` (hyper would close
//! silently), and a request line with a version other than HTTP/1.0 or HTTP/1.1 (or an HTTP/2
//! preface where HTTP/2 is off) gets `505 HTTP Version Not Supported`. The bytes read are then
//! replayed to hyper unchanged.

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

/// Decides from the bytes read so far (`complete`: the head ended or the buffer is full).
pub fn judge(buf: &[u8], h2_allowed: bool) -> Option<Verdict> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n").or_else(|| buf.iter().position(|b| *b == b'\n')) else {
        return None;
    };
    let line = &buf[..eol];
    if line == b"PRI * HTTP/2.0" {
        return Some(if h2_allowed { Verdict::Serve } else { Verdict::Reject(505) });
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

impl<I: AsyncRead + Unpin> AsyncRead for Replay<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
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
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

fn status_bytes(code: u16) -> &'static [u8] {
    match code {
        408 => b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 20\r\nconnection: close\r\n\r\n408 Request Timeout\n",
        _ => b"HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain\r\ncontent-length: 31\r\nconnection: close\r\n\r\n505 HTTP Version Not Supported\n",
    }
}

/// Reads the first request line (bounded by `max` bytes and `timeout`). Returns the IO to serve,
/// or None when the connection was answered (408/505) or closed.
pub async fn first_head<I>(mut io: I, timeout: Duration, max: usize, h2_allowed: bool) -> Option<Replay<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let read = async {
        loop {
            // Judge the request line as soon as it is there; wait for the whole head otherwise.
            match judge(&buf, h2_allowed) {
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
        Verdict::Serve => Some(Replay { prefix: buf, pos: 0, inner: io }),
        Verdict::Reject(code) => {
            let _ = io.write_all(status_bytes(code)).await;
            let _ = io.shutdown().await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_request_lines() {
        assert_eq!(judge(b"GET / HTTP/1.1\r\n", false), Some(Verdict::Serve));
        assert_eq!(judge(b"GET / HTTP/1.0\r\n", false), Some(Verdict::Serve));
        assert_eq!(judge(b"GET / HTTP/2.0\r\n", true), Some(Verdict::Reject(505)));
        assert_eq!(judge(b"GET / HTTP/3\r\n", false), Some(Verdict::Reject(505)));
        assert_eq!(judge(b"PRI * HTTP/2.0\r\n\r\nSM", false), Some(Verdict::Reject(505)));
        assert_eq!(judge(b"PRI * HTTP/2.0\r\n\r\nSM", true), Some(Verdict::Serve));
        assert_eq!(judge(b"GET / HTTP/x\r\n", false), Some(Verdict::Serve), "garbage is hyper's 400");
        assert_eq!(judge(b"GET / HTTP/1.1", false), None, "not a whole line yet");
    }
}
