//! The UDP and TCP loops.

use crate::authority::Authority;
use crate::wire::packet::{respond, Stats, Transport};
use arc_swap::ArcSwap;
use edgeway_http::metrics::Metrics;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Tuning for [`serve_with`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long a TCP connection may sit between queries (or take to send one) before it is closed.
    pub tcp_idle_timeout: Duration,
    /// TCP connections served at once; more wait in the kernel backlog.
    pub max_tcp_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tcp_idle_timeout: Duration::from_secs(10),
            max_tcp_connections: 256,
        }
    }
}

/// Serves DNS on an already-bound UDP socket and TCP listener (normally the same address) until
/// `shutdown` resolves, answering from whatever `authority` holds at each query. Open TCP
/// connections are closed when it returns.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    authority: Arc<ArcSwap<Authority>>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_with(
        ServeOptions::default(),
        udp,
        tcp,
        authority,
        metrics,
        shutdown,
    )
    .await;
}

/// [`serve`] with explicit [`ServeOptions`].
pub async fn serve_with(
    options: ServeOptions,
    udp: UdpSocket,
    tcp: TcpListener,
    authority: Arc<ArcSwap<Authority>>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let stats = Stats::new(metrics);
    tokio::select! {
        () = shutdown => {}
        () = udp_loop(udp, authority.clone(), stats.clone()) => {}
        () = tcp_loop(tcp, authority, stats, options) => {}
    }
}

/// Answers datagrams one at a time: an answer is a pure lookup, so there is nothing to wait on.
async fn udp_loop(udp: UdpSocket, authority: Arc<ArcSwap<Authority>>, stats: Stats) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = match udp.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port-unreachable from an earlier send and the like: keep serving.
                tracing::debug!("DNS UDP receive: {e}");
                continue;
            }
        };
        let Some(answer) = respond(
            &authority.load(),
            &buf[..n],
            Some(peer.ip()),
            Transport::Udp,
            &stats,
        ) else {
            continue;
        };
        if let Err(e) = udp.send_to(&answer, peer).await {
            tracing::debug!(%peer, "DNS UDP send: {e}");
        }
    }
}

async fn tcp_loop(
    tcp: TcpListener,
    authority: Arc<ArcSwap<Authority>>,
    stats: Stats,
    options: ServeOptions,
) {
    let slots = Arc::new(Semaphore::new(options.max_tcp_connections.max(1)));
    // Dropped (aborting every connection) when `serve` returns.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok((stream, peer)) => (stream, peer),
            Err(e) => {
                tracing::warn!("DNS TCP accept: {e}");
                // Out of file descriptors and the like: give the system a moment.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (authority, stats, idle) = (authority.clone(), stats.clone(), options.tcp_idle_timeout);
        connections.spawn(async move {
            connection(stream, peer.ip(), &authority, &stats, idle).await;
            drop(slot);
        });
    }
}

/// Serves length-prefixed queries on one connection, in order, until the client closes it, goes
/// idle, or sends something that gets no answer.
async fn connection(
    mut stream: TcpStream,
    peer: IpAddr,
    authority: &ArcSwap<Authority>,
    stats: &Stats,
    idle: Duration,
) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 2];
        if !matches!(
            tokio::time::timeout(idle, stream.read_exact(&mut len)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        if !matches!(
            tokio::time::timeout(idle, stream.read_exact(&mut buf)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let Some(answer) = respond(&authority.load(), &buf, Some(peer), Transport::Tcp, stats)
        else {
            return;
        };
        let Ok(n) = u16::try_from(answer.len()) else {
            return;
        };
        let mut out = Vec::with_capacity(answer.len() + 2);
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&answer);
        if !matches!(
            tokio::time::timeout(idle, stream.write_all(&out)).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}
