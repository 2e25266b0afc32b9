//! The body of a fast-path upstream response, read straight from the connection by whoever polls
//! it (no connection task, no channel): `Content-Length`, chunked or until close. When it has been
//! read to its end on a connection that may be kept, the connection goes back to the pool; a body
//! dropped early, cut short or malformed closes it.

use crate::body::BoxError;
use crate::chunked::{ChunkedDecoder, Step};
use crate::connect::Stream;
use crate::pool::Pool;
use crate::wire::Framing;
use bytes::{Bytes, BytesMut};
use http::uri::Authority;
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncReadExt;

/// Where a kept connection goes back to.
pub(crate) struct Home {
    pub pool: Arc<Pool>,
    pub https: bool,
    pub auth: Authority,
}

pub(crate) struct WireBody {
    io: Option<Stream>,
    buf: BytesMut,
    framing: Framing,
    chunked: Option<ChunkedDecoder>,
    done: bool,
    home: Option<Home>,
    /// A failure held back for one turn (see [`WireBody::fail`]).
    failed: Option<BoxError>,
}

/// Reads what the connection has into `buf` (at least `want` bytes of room).
pub(crate) fn poll_read_into(
    io: &mut Stream,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
    want: usize,
) -> Poll<io::Result<usize>> {
    buf.reserve(want);
    let read = io.read_buf(buf);
    let mut read = std::pin::pin!(read);
    read.as_mut().poll(cx)
}

impl WireBody {
    /// `buf` holds what was read past the response head.
    pub fn new(io: Stream, buf: BytesMut, framing: Framing, home: Option<Home>) -> Self {
        let mut body = Self {
            io: Some(io),
            buf,
            framing,
            chunked: (framing == Framing::Chunked).then(ChunkedDecoder::new),
            done: false,
            home,
            failed: None,
        };
        if framing == Framing::Empty {
            body.finish();
        }
        body
    }

    /// The end was reached: a clean, keepable connection goes home; any other is closed.
    fn finish(&mut self) {
        self.done = true;
        let io = self.io.take();
        if let (Some(home), Some(io)) = (self.home.take(), io) {
            if self.buf.is_empty() {
                home.pool
                    .put_wire(home.https, &home.auth, io, std::mem::take(&mut self.buf));
            }
        }
    }

    /// Ends the body with an error, reported on the next poll: a server writing this body to a
    /// viewer flushes the response head and the data so far first, so the viewer sees the head
    /// and a cut body rather than a connection closed without an answer.
    fn fail(
        &mut self,
        cx: &mut Context<'_>,
        e: impl Into<BoxError>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        self.io = None;
        self.home = None;
        self.failed = Some(e.into());
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn data(b: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(Some(Ok(Frame::data(b))))
    }

    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if let Some(e) = self.failed.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let want = match self.framing {
                Framing::Empty => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Framing::Length(rem) => {
                    if !self.buf.is_empty() {
                        let n = usize::try_from(rem)
                            .unwrap_or(usize::MAX)
                            .min(self.buf.len());
                        let data = self.buf.split_to(n).freeze();
                        let rem = rem - n as u64;
                        self.framing = Framing::Length(rem);
                        if rem == 0 {
                            self.finish();
                        }
                        return Self::data(data);
                    }
                    rem
                }
                Framing::Chunked => {
                    let Some(dec) = self.chunked.as_mut() else {
                        return self.fail(cx, "chunked decoder missing");
                    };
                    match dec.decode(&mut self.buf) {
                        Err(e) => return self.fail(cx, format!("invalid chunked body: {e}")),
                        Ok(Step::Data(d)) => return Self::data(d),
                        Ok(Step::Done) => {
                            self.finish();
                            return Poll::Ready(None);
                        }
                        Ok(Step::NeedMore) => dec.pending(),
                    }
                }
                Framing::Close => {
                    if !self.buf.is_empty() {
                        return Self::data(self.buf.split().freeze());
                    }
                    64 * 1024
                }
            };
            let want = usize::try_from(want)
                .unwrap_or(usize::MAX)
                .clamp(8 * 1024, 64 * 1024);
            let Some(io) = self.io.as_mut() else {
                return self.fail(cx, "the upstream connection is gone");
            };
            match ready!(poll_read_into(io, cx, &mut self.buf, want)) {
                Err(e) => return self.fail(cx, e),
                Ok(0) if self.framing == Framing::Close => {
                    self.done = true;
                    self.io = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    return self.fail(
                        cx,
                        "the upstream closed the connection before the body was complete",
                    )
                }
                Ok(_) => {}
            }
        }
    }

    pub fn is_end_stream(&self) -> bool {
        (self.done && self.failed.is_none())
            || matches!(self.framing, Framing::Empty | Framing::Length(0))
    }

    pub fn size_hint(&self) -> SizeHint {
        match self.framing {
            _ if self.done && self.failed.is_none() => SizeHint::with_exact(0),
            Framing::Empty => SizeHint::with_exact(0),
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Chunked | Framing::Close => SizeHint::default(),
        }
    }
}
