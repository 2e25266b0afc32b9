use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::net::TcpListener;

pub(crate) fn spec(id: &str, kind: &str, port: u16) -> Route53HealthCheck {
    Route53HealthCheck {
        id: id.into(),
        kind: kind.into(),
        ip_address: Some("127.0.0.1".into()),
        fqdn: None,
        port: Some(port),
        resource_path: (kind != "TCP").then(|| "/health".into()),
        search_string: kind.ends_with("_STR_MATCH").then(|| "all good".into()),
        request_interval: 10,
        failure_threshold: 3,
        invert_healthcheck: false,
        disabled: false,
    }
}

#[test]
fn status_flips_after_threshold_consecutive_results() {
    // (threshold, results, statuses after each)
    let cases: &[(u32, &[bool], &[bool])] = &[
        (
            3,
            &[false, false, false, false],
            &[true, true, false, false],
        ),
        (
            3,
            &[false, false, true, false, false],
            &[true, true, true, true, true],
        ),
        (1, &[false, true, false], &[false, true, false]),
        (
            2,
            &[false, false, true, false, true, true],
            &[true, false, false, false, false, true],
        ),
        (0, &[false], &[false]),
    ];
    for (threshold, results, want) in cases {
        let mut s = State::default();
        assert!(s.healthy, "a new check starts healthy");
        let got: Vec<bool> = results
            .iter()
            .map(|ok| {
                s.observe(*ok, *threshold);
                s.healthy
            })
            .collect();
        assert_eq!(got, *want, "threshold {threshold} results {results:?}");
    }
}

#[test]
fn judging_responses() {
    let page = |status: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let far = format!("{}all good", "x".repeat(SEARCH_BYTES));
    let near = format!("{}all good", "x".repeat(SEARCH_BYTES - 8));
    let chunked =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nall \r\n4\r\ngood\r\n0\r\n\r\n"
            .to_vec();
    let ok = |s: &str| Some(Ok(s.to_string()));
    type Case<'a> = (
        Vec<u8>,
        Option<&'a str>,
        bool,
        Option<Result<String, String>>,
    );
    let cases: Vec<Case> = vec![
        (page("200 OK", ""), None, false, ok("HTTP 200")),
        (page("301 Moved", ""), None, false, ok("HTTP 301")),
        (
            page("404 Not Found", ""),
            None,
            false,
            Some(Err("HTTP 404".into())),
        ),
        (
            page("503 Unavailable", "all good"),
            Some("all good"),
            false,
            Some(Err("HTTP 503".into())),
        ),
        (
            page("200 OK", "it is all good"),
            Some("all good"),
            false,
            ok("HTTP 200, search string found"),
        ),
        (
            page("200 OK", &near),
            Some("all good"),
            false,
            ok("HTTP 200, search string found"),
        ),
        (
            page("200 OK", &far),
            Some("all good"),
            false,
            Some(Err(format!(
                "HTTP 200, search string not in the first {SEARCH_BYTES} bytes of the body"
            ))),
        ),
        (
            chunked,
            Some("all good"),
            false,
            ok("HTTP 200, search string found"),
        ),
        // Body still coming: read more.
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nall".to_vec(),
            Some("all good"),
            false,
            None,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nall".to_vec(),
            Some("all good"),
            true,
            Some(Err(format!(
                "HTTP 200, search string not in the first {SEARCH_BYTES} bytes of the body"
            ))),
        ),
        (b"HTTP/1.1 200 OK\r\n".to_vec(), None, false, None),
        (
            b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(),
            None,
            false,
            Some(Err("not an HTTP response: \"SSH-2.0-OpenSSH\"".into())),
        ),
    ];
    for (i, (buf, search, eof, want)) in cases.into_iter().enumerate() {
        assert_eq!(judge(&buf, search, eof), want, "case {i}");
    }
}

