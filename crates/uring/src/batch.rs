//! The per-thread batch: a small `io_uring`, the queued writes, and their results.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use io_uring::{opcode, types, IoUring};
use tokio::runtime::{Handle, RuntimeFlavor};

/// Submission queue entries: a turn rarely has more writes than this; more are submitted in
/// several `io_uring_enter` calls.
const ENTRIES: u32 = 256;

enum State {
    /// Unused; its buffer is kept for the next write.
    Free,
    /// Waiting for the turn's flush.
    Queued,
    /// Handed to the kernel, no completion read yet.
    InFlight,
    /// The kernel's result: bytes sent, or a negative errno.
    Done(i32),
    /// Its future was dropped while the kernel held the buffer: freed when the completion comes.
    Abandoned,
}

struct Slot {
    fd: RawFd,
    data: Vec<u8>,
    state: State,
    waker: Option<Waker>,
}

struct Batch {
    /// Tells this thread's batch from any other, so a future is only ever served by its own.
    id: u64,
    /// Declared before `slots`, so the ring is closed before the buffers it may point at go.
    ring: IoUring,
    slots: Vec<Slot>,
    free: Vec<usize>,
    queued: Vec<usize>,
    /// A task went to the back of the run queue to send the queued writes when it runs again.
    flush_pending: bool,
    /// Writers whose results came in, woken once the batch is no longer borrowed (a wake that
    /// dropped a task could otherwise find the batch borrowed and skip its clean-up).
    to_wake: Vec<Waker>,
    /// Completions read from the ring, kept to be reused.
    completed: Vec<(usize, i32)>,
}

thread_local! {
    /// `None` until the first write on this thread; `Some(None)` once `io_uring` failed here.
    static BATCH: RefCell<Option<Option<Batch>>> = const { RefCell::new(None) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What this thread's batch has done since the thread started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Writes handed to the kernel.
    pub writes: u64,
    /// `io_uring_enter` calls that carried them.
    pub submissions: u64,
}

thread_local! {
    static COUNTS: std::cell::Cell<Counts> = const {
        std::cell::Cell::new(Counts { writes: 0, submissions: 0 })
    };
}

/// This thread's [`Counts`] (all zero where batching is not in use).
pub fn counts() -> Counts {
    COUNTS.get()
}

fn count(writes: u64, submissions: u64) {
    COUNTS.set(Counts {
        writes: COUNTS.get().writes + writes,
        submissions: COUNTS.get().submissions + submissions,
    });
}

/// `EDGEWAY_IO_URING=off` (or `0`, `false`) turns batching off for the whole process.
fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        !matches!(
            std::env::var("EDGEWAY_IO_URING").as_deref(),
            Ok("off" | "0" | "false")
        )
    })
}

/// Queues `data` to be sent on the connected socket `fd` with this turn's other writes (the
/// future borrows the socket, so it stays open until the write is done or dropped). `None` when
/// batching is not available here: the caller writes the usual way.
pub fn send<'a>(fd: BorrowedFd<'a>, data: &[u8]) -> Option<Queued<'a>> {
    if !enabled() {
        return None;
    }
    // Only a current-thread runtime keeps a task, and so its queued write, on one thread.
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::CurrentThread => {}
        _ => return None,
    }
    BATCH.with_borrow_mut(|b| {
        let b = b.get_or_insert_with(|| match Batch::new() {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::debug!("io_uring unavailable, upstream writes go one by one: {e}");
                None
            }
        });
        let b = b.as_mut()?;
        let slot = b.queue(fd.as_raw_fd(), data);
        Some(Queued {
            batch: b.id,
            slot,
            leader: false,
            finished: false,
            socket: PhantomData,
        })
    })
}

impl Batch {
    fn new() -> io::Result<Self> {
        Ok(Batch {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            ring: IoUring::new(ENTRIES)?,
            slots: Vec::new(),
            free: Vec::new(),
            queued: Vec::new(),
            flush_pending: false,
            to_wake: Vec::new(),
            completed: Vec::new(),
        })
    }

