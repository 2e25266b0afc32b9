//! Route 53 health checks (`[[health_check]]`): HTTP, HTTPS (no certificate check),
//! HTTP(S)_STR_MATCH and TCP, each run every `request_interval` seconds on tokio time; a check's
//! status flips after `failure_threshold` consecutive results that disagree with it. A new check
//! starts healthy. One checker (Route 53 has many and needs more than 18 % of them to agree).

use crate::routing::Health;
use edgeway_config::{Alias, Route53HealthCheck};
use edgeway_http::metrics::{Gauge, Metrics};
use serde::Serialize;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// HTTP(S): the connection (and TLS handshake) must be up within 4 s...
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// ...and the status line (and, for string matching, the body) must arrive within 2 s more.
const HTTP_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// TCP: the connection must be up within 10 s.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// String matching searches this much of the body.
pub(crate) const SEARCH_BYTES: usize = 5120;
/// The most response head read before giving up.
const MAX_HEAD: usize = 64 * 1024;

/// Whether an alias target is healthy for `evaluate_target_health` (the wiring asks the tier the
/// alias names).
pub type AliasHealth = Arc<dyn Fn(&Alias) -> bool + Send + Sync>;

/// The status of one check, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckStatus {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `ip:port` or `fqdn:port`.
    pub endpoint: String,
    /// `Healthy` or `Unhealthy` (a disabled check is `Healthy`).
    pub status: &'static str,
    pub disabled: bool,
    pub inverted: bool,
    /// The last observation, as Route 53's console words it: `Success: HTTP 200` or `Failure: ...`.
    pub last_result: Option<String>,
    /// Consecutive results that disagree with the status (it flips at `failure_threshold`).
    pub disagreeing: u32,
    pub failure_threshold: u32,
    pub request_interval: u64,
    pub checks: u64,
    pub transitions: u64,
}

/// The status machine of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) healthy: bool,
    /// Consecutive results that disagree with `healthy`.
    pub(crate) streak: u32,
}

impl Default for State {
    /// A new check starts healthy.
    fn default() -> Self {
        Self {
            healthy: true,
            streak: 0,
        }
    }
}

impl State {
    /// Takes one result; returns the new status when it flips.
    pub(crate) fn observe(&mut self, ok: bool, threshold: u32) -> Option<bool> {
        if ok == self.healthy {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak >= threshold.max(1) {
            self.healthy = ok;
            self.streak = 0;
            return Some(ok);
        }
        None
    }
}

struct Check {
    spec: Route53HealthCheck,
    state: Mutex<Tracked>,
    healthy: Gauge,
}

#[derive(Default)]
struct Tracked {
    state: State,
    checks: u64,
    transitions: u64,
    last: Option<String>,
}

struct Inner {
    checks: Vec<Arc<Check>>,
    metrics: Metrics,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// The health checks of a config, their current statuses, and the loops that run them. Cheap to
/// clone; implements [`Health`] for [`crate::Authority::with_health`].
#[derive(Clone)]
pub struct HealthChecks {
    inner: Arc<Inner>,
    alias: Option<AliasHealth>,
}

impl std::fmt::Debug for HealthChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.statuses()).finish()
    }
}

