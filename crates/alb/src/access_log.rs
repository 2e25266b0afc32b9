//! The access log: one line per request in ALB's format (§2.7), written by a background task fed
//! through a bounded channel, so the request path never waits on the disk (lines that do not fit
//! are dropped and counted).

use edgeway_http::metrics::{Counter, Metrics};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Lines waiting to be written at most; beyond, lines are dropped.
const QUEUE: usize = 8192;

/// One request as the log shows it. `None` prints `-` (or `-1` for the times).
#[derive(Debug, Clone)]
pub struct Entry {
    /// `http`, `https`, `h2`, `ws` or `wss`.
    pub kind: &'static str,
    /// When the response was sent (for WebSockets: when the connection closed).
    pub time: SystemTime,
    /// `app/<name>/<id>`.
    pub elb: String,
    pub client: SocketAddr,
    pub target: Option<SocketAddr>,
    pub request_processing: Option<Duration>,
    pub target_processing: Option<Duration>,
    pub response_processing: Option<Duration>,
    /// 0 prints `000` (the connection closed before any response).
    pub elb_status: u16,
    pub target_status: Option<u16>,
    pub received_bytes: u64,
    pub sent_bytes: u64,
    /// `METHOD scheme://host:port/uri HTTP/x.y`.
    pub request: String,
    pub user_agent: Option<String>,
    pub ssl_cipher: Option<String>,
    pub ssl_protocol: Option<&'static str>,
    pub target_group_arn: Option<String>,
    pub trace_id: Option<String>,
    pub domain_name: Option<String>,
    pub chosen_cert_arn: Option<String>,
    /// The rule's priority (0: default); `-1` a rule-evaluation error; None: no rule ran.
    pub matched_rule_priority: Option<i64>,
    pub request_creation_time: SystemTime,
    pub actions: Vec<&'static str>,
    pub redirect_url: Option<String>,
    pub error_reason: Option<String>,
    pub classification: Option<&'static str>,
    pub classification_reason: Option<&'static str>,
}

/// ISO-8601 with microseconds: `2018-07-02T22:23:00.186641Z`.
pub fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-1".to_string(), |d| format!("{:.3}", d.as_secs_f64()))
}

fn dash(s: Option<&str>) -> &str {
    match s {
        Some(s) if !s.is_empty() => s,
        _ => "-",
    }
}

/// A quoted field: `"` and `\` escaped, control characters as `\xNN`.
fn quoted(s: Option<&str>) -> String {
    let mut out = String::from("\"");
    for c in dash(s).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Entry {
    /// The log line (no newline).
    pub fn line(&self) -> String {
        let target = self.target.map(|t| t.to_string());
        let target_status = self.target_status.map(|s| s.to_string());
        let elb_status = if self.elb_status == 0 {
            "000".to_string()
        } else {
            self.elb_status.to_string()
        };
        let priority = self.matched_rule_priority.map(|p| p.to_string());
        let actions = self.actions.join(",");
        [
            self.kind.to_string(),
            iso8601(self.time),
            self.elb.clone(),
            self.client.to_string(),
            dash(target.as_deref()).to_string(),
            secs(self.request_processing),
            secs(self.target_processing),
            secs(self.response_processing),
            elb_status,
            dash(target_status.as_deref()).to_string(),
            self.received_bytes.to_string(),
            self.sent_bytes.to_string(),
            quoted(Some(&self.request)),
            quoted(self.user_agent.as_deref()),
            dash(self.ssl_cipher.as_deref()).to_string(),
            dash(self.ssl_protocol).to_string(),
            dash(self.target_group_arn.as_deref()).to_string(),
            quoted(self.trace_id.as_deref()),
            quoted(self.domain_name.as_deref()),
            quoted(self.chosen_cert_arn.as_deref()),
            dash(priority.as_deref()).to_string(),
            iso8601(self.request_creation_time),
            quoted(Some(actions.as_str())),
            quoted(self.redirect_url.as_deref()),
            quoted(self.error_reason.as_deref()),
            quoted(target.as_deref()),
            quoted(target_status.as_deref()),
            quoted(self.classification),
            quoted(self.classification_reason),
        ]
        .join(" ")
    }
}

/// OpenSSL's name for a rustls suite name (what ALB logs as `ssl_cipher`).
pub fn openssl_cipher(rustls_name: &str) -> String {
    if let Some(rest) = rustls_name.strip_prefix("TLS13_") {
        return format!("TLS_{rest}");
    }
    let Some(rest) = rustls_name.strip_prefix("TLS_ECDHE_") else {
        return rustls_name.to_string();
    };
    let Some((kx, cipher)) = rest.split_once("_WITH_") else {
        return rustls_name.to_string();
    };
    let cipher = match cipher {
        "AES_128_GCM_SHA256" => "AES128-GCM-SHA256",
        "AES_256_GCM_SHA384" => "AES256-GCM-SHA384",
        "CHACHA20_POLY1305_SHA256" => "CHACHA20-POLY1305",
        other => other,
    };
    format!("ECDHE-{kx}-{cipher}")
}

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    File(PathBuf),
}

