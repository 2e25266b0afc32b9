//! One request's access-log entry while the request is in progress. The request path fills it in;
//! it is written when the response body has been sent (or dropped). If the request itself is
//! dropped first (the client went away), it is written with 460 (while waiting for the target)
//! or 000.

use crate::access_log::{openssl_cipher, AccessLog, Entry};
use crate::desync::Classification;
use edgeway_http::{Body, ConnInfo};
use http::{Request, Response, Version};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// The part of an entry still being filled in.
struct Open {
    log: AccessLog,
    entry: Entry,
    started: Instant,
    dispatched: Option<Instant>,
    head: Option<Instant>,
    /// Request body bytes received so far.
    received: Arc<AtomicU64>,
    header_bytes: u64,
}

/// A request's log entry (a no-op when the load balancer keeps no access log).
#[derive(Default)]
pub struct Record(Option<Box<Open>>);

/// Shared with the response body, which writes the entry when it ends.
struct Finishing(Mutex<Option<Box<Open>>>, AtomicU64);

impl Drop for Finishing {
    fn drop(&mut self) {
        let open = self.0.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut o) = open {
            o.entry.sent_bytes = self.1.load(Ordering::Relaxed);
            write(o);
        }
    }
}

fn write(mut o: Box<Open>) {
    o.entry.time = SystemTime::now();
    o.entry.received_bytes = o.header_bytes + o.received.load(Ordering::Relaxed);
    o.log.write(&o.entry);
}

/// The access log's `type` for a request.
pub fn kind(version: Version, tls: bool, websocket: bool) -> &'static str {
    match (websocket, version, tls) {
        (true, _, true) => "wss",
        (true, _, false) => "ws",
        (false, Version::HTTP_2, _) => "h2",
        (false, _, true) => "https",
        (false, _, false) => "http",
    }
}

fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

