//! Idle upstream connections, per scheme and authority: fast-path HTTP/1.1 connections (bare
//! streams) and hyper's HTTP/1.1 senders kept one per idle connection (newest first out), HTTP/2
//! senders shared by every request. Entries older than the
//! idle timeout are dropped on checkout and by a reaper task (started with the first entry; it
//! ends with the pool), which closes their connections.

use crate::body::Body;
use crate::connect::Stream;
use bytes::BytesMut;
use http::uri::Authority;
use hyper::client::conn::{http1, http2};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, ReadBuf};

struct Idle {
    sender: http1::SendRequest<Body>,
    since: Instant,
}

/// A connection of the fast path, between requests, with its read buffer (reused while the
/// slices the last response handed out are gone, so the next response lands in warm memory).
struct IdleWire {
    stream: Stream,
    buf: BytesMut,
    since: Instant,
}

/// Whether a kept connection is still quietly open: a read that would block. Without readiness
/// from the reactor this costs no system call; end of stream, an error or unexpected bytes (the
/// upstream closed, or sent what nobody asked for) mean it cannot be used again. TLS records
/// that carry no data (session tickets) are consumed and the connection stays good.
fn still_idle(stream: &mut Stream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let mut byte = [0u8; 1];
    let mut rb = ReadBuf::new(&mut byte);
    matches!(Pin::new(stream).poll_read(&mut cx, &mut rb), Poll::Pending)
}

struct Shared {
    sender: http2::SendRequest<Body>,
    last_used: Instant,
}

/// Keyed by the authority's text as the URI spells it (a fast hash of one string; the
/// `Authority` hash lower-cases and hashes byte by byte, which cost ~1,200 instructions a lookup).
type Map<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct State {
    /// Index 0 cleartext, 1 TLS.
    h1: [Map<Vec<Idle>>; 2],
    h2: [Map<Shared>; 2],
    wire: [Map<Vec<IdleWire>>; 2],
}

pub(crate) struct Pool {
    state: Mutex<State>,
    max_idle: usize,
    idle_timeout: Duration,
    reaper: AtomicBool,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            max_idle,
            idle_timeout,
            reaper: AtomicBool::new(false),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters (every update is one push, pop, insert or remove), so poison is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest idle HTTP/1.1 connection to `auth` that is still open and not expired.
    pub fn take_h1(&self, https: bool, auth: &Authority) -> Option<http1::SendRequest<Body>> {
        let mut st = self.state();
        let list = st.h1[usize::from(https)].get_mut(auth.as_str())?;
        while let Some(idle) = list.pop() {
            if !idle.sender.is_closed() && idle.since.elapsed() < self.idle_timeout {
                return Some(idle.sender);
            }
        }
        None
    }

    /// Keeps an HTTP/1.1 connection whose last response has been read to its end.
    pub fn put_h1(
        self: &Arc<Self>,
        https: bool,
        auth: Authority,
        sender: http1::SendRequest<Body>,
    ) {
        if self.max_idle == 0 || sender.is_closed() {
            return;
        }
        let idle = Idle {
            sender,
            since: Instant::now(),
        };
        let kept = push(
            &mut self.state().h1[usize::from(https)],
            &auth,
            idle,
            self.max_idle,
        );
        if kept {
            self.start_reaper();
        }
    }

    /// Whether connections are kept at all.
    pub fn keeps(&self) -> bool {
        self.max_idle > 0
    }

    /// The newest kept fast-path connection to `auth` that is still open and not expired.
    pub fn take_wire(&self, https: bool, auth: &Authority) -> Option<(Stream, BytesMut)> {
        let mut st = self.state();
        let list = st.wire[usize::from(https)].get_mut(auth.as_str())?;
        while let Some(mut idle) = list.pop() {
            if idle.since.elapsed() < self.idle_timeout && still_idle(&mut idle.stream) {
                return Some((idle.stream, idle.buf));
            }
        }
        None
    }

    /// Keeps a fast-path connection whose last response has been read to its end.
    pub fn put_wire(
        self: &Arc<Self>,
        https: bool,
        auth: &Authority,
        stream: Stream,
        buf: BytesMut,
    ) {
        if self.max_idle == 0 {
            return;
        }
        let idle = IdleWire {
            stream,
            buf,
            since: Instant::now(),
        };
        let kept = push(
            &mut self.state().wire[usize::from(https)],
            auth,
            idle,
            self.max_idle,
        );
        if kept {
            self.start_reaper();
        }
    }

    /// The shared HTTP/2 connection to `auth`, if one is open.
    pub fn take_h2(&self, https: bool, auth: &Authority) -> Option<http2::SendRequest<Body>> {
        let mut st = self.state();
        let map = &mut st.h2[usize::from(https)];
        let shared = map.get_mut(auth.as_str())?;
        if shared.sender.is_closed() {
            map.remove(auth.as_str());
            return None;
        }
        shared.last_used = Instant::now();
        Some(shared.sender.clone())
    }

    /// Shares a new HTTP/2 connection, unless another request opened one first.
    pub fn put_h2(
        self: &Arc<Self>,
        https: bool,
        auth: Authority,
        sender: &http2::SendRequest<Body>,
    ) {
        {
            let mut st = self.state();
            let map = &mut st.h2[usize::from(https)];
            if map
                .get(auth.as_str())
                .is_some_and(|s| !s.sender.is_closed())
            {
                return;
            }
            map.insert(
                auth.as_str().into(),
                Shared {
                    sender: sender.clone(),
                    last_used: Instant::now(),
                },
            );
        }
        self.start_reaper();
    }

    /// Drops what has been idle for the idle timeout or has closed.
    fn reap(&self) {
        let mut st = self.state();
        let limit = self.idle_timeout;
        for map in &mut st.h1 {
            map.retain(|_, list| {
                list.retain(|i| !i.sender.is_closed() && i.since.elapsed() < limit);
                !list.is_empty()
            });
        }
        for map in &mut st.h2 {
            map.retain(|_, s| !s.sender.is_closed() && s.last_used.elapsed() < limit);
        }
        for map in &mut st.wire {
            map.retain(|_, list| {
                list.retain_mut(|i| i.since.elapsed() < limit && still_idle(&mut i.stream));
                !list.is_empty()
            });
        }
    }

    /// How many open connections sit idle (HTTP/1.1) or shared (HTTP/2).
    pub fn len(&self) -> usize {
        self.reap();
        let st = self.state();
        let h1 = st
            .h1
            .iter()
            .flat_map(|m| m.values())
            .map(Vec::len)
            .sum::<usize>();
        let wire = st
            .wire
            .iter()
            .flat_map(|m| m.values())
            .map(Vec::len)
            .sum::<usize>();
        h1 + wire + st.h2.iter().map(HashMap::len).sum::<usize>()
    }

    fn start_reaper(self: &Arc<Self>) {
        if self.reaper.load(Ordering::Relaxed) || self.reaper.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.reaper.store(false, Ordering::Release);
            return;
        };
        let every = (self.idle_timeout / 2).max(Duration::from_millis(100));
        rt.spawn(reaper(Arc::downgrade(self), every));
    }
}

/// Adds `idle` to `auth`'s list unless it already holds `max`; whether it was kept.
fn push<T>(map: &mut Map<Vec<T>>, auth: &Authority, idle: T, max: usize) -> bool {
    match map.get_mut(auth.as_str()) {
        Some(list) if list.len() >= max => false,
        Some(list) => {
            list.push(idle);
            true
        }
        None => {
            map.insert(auth.as_str().into(), vec![idle]);
            true
        }
    }
}

async fn reaper(pool: Weak<Pool>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        pool.reap();
    }
}