impl Sink {
    /// The sink a load balancer's config names: `access_log`, else an enabled `access_logs {}`
    /// as `<bucket>/<prefix>/<name>.log`.
    pub fn from_config(lb: &edgeway_config::LoadBalancer) -> Option<Self> {
        match lb.access_log.as_deref() {
            Some("stdout") | Some("-") => return Some(Self::Stdout),
            Some(path) if !path.is_empty() => return Some(Self::File(PathBuf::from(path))),
            _ => {}
        }
        let a = lb.access_logs.as_ref().filter(|a| a.enabled)?;
        let mut p = PathBuf::from(&a.bucket);
        if !a.prefix.is_empty() {
            p.push(a.prefix.trim_matches('/'));
        }
        p.push(format!("{}.log", lb.name));
        Some(Self::File(p))
    }
}

/// A load balancer's access log (cheap to clone).
#[derive(Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<String>,
    dropped: Counter,
    lines: Counter,
}

impl AccessLog {
    /// Starts the writer task (None outside a Tokio runtime).
    pub fn start(sink: Sink, lb: &str, metrics: &Metrics) -> Option<Self> {
        let rt = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let lb_name = lb.to_string();
        rt.spawn(async move {
            if let Err(e) = write_lines(sink, rx).await {
                tracing::error!(lb = %lb_name, error = %e, "access log stopped");
            }
        });
        Some(Self {
            tx,
            dropped: metrics.counter(
                "edgeway_alb_access_log_dropped_total",
                "Access log lines dropped because the writer fell behind.",
                &[("lb", lb)],
            ),
            lines: metrics.counter(
                "edgeway_alb_access_log_lines_total",
                "Access log lines queued.",
                &[("lb", lb)],
            ),
        })
    }

    /// Queues a line; never waits.
    pub fn write(&self, e: &Entry) {
        match self.tx.try_send(e.line()) {
            Ok(()) => self.lines.inc(),
            Err(_) => self.dropped.inc(),
        }
    }
}