/// One run of the loop on a paused clock: every tick probes, statuses follow the threshold, and
/// the counters see every result and transition.
#[tokio::test(start_paused = true)]
async fn loop_runs_every_interval_on_tokio_time() {
    let metrics = Metrics::new();
    let mut fast = spec("fast", "HTTP", 1);
    fast.request_interval = 10;
    let mut slow = spec("slow", "TCP", 1);
    slow.request_interval = 30;
    slow.failure_threshold = 1;
    let mut off = spec("off", "HTTP", 1);
    off.disabled = true;
    let mut inverted = spec("inv", "HTTP", 1);
    inverted.invert_healthcheck = true;
    inverted.failure_threshold = 1;
    let checks = HealthChecks::new(&[fast, slow, off, inverted], metrics.clone());
    let up = Arc::new(AtomicBool::new(true));
    let probes = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let (checks, up, probes) = (checks.clone(), up.clone(), probes.clone());
        tokio::spawn(async move {
            let probe = move |_: Route53HealthCheck| {
                let ok = up.load(Ordering::SeqCst);
                probes.fetch_add(1, Ordering::SeqCst);
                async move {
                    if ok {
                        Ok("HTTP 200".to_string())
                    } else {
                        Err("HTTP 503".to_string())
                    }
                }
            };
            checks
                .run_with(probe, async move {
                    let _ = stopped.await;
                })
                .await;
        })
    };
    let settle = || async {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    };
    let state = |id: &str| checks.is_healthy(id);
    settle().await;
    // The first round runs at once (not for the disabled check); the inverted one goes unhealthy.
    assert_eq!(probes.load(Ordering::SeqCst), 3);
    assert_eq!(
        (state("fast"), state("slow"), state("off"), state("inv")),
        (Some(true), Some(true), Some(true), Some(false))
    );
    up.store(false, Ordering::SeqCst);
    // t=10, 20: two failures of fast (threshold 3) and none yet of slow (every 30 s).
    for _ in 0..2 {
        tokio::time::advance(Duration::from_secs(10)).await;
        settle().await;
    }
    assert_eq!(
        (state("fast"), state("slow"), state("inv")),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(checks.statuses()[0].disagreeing, 2);
    // t=30: third failure of fast, first of slow (threshold 1).
    tokio::time::advance(Duration::from_secs(10)).await;
    settle().await;
    assert_eq!((state("fast"), state("slow")), (Some(false), Some(false)));
    assert_eq!(probes.load(Ordering::SeqCst), 3 + 2 * 2 + 3);
    up.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(10)).await;
        settle().await;
    }
    assert_eq!(
        (state("fast"), state("slow"), state("off"), state("inv")),
        (Some(true), Some(true), Some(true), Some(false))
    );
    let s = checks.statuses();
    assert_eq!(s[0].status, "Healthy");
    assert_eq!(s[0].transitions, 2);
    assert_eq!(s[0].last_result.as_deref(), Some("Success: HTTP 200"));
    assert_eq!(s[2].checks, 0, "disabled checks do not run");
    assert_eq!(s[2].endpoint, "127.0.0.1:1");
    let t = "edgeway_dns_health_check_transitions_total";
    assert_eq!(
        metrics.value(t, &[("health_check", "fast"), ("to", "unhealthy")]),
        1
    );
    assert_eq!(
        metrics.value(t, &[("health_check", "fast"), ("to", "healthy")]),
        1
    );
    assert_eq!(
        metrics.value(t, &[("health_check", "inv"), ("to", "unhealthy")]),
        2
    );
    assert_eq!(
        metrics.value(
            "edgeway_dns_health_check_healthy",
            &[("health_check", "fast")]
        ),
        1
    );
    assert_eq!(
        metrics.value(
            "edgeway_dns_health_check_results_total",
            &[("health_check", "fast"), ("result", "failure")]
        ),
        3
    );
    assert_eq!(checks.is_healthy("nope"), None);
    assert!(
        Health::check_healthy(&checks, "nope"),
        "an unknown check is healthy"
    );
    let _ = stop.send(());
    runner.await.unwrap_or_default();
}