impl HealthChecks {
    /// Every check starts healthy; nothing runs until [`HealthChecks::run`].
    pub fn new(checks: &[Route53HealthCheck], metrics: Metrics) -> Self {
        let checks = checks
            .iter()
            .map(|spec| {
                let healthy = metrics.gauge(
                    "edgeway_dns_health_check_healthy",
                    "Whether a Route 53 health check is healthy (1) or not (0).",
                    &[("health_check", &spec.id)],
                );
                healthy.set(1);
                Arc::new(Check {
                    spec: spec.clone(),
                    state: Mutex::new(Tracked::default()),
                    healthy,
                })
            })
            .collect();
        let tls = match edgeway_http::tls::insecure_client_config() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!("no TLS client for HTTPS health checks: {e}");
                None
            }
        };
        Self {
            inner: Arc::new(Inner {
                checks,
                metrics,
                tls,
            }),
            alias: None,
        }
    }

    /// Answers `evaluate_target_health` with `f` (without it every alias target is healthy).
    pub fn with_alias_health(mut self, f: AliasHealth) -> Self {
        self.alias = Some(f);
        self
    }

    /// The status of every check, in config order.
    pub fn statuses(&self) -> Vec<CheckStatus> {
        self.inner
            .checks
            .iter()
            .map(|c| {
                let t = c.state.lock().unwrap_or_else(|e| e.into_inner());
                let s = &c.spec;
                CheckStatus {
                    id: s.id.clone(),
                    kind: s.kind.clone(),
                    endpoint: endpoint_label(s),
                    status: if s.disabled || t.state.healthy {
                        "Healthy"
                    } else {
                        "Unhealthy"
                    },
                    disabled: s.disabled,
                    inverted: s.invert_healthcheck,
                    last_result: t.last.clone(),
                    disagreeing: t.state.streak,
                    failure_threshold: s.failure_threshold,
                    request_interval: s.request_interval,
                    checks: t.checks,
                    transitions: t.transitions,
                }
            })
            .collect()
    }

    /// The status of the check `id`, if there is one.
    pub fn is_healthy(&self, id: &str) -> Option<bool> {
        let c = self.inner.checks.iter().find(|c| c.spec.id == id)?;
        Some(
            c.spec.disabled
                || c.state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .state
                    .healthy,
        )
    }

    /// Runs every enabled check every `request_interval` seconds (the first one at once) until
    /// `shutdown` resolves.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let tls = self.inner.tls.clone();
        self.run_with(move |spec| probe(spec, tls.clone()), shutdown)
            .await;
    }

    /// Runs every enabled check once, now, all at once, and records the results: what one tick of
    /// [`HealthChecks::run`] does.
    pub async fn check_all_once(&self) {
        let mut set = JoinSet::new();
        for c in self.inner.checks.iter().filter(|c| !c.spec.disabled) {
            let (me, c, tls) = (self.clone(), c.clone(), self.inner.tls.clone());
            set.spawn(async move {
                let r = probe(c.spec.clone(), tls).await;
                me.record(&c, r);
            });
        }
        while set.join_next().await.is_some() {}
    }

    /// [`HealthChecks::run`] with another probe (tests).
    pub(crate) async fn run_with<P, F>(&self, probe: P, shutdown: impl Future<Output = ()> + Send)
    where
        P: Fn(Route53HealthCheck) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<String, String>> + Send + 'static,
    {
        let mut loops = JoinSet::new();
        for c in self.inner.checks.iter().filter(|c| !c.spec.disabled) {
            let (me, c, probe) = (self.clone(), c.clone(), probe.clone());
            loops.spawn(async move {
                let mut tick =
                    tokio::time::interval(Duration::from_secs(c.spec.request_interval.max(1)));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let r = probe(c.spec.clone()).await;
                    me.record(&c, r);
                }
            });
        }
        shutdown.await;
        loops.abort_all();
    }

    fn record(&self, c: &Check, result: Result<String, String>) {
        let ok = result.is_ok() != c.spec.invert_healthcheck;
        let m = &self.inner.metrics;
        let id = c.spec.id.as_str();
        m.counter(
            "edgeway_dns_health_check_results_total",
            "Route 53 health check results, by check and result.",
            &[
                ("health_check", id),
                ("result", if result.is_ok() { "success" } else { "failure" }),
            ],
        )
        .inc();
        let mut t = c.state.lock().unwrap_or_else(|e| e.into_inner());
        t.checks += 1;
        t.last = Some(match &result {
            Ok(s) => format!("Success: {s}"),
            Err(e) => format!("Failure: {e}"),
        });
        if let Some(now) = t.state.observe(ok, c.spec.failure_threshold) {
            t.transitions += 1;
            c.healthy.set(i64::from(now));
            let to = if now { "healthy" } else { "unhealthy" };
            m.counter(
                "edgeway_dns_health_check_transitions_total",
                "Route 53 health check status changes, by check and new status.",
                &[("health_check", id), ("to", to)],
            )
            .inc();
            tracing::info!(health_check = id, last = ?t.last, "Route 53 health check is now {to}");
        }
    }
}

impl Health for HealthChecks {
    fn check_healthy(&self, id: &str) -> bool {
        self.is_healthy(id).unwrap_or(true)
    }
    fn alias_healthy(&self, alias: &Alias) -> bool {
        self.alias.as_ref().is_none_or(|f| f(alias))
    }
}

/// `ip:port` / `fqdn:port` of a check.
fn endpoint_label(s: &Route53HealthCheck) -> String {
    let host = s.ip_address.as_deref().or(s.fqdn.as_deref()).unwrap_or("");
    edgeway_config::join_host_port(host, port_of(s))
}

fn port_of(s: &Route53HealthCheck) -> u16 {
    s.port
        .unwrap_or(if s.kind.starts_with("HTTPS") { 443 } else { 80 })
}

