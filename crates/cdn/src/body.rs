//! Bodies on the way through: the viewer's request body (kept when small, so a connection
//! failure can be retried), and a wrapper that counts bytes and enforces the origin's idle gap.

use bytes::Bytes;
use edgeway_http::metrics::Counter;
use edgeway_http::{Body, BoxError};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Bodies up to this size are buffered so any attempt can resend them.
pub const REPLAY_LIMIT: u64 = 64 * 1024;

/// A request body that may be sent more than once.
pub enum RequestBody {
    Empty,
    Buffered(Bytes),
    /// Streams once; later attempts cannot resend it.
    Streaming(Option<Body>),
}

impl RequestBody {
    /// Reads the viewer body into a replayable one when it is small and of known length.
    pub async fn from_viewer(body: Body, content_length: Option<u64>) -> Result<Self, BoxError> {
        if http_body::Body::is_end_stream(&body) {
            return Ok(Self::Empty);
        }
        match content_length {
            Some(0) => Ok(Self::Empty),
            Some(n) if n <= REPLAY_LIMIT => Ok(Self::Buffered(body.collect().await?.to_bytes())),
            _ => Ok(Self::Streaming(Some(body))),
        }
    }

    /// Whether another attempt can send this body again.
    pub fn replayable(&self) -> bool {
        !matches!(self, Self::Streaming(_))
    }

    /// The body for the next attempt (`None` once a streaming body has been used).
    pub fn for_attempt(&mut self) -> Option<Body> {
        match self {
            Self::Empty => Some(edgeway_http::empty()),
            Self::Buffered(b) => Some(edgeway_http::full(b.clone())),
            Self::Streaming(b) => b.take(),
        }
    }
}

/// Counts data bytes into `counter`; with `idle`, fails when no frame arrives for that long.
/// Generic over the inner body, so wrapping an origin body needs no box of its own (errors are
/// turned into `BoxError` here, as `edgeway_http::body::boxed` would).
pub struct MeteredBody<B = Body> {
    inner: B,
    counter: Counter,
    idle: Option<Idle>,
}

/// The idle gap: the timer is only armed when the body has to wait (a body whose frames are
/// all ready never touches the timer wheel).
struct Idle {
    gap: Duration,
    /// When the last frame came (or the body was made).
    last: tokio::time::Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> MeteredBody<B> {
    pub fn new(inner: B, counter: Counter, idle: Option<Duration>) -> Self {
        let idle = idle.map(|gap| Idle {
            gap,
            last: tokio::time::Instant::now(),
            sleep: None,
        });
        Self {
            inner,
            counter,
            idle,
        }
    }
}

#[derive(Debug)]
struct IdleTimeout;
impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("origin sent nothing within origin_read_timeout")
    }
}
impl std::error::Error for IdleTimeout {}

impl<B> http_body::Body for MeteredBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.counter.add(d.len() as u64);
                }
                if let Some(idle) = &mut this.idle {
                    idle.last = tokio::time::Instant::now();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if let Some(idle) = &mut this.idle {
                    let deadline = idle.last + idle.gap;
                    let sleep = match &mut idle.sleep {
                        Some(s) => {
                            if s.deadline() != deadline {
                                s.as_mut().reset(deadline);
                            }
                            s
                        }
                        None => idle
                            .sleep
                            .insert(Box::pin(tokio::time::sleep_until(deadline))),
                    };
                    if sleep.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Some(Err(Box::new(IdleTimeout))));
                    }
                }
                Poll::Pending
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

use std::future::Future as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_bodies_replay_and_large_stream_once() {
        let mut b = match RequestBody::from_viewer(edgeway_http::full("hello"), Some(5)).await {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        assert!(b.replayable());
        for _ in 0..2 {
            let body = b
                .for_attempt()
                .map(|x| async move { x.collect().await.map(|c| c.to_bytes()).ok() });
            let got = match body {
                Some(f) => f.await,
                None => None,
            };
            assert_eq!(got.as_deref(), Some(&b"hello"[..]));
        }
        let mut s = match RequestBody::from_viewer(edgeway_http::full("x"), None).await {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        assert!(!s.replayable());
        assert!(s.for_attempt().is_some());
        assert!(s.for_attempt().is_none());
        let e = match RequestBody::from_viewer(edgeway_http::empty(), None).await {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        assert!(matches!(e, RequestBody::Empty));
    }

    #[tokio::test]
    async fn metered_bodies_count() {
        let c = Counter::default();
        let b = MeteredBody::new(
            edgeway_http::full("12345"),
            c.clone(),
            Some(Duration::from_secs(5)),
        );
        let got = match b.collect().await {
            Ok(x) => x.to_bytes(),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(&got[..], b"12345");
        assert_eq!(c.get(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_origin_bodies_fail() {
        let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        let stream = http_body_util::StreamBody::new(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|x| (x, rx)) },
        ));
        let b = MeteredBody::new(
            stream.boxed(),
            Counter::default(),
            Some(Duration::from_secs(1)),
        );
        assert!(b.collect().await.is_err());
    }
}
