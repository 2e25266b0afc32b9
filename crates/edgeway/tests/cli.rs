//! The `edgeway` command as a user runs it: check, demo --print-config, ca path, run with a bad
//! config, and SIGTERM ending a running node with exit code 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_testkit::TempDir;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn edgeway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edgeway"))
}

fn tmp(name: &str) -> TempDir {
    TempDir::new(&format!("cli-{name}"))
}

#[test]
fn check_accepts_the_example_and_reports_every_problem_with_positions() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/roboshop.toml");
    let out = edgeway().args(["check", "-c", example]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tmp("check");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[admin]\nlisten = \"127.0.0.1:9\"\nport = 3\n\n[[target_group]]\nname = \"tg\"\nprotocol = \"FTP\"\n",
    )
    .unwrap();
    let out = edgeway().args(["check", "-c"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let f = bad.display().to_string();
    assert!(
        err.contains(&format!("{f}:3:1: admin.port: unknown key")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:7:1: target_group[0].protocol: `FTP` is not one of HTTP, HTTPS"
        )),
        "{err}"
    );
}

#[test]
fn run_with_a_bad_config_starts_nothing_and_exits_2() {
    let dir = tmp("run-bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[distribution]]\nid = 1\n").unwrap();
    let out = edgeway().args(["run", "-c"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("bad.toml:2:6: distribution[0].id: invalid type"));
}

#[test]
fn print_config_prints_a_config_that_validates() {
    let out = edgeway().args(["demo", "--print-config"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    edgeway_config::parse("printed.toml", &text).expect("the printed config validates");
    assert!(text.contains("[[distribution]]") && text.contains("[[load_balancer]]"));
}

#[test]
fn ca_path_creates_the_ca_once() {
    let dir = tmp("ca");
    let first = edgeway()
        .arg("--state-dir")
        .arg(&*dir)
        .args(["ca", "path"])
        .output()
        .unwrap();
    assert!(first.status.success());
    let path = String::from_utf8(first.stdout).unwrap().trim().to_string();
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let again = edgeway()
        .arg("--state-dir")
        .arg(&*dir)
        .args(["ca", "path"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap().trim(), path);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem, "the same CA");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_a_running_node_with_exit_code_0() {
    let dir = tmp("term");
    let cfg = dir.join("node.toml");
    // Port 0: the kernel picks; the node prints where it listens.
    std::fs::write(&cfg, "[admin]\nlisten = \"127.0.0.1:0\"\n\n[[demo_target]]\nlisten = \"127.0.0.1:0\"\nid = \"t\"\n").unwrap();
    let mut child = edgeway()
        .arg("--state-dir")
        .arg(&*dir)
        .args(["run", "-c"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the listener map: the node is up.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("demo target t"), "{first}");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A keep-alive origin on its own threads: every request gets a cacheable `hello` and is counted.
fn counting_origin() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    edgeway_testkit::thread_origin(|_| {
        "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 5\r\n\r\nhello".into()
    })
}

/// Runs `edgeway --workers 1 run -c cfg` and reads the first `n` http:// URLs of its listener
/// map, each with the port the kernel chose.
fn one_worker_node(
    dir: &TempDir,
    cfg: &std::path::Path,
    n: usize,
) -> (std::process::Child, Vec<String>) {
    one_worker_node_with(dir, cfg, n, &[])
}

fn one_worker_node_with(
    dir: &TempDir,
    cfg: &std::path::Path,
    n: usize,
    env: &[(&str, &str)],
) -> (std::process::Child, Vec<String>) {
    let mut child = edgeway()
        .envs(env.iter().copied())
        .arg("--state-dir")
        .arg(&**dir)
        .args(["--workers", "1", "run", "-c"])
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut urls = Vec::new();
    while urls.len() < n {
        let line = lines.next().expect("the listener map").unwrap();
        if let Some(url) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
        {
            assert!(!url.ends_with(":0"), "{line}");
            urls.push(url.to_string());
        }
    }
    (child, urls)
}

/// The names of a process's threads, sorted.
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| {
            std::fs::read_to_string(t.unwrap().path().join("comm"))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// One request on its own connection; the whole response as text.
fn get_text(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.to_ascii_lowercase()
}

/// A distribution on 127.0.0.1:0 that caches from `origin` by its Cache-Control.
fn caching_edge_config(origin: std::net::SocketAddr) -> String {
    format!(
        "[resolver]\nnameservers = []\n\n[[distribution]]\nid = \"w\"\nlisten = [\"http://127.0.0.1:0\"]\n\n\
         [[distribution.origin]]\norigin_id = \"o\"\ndomain_name = \"127.0.0.1\"\n\
         custom_origin_config = {{ http_port = {}, origin_protocol_policy = \"http-only\" }}\n\n\
         [distribution.default_cache_behavior]\ntarget_origin_id = \"o\"\nviewer_protocol_policy = \"allow-all\"\n\
         cache_policy_id = \"UseOriginCacheControlHeaders\"\n",
        origin.port()
    )
}

#[cfg(unix)]
#[test]
fn with_io_uring_off_origin_requests_are_written_one_by_one_and_still_arrive() {
    let (origin, hits) = counting_origin();
    let dir = tmp("uring-off");
    let cfg = dir.join("node.toml");
    std::fs::write(&cfg, caching_edge_config(origin)).unwrap();
    let (mut child, urls) = one_worker_node_with(&dir, &cfg, 1, &[("EDGEWAY_IO_URING", "off")]);
    let a = get_text(&urls[0], "/a");
    let b = get_text(&urls[0], "/b");
    child.kill().unwrap();
    let _ = child.wait();
    for r in [&a, &b] {
        assert!(r.starts_with("http/1.1 200") && r.ends_with("hello"), "{r}");
        assert!(r.contains("x-cache: miss from cloudfront"), "{r}");
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[cfg(unix)]
#[test]
fn one_worker_runs_the_edge_on_a_single_thread_loop() {
    let (origin, hits) = counting_origin();
    let dir = tmp("workers");
    let cfg = dir.join("node.toml");
    std::fs::write(&cfg, caching_edge_config(origin)).unwrap();
    let (mut child, urls) = one_worker_node(&dir, &cfg, 1);
    let edge = &urls[0];
    // One thread serves: the process has no runtime worker threads (nor, before any blocking
    // work, blocking-pool ones; both are named tokio-rt-worker). `--workers 2` would show two.
    let threads = thread_names(child.id());
    assert!(threads.iter().all(|t| t == "edgeway"), "{threads:?}");

    let miss = get_text(edge, "/a");
    let hit = get_text(edge, "/a");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        miss.starts_with("http/1.1 200") && miss.ends_with("hello"),
        "{miss}"
    );
    assert!(miss.contains("x-cache: miss from cloudfront"), "{miss}");
    assert!(hit.contains("x-cache: hit from cloudfront"), "{hit}");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one origin fetch"
    );
}

#[test]
fn zero_workers_is_refused() {
    let out = edgeway()
        .args(["--workers", "0", "ca", "path"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers"));
}

#[cfg(unix)]
#[test]
fn one_worker_gives_the_balancer_its_own_thread() {
    let dir = tmp("tier-thread");
    let cfg = dir.join("node.toml");
    std::fs::write(
        &cfg,
        "[resolver]\nnameservers = []\n\n[[distribution]]\nid = \"w\"\nlisten = [\"http://127.0.0.1:0\"]\n\n\
         [[distribution.origin]]\norigin_id = \"o\"\ndomain_name = \"127.0.0.1\"\n\
         custom_origin_config = { http_port = 1099, origin_protocol_policy = \"http-only\" }\n\n\
         [distribution.default_cache_behavior]\ntarget_origin_id = \"o\"\nviewer_protocol_policy = \"allow-all\"\n\
         cache_policy_id = \"CachingDisabled\"\n\n\
         [[load_balancer]]\nname = \"lb\"\nbind_address = \"127.0.0.1\"\n\n\
         [[load_balancer.listener]]\nport = 0\nprotocol = \"HTTP\"\n\
         default_action = { type = \"fixed-response\", fixed_response = { status_code = \"200\", content_type = \"text/plain\", message_body = \"from-lb\" } }\n",
    )
    .unwrap();
    // The map prints the balancer first, then the edge.
    let (mut child, urls) = one_worker_node(&dir, &cfg, 2);
    let threads = thread_names(child.id());
    let answer = get_text(&urls[0], "/");
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(threads, ["edgeway", "edgeway-alb"]);
    assert!(
        answer.starts_with("http/1.1 200") && answer.ends_with("from-lb"),
        "{answer}"
    );
}