impl Record {
    /// Starts an entry for `req` on listener `port` of the load balancer `elb` (`app/name/id`).
    pub fn start<B>(
        log: Option<&AccessLog>,
        elb: &str,
        port: u16,
        conn: &ConnInfo,
        req: &Request<B>,
    ) -> Self {
        let Some(log) = log else { return Self(None) };
        let tls = conn.tls.as_ref();
        let host = req
            .uri()
            .host()
            .map(str::to_string)
            .or_else(|| {
                req.headers()
                    .get(http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(|h| crate::condition::strip_port(h).to_string())
            })
            .unwrap_or_else(|| conn.local.ip().to_string());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let request = format!(
            "{} {scheme}://{host}:{port}{path} {}",
            req.method(),
            version_str(req.version())
        );
        let header_bytes = req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>()
            + request.len()
            + 2;
        let now = SystemTime::now();
        let entry = Entry {
            kind: kind(req.version(), tls.is_some(), false),
            time: now,
            elb: elb.to_string(),
            client: conn.peer,
            target: None,
            request_processing: None,
            target_processing: None,
            response_processing: None,
            elb_status: 0,
            target_status: None,
            received_bytes: 0,
            sent_bytes: 0,
            request,
            user_agent: req
                .headers()
                .get(http::header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            ssl_cipher: tls.map(|t| openssl_cipher(&t.cipher)),
            ssl_protocol: tls.map(|t| t.version),
            target_group_arn: None,
            trace_id: None,
            domain_name: tls.and_then(|t| t.sni.clone()),
            chosen_cert_arn: None,
            matched_rule_priority: None,
            request_creation_time: now,
            actions: Vec::new(),
            redirect_url: None,
            error_reason: None,
            classification: None,
            classification_reason: None,
        };
        Self(Some(Box::new(Open {
            log: log.clone(),
            entry,
            started: Instant::now(),
            dispatched: None,
            head: None,
            received: Arc::new(AtomicU64::new(0)),
            header_bytes: header_bytes as u64,
        })))
    }

    fn with(&mut self, f: impl FnOnce(&mut Open)) {
        if let Some(o) = &mut self.0 {
            f(o);
        }
    }

    /// Counts request body bytes (shared with the request body).
    pub fn received_counter(&self) -> Option<Arc<AtomicU64>> {
        self.0.as_ref().map(|o| o.received.clone())
    }

    pub fn classification(&mut self, c: Classification) {
        self.with(|o| {
            if let Some(reason) = c.reason {
                o.entry.classification = Some(c.class.as_str());
                o.entry.classification_reason = Some(reason);
            }
        });
    }

    pub fn rule(&mut self, priority: u32) {
        self.with(|o| o.entry.matched_rule_priority = Some(i64::from(priority)));
    }

    pub fn action(&mut self, a: &'static str) {
        self.with(|o| o.entry.actions.push(a));
    }

    pub fn trace(&mut self, t: &str) {
        self.with(|o| o.entry.trace_id = Some(t.to_string()));
    }

    /// [`trace`](Self::trace) from the header value (read only when there is a log).
    pub fn trace_value(&mut self, t: Option<&http::HeaderValue>) {
        self.with(|o| {
            if let Some(t) = t.and_then(|v| v.to_str().ok()) {
                o.entry.trace_id = Some(t.to_string());
            }
        });
    }

    pub fn redirect(&mut self, url: Option<&str>) {
        self.with(|o| o.entry.redirect_url = url.map(str::to_string));
    }

    pub fn error_reason(&mut self, r: &str) {
        self.with(|o| o.entry.error_reason = Some(r.to_string()));
    }

    pub fn websocket(&mut self) {
        self.with(|o| {
            o.entry.kind = if o.entry.kind == "h2" || o.entry.kind == "https" {
                "wss"
            } else {
                "ws"
            }
        });
    }

    /// The request goes to `target` of `group` now.
    pub fn dispatch(&mut self, group_arn: &str, target: SocketAddr) {
        self.with(|o| {
            let now = Instant::now();
            o.entry.target_group_arn = Some(group_arn.to_string());
            o.entry.target = Some(target);
            o.entry.request_processing = Some(now - o.started);
            o.dispatched = Some(now);
        });
    }

    /// The target answered with `status`.
    pub fn target_head(&mut self, status: u16) {
        self.with(|o| {
            let now = Instant::now();
            o.entry.target_status = Some(status);
            o.entry.target_processing = o.dispatched.map(|d| now - d);
            o.head = Some(now);
        });
    }

    /// A new attempt on another target: the earlier one no longer counts.
    pub fn retry(&mut self) {
        self.with(|o| {
            o.dispatched = None;
            o.entry.request_processing = None;
        });
    }

    /// Attaches the entry to the response: it is written when the body ends.
    pub fn finish(mut self, resp: Response<Body>) -> Response<Body> {
        let Some(mut o) = self.0.take() else {
            return resp;
        };
        o.entry.elb_status = resp.status().as_u16();
        if o.entry.target_status.is_some() {
            o.entry.response_processing = o.head.map(|h| h.elapsed());
        }
        let head_bytes = resp
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>() as u64
            + 17;
        let finishing = Arc::new(Finishing(Mutex::new(Some(o)), AtomicU64::new(head_bytes)));
        let counter = finishing.clone();
        let (parts, body) = resp.into_parts();
        let body = crate::stream::Guarded::new(body)
            .on_data(move |n| {
                counter.1.fetch_add(n as u64, Ordering::Relaxed);
            })
            .hold(finishing)
            .boxed();
        Response::from_parts(parts, body)
    }

    /// Moves the entry out (a WebSocket tunnel writes it when it closes).
    pub fn detach(&mut self) -> Record {
        Record(self.0.take())
    }

    /// Writes the entry now with `status` and `sent` bytes (a WebSocket at close).
    pub fn close(mut self, status: u16, sent: u64) {
        if let Some(mut o) = self.0.take() {
            o.entry.elb_status = status;
            o.entry.sent_bytes = sent;
            write(o);
        }
    }
}

impl Drop for Record {
    /// The request was dropped before a response: the client went away.
    fn drop(&mut self) {
        if let Some(mut o) = self.0.take() {
            o.entry.elb_status = if o.dispatched.is_some() && o.head.is_none() {
                460
            } else {
                0
            };
            write(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let cases = [
            (Version::HTTP_11, false, false, "http"),
            (Version::HTTP_11, true, false, "https"),
            (Version::HTTP_2, true, false, "h2"),
            (Version::HTTP_2, false, false, "h2"),
            (Version::HTTP_11, false, true, "ws"),
            (Version::HTTP_11, true, true, "wss"),
        ];
        for (v, tls, ws, want) in cases {
            assert_eq!(kind(v, tls, ws), want);
        }
    }
}
