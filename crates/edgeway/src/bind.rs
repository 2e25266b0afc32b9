//! Binding every listener a config names before anything starts: `main` binds the configured
//! addresses; tests bind port 0 and the config follows the ports the kernel chose.

use edgeway_config::{parse_listen_url, parse_socket_addr, Config, PortMap};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::net::{TcpListener, UdpSocket};

/// Every socket a config needs, keyed by the address in the (possibly remapped) config.
#[derive(Default)]
pub struct Bound {
    pub tcp: HashMap<SocketAddr, TcpListener>,
    /// Listeners configured with port 0 (the kernel picked), in config order.
    pub any_port: Vec<TcpListener>,
    /// The DNS tier's UDP socket and TCP listener, on the same port.
    pub dns: Option<(UdpSocket, TcpListener)>,
}

impl Bound {
    /// Takes the TCP listener bound for `addr`.
    pub fn take(&mut self, addr: SocketAddr) -> Result<TcpListener, String> {
        if addr.port() == 0 {
            if let Some(i) = self
                .any_port
                .iter()
                .position(|l| l.local_addr().is_ok_and(|a| a.ip() == addr.ip()))
            {
                return Ok(self.any_port.remove(i));
            }
        }
        self.tcp
            .remove(&addr)
            .ok_or_else(|| format!("{addr}: no listener was bound for this address"))
    }
}

fn bind_err(addr: SocketAddr, e: std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("{addr}: address already in use (is another edgeway running?)")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("{addr}: permission denied (ports below 1024 need privileges)")
        }
        _ => format!("{addr}: cannot listen: {e}"),
    }
}

/// The TCP addresses (other than DNS) that `cfg` listens on.
fn tcp_addresses(cfg: &Config) -> Vec<SocketAddr> {
    let dns = cfg
        .dns
        .as_ref()
        .and_then(|d| parse_socket_addr(&d.listen).ok());
    cfg.listen_addresses()
        .iter()
        .filter_map(|a| parse_socket_addr(a).ok())
        .filter(|a| Some(*a) != dns)
        .collect()
}

/// Binds every address `cfg` names. With `ephemeral`, binds port 0 instead and rewrites every
/// port in `cfg` to the one the kernel chose (origins, targets and name servers follow).
pub async fn bind(cfg: &mut Config, ephemeral: bool) -> Result<Bound, String> {
    let mut map = PortMap::new();
    let mut tcp = Vec::new();
    let mut any_port = Vec::new();
    for addr in tcp_addresses(cfg) {
        if addr.port() == 0 && !ephemeral {
            any_port.push(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| bind_err(addr, e))?,
            );
            continue;
        }
        let want = if ephemeral {
            SocketAddr::new(addr.ip(), 0)
        } else {
            addr
        };
        let l = TcpListener::bind(want)
            .await
            .map_err(|e| bind_err(want, e))?;
        let got = l.local_addr().map_err(|e| bind_err(want, e))?;
        map.insert(addr.port(), got.port());
        tcp.push((got, l));
    }
    let mut dns = None;
    if let Some(d) = &cfg.dns {
        let addr = parse_socket_addr(&d.listen)?;
        let (udp, tl) = bind_dns(addr, ephemeral).await?;
        let got = udp.local_addr().map_err(|e| bind_err(addr, e))?;
        map.insert(addr.port(), got.port());
        dns = Some((udp, tl));
    }
    if ephemeral {
        cfg.remap_ports(&map);
    }
    Ok(Bound {
        tcp: tcp.into_iter().collect(),
        any_port,
        dns,
    })
}

async fn bind_dns(addr: SocketAddr, ephemeral: bool) -> Result<(UdpSocket, TcpListener), String> {
    if !ephemeral {
        let udp = UdpSocket::bind(addr).await.map_err(|e| bind_err(addr, e))?;
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|e| bind_err(addr, e))?;
        return Ok((udp, tcp));
    }
    // UDP on a free port, then TCP on the same port; another process may hold that TCP port,
    // so try a few times.
    let mut last = String::new();
    for _ in 0..32 {
        let udp = UdpSocket::bind(SocketAddr::new(addr.ip(), 0))
            .await
            .map_err(|e| bind_err(addr, e))?;
        let got = udp.local_addr().map_err(|e| bind_err(addr, e))?;
        match TcpListener::bind(got).await {
            Ok(t) => return Ok((udp, t)),
            Err(e) => last = bind_err(got, e),
        }
    }
    Err(last)
}

/// (is_https, address) of each `listen` URL of a distribution.
pub fn distribution_listens(urls: &[String]) -> Vec<(bool, SocketAddr)> {
    urls.iter()
        .filter_map(|u| parse_listen_url(u).ok())
        .collect()
}
