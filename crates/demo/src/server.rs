//! The accept loop: hyper's auto (HTTP/1.1 and h2c) connection builder with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::instance::Instance;
use crate::routes;

/// Serve `instance` on `listener` until `shutdown` resolves, then stop accepting and wait for the
/// connections in flight to finish their current requests.
pub async fn serve(
    instance: Arc<Instance>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) if is_per_connection(&err) => continue,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(instance = %instance.id(), %err, "demo target accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "set TCP_NODELAY failed");
        }
        let per_conn = Arc::clone(&instance);
        let service = service_fn(move |req| {
            let instance = Arc::clone(&per_conn);
            async move { Ok::<_, Infallible>(routes::handle(&instance, peer, req).await) }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(%peer, err = %err, "demo target connection ended with an error");
            }
        });
    }

    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors that concern one connection only, after which accepting again is right at once.
fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
