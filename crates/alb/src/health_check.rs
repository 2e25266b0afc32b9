//! The health checker: a real `GET` to every target on its own connection (closed afterwards),
//! first at once, then every `interval`.

use crate::health::{Failure, Outcome};
use crate::target_group::{Target, TargetGroup};
use edgeway_http::{empty, ClientOptions, SystemResolve, UpstreamClient, UpstreamError};
use http::{HeaderValue, Request};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

/// Sends health checks; keeps no idle connection, so each check opens and closes its own.
#[derive(Clone)]
pub struct Checker {
    client: UpstreamClient,
}

impl Checker {
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        let client = UpstreamClient::new(ClientOptions {
            // The check's own timeout bounds the connect too.
            connect_timeout: Duration::from_secs(120),
            pool_idle_timeout: Duration::from_secs(1),
            pool_max_idle_per_host: 0,
            tls,
            resolver: Arc::new(SystemResolve),
        });
        Self { client }
    }

    /// One check of `addr` with the group's settings.
    pub async fn probe(&self, tg: &TargetGroup, addr: SocketAddr) -> Outcome {
        let s = &tg.health;
        let addr = SocketAddr::new(addr.ip(), s.port.unwrap_or(addr.port()));
        let scheme = if s.https { "https" } else { "http" };
        let req = Request::get(format!("{scheme}://{addr}{}", s.path))
            .header(http::header::HOST, addr.to_string())
            .header(
                http::header::USER_AGENT,
                HeaderValue::from_static("ELB-HealthChecker/2.0"),
            )
            .header(http::header::CONNECTION, HeaderValue::from_static("close"))
            .body(empty());
        let Ok(req) = req else {
            return Outcome::Fail(Failure::Failed);
        };
        match self.client.send(req, s.timeout).await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                if s.code_matches(code) {
                    Outcome::Pass
                } else {
                    Outcome::Fail(Failure::ResponseCodeMismatch(code))
                }
            }
            Err(UpstreamError::Timeout | UpstreamError::ConnectTimeout) => {
                Outcome::Fail(Failure::Timeout)
            }
            Err(e) => {
                tracing::debug!(target_group = %tg.name, %addr, error = %e, "health check failed");
                Outcome::Fail(Failure::Failed)
            }
        }
    }

    /// Checks every live target of `tg` once, concurrently, and records the outcomes.
    pub async fn check_group(&self, tg: &TargetGroup) {
        if !tg.health.enabled {
            return;
        }
        let targets = tg.live_targets();
        let checks = targets.iter().map(|t| async move {
            let o = self.probe(tg, t.addr).await;
            tg.record(t, o);
        });
        futures_util::future::join_all(checks).await;
    }

    /// Checks `t` now and then every interval, until it is deregistered.
    pub async fn run_target(&self, tg: Arc<TargetGroup>, t: Arc<Target>) {
        let mut every = tokio::time::interval(tg.health.interval);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if t.is_draining() {
                return;
            }
            let o = self.probe(&tg, t.addr).await;
            tg.record(&t, o);
        }
    }

    /// Runs a check loop for every target of `tg`, starting one for each target registered later.
    pub async fn supervise(&self, tg: Arc<TargetGroup>) {
        let mut loops = tokio::task::JoinSet::new();
        loop {
            let changed = tg.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            while loops.try_join_next().is_some() {}
            for t in tg.live_targets() {
                if !t.checked.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    let (checker, tg) = (self.clone(), tg.clone());
                    loops.spawn(async move { checker.run_target(tg, t).await });
                }
            }
            changed.await;
        }
    }
}