/// One health check against its endpoint: `Ok(what was seen)` or `Err(why it failed)`.
pub(crate) async fn probe(
    spec: Route53HealthCheck,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<String, String> {
    let port = port_of(&spec);
    let kind = spec.kind.to_ascii_uppercase();
    let connect_timeout = if kind == "TCP" {
        TCP_CONNECT_TIMEOUT
    } else {
        HTTP_CONNECT_TIMEOUT
    };
    let connect = async {
        let addr = endpoint(&spec, port).await?;
        TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))
    };
    let stream = tokio::time::timeout(connect_timeout, connect)
        .await
        .map_err(|_| format!("no connection within {} s", connect_timeout.as_secs()))??;
    let _ = stream.set_nodelay(true);
    let search = spec
        .search_string
        .as_deref()
        .filter(|_| kind.ends_with("_STR_MATCH"));
    let path = spec.resource_path.as_deref().unwrap_or("/");
    let default_port = if kind.starts_with("HTTPS") { 443 } else { 80 };
    let host = spec
        .fqdn
        .as_deref()
        .or(spec.ip_address.as_deref())
        .unwrap_or("localhost")
        .trim_end_matches('.');
    let host = if port == default_port {
        bracket(host)
    } else {
        edgeway_config::join_host_port(host, port)
    };
    match kind.as_str() {
        "TCP" => Ok("TCP connection established".into()),
        "HTTP" | "HTTP_STR_MATCH" => {
            tokio::time::timeout(HTTP_RESPONSE_TIMEOUT, http_get(stream, &host, path, search))
                .await
                .map_err(|_| format!("no response within {} s", HTTP_RESPONSE_TIMEOUT.as_secs()))?
        }
        "HTTPS" | "HTTPS_STR_MATCH" => {
            let tls = tls.ok_or("no TLS client")?;
            let name = tls_name(&spec)?;
            let handshake = tokio_rustls::TlsConnector::from(tls).connect(name, stream);
            // The handshake counts against the connect time (Route 53: TCP and TLS within 4 s).
            let stream = tokio::time::timeout(HTTP_CONNECT_TIMEOUT, handshake)
                .await
                .map_err(|_| {
                    format!(
                        "no TLS handshake within {} s",
                        HTTP_CONNECT_TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| format!("TLS handshake: {e}"))?;
            tokio::time::timeout(HTTP_RESPONSE_TIMEOUT, http_get(stream, &host, path, search))
                .await
                .map_err(|_| format!("no response within {} s", HTTP_RESPONSE_TIMEOUT.as_secs()))?
        }
        other => Err(format!("unknown health check type {other}")),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The address to check: `ip_address`, else the first address of `fqdn` (system resolver).
async fn endpoint(spec: &Route53HealthCheck, port: u16) -> Result<SocketAddr, String> {
    if let Some(ip) = &spec.ip_address {
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IP address"))?;
        return Ok(SocketAddr::new(ip, port));
    }
    let fqdn = spec
        .fqdn
        .as_deref()
        .ok_or("no ip_address or fqdn")?
        .trim_end_matches('.');
    let mut addrs = tokio::net::lookup_host((fqdn, port))
        .await
        .map_err(|e| format!("resolve {fqdn}: {e}"))?;
    addrs.next().ok_or_else(|| format!("{fqdn} has no address"))
}

/// SNI: the fqdn when there is one; none for an IP address.
fn tls_name(spec: &Route53HealthCheck) -> Result<rustls::pki_types::ServerName<'static>, String> {
    if let Some(f) = &spec.fqdn {
        if let Ok(n) = rustls::pki_types::ServerName::try_from(f.trim_end_matches('.').to_string())
        {
            return Ok(n);
        }
    }
    let ip: IpAddr = spec
        .ip_address
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|_| "no address for TLS".to_string())?;
    Ok(rustls::pki_types::ServerName::IpAddress(ip.into()))
}

/// Sends `GET path` and reads the answer: a 2xx or 3xx status, and with `search` the string in
/// the first 5,120 bytes of the body.
async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    host: &str,
    path: &str,
    search: Option<&str>,
) -> Result<String, String> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Amazon-Route53-Health-Check-Service (ref edgeway)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(verdict) = judge(&buf, search, false) {
            return verdict;
        }
        let n = s.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return judge(&buf, search, true)
                .unwrap_or_else(|| Err("connection closed before a response".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The verdict on a response read so far (`eof`: nothing more comes), or `None` to read more.
pub(crate) fn judge(buf: &[u8], search: Option<&str>, eof: bool) -> Option<Result<String, String>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (buf.len() > MAX_HEAD).then(|| Err("response head too large".into()));
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let code: u16 = match status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
    {
        Some(c) if status_line.starts_with("HTTP/") => c,
        _ => {
            return Some(Err(format!(
                "not an HTTP response: {:?}",
                status_line.chars().take(40).collect::<String>()
            )))
        }
    };
    if !(200..400).contains(&code) {
        return Some(Err(format!("HTTP {code}")));
    }
    let Some(needle) = search else {
        return Some(Ok(format!("HTTP {code}")));
    };
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse().ok();
            }
        }
    }
    let raw = &buf[end + 4..];
    let (body, complete) = if chunked {
        dechunk(raw)
    } else {
        (raw.to_vec(), length.is_some_and(|l| raw.len() >= l))
    };
    if body.len() < SEARCH_BYTES && !complete && !eof {
        return None;
    }
    let prefix = &body[..body.len().min(SEARCH_BYTES)];
    if !needle.is_empty() && prefix.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        Some(Ok(format!("HTTP {code}, search string found")))
    } else {
        Some(Err(format!(
            "HTTP {code}, search string not in the first {SEARCH_BYTES} bytes of the body"
        )))
    }
}

/// Decodes as much of a chunked body as has arrived; `true` once the last chunk was read.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return (out, true);
        };
        if size == 0 {
            return (out, true);
        }
        let data = &raw[eol + 2..];
        if data.len() < size {
            out.extend_from_slice(data);
            return (out, false);
        }
        out.extend_from_slice(&data[..size]);
        raw = data.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
