//! The batch over real loopback sockets: a turn's writes leave in one submission (more than the
//! ring holds, in two) and every byte arrives; a full socket buffer gives a short write, then
//! `WouldBlock`; a dropped first writer does not strand the others and its own write never
//! leaves; errors come back as `io::Error`; a multi-thread runtime writes the usual way.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_os = "linux")]

use std::future::Future;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// A connected pair: (the writer's end, the reader's end).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = tokio::join!(TcpStream::connect(l.local_addr().unwrap()), l.accept());
    (a.unwrap(), b.unwrap().0)
}

async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

/// Spawns `n` tasks that each queue one write on a socket of its own in the same turn, checks
/// that every reader gets its bytes, and returns the submissions that carried them.
async fn one_turn_of_writes(n: usize) -> u64 {
    let mut pairs = Vec::new();
    for _ in 0..n {
        pairs.push(pair().await);
    }
    let before = edgeway_uring::counts();
    let mut tasks = Vec::new();
    for (i, (w, r)) in pairs.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let msg = format!("request {i}\r\n");
            let sent = edgeway_uring::send(w.as_fd(), msg.as_bytes())
                .expect("io_uring here")
                .await
                .unwrap();
            assert_eq!(sent, msg.len());
            (w, r, msg)
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    let after = edgeway_uring::counts();
    assert_eq!(after.writes - before.writes, n as u64);
    for (_w, mut r, msg) in done {
        let mut got = vec![0; msg.len()];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg.as_bytes());
    }
    after.submissions - before.submissions
}

#[tokio::test]
async fn the_writes_of_a_turn_leave_in_one_submission() {
    assert_eq!(one_turn_of_writes(16).await, 1);
}

#[tokio::test]
async fn more_writes_than_the_ring_holds_go_in_two_submissions() {
    // 256 entries fill the ring; the other 4 follow in a second call.
    assert_eq!(one_turn_of_writes(260).await, 2);
}

#[tokio::test]
async fn a_full_socket_buffer_gives_a_short_write_then_would_block() {
    let (w, mut r) = pair().await;
    let big = vec![b'x'; 64 << 20];
    let n = edgeway_uring::send(w.as_fd(), &big).unwrap().await.unwrap();
    assert!(n > 0 && n < big.len(), "sent {n} of {}", big.len());
    let e = edgeway_uring::send(w.as_fd(), b"more")
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    // What the kernel took arrives whole.
    let mut got = vec![0; n];
    r.read_exact(&mut got).await.unwrap();
    assert!(got.iter().all(|&b| b == b'x'));
}

#[tokio::test]
async fn a_dropped_first_writer_does_not_strand_the_others() {
    let (w1, mut r1) = pair().await;
    let (w2, mut r2) = pair().await;
    let mut first = edgeway_uring::send(w1.as_fd(), b"never").unwrap();
    let mut second = edgeway_uring::send(w2.as_fd(), b"sent").unwrap();
    // The first goes to the back of the run queue to flush; the second waits for it.
    assert!(poll_once(&mut first).await.is_pending());
    assert!(poll_once(&mut second).await.is_pending());
    drop(first);
    let sent = tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the second write was stranded");
    assert_eq!(sent.unwrap(), 4);
    let mut got = [0; 4];
    r2.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"sent");
    // The dropped write never left: the first reader sees what comes after it, and only that.
    drop(w1);
    let mut rest = Vec::new();
    r1.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    drop(w2);
}

#[tokio::test]
async fn errors_come_back_as_io_errors() {
    // A pipe is not a socket.
    let (rx, _tx) = std::io::pipe().unwrap();
    let e = edgeway_uring::send(rx.as_fd(), b"x")
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc_enotsock()));
    // The batch goes on working after an error.
    let (w, mut r) = pair().await;
    assert_eq!(
        edgeway_uring::send(w.as_fd(), b"ok")
            .unwrap()
            .await
            .unwrap(),
        2
    );
    let mut got = [0; 2];
    r.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"ok");
}

/// `ENOTSOCK` on Linux.
fn libc_enotsock() -> i32 {
    88
}

#[test]
fn a_multi_thread_runtime_writes_the_usual_way() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (w, _r) = pair().await;
        assert!(edgeway_uring::send(w.as_fd(), b"x").is_none());
    });
    // Outside any runtime too.
    assert!(edgeway_uring::send(std::io::stdin().as_fd(), b"x").is_none());
}
