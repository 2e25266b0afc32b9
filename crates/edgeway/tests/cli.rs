//! The `edgeway` command as a user runs it: check, demo --print-config, ca path, run with a bad
//! config, and SIGTERM ending a running node with exit code 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_testkit::TempDir;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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