/// A tiny HTTP server: `/health` answers `status` with `body`; counts requests.
struct Tiny {
    port: u16,
    status: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

async fn tiny(tls: Option<Arc<rustls::ServerConfig>>) -> Tiny {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let status = Arc::new(Mutex::new((200u16, "all good".to_string())));
    let hits = Arc::new(AtomicUsize::new(0));
    let (st, h) = (status.clone(), hits.clone());
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (st, h, tls) = (st.clone(), h.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(cfg) => {
                        if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(s).await {
                            answer(s, &st, &h).await;
                        }
                    }
                    None => answer(s, &st, &h).await,
                }
            });
        }
    });
    Tiny { port, status, hits }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    st: &Mutex<(u16, String)>,
    hits: &AtomicUsize,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let (code, body) = st.lock().map(|g| g.clone()).unwrap_or((500, String::new()));
    let head = String::from_utf8_lossy(&buf);
    let ok_request =
        head.starts_with("GET /health HTTP/1.1\r\n") && head.contains("\r\nHost: 127.0.0.1:");
    let (code, body) = if ok_request {
        (code, body)
    } else {
        (400, format!("bad request: {head}"))
    };
    let resp = format!(
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

fn set(t: &Tiny, code: u16, body: &str) {
    if let Ok(mut g) = t.status.lock() {
        *g = (code, body.to_string());
    }
}

fn tls_server() -> Arc<rustls::ServerConfig> {
    let ca = edgeway_http::ca::LocalCa::ephemeral().unwrap_or_else(|e| panic!("{e}"));
    let key = ca
        .issue(&["somewhere.invalid".to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut r = edgeway_http::tls::SniResolver::new();
    r.set_default(key);
    edgeway_http::tls::server_config(r, false, None).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn real_probes() {
    let plain = tiny(None).await;
    let secure = tiny(Some(tls_server())).await;
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().map(|a| a.port()).unwrap_or(1)
    };
    let tls = edgeway_http::tls::insecure_client_config().ok();
    let run = |s: Route53HealthCheck| probe(s, tls.clone());
    assert_eq!(
        run(spec("h", "HTTP", plain.port)).await,
        Ok("HTTP 200".into())
    );
    assert_eq!(
        run(spec("s", "HTTP_STR_MATCH", plain.port)).await,
        Ok("HTTP 200, search string found".into())
    );
    // HTTPS does not check the certificate (issued for another name by an unknown CA).
    assert_eq!(
        run(spec("t", "HTTPS", secure.port)).await,
        Ok("HTTP 200".into())
    );
    assert_eq!(
        run(spec("ts", "HTTPS_STR_MATCH", secure.port)).await,
        Ok("HTTP 200, search string found".into())
    );
    assert_eq!(
        run(spec("tcp", "TCP", plain.port)).await,
        Ok("TCP connection established".into())
    );
    set(&plain, 200, "nothing to see");
    assert!(run(spec("s", "HTTP_STR_MATCH", plain.port)).await.is_err());
    set(&plain, 503, "all good");
    assert_eq!(
        run(spec("h", "HTTP", plain.port)).await,
        Err("HTTP 503".into())
    );
    // Plain HTTP to a TLS server, anything to a closed port.
    assert!(run(spec("h", "HTTP", secure.port)).await.is_err());
    assert!(run(spec("c", "TCP", closed))
        .await
        .is_err_and(|e| e.starts_with("connect to 127.0.0.1:")));
    assert!(run(spec("c", "HTTP", closed)).await.is_err());
    assert!(plain.hits.load(Ordering::SeqCst) >= 4 && secure.hits.load(Ordering::SeqCst) == 2);

    // check_all_once records a round.
    let checks = HealthChecks::new(
        &[spec("h", "HTTP", plain.port), spec("c", "TCP", closed)],
        Metrics::new(),
    );
    for _ in 0..3 {
        checks.check_all_once().await;
    }
    assert_eq!(checks.is_healthy("h"), Some(false));
    assert_eq!(checks.is_healthy("c"), Some(false));
    set(&plain, 200, "ok");
    for _ in 0..3 {
        checks.check_all_once().await;
    }
    assert_eq!(checks.is_healthy("h"), Some(true));
}

#[tokio::test]
async fn a_silent_endpoint_times_out() {
    // Accepts, never answers: the probe gives up after the response timeout (2 s, real time).
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(1);
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let started = std::time::Instant::now();
    let r = probe(spec("h", "HTTP", port), None).await;
    assert_eq!(r, Err("no response within 2 s".into()));
    assert!(started.elapsed() < Duration::from_secs(4));
    keep.abort();
}

/// Answers follow the checks on a paused clock: a failover flips after `failure_threshold`
/// failed checks `request_interval` apart, and back.
#[tokio::test(start_paused = true)]
async fn answers_follow_checks_on_tokio_time() {
    use crate::authority::tests::request;
    use crate::Authority;
    use edgeway_config::{FailoverRoutingPolicy, Record, Zone};
    use hickory_proto::rr::RecordType;
    let f = |kind: &str, value: &str| Record {
        name: "app.example.com".into(),
        kind: "A".into(),
        records: vec![value.into()],
        set_identifier: Some(kind.into()),
        failover_routing_policy: Some(FailoverRoutingPolicy { kind: kind.into() }),
        health_check_id: (kind == "PRIMARY").then(|| "p".into()),
        ..Record::default()
    };
    let zones = vec![Zone {
        name: "example.com".into(),
        records: vec![f("PRIMARY", "192.0.2.1"), f("SECONDARY", "192.0.2.2")],
    }];
    let checks = HealthChecks::new(&[spec("p", "HTTP", 1)], Metrics::new());
    let auth = Authority::new(
        &zones,
        &std::collections::HashMap::<String, Vec<IpAddr>>::new(),
    )
    .with_health(Arc::new(checks.clone()));
    let answer = || {
        auth.answer(&request("app.example.com", RecordType::A))
            .answers
            .iter()
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>()
    };
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    let runner = {
        let checks = checks.clone();
        tokio::spawn(async move {
            let probe = move |_: Route53HealthCheck| {
                let ok = flag.load(Ordering::SeqCst);
                async move {
                    if ok {
                        Ok("HTTP 200".to_string())
                    } else {
                        Err("HTTP 503".to_string())
                    }
                }
            };
            checks.run_with(probe, std::future::pending()).await;
        })
    };
    let settle = || async {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    };
    // (seconds since start, primary up, answer after the tick at that time)
    let steps: &[(u64, bool, &str)] = &[
        (0, false, "192.0.2.1"),
        (10, false, "192.0.2.1"),
        (20, false, "192.0.2.2"),
        (30, true, "192.0.2.2"),
        (40, true, "192.0.2.2"),
        (50, true, "192.0.2.1"),
    ];
    let start = tokio::time::Instant::now();
    for (at, primary_up, want) in steps {
        up.store(*primary_up, Ordering::SeqCst);
        tokio::time::advance(
            (start + Duration::from_secs(*at))
                .saturating_duration_since(tokio::time::Instant::now()),
        )
        .await;
        settle().await;
        assert_eq!(answer(), vec![want.to_string()], "at t={at}s");
    }
    runner.abort();
}