    fn queue(&mut self, fd: RawFd, data: &[u8]) -> usize {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    fd,
                    data: Vec::new(),
                    state: State::Free,
                    waker: None,
                });
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[i];
        s.fd = fd;
        s.data.clear();
        s.data.extend_from_slice(data);
        s.state = State::Queued;
        s.waker = None;
        self.queued.push(i);
        i
    }

    fn release(&mut self, i: usize) {
        let s = &mut self.slots[i];
        s.state = State::Free;
        s.waker = None;
        // A one-off large write does not pin its buffer for the thread's life.
        if s.data.capacity() > 64 * 1024 {
            s.data = Vec::new();
        }
        self.free.push(i);
    }

    /// Hands every queued write to the kernel in as few `io_uring_enter` calls as the ring
    /// allows, then reads the completions.
    fn flush(&mut self) {
        self.flush_pending = false;
        let mut queued = std::mem::take(&mut self.queued);
        for &i in &queued {
            let s = &self.slots[i];
            // A longer write is sent in part; the caller writes the rest.
            let len = u32::try_from(s.data.len()).unwrap_or(u32::MAX);
            let sqe = opcode::Send::new(types::Fd(s.fd), s.data.as_ptr(), len)
                .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                .build()
                .user_data(i as u64);
            // SAFETY: the entry points into `slots[i].data`, a heap buffer that is neither
            // written nor freed until the slot leaves `InFlight`/`Abandoned`, which happens
            // only when the kernel's completion for it has been read (`reap`). Growing
            // `slots` moves the `Vec` headers, never their heap buffers. The socket stays
            // open for as long as the write's future lives (it borrows the socket), and a
            // future dropped while its write is in flight leaves the buffer to `reap`.
            let mut pushed = unsafe { self.ring.submission().push(&sqe) }.is_ok();
            if !pushed {
                // The ring is full: send what it holds and make room.
                self.submit();
                self.reap();
                // SAFETY: as above.
                pushed = unsafe { self.ring.submission().push(&sqe) }.is_ok();
            }
            let s = &mut self.slots[i];
            if pushed {
                s.state = State::InFlight;
            } else {
                // Still full (a submit that keeps failing): the writer writes it itself.
                s.state = State::Done(-libc::EAGAIN);
                if let Some(w) = s.waker.take() {
                    self.to_wake.push(w);
                }
            }
        }
        self.submit();
        self.reap();
        queued.clear();
        self.queued = queued;
    }

    /// Hands the kernel what the submission queue holds; on an error the entries stay there
    /// and the next call sends them.
    fn submit(&mut self) {
        if self.ring.submission().is_empty() {
            return;
        }
        match self.ring.submit() {
            Ok(n) => count(n as u64, 1),
            Err(e) => tracing::debug!("io_uring submit: {e}"),
        }
    }

    /// Reads every completion the kernel has posted and wakes the writers they belong to.
    fn reap(&mut self) {
        let mut done = std::mem::take(&mut self.completed);
        done.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data() as usize, c.result())),
        );
        for &(i, r) in &done {
            let Some(s) = self.slots.get_mut(i) else {
                continue;
            };
            match s.state {
                State::InFlight => {
                    s.state = State::Done(r);
                    if let Some(w) = s.waker.take() {
                        self.to_wake.push(w);
                    }
                }
                State::Abandoned => self.release(i),
                State::Free | State::Queued | State::Done(_) => {}
            }
        }
        done.clear();
        self.completed = done;
    }
}

/// Wakes the writers the last flush or reap completed, with the batch no longer borrowed.
fn wake_completed() {
    let mut woken = BATCH
        .try_with(|b| match b.try_borrow_mut().as_deref_mut() {
            Ok(Some(Some(b))) => std::mem::take(&mut b.to_wake),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    if woken.is_empty() {
        return;
    }
    for w in woken.drain(..) {
        w.wake();
    }
    // The list's room is kept for the next turn.
    let _ = BATCH.try_with(|b| {
        if let Ok(Some(Some(b))) = b.try_borrow_mut().as_deref_mut() {
            if b.to_wake.is_empty() {
                b.to_wake = woken;
            }
        }
    });
}

/// A write queued by [`send`]: completes with the bytes the kernel took (fewer than asked when
/// the socket buffer filled), or an error (`WouldBlock` when it took none).
pub struct Queued<'a> {
    batch: u64,
    slot: usize,
    /// This future went to the back of the run queue to flush the turn's writes.
    leader: bool,
    finished: bool,
    /// The socket the write goes to, borrowed until the write is done or dropped.
    socket: PhantomData<BorrowedFd<'a>>,
}

fn outcome(r: i32) -> io::Result<usize> {
    match usize::try_from(r) {
        Ok(n) => Ok(n),
        Err(_) => Err(io::Error::from_raw_os_error(r.saturating_neg())),
    }
}

fn foreign() -> io::Error {
    io::Error::other("a queued upstream write was polled outside its runtime thread")
}

impl Future for Queued<'_> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(Err(io::Error::other("polled after completion")));
        }
        let ready = BATCH.with_borrow_mut(|b| {
            let b = match b {
                Some(Some(b)) if b.id == this.batch => b,
                _ => {
                    this.finished = true;
                    return Poll::Ready(Err(foreign()));
                }
            };
            if matches!(b.slots[this.slot].state, State::Queued) {
                if this.leader {
                    this.leader = false;
                    b.flush();
                } else if !b.flush_pending {
                    // The turn's first write: run again after every task already queued.
                    b.flush_pending = true;
                    this.leader = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                } else {
                    b.slots[this.slot].waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
            if matches!(b.slots[this.slot].state, State::InFlight) {
                // Not seen here (a MSG_DONTWAIT send completes inside the submit), but cheap to
                // survive: submit whatever the ring still holds, read completions, look again
                // next turn.
                b.submit();
                b.reap();
            }
            match b.slots[this.slot].state {
                State::Done(r) => {
                    b.release(this.slot);
                    this.finished = true;
                    Poll::Ready(outcome(r))
                }
                State::InFlight => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                State::Free | State::Queued | State::Abandoned => {
                    this.finished = true;
                    Poll::Ready(Err(io::Error::other("a queued upstream write was lost")))
                }
            }
        });
        wake_completed();
        ready
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let _ = BATCH.try_with(|b| {
            let Ok(mut b) = b.try_borrow_mut() else {
                return;
            };
            let Some(Some(b)) = b.as_mut() else {
                return;
            };
            if b.id != self.batch {
                return;
            }
            match b.slots[self.slot].state {
                State::Queued => {
                    b.queued.retain(|&i| i != self.slot);
                    b.release(self.slot);
                    // The others waiting for this future's flush are not stranded.
                    if self.leader {
                        b.flush();
                    }
                }
                State::InFlight => b.slots[self.slot].state = State::Abandoned,
                State::Done(_) => b.release(self.slot),
                State::Free | State::Abandoned => {}
            }
        });
        wake_completed();
    }
}
