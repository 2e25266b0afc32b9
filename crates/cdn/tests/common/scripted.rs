//! An origin whose answers the test sets per path, counting requests per path and keeping the
//! headers of the last request.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use edgeway_http::{full, Body, ConnInfo, Handler, ServeOptions};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Waits this long before answering.
    pub delay: Duration,
    /// Answers 304 when If-None-Match carries the ETag.
    pub conditional: bool,
}

impl Answer {
    pub fn ok(body: &str, headers: &[(&str, &str)]) -> Self {
        Self::status(200, body, headers)
    }
    pub fn status(status: u16, body: &str, headers: &[(&str, &str)]) -> Self {
        Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(body.to_string()),
            delay: Duration::ZERO,
            conditional: true,
        }
    }
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Default)]
struct State {
    answers: HashMap<String, Answer>,
    hits: HashMap<String, usize>,
    last: HashMap<String, HeaderMap>,
    methods: HashMap<String, Vec<String>>,
}

/// The origin: `set` answers, read `hits` and `last_headers`.
#[derive(Clone)]
pub struct Scripted {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

struct H(Arc<Mutex<State>>);

impl Handler for H {
    fn handle(
        &self,
        req: Request<edgeway_http::RequestBody>,
        _c: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, Response<Body>> {
        let path = req.uri().path().to_string();
        let (answer, headers) = {
            let mut s = self.0.lock().unwrap();
            *s.hits.entry(path.clone()).or_default() += 1;
            s.last.insert(path.clone(), req.headers().clone());
            s.methods
                .entry(path.clone())
                .or_default()
                .push(req.method().to_string());
            (s.answers.get(&path).cloned(), req.headers().clone())
        };
        let head = req.method() == http::Method::HEAD;
        Box::pin(async move {
            let a = answer.unwrap_or_else(|| Answer::status(404, "no script", &[]));
            if !a.delay.is_zero() {
                tokio::time::sleep(a.delay).await;
            }
            let etag = a
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
                .map(|(_, v)| v.clone());
            let inm = headers
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let not_modified = a.conditional && etag.is_some() && inm.is_some() && etag == inm;
            let mut r = Response::new(if head || not_modified {
                edgeway_http::empty()
            } else {
                full(a.body.clone())
            });
            *r.status_mut() = if not_modified {
                StatusCode::NOT_MODIFIED
            } else {
                StatusCode::from_u16(a.status).unwrap()
            };
            for (k, v) in &a.headers {
                r.headers_mut().append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            if head {
                r.headers_mut()
                    .insert("content-length", a.body.len().into());
            }
            r
        })
    }
}

impl Scripted {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let mut opts = ServeOptions::new("origin", &Default::default());
        opts.h2 = false;
        let h: Arc<dyn Handler> = Arc::new(H(state.clone()));
        tokio::spawn(edgeway_http::serve(
            listener,
            h,
            opts,
            std::future::pending(),
        ));
        Scripted { addr, state }
    }
    pub fn set(&self, path: &str, a: Answer) {
        self.state
            .lock()
            .unwrap()
            .answers
            .insert(path.to_string(), a);
    }
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
    pub fn last(&self, path: &str) -> HeaderMap {
        self.state
            .lock()
            .unwrap()
            .last
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
    pub fn methods(&self, path: &str) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .methods
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}
