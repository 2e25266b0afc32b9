//! A load balancer's attributes and its pooled connections to targets.

use crate::access_log::{AccessLog, Sink};
use crate::cookie::Codec;
use crate::desync::Mode;
use crate::error::AlbError;
use crate::headers::XffMode;
use edgeway_http::metrics::{Counter, Metrics};
use edgeway_http::{ClientOptions, SystemResolve, UpstreamClient};
use std::sync::Arc;
use std::time::Duration;

/// ALB's TCP connect timeout to a target (then 504).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One `[[load_balancer]]` at run time.
pub struct LoadBalancer {
    pub name: String,
    pub idle_timeout: Duration,
    pub xff: XffMode,
    pub xff_client_port: bool,
    pub preserve_host: bool,
    pub desync: Mode,
    pub drop_invalid_header_fields: bool,
    /// `app/<name>/<16 hex>`, as the access log names the load balancer.
    pub elb_id: String,
    pub access_log: Option<AccessLog>,
    /// Seals the sticky-session cookies.
    pub codec: Codec,
    /// Keep-alive connections to targets (None only if TLS could not be set up).
    pub client: Option<UpstreamClient>,
    /// HTTP/2 connections to targets of `protocol_version` HTTP2 and GRPC groups.
    pub client_h2: Option<UpstreamClient>,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    metrics: Metrics,
}

impl LoadBalancer {
    pub fn from_config(
        lb: &edgeway_config::LoadBalancer,
        tls: Option<Arc<rustls::ClientConfig>>,
        metrics: &Metrics,
    ) -> Self {
        let idle_timeout = Duration::from_secs(lb.idle_timeout.max(1));
        let options = tls.map(|tls| ClientOptions {
            connect_timeout: CONNECT_TIMEOUT,
            // A bit under the idle timeout, so edgeway closes an idle connection before the
            // target's own keep-alive (expected to be longer) races it.
            pool_idle_timeout: idle_timeout.mul_f64(0.9),
            pool_max_idle_per_host: 64,
            tls,
            resolver: Arc::new(SystemResolve),
        });
        let client = options.clone().map(UpstreamClient::new);
        let client_h2 = options.map(UpstreamClient::http2);
        let bytes = |direction: &str| {
            metrics.counter(
                "edgeway_alb_bytes_total",
                "Body bytes through the load balancer.",
                &[("lb", &lb.name), ("direction", direction)],
            )
        };
        Self {
            name: lb.name.clone(),
            idle_timeout,
            xff: XffMode::from_config(&lb.xff_header_processing_mode),
            xff_client_port: lb.enable_xff_client_port,
            preserve_host: lb.preserve_host_header,
            desync: Mode::from_config(&lb.desync_mitigation_mode),
            drop_invalid_header_fields: lb.drop_invalid_header_fields,
            elb_id: format!("app/{}/{}", lb.name, resource_id(&lb.name)),
            access_log: Sink::from_config(lb)
                .and_then(|sink| AccessLog::start(sink, &lb.name, metrics)),
            codec: Codec::new(),
            client,
            client_h2,
            bytes_in: bytes("in"),
            bytes_out: bytes("out"),
            metrics: metrics.clone(),
        }
    }

    /// Bumps `edgeway_alb_upstream_errors_total{lb,kind}` for an upstream failure.
    pub fn count_error(&self, e: &AlbError) {
        if let Some(kind) = e.upstream_kind() {
            self.metrics
                .counter(
                    "edgeway_alb_upstream_errors_total",
                    "Requests the load balancer could not forward.",
                    &[("lb", &self.name), ("kind", kind)],
                )
                .inc();
        }
    }
}

/// A stable 16-hex-digit id for a name (FNV-1a), standing in for the id part of an ARN.
pub fn resource_id(name: &str) -> String {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// The ARN the access log shows for a target group.
pub fn target_group_arn(name: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/{name}/{}",
        resource_id(name)
    )
}
