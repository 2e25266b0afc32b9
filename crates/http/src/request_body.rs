//! The body of a viewer's request as a tier's handler receives it: nothing (a request without
//! content that edgeway's own HTTP/1.1 connection read), or hyper's stream (HTTP/2, and HTTP/1.1
//! requests with content or an upgrade).

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A viewer request's body.
#[derive(Debug)]
pub struct RequestBody {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Empty,
    Hyper(Incoming),
}

impl RequestBody {
    /// A request without content.
    pub fn empty() -> Self {
        Self {
            inner: Inner::Empty,
        }
    }
}

impl From<Incoming> for RequestBody {
    fn from(b: Incoming) -> Self {
        Self {
            inner: Inner::Hyper(b),
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.inner {
            Inner::Empty => Poll::Ready(None),
            Inner::Hyper(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Hyper(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Hyper(b) => b.size_hint(),
        }
    }
}
