//! Bodies streamed through the balancer: an idle timeout (no bytes for `idle_timeout` ends the
//! stream with an error, which cuts the connection), the end of a deregistration delay, byte
//! counting, and whatever must live as long as the body (outstanding-request counts, the access
//! log entry).

use bytes::Bytes;
use edgeway_http::{Body, BoxError};
use http_body::{Frame, SizeHint};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Sleep;

type Signal = Mutex<Pin<Box<dyn Future<Output = ()> + Send>>>;

/// The idle timeout: the deadline is the last frame's time (or the start) plus `timeout`. The
/// timer is made and moved only when the body has to wait, not on every frame.
struct Idle {
    timeout: Duration,
    last: tokio::time::Instant,
    sleep: Option<Mutex<Pin<Box<Sleep>>>>,
}

/// The cut signal: its value is read on each poll; the future that wakes the body when it turns
/// is made only when the body has to wait.
struct CutBy {
    rx: watch::Receiver<bool>,
    wait: Option<Signal>,
}

/// A body with an idle timeout, an optional cut signal and a per-frame callback.
pub struct Guarded {
    inner: Body,
    idle: Option<Idle>,
    cut: Option<CutBy>,
    on_data: Option<Box<dyn Fn(usize) + Send + Sync>>,
    _hold: Option<Box<dyn Any + Send + Sync>>,
    done: bool,
}

/// Why a guarded stream ended early.
#[derive(Debug)]
pub enum Cut {
    Idle,
    Deregistered,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Idle => "no bytes within the idle timeout",
            Self::Deregistered => "the deregistration delay ended",
        })
    }
}

impl std::error::Error for Cut {}

/// A future that resolves when `rx` turns true.
pub async fn cut_future(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl Guarded {
    pub fn new(inner: Body) -> Self {
        Self {
            inner,
            idle: None,
            cut: None,
            on_data: None,
            _hold: None,
            done: false,
        }
    }

    pub fn idle(mut self, timeout: Duration) -> Self {
        self.idle = Some(Idle {
            timeout,
            last: tokio::time::Instant::now(),
            sleep: None,
        });
        self
    }

    pub fn cut_by(mut self, rx: watch::Receiver<bool>) -> Self {
        self.cut = Some(CutBy { rx, wait: None });
        self
    }

    pub fn on_data(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_data = Some(Box::new(f));
        self
    }

    pub fn hold(mut self, h: impl Any + Send + Sync) -> Self {
        self._hold = Some(Box::new(h));
        self
    }

    pub fn boxed(self) -> Body {
        http_body_util::BodyExt::boxed(self)
    }

    fn fail(&mut self, why: Cut) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        Poll::Ready(Some(Err(Box::new(why))))
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.cut.as_ref().is_some_and(|c| *c.rx.borrow()) {
            return this.fail(Cut::Deregistered);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(idle) = &mut this.idle {
                    idle.last = tokio::time::Instant::now();
                }
                if let (Some(f), Some(d)) = (&this.on_data, frame.data_ref()) {
                    f(d.len());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => {
                if let Some(c) = &mut this.cut {
                    let wait = c
                        .wait
                        .get_or_insert_with(|| Mutex::new(Box::pin(cut_future(c.rx.clone()))));
                    let fut = wait.get_mut().unwrap_or_else(|e| e.into_inner());
                    if fut.as_mut().poll(cx).is_ready() {
                        return this.fail(Cut::Deregistered);
                    }
                }
                if let Some(idle) = &mut this.idle {
                    let deadline = idle.last + idle.timeout;
                    let sleep = idle.sleep.get_or_insert_with(|| {
                        Mutex::new(Box::pin(tokio::time::sleep_until(deadline)))
                    });
                    let sleep = sleep.get_mut().unwrap_or_else(|e| e.into_inner());
                    if sleep.deadline() != deadline {
                        sleep.as_mut().reset(deadline);
                    }
                    if sleep.as_mut().poll(cx).is_ready() {
                        return this.fail(Cut::Idle);
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn channel_body() -> (
        tokio::sync::mpsc::Sender<Result<Frame<Bytes>, BoxError>>,
        Body,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let s =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|f| (f, rx)) },
            );
        (tx, http_body_util::StreamBody::new(s).boxed())
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_resets_on_each_frame() {
        let (tx, body) = channel_body();
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = seen.clone();
        let mut b = Guarded::new(body)
            .idle(Duration::from_secs(10))
            .on_data(move |n| {
                s2.fetch_add(n, Ordering::SeqCst);
            });
        tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(8)).await;
                let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"abc")))).await;
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        let mut got = 0;
        let err = loop {
            match b.frame().await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e.to_string(),
                None => break "ended".into(),
            }
        };
        assert_eq!(got, 3);
        assert_eq!(err, "no bytes within the idle timeout");
        assert_eq!(seen.load(Ordering::SeqCst), 9);
        assert!(b.frame().await.is_none());
    }

    #[tokio::test]
    async fn cut_ends_the_stream() {
        let (_tx, body) = channel_body();
        let (cut_tx, cut_rx) = watch::channel(false);
        let mut b = Guarded::new(body).cut_by(cut_rx);
        cut_tx.send_replace(true);
        let e = b.frame().await.unwrap().unwrap_err();
        assert_eq!(e.to_string(), "the deregistration delay ended");
    }

    #[tokio::test]
    async fn cut_wakes_a_waiting_stream() {
        let (_tx, body) = channel_body();
        let (cut_tx, cut_rx) = watch::channel(false);
        let mut b = Guarded::new(body)
            .idle(Duration::from_secs(3600))
            .cut_by(cut_rx);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            cut_tx.send_replace(true);
        });
        let e = b.frame().await.unwrap().unwrap_err();
        assert_eq!(e.to_string(), "the deregistration delay ended");
        assert!(b.frame().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_counts_from_the_start_without_frames() {
        let (_tx, body) = channel_body();
        let mut b = Guarded::new(body).idle(Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        let e = b.frame().await.unwrap().unwrap_err();
        assert_eq!(e.to_string(), "no bytes within the idle timeout");
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
