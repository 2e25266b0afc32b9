//! An HTTP/1.1 viewer connection served by edgeway itself: requests without content (GET,
//! HEAD and the like, which are nearly all of a cache's and most of a balancer's) are read,
//! handled and answered in the connection's own task, with one read buffer and one write
//! buffer kept for its life. The first request with content, an upgrade or `Expect`, or a head
//! this parser refuses, hands the connection to hyper with every unread byte, and hyper serves
//! it from there (so hyper still answers malformed heads, 431 and the like).

use crate::body::Body;
use crate::prelude::Replay;
use crate::serve::{admit, status_response, ConnInfo, Handler, ServeOptions};
use crate::server_wire::{encode_head, itoa, parse_request, BodyLength, Encoder, Facts, Parsed};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::FutureExt;
use http::Response;
use http_body_util::BodyExt;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// Body bytes smaller than this are copied behind the head (one write); larger ones are
/// written beside it (one vectored write).
const COPY_MAX: usize = 4096;
/// Buffered response bytes are written out past this.
const OUT_HIGH: usize = 64 * 1024;
/// The least free room before a read.
const READ_ROOM: usize = 4096;
/// How long a timed-out connection's 408 and close may take.
const GOODBYE: std::time::Duration = std::time::Duration::from_secs(2);

/// How a connection ended.
pub(crate) enum Outcome<I> {
    Done,
    /// hyper serves the rest, starting with these bytes.
    Hyper(Replay<I>),
}

/// Serves `io` (whose first head the prelude has read) until it closes, times out between
/// requests, the server stops, or a request needs hyper.
pub(crate) async fn serve<I>(
    io: Replay<I>,
    info: &Arc<ConnInfo>,
    handler: &Arc<dyn Handler>,
    opts: &ServeOptions,
    stop: &mut watch::Receiver<bool>,
) -> Outcome<I>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let (prefix, mut io) = io.into_parts();
    let mut buf = BytesMut::from(&prefix[..]);
    drop(prefix);
    let mut out = BytesMut::with_capacity(4096);
    let mut spans = Vec::new();
    // The last response's header map, emptied: the next request's fields go into it.
    let mut spare = None;
    let max = opts.head_buffer();
    let sleep = tokio::time::sleep(opts.header_read_timeout);
    tokio::pin!(sleep);
    loop {
        // The next head: the header read timeout runs from the moment it is awaited (the idle
        // time between requests counts, as hyper and ALB count it).
        let mut armed = false;
        let (req, facts) = loop {
            if !buf.is_empty() {
                match parse_request(&mut buf, &mut spans, &mut spare) {
                    Parsed::Request(req, facts) => break (req, facts),
                    Parsed::Hyper => return Outcome::Hyper(Replay::new(buf.to_vec(), io)),
                    Parsed::Partial if buf.len() >= max => {
                        return Outcome::Hyper(Replay::new(buf.to_vec(), io))
                    }
                    Parsed::Partial => {}
                }
            }
            if !armed {
                sleep
                    .as_mut()
                    .reset(Instant::now() + opts.header_read_timeout);
                armed = true;
            }
            if buf.capacity() - buf.len() < READ_ROOM {
                buf.reserve(8192);
            }
            let idle = buf.is_empty();
            let read = tokio::select! {
                biased;
                r = io.read_buf(&mut buf) => Some(r),
                () = &mut sleep => {
                    // A client that reads nothing must not hold the connection: the answer and
                    // the close get a moment each.
                    let goodbye = async {
                        if !idle {
                            let _ = io.write_all(&status_bytes_408()).await;
                        }
                        let _ = io.shutdown().await;
                    };
                    let _ = tokio::time::timeout(GOODBYE, goodbye).await;
                    return Outcome::Done;
                }
                _ = async { let _ = stop.wait_for(|s| *s).await; }, if idle => None,
            };
            match read {
                Some(Ok(0) | Err(_)) => return Outcome::Done,
                Some(Ok(_)) => {}
                // The server stops: an idle connection closes now.
                None => {
                    let _ = io.shutdown().await;
                    return Outcome::Done;
                }
            }
        };
        // Whether the handler had to wait (for an origin or a target) before it answered.
        let mut waited = false;
        let resp = match admit(&req, opts.request_limits, opts.max_uri_bytes) {
            Some(status) => status_response(status, "edgeway"),
            None => {
                // A viewer that closes while its request is handled cancels it (as hyper does:
                // the ALB logs 460, the CDN stops reading the origin). Bytes pipelined behind the
                // request are kept for the next turn.
                let mut handling = handler.handle(req, info);
                let mut handling = std::future::poll_fn(|cx| {
                    let p = handling.as_mut().poll(cx);
                    waited |= p.is_pending();
                    p
                });
                loop {
                    if buf.capacity() - buf.len() < READ_ROOM {
                        buf.reserve(8192);
                    }
                    let watch = buf.len() < max;
                    tokio::select! {
                        biased;
                        resp = &mut handling => break resp,
                        r = io.read_buf(&mut buf), if watch => match r {
                            Ok(0) | Err(_) => return Outcome::Done,
                            Ok(_) => {}
                        },
                    }
                }
            }
        };
        let keep_alive = facts.keep_alive && !*stop.borrow();
        // An answer the handler had to wait for (an origin's, a target's) goes to the back of
        // the run queue once, so the responses of every connection that became ready in this
        // turn go out together, after all of them were read and handled (HAProxy's read phase,
        // then its write phase). One write after another, back to back, wakes the viewer's side
        // once per burst; one write per handled request woke it again and again, and each
        // wake-up of a sleeping peer on another core costs the writer ~4 µs here. The writes
        // still come before the next poll of the I/O driver (`yield_now` waited for it, and the
        // connections it woke were read first: a p99 ~10 % higher). An answer ready at once
        // (a cache hit) goes out at once: waiting gained hits nothing and cost them latency
        // (docs/performance.md, batches 8 and 10).
        if waited {
            requeue().await;
        }
        match respond(&mut io, &mut out, resp, facts, keep_alive, &mut spare).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = io.shutdown().await;
                return Outcome::Done;
            }
            Err(e) => {
                tracing::debug!(listener = %opts.name, peer = %info.peer, error = %e, "response not finished");
                return Outcome::Done;
            }
        }
    }
}

