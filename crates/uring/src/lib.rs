//! Upstream request writes of one scheduler turn, sent in one `io_uring` submission.
//!
//! When edgeway shares a core with its origin (or its targets), every request it writes wakes
//! the origin, and the kernel often switches to the origin right after that write returns: the
//! origin answers one request, sleeps, and edgeway runs again until its next write. Batch 11 in
//! docs/performance.md traced it: edgeway ran 13 µs at a time, one request per origin wake-up,
//! where HAProxy wrote 49 requests in a row and the origin then answered all 49 in one run.
//!
//! [`send`] queues a write instead of making it. The first task of a turn to queue one goes to
//! the back of the run queue; when it runs again, after every other task the turn woke, all the
//! queued writes go to the kernel in one `io_uring_enter`, which returns only when each has been
//! tried. No switch can come between them, and the origin wakes once for the lot.
//!
//! Every send is non-blocking (`MSG_DONTWAIT`): the kernel completes it inline, with the bytes
//! it took, or with `EAGAIN` when the socket buffer is full, and the caller writes the rest the
//! usual way. Without `io_uring` (an old kernel, a sandbox that forbids it, another OS), in a
//! multi-thread runtime, or with `EDGEWAY_IO_URING=off`, [`send`] returns `None` and the caller
//! writes as before.

#[cfg(target_os = "linux")]
mod batch;
#[cfg(target_os = "linux")]
pub use batch::{counts, send, Counts, Queued};

#[cfg(not(target_os = "linux"))]
mod fallback {
    use std::future::Future;
    use std::io;
    use std::os::fd::BorrowedFd;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Never made here: there is no `io_uring` on this system.
    pub struct Queued<'a>(
        std::convert::Infallible,
        std::marker::PhantomData<BorrowedFd<'a>>,
    );

    impl Future for Queued<'_> {
        type Output = io::Result<usize>;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            match self.0 {}
        }
    }

    /// What a batch has done on this thread: nothing, here.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Counts {
        pub writes: u64,
        pub submissions: u64,
    }

    pub fn counts() -> Counts {
        Counts::default()
    }

    /// No `io_uring` on this system: the caller writes the usual way.
    pub fn send<'a>(_fd: BorrowedFd<'a>, _data: &[u8]) -> Option<Queued<'a>> {
        None
    }
}
#[cfg(not(target_os = "linux"))]
pub use fallback::{counts, send, Counts, Queued};
