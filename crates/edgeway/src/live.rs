//! `edgeway explain --live`: sends the request through the running stack and reports what
//! happened: the response's status and CloudFront headers, connect/TLS/first-byte/total timings,
//! and which counters on the admin listener's `/metrics` moved (cache result, origin requests,
//! rule matches, and the target that served).

use edgeway_config::Config;
use edgeway_terraform::explain::{alias_of, receiver, Receiver, Request};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long any one part (connect, TLS, the response) may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Response headers worth showing, in this order.
const SHOWN: &[&str] = &[
    "x-cache",
    "age",
    "via",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    "x-instance-id",
    "location",
    "content-type",
];

/// Counter families that say what happened to the request.
const FAMILIES: &[(&str, &str)] = &[
    ("edgeway_cdn_cache_total", "cdn cache result"),
    ("edgeway_cdn_origin_requests_total", "origin requests"),
    ("edgeway_cdn_origin_failovers_total", "origin failovers"),
    ("edgeway_cdn_upstream_errors_total", "origin errors"),
    ("edgeway_alb_rule_matches_total", "alb rule matches"),
    ("edgeway_alb_target_requests_total", "target requests"),
    ("edgeway_alb_upstream_errors_total", "alb upstream errors"),
];

/// Where the request was sent and how the address was found.
#[derive(Debug, Clone)]
pub struct Route {
    pub addr: SocketAddr,
    pub https: bool,
    pub how: String,
}

/// One counter that moved.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub family: &'static str,
    pub what: &'static str,
    pub labels: BTreeMap<String, String>,
    pub delta: f64,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub route: Option<Route>,
    pub status: Option<u16>,
    /// Shown response headers (lower-case names), in [`SHOWN`] order.
    pub headers: Vec<(String, String)>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    pub first_byte: Option<Duration>,
    pub total: Option<Duration>,
    pub body_bytes: usize,
    pub moved: Vec<Moved>,
    /// Why the counters are missing (no admin listener, unreachable, ...).
    pub counters_note: Option<String>,
    pub error: Option<String>,
}

fn ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| {
        json!((d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
    })
}

fn fmt_ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".into(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
    )
}

