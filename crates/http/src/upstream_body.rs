//! The body of an upstream response. An HTTP/1.1 connection goes back to the pool the moment its
//! response body has been read to the end; a body dropped before its end takes the connection
//! with it, so a half-read response never leaks into the next request.

use crate::body::{Body, BoxError};
use crate::pool::Pool;
use crate::wire_body::WireBody;
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

/// An upstream response body: read straight from the connection (the fast path for requests
/// without a body), or hyper's [`Incoming`] returning its connection at the end.
pub struct UpstreamBody {
    kind: Kind,
}

enum Kind {
    Wire(WireBody),
    Hyper {
        inner: Incoming,
        give_back: Option<GiveBack>,
    },
}

impl UpstreamBody {
    pub(crate) fn new(inner: Incoming, give_back: Option<GiveBack>) -> Self {
        let mut give_back = give_back;
        if http_body::Body::is_end_stream(&inner) {
            if let Some(g) = give_back.take() {
                g.give();
            }
        }
        Self {
            kind: Kind::Hyper { inner, give_back },
        }
    }

    pub(crate) fn wire(body: WireBody) -> Self {
        Self {
            kind: Kind::Wire(body),
        }
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Wire(w) => f
                .debug_struct("UpstreamBody")
                .field("end", &w.is_end_stream())
                .finish(),
            Kind::Hyper { inner, give_back } => f
                .debug_struct("UpstreamBody")
                .field("inner", inner)
                .field("pooled", &give_back.is_some())
                .finish(),
        }
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Wire(w) => w.poll_frame(cx),
            Kind::Hyper { inner, give_back } => {
                let polled = Pin::new(&mut *inner).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => {
                        if let Some(g) = give_back.take() {
                            g.give();
                        }
                    }
                    Poll::Ready(Some(Ok(_))) if inner.is_end_stream() => {
                        if let Some(g) = give_back.take() {
                            g.give();
                        }
                    }
                    Poll::Ready(Some(Err(_))) => *give_back = None,
                    _ => {}
                }
                polled.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Wire(w) => w.is_end_stream(),
            Kind::Hyper { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Wire(w) => w.size_hint(),
            Kind::Hyper { inner, .. } => inner.size_hint(),
        }
    }
}
