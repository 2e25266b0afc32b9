//! The body of an upstream response. An HTTP/1.1 connection goes back to the pool the moment its
//! response body has been read to the end; a body dropped before its end takes the connection
//! with it (hyper closes it), so a half-read response never leaks into the next request.

use crate::body::Body;
use crate::pool::Pool;
use bytes::Bytes;
use http::uri::Authority;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Where an HTTP/1.1 connection returns once its response has been read.
pub(crate) struct GiveBack {
    pub pool: Arc<Pool>,
    pub https: bool,
    pub auth: Authority,
    pub sender: http1::SendRequest<Body>,
}

impl GiveBack {
    pub fn give(self) {
        self.pool.put_h1(self.https, self.auth, self.sender);
    }
}

/// An upstream response body (hyper's [`Incoming`], returning its connection at the end).
pub struct UpstreamBody {
    inner: Incoming,
    give_back: Option<GiveBack>,
}

impl UpstreamBody {
    pub(crate) fn new(inner: Incoming, give_back: Option<GiveBack>) -> Self {
        let mut body = Self { inner, give_back };
        if http_body::Body::is_end_stream(&body.inner) {
            body.finish();
        }
        body
    }

    fn finish(&mut self) {
        if let Some(g) = self.give_back.take() {
            g.give();
        }
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("inner", &self.inner)
            .field("pooled", &self.give_back.is_some())
            .finish()
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.finish(),
            Poll::Ready(Some(Err(_))) => this.give_back = None,
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
