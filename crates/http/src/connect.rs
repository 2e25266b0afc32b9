//! Opening one upstream connection: the host resolved through a [`Resolve`] (IP literals skip it),
//! TCP with a bounded connect (`TCP_NODELAY`, keep-alive probes), then for `https` a TLS
//! handshake bounded on its own, offering the pool's ALPN.

use crate::client::{Resolve, UpstreamError};
use http::uri::Authority;
use rustls_pki_types::ServerName;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// How connections are opened (shared by every connection of one client).
pub(crate) struct Connector {
    pub resolver: Arc<dyn Resolve>,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub tls: TlsConnector,
}

/// An open upstream connection, cleartext or TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The host of an authority without IPv6 brackets.
fn bare_host(auth: &Authority) -> &str {
    let host = auth.host();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Connector {
    /// Resolves, connects and (for `https`) completes the TLS handshake.
    pub async fn connect(&self, https: bool, auth: &Authority) -> Result<Stream, UpstreamError> {
        let host = bare_host(auth);
        let port = auth.port_u16().unwrap_or(if https { 443 } else { 80 });
        let ips = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self
                .resolver
                .resolve(host.to_string())
                .await
                .map_err(|e| UpstreamError::Resolve(format!("{host}: {e}")))?,
        };
        if ips.is_empty() {
            return Err(UpstreamError::Resolve(format!("no address for {host}")));
        }
        let tcp = match tokio::time::timeout(self.connect_timeout, connect_any(&ips, port)).await {
            Err(_) => return Err(UpstreamError::ConnectTimeout),
            Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(UpstreamError::ConnectTimeout)
            }
            Ok(Err(e)) => return Err(UpstreamError::Connect(format!("tcp connect error: {e}"))),
            Ok(Ok(s)) => s,
        };
        let _ = tcp.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(60));
        let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
        if !https {
            return Ok(Stream::Plain(tcp));
        }
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| UpstreamError::Tls(format!("invalid server name {host}: {e}")))?;
        match tokio::time::timeout(self.handshake_timeout, self.tls.connect(name, tcp)).await {
            Err(_) => Err(UpstreamError::Tls("TLS handshake timed out".into())),
            Ok(Err(e)) => Err(UpstreamError::Tls(e.to_string())),
            Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s))),
        }
    }
}

/// Tries each address in turn; the last failure is the answer.
async fn connect_any(ips: &[IpAddr], port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for ip in ips {
        match TcpStream::connect(SocketAddr::new(*ip, port)).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