impl Live {
    /// The target that served, from `edgeway_alb_target_requests_total{target_group, target}`.
    pub fn served_by(&self) -> Vec<(String, String)> {
        self.moved
            .iter()
            .filter(|m| m.family == "edgeway_alb_target_requests_total" && m.delta > 0.0)
            .map(|m| {
                (
                    m.labels.get("target").cloned().unwrap_or_default(),
                    m.labels.get("target_group").cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    pub fn to_json(&self) -> Value {
        let labels = |l: &BTreeMap<String, String>| {
            Value::Object(
                l.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        json!({
            "sent_to": self.route.as_ref().map(|r| r.addr.to_string()),
            "https": self.route.as_ref().map(|r| r.https),
            "resolved": self.route.as_ref().map(|r| r.how.clone()),
            "status": self.status,
            "headers": Value::Object(self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
            "timings_ms": { "connect": ms(self.connect), "tls": ms(self.tls), "first_byte": ms(self.first_byte), "total": ms(self.total) },
            "body_bytes": self.body_bytes,
            "counters": self.moved.iter().map(|m| json!({ "name": m.family, "what": m.what, "labels": labels(&m.labels), "delta": m.delta })).collect::<Vec<_>>(),
            "served_by": self.served_by().iter().map(|(t, g)| json!({ "target": t, "target_group": g })).collect::<Vec<_>>(),
            "counters_note": self.counters_note,
            "error": self.error,
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::from("\n--- live ---\n");
        if let Some(r) = &self.route {
            out.push_str(&format!(
                "{:<15}{}://{} ({})\n",
                "sent to",
                if r.https { "https" } else { "http" },
                r.addr,
                r.how
            ));
        }
        if let Some(s) = self.status {
            out.push_str(&format!("{:<15}{s}\n", "status"));
        }
        for (k, v) in &self.headers {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        if self.status.is_some() {
            out.push_str(&format!(
                "{:<15}connect {}, TLS {}, first byte {}, total {} ({} body bytes)\n",
                "timings",
                fmt_ms(self.connect),
                if self.tls.is_some() {
                    fmt_ms(self.tls)
                } else {
                    "-".into()
                },
                fmt_ms(self.first_byte),
                fmt_ms(self.total),
                self.body_bytes
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("{:<15}{e}\n", "error"));
        }
        match &self.counters_note {
            Some(n) => out.push_str(&format!("{:<15}{n}\n", "counters")),
            None => {
                out.push_str(&format!(
                    "{:<15}{}\n",
                    "counters",
                    if self.moved.is_empty() {
                        "none of the request's counters moved"
                    } else {
                        "moved during the request:"
                    }
                ));
                for m in &self.moved {
                    let l: Vec<String> =
                        m.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    out.push_str(&format!(
                        "  {:<20} {}{{{}}} {:+}\n",
                        m.what,
                        m.family,
                        l.join(","),
                        m.delta
                    ));
                }
            }
        }
        for (t, g) in self.served_by() {
            out.push_str(&format!(
                "{:<15}target {t} (target group {g})\n",
                "served by"
            ));
        }
        out
    }
}

// ---- where to send it ----

fn listen_addr(urls: &[String], https: bool) -> Option<SocketAddr> {
    let scheme = if https { "https://" } else { "http://" };
    urls.iter()
        .find_map(|u| u.strip_prefix(scheme))
        .and_then(|a| edgeway_config::parse_socket_addr(a.trim_end_matches('/')).ok())
}

/// The address to connect to: the receiving distribution's listener for the URL's scheme (its
/// IP from the config's DNS tier when the host is an alias of it there), or the load balancer's
/// listener.
pub async fn route(cfg: &Config, req: &Request) -> Result<Route, String> {
    let https = req.https();
    match receiver(cfg, req) {
        Some(Receiver::Distribution(i)) => {
            let d = &cfg.distributions[i];
            let listen = listen_addr(&d.listen, https)
                .ok_or_else(|| format!("distribution {} has no {} listener", d.id, req.scheme))?;
            if alias_of(cfg, &req.host) == Some(Receiver::Distribution(i)) {
                if let Some(dns) = cfg
                    .dns
                    .as_ref()
                    .and_then(|d| edgeway_config::parse_socket_addr(&d.listen).ok())
                {
                    let ip = resolve(dns, &req.host).await?;
                    return Ok(Route {
                        addr: SocketAddr::new(ip, listen.port()),
                        https,
                        how: format!(
                            "{} → {ip} from the DNS tier at {dns}; distribution {}'s listener port",
                            req.host, d.id
                        ),
                    });
                }
            }
            Ok(Route {
                addr: listen,
                https,
                how: format!("distribution {}'s {} listener", d.id, req.scheme),
            })
        }
        Some(Receiver::LoadBalancer(i)) => {
            let lb = &cfg.load_balancers[i];
            let want = if https { "HTTPS" } else { "HTTP" };
            let l = req
                .port
                .and_then(|p| lb.listeners.iter().find(|l| l.port == p))
                .or_else(|| lb.listeners.iter().find(|l| l.protocol == want))
                .ok_or_else(|| format!("load balancer {} has no {want} listener", lb.name))?;
            let ip: IpAddr = if lb.bind_address == "localhost" {
                IpAddr::from([127, 0, 0, 1])
            } else {
                lb.bind_address.parse().map_err(|_| {
                    format!(
                        "load balancer {}: bind address {} is not an IP",
                        lb.name, lb.bind_address
                    )
                })?
            };
            Ok(Route {
                addr: SocketAddr::new(ip, l.port),
                https: l.protocol == "HTTPS",
                how: format!("load balancer {}'s {} listener", lb.name, l.protocol),
            })
        }
        None => Err(format!("nothing in this config receives {}", req.host)),
    }
}

async fn resolve(dns: SocketAddr, host: &str) -> Result<IpAddr, String> {
    use hickory_proto::rr::{RData, RecordType};
    let msg = edgeway_dns::query(dns, host, RecordType::A, Duration::from_secs(3))
        .await
        .map_err(|e| format!("DNS tier {dns}: {host}: {e}"))?;
    msg.answers
        .iter()
        .find_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .ok_or_else(|| {
            format!(
                "DNS tier {dns}: no address for {host} ({})",
                msg.response_code
            )
        })
}

// ---- TLS trust ----

/// The client TLS config: the system's roots plus the certificates in `cacert`, else the local
/// CA in `state_dir` (`ca.pem`).
pub fn tls_config(
    cacert: Option<&Path>,
    state_dir: &Path,
) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let path = match cacert {
        Some(p) => p.to_path_buf(),
        None => state_dir.join(edgeway_http::ca::CA_CERT_FILE),
    };
    let certs: Vec<CertificateDer<'static>> = match std::fs::read(&path) {
        Ok(pem) => CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if cacert.is_some() => return Err(format!("{}: {e}", path.display())),
        // No local CA yet: only the system's roots.
        Err(_) => Vec::new(),
    };
    edgeway_http::tls::client_config(&certs).map_err(|e| format!("TLS: {e}"))
}

// ---- the request ----

trait Io: Read + Write {}
impl<T: Read + Write> Io for T {}

/// Sends `req` to `route` (HTTP/1.1, `Connection: close`) and fills in status, headers and timings.
pub fn send(
    req: &Request,
    route: &Route,
    tls: Arc<rustls::ClientConfig>,
    live: &mut Live,
) -> Result<(), String> {
    let start = Instant::now();
    let tcp = TcpStream::connect_timeout(&route.addr, TIMEOUT)
        .map_err(|e| format!("connect {}: {e}", route.addr))?;
    live.connect = Some(start.elapsed());
    tcp.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let mut io: Box<dyn Io> = if route.https {
        let name = rustls::pki_types::ServerName::try_from(
            req.host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|e| format!("SNI {}: {e}", req.host))?;
        let mut conn = rustls::ClientConnection::new(tls, name).map_err(|e| format!("TLS: {e}"))?;
        let mut tcp = tcp;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| format!("TLS handshake with {}: {e}", route.addr))?;
        }
        live.tls = Some(
            start
                .elapsed()
                .saturating_sub(live.connect.unwrap_or_default()),
        );
        Box::new(rustls::StreamOwned::new(conn, tcp))
    } else {
        Box::new(tcp)
    };
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\n",
        req.method,
        req.path_and_query(),
        req.authority()
    );
    let mut has_ua = false;
    for (n, v) in &req.headers {
        if n.eq_ignore_ascii_case("host")
            || n.eq_ignore_ascii_case("connection")
            || n.eq_ignore_ascii_case("content-length")
        {
            continue;
        }
        has_ua |= n.eq_ignore_ascii_case("user-agent");
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has_ua {
        head.push_str("User-Agent: edgeway-explain\r\n");
    }
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "DELETE") {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    io.write_all(head.as_bytes())
        .and_then(|()| io.flush())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match io.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if live.first_byte.is_none() {
                    live.first_byte = Some(start.elapsed());
                }
                raw.extend_from_slice(&buf[..n]);
            }
            // A peer that closes without close_notify ends the response all the same.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    live.total = Some(start.elapsed());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response has no complete head")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    live.body_bytes = raw.len() - end - 4;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    live.status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok());
    let fields: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    for name in SHOWN {
        let vals: Vec<&str> = fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if !vals.is_empty() {
            live.headers.push((name.to_string(), vals.join(", ")));
        }
    }
    Ok(())
}

// ---- counters ----

/// Parses Prometheus text: `name{labels} value` → value (series keyed by their text).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.trim().rsplit_once(' ')?;
            Some((series.trim().to_string(), value.parse().ok()?))
        })
        .collect()
}

fn split_series(series: &str) -> (&str, BTreeMap<String, String>) {
    let Some((name, rest)) = series.split_once('{') else {
        return (series, BTreeMap::new());
    };
    let mut labels = BTreeMap::new();
    let mut s = rest.trim_end_matches('}');
    while let Some((k, after)) = s.split_once("=\"") {
        let mut v = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        v.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => v.push(c),
            }
        }
        labels.insert(k.trim_start_matches(',').trim().to_string(), v);
        s = &after[end.min(after.len())..];
    }
    (name, labels)
}

/// The request's counters that differ between two scrapes.
pub fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Vec<Moved> {
    let mut out = Vec::new();
    for (series, v) in after {
        let delta = v - before.get(series).copied().unwrap_or(0.0);
        if delta == 0.0 {
            continue;
        }
        let (name, labels) = split_series(series);
        if let Some((family, what)) = FAMILIES.iter().find(|(f, _)| *f == name) {
            out.push(Moved {
                family,
                what,
                labels,
                delta,
            });
        }
    }
    let order = |m: &Moved| {
        FAMILIES
            .iter()
            .position(|(f, _)| *f == m.family)
            .unwrap_or(usize::MAX)
    };
    out.sort_by_key(order);
    out
}

/// `GET /metrics` from the admin listener.
async fn admin(addr: SocketAddr) -> Result<String, String> {
    match crate::admin_request(addr, "GET", "/metrics", "").await? {
        (200, body) => Ok(body),
        (status, _) => Err(format!("/metrics answered {status}")),
    }
}

/// Sends the request through the running stack described by `cfg`.
pub async fn run(cfg: &Config, req: &Request, tls: Arc<rustls::ClientConfig>) -> Live {
    let mut live = Live::default();
    let admin_addr = match cfg
        .admin
        .as_ref()
        .map(|a| edgeway_config::parse_socket_addr(&a.listen))
    {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            live.counters_note = Some(format!("admin listener: {e}"));
            None
        }
        None => {
            live.counters_note = Some("the config has no [admin] listener: no counters".into());
            None
        }
    };
    let before = match admin_addr {
        Some(a) => match admin(a).await {
            Ok(t) => Some(parse_metrics(&t)),
            Err(e) => {
                live.counters_note = Some(format!("admin listener {a}: {e}"));
                None
            }
        },
        None => None,
    };
    match route(cfg, req).await {
        Ok(r) => {
            live.route = Some(r.clone());
            let req2 = req.clone();
            let sent = tokio::task::spawn_blocking(move || {
                let mut l = Live::default();
                let res = send(&req2, &r, tls, &mut l);
                (l, res)
            })
            .await;
            match sent {
                Ok((l, res)) => {
                    live = Live {
                        route: live.route.take(),
                        counters_note: live.counters_note.take(),
                        ..l
                    };
                    if let Err(e) = res {
                        live.error = Some(e);
                    }
                }
                Err(e) => live.error = Some(e.to_string()),
            }
        }
        Err(e) => live.error = Some(e),
    }
    if let (Some(a), Some(before)) = (admin_addr, before) {
        match admin(a).await {
            Ok(t) => live.moved = moved(&before, &parse_metrics(&t)),
            Err(e) => live.counters_note = Some(format!("admin listener {a}: {e}")),
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_that_moved() {
        let before = parse_metrics("# HELP x\nedgeway_cdn_cache_total{distribution=\"web\",result=\"Miss\"} 1\nedgeway_alb_target_requests_total{target_group=\"frontend\",target=\"127.0.0.1:9101\"} 4\nother_total 1\n");
        let after = parse_metrics("edgeway_cdn_cache_total{distribution=\"web\",result=\"Miss\"} 2\nedgeway_alb_target_requests_total{target_group=\"frontend\",target=\"127.0.0.1:9101\"} 5\nedgeway_alb_target_requests_total{target_group=\"frontend\",target=\"127.0.0.1:9102\"} 0\nother_total 3\n");
        let m = moved(&before, &after);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].what, "cdn cache result");
        assert_eq!(m[0].labels.get("result").map(String::as_str), Some("Miss"));
        let live = Live {
            moved: m,
            ..Live::default()
        };
        assert_eq!(
            live.served_by(),
            vec![("127.0.0.1:9101".to_string(), "frontend".to_string())]
        );
    }

    #[test]
    fn label_values_with_escapes() {
        let (name, l) = split_series(r#"x{a="1,2",b="q\"x"}"#);
        assert_eq!(name, "x");
        assert_eq!(l.get("a").map(String::as_str), Some("1,2"));
        assert_eq!(l.get("b").map(String::as_str), Some("q\"x"));
    }
}