async fn write_lines(sink: Sink, mut rx: mpsc::Receiver<String>) -> std::io::Result<()> {
    let mut out: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = match &sink {
        Sink::Stdout => Box::new(tokio::io::stdout()),
        Sink::File(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir).await?;
            }
            Box::new(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .await?,
            )
        }
    };
    let mut buf = String::new();
    while let Some(line) = rx.recv().await {
        buf.clear();
        buf.push_str(&line);
        buf.push('\n');
        while buf.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(l) => {
                    buf.push_str(&l);
                    buf.push('\n');
                }
                Err(_) => break,
            }
        }
        out.write_all(buf.as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    fn entry() -> Entry {
        Entry {
            kind: "http",
            time: at(1_530_570_180, 186_641),
            elb: "app/my-loadbalancer/50dc6c495c0c9188".into(),
            client: "192.168.131.39:2817".parse().unwrap(),
            target: Some("10.0.0.1:80".parse().unwrap()),
            request_processing: Some(Duration::ZERO),
            target_processing: Some(Duration::from_millis(1)),
            response_processing: Some(Duration::ZERO),
            elb_status: 200,
            target_status: Some(200),
            received_bytes: 34,
            sent_bytes: 366,
            request: "GET http://www.example.com:80/ HTTP/1.1".into(),
            user_agent: Some("curl/7.46.0".into()),
            ssl_cipher: None,
            ssl_protocol: None,
            target_group_arn: Some("arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067".into()),
            trace_id: Some("Root=1-58337262-36d228ad5d99923122bbe354".into()),
            domain_name: None,
            chosen_cert_arn: None,
            matched_rule_priority: Some(0),
            request_creation_time: at(1_530_570_168, 364_000),
            actions: vec!["forward"],
            redirect_url: None,
            error_reason: None,
            classification: None,
            classification_reason: None,
        }
    }

    #[test]
    fn formats_albs_example() {
        assert_eq!(
            entry().line(),
            "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\""
        );
    }

    #[test]
    fn unknowns_and_errors() {
        let e = Entry {
            target: None,
            request_processing: None,
            target_processing: None,
            response_processing: None,
            elb_status: 0,
            target_status: None,
            user_agent: Some("a \"quoted\" agent".into()),
            matched_rule_priority: None,
            actions: vec![],
            error_reason: Some("AWSALBTGCookieInvalid".into()),
            classification: Some("Severe"),
            classification_reason: Some("MultipleContentLength"),
            ..entry()
        };
        let line = e.line();
        assert!(line.contains(" - -1 -1 -1 000 - 34 366 "), "{line}");
        assert!(line.contains("\"a \\\"quoted\\\" agent\""), "{line}");
        assert!(line.contains(" - 2018-07-02T22:22:48.364000Z \"-\" \"-\" \"AWSALBTGCookieInvalid\" \"-\" \"-\" \"Severe\" \"MultipleContentLength\""), "{line}");
    }

    #[test]
    fn dates() {
        let cases = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, "2000-02-29T00:00:00.000000Z"),
            (4_102_444_799, "2099-12-31T23:59:59.000000Z"),
        ];
        for (s, want) in cases {
            assert_eq!(iso8601(at(s, 0)), want);
        }
    }

    #[test]
    fn cipher_names() {
        let cases = [
            ("TLS13_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
            (
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "ECDHE-RSA-AES128-GCM-SHA256",
            ),
            (
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "ECDHE-ECDSA-CHACHA20-POLY1305",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(openssl_cipher(r), want);
        }
    }

    #[tokio::test]
    async fn writes_to_a_file_in_the_background() {
        let dir = std::env::temp_dir().join(format!("edgeway-alb-log-{}", rand::random::<u64>()));
        let path = dir.join("sub/lb.log");
        let m = Metrics::new();
        let log = AccessLog::start(Sink::File(path.clone()), "web", &m).unwrap();
        for _ in 0..3 {
            log.write(&entry());
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
            if text.lines().count() == 3 {
                assert!(text.lines().all(|l| l == entry().line()));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "log not written: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            m.value("edgeway_alb_access_log_lines_total", &[("lb", "web")]),
            3
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sinks() {
        let cfg = edgeway_config::parse(
            "t.toml",
            r#"
[[load_balancer]]
name = "web"
access_logs = { enabled = true, bucket = "logs", prefix = "alb/" }
[[load_balancer.listener]]
port = 80
default_action = { type = "fixed-response", fixed_response = { content_type = "text/plain", status_code = "200" } }
[[load_balancer]]
name = "b"
access_log = "stdout"
[[load_balancer.listener]]
port = 81
default_action = { type = "fixed-response", fixed_response = { content_type = "text/plain", status_code = "200" } }
"#,
        )
        .unwrap();
        assert_eq!(
            Sink::from_config(&cfg.load_balancers[0]),
            Some(Sink::File(PathBuf::from("logs/alb/web.log")))
        );
        assert_eq!(
            Sink::from_config(&cfg.load_balancers[1]),
            Some(Sink::Stdout)
        );
    }
}
