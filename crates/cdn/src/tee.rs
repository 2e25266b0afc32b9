//! A body that forwards the origin's frames to the viewer as they arrive and keeps a copy, up to
//! a limit, for the cache. The copy is handed over once the body is complete (and matches its
//! `Content-Length`); an oversized, failed, truncated or abandoned body hands over nothing.

use bytes::{Bytes, BytesMut};
use edgeway_http::{Body, BoxError};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Called once: `Some(body)` when the whole body arrived, `None` otherwise.
pub type OnDone = Box<dyn FnOnce(Option<Bytes>) + Send + Sync>;

pub struct TeeBody {
    inner: Body,
    buf: Option<BytesMut>,
    limit: u64,
    expected: Option<u64>,
    done: Option<OnDone>,
}

impl TeeBody {
    /// Tees `inner`; `expected` is its `Content-Length`, `limit` the most bytes kept.
    pub fn new(inner: Body, expected: Option<u64>, limit: u64, done: OnDone) -> Self {
        let cap = expected.unwrap_or(0).min(limit).min(1 << 20);
        Self {
            inner,
            buf: Some(BytesMut::with_capacity(cap as usize)),
            limit,
            expected,
            done: Some(done),
        }
    }

    fn finish(&mut self, ok: bool) {
        let body = self.buf.take().map(BytesMut::freeze).filter(|_| ok);
        if let Some(done) = self.done.take() {
            done(body);
        }
    }
}

impl http_body::Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(d), Some(buf)) = (frame.data_ref(), this.buf.as_mut()) {
                    if (buf.len() + d.len()) as u64 > this.limit {
                        this.finish(false);
                    } else {
                        buf.extend_from_slice(d);
                        // Complete at the last byte: the viewer may ask again before the end
                        // of the stream is polled.
                        if this.expected == Some(buf.len() as u64) {
                            this.finish(true);
                        }
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(None) => {
                let complete = this
                    .buf
                    .as_ref()
                    .is_some_and(|b| this.expected.is_none_or(|e| e == b.len() as u64));
                this.finish(complete);
            }
            Poll::Pending => {}
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

impl Drop for TeeBody {
    fn drop(&mut self) {
        // A viewer that went away before the end: nothing is stored.
        if self.done.is_some() {
            let whole = self
                .buf
                .as_ref()
                .is_some_and(|b| self.expected == Some(b.len() as u64));
            self.finish(whole);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};

    fn tee(
        body: &'static str,
        expected: Option<u64>,
        limit: u64,
    ) -> (TeeBody, Arc<Mutex<Option<Option<Bytes>>>>) {
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        let t = TeeBody::new(
            edgeway_http::full(body),
            expected,
            limit,
            Box::new(move |b| *g.lock().unwrap_or_else(|e| e.into_inner()) = Some(b)),
        );
        (t, got)
    }

    #[tokio::test]
    async fn keeps_a_copy_when_complete() {
        let rows: &[(&str, Option<u64>, u64, Option<&str>)] = &[
            ("hello", Some(5), 100, Some("hello")),
            ("hello", None, 100, Some("hello")),
            ("hello", Some(9), 100, None),
            ("hello", Some(5), 3, None),
            ("", None, 3, Some("")),
        ];
        for (body, expected, limit, want) in rows {
            let (t, got) = tee(body, *expected, *limit);
            let out = t.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            assert_eq!(&out[..], body.as_bytes(), "the viewer gets everything");
            let got = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
            assert_eq!(
                got,
                Some(want.map(|w| Bytes::from(w.to_string()))),
                "{body} {expected:?} {limit}"
            );
        }
    }

    #[tokio::test]
    async fn abandoned_bodies_store_nothing() {
        let (t, got) = tee("hello", None, 100);
        drop(t);
        assert_eq!(
            got.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Some(None)
        );
    }
}