/// Goes to the back of the run queue once: the tasks already queued run first, and this one
/// resumes before the runtime polls the I/O driver again (`yield_now` resumes only after that
/// poll, behind every task it wakes).
async fn requeue() {
    let mut once = false;
    std::future::poll_fn(|cx| {
        if once {
            return std::task::Poll::Ready(());
        }
        once = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

fn status_bytes_408() -> Vec<u8> {
    let mut out = BytesMut::new();
    let (parts, _) = status_response(http::StatusCode::REQUEST_TIMEOUT, "edgeway").into_parts();
    let facts = Facts {
        head: false,
        http10: false,
        keep_alive: false,
    };
    encode_head(
        &mut out,
        parts.status,
        &parts.headers,
        BodyLength::Known(20),
        facts,
        false,
    );
    out.extend_from_slice(b"408 Request Timeout\n");
    out.to_vec()
}

/// Writes `resp` and says whether the connection carries another request. An error: the
/// response could not be finished (its body failed, or the viewer went away); the connection
/// must close without more.
async fn respond<I: AsyncWrite + Unpin>(
    io: &mut I,
    out: &mut BytesMut,
    resp: Response<Body>,
    req: Facts,
    keep_alive: bool,
    spare: &mut Option<http::HeaderMap>,
) -> io::Result<bool> {
    let (mut parts, mut body) = resp.into_parts();
    let length = if http_body::Body::is_end_stream(&body) {
        BodyLength::Empty
    } else {
        match http_body::Body::size_hint(&body).exact() {
            Some(n) => BodyLength::Known(n),
            None => BodyLength::Unknown,
        }
    };
    out.clear();
    let (encoder, keep_alive) =
        encode_head(out, parts.status, &parts.headers, length, req, keep_alive);
    if parts.headers.capacity() <= 128 {
        parts.headers.clear();
        *spare = Some(parts.headers);
    }
    let mut left = match encoder {
        Encoder::Length(0) => {
            drop(body);
            flush(io, out).await?;
            return Ok(keep_alive);
        }
        Encoder::Length(n) => n,
        Encoder::Chunked | Encoder::Close => u64::MAX,
    };
    loop {
        // A frame that is ready joins what is buffered; before waiting for one, what is
        // buffered goes out (the viewer sees a slow body as it comes).
        let frame = match body.frame().now_or_never() {
            Some(f) => f,
            None => {
                flush(io, out).await?;
                body.frame().await
            }
        };
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                // What was sent stays sent: the viewer sees a cut body (no last chunk, or fewer
                // bytes than Content-Length) and the connection closes.
                let _ = flush(io, out).await;
                return Err(io::Error::other(e));
            }
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => d,
                // Trailers are not sent on HTTP/1.1 (as hyper without a `Trailer` header).
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        match encoder {
            Encoder::Length(_) => {
                if data.len() as u64 > left {
                    return Err(io::Error::other("body longer than its Content-Length"));
                }
                left -= data.len() as u64;
                put(io, out, data).await?;
            }
            Encoder::Chunked => {
                let mut hex = [0u8; 16];
                out.extend_from_slice(hex_len(data.len(), &mut hex));
                out.extend_from_slice(b"\r\n");
                put(io, out, data).await?;
                out.extend_from_slice(b"\r\n");
            }
            Encoder::Close => put(io, out, data).await?,
        }
    }
    match encoder {
        Encoder::Length(_) if left != 0 => {
            let mut n = [0u8; 20];
            return Err(io::Error::other(format!(
                "body ended {} bytes short of its Content-Length",
                String::from_utf8_lossy(itoa(left, &mut n))
            )));
        }
        Encoder::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        _ => {}
    }
    flush(io, out).await?;
    Ok(keep_alive && encoder != Encoder::Close)
}

/// Queues `data` behind what is buffered, or writes both at once when it is large.
async fn put<I: AsyncWrite + Unpin>(io: &mut I, out: &mut BytesMut, data: Bytes) -> io::Result<()> {
    if data.len() < COPY_MAX {
        out.extend_from_slice(&data);
        if out.len() >= OUT_HIGH {
            flush(io, out).await?;
        }
        return Ok(());
    }
    write_pair(io, out, data).await
}

/// Writes `out` then `data` with vectored writes, and empties `out`.
async fn write_pair<I: AsyncWrite + Unpin>(
    io: &mut I,
    out: &mut BytesMut,
    mut data: Bytes,
) -> io::Result<()> {
    while !out.is_empty() {
        let n = io
            .write_vectored(&[io::IoSlice::new(out), io::IoSlice::new(&data)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n >= out.len() {
            data.advance(n - out.len());
            out.clear();
        } else {
            out.advance(n);
        }
    }
    io.write_all(&data).await
}

async fn flush<I: AsyncWrite + Unpin>(io: &mut I, out: &mut BytesMut) -> io::Result<()> {
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.flush().await
}

/// `n` in lower-case hexadecimal.
fn hex_len(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[n & 15];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "current_thread")]
    async fn requeue_lets_the_queued_tasks_run_first() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        let other = tokio::spawn(async move { r.store(true, std::sync::atomic::Ordering::SeqCst) });
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        super::requeue().await;
        assert!(
            ran.load(std::sync::atomic::Ordering::SeqCst),
            "the queued task ran first"
        );
        assert!(other.await.is_ok());
    }

    #[test]
    fn hex_lengths() {
        for n in [0usize, 9, 10, 255, 4096, 1 << 40] {
            assert_eq!(super::hex_len(n, &mut [0; 16]), format!("{n:x}").as_bytes());
        }
    }
}
