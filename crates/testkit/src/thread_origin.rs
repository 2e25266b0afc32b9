//! A keep-alive HTTP/1.1 origin on plain threads (no Tokio runtime), for tests that must not
//! depend on any runtime being driven: every request head is counted and answered with what
//! `reply` makes of it (the head lower-cased, without its final blank line).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Starts the origin on 127.0.0.1 (a kernel-chosen port); returns its address and the count of
/// requests it answered.
pub fn thread_origin<F>(reply: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(&str) -> String + Send + Sync + 'static,
{
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let (h, reply) = (h.clone(), reply.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        buf.drain(..end + 4);
                        h.fetch_add(1, Ordering::SeqCst);
                        if c.write_all(reply(&head).as_bytes()).is_err() {
                            return;
                        }
                    }
                    match c.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, hits)
}
