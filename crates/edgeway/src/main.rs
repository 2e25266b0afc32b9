//! The `edgeway` command.
#![forbid(unsafe_code)]

mod live;

use clap::{Parser, Subcommand};
use edgeway::{bind, default_state_dir, demo, Stack};
use edgeway_http::ca::LocalCa;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// CloudFront + ALB + Route 53's data plane in one binary: a real DNS tier, a caching edge and an
/// application load balancer in front of your targets, configured with Terraform's names.
#[derive(Parser)]
#[command(
    name = "edgeway",
    version,
    about,
    long_about = None,
    after_help = "Environment:\n  EDGEWAY_STATE_DIR     the state directory (default ~/.local/share/edgeway)\n  EDGEWAY_LOG           log filter, e.g. `info` or `edgeway_cdn=debug` (default warn)\n  EDGEWAY_HTTP1_SERVER  `hyper` serves every HTTP/1.x viewer connection with hyper instead of\n                        edgeway's own loop (for comparing the two)\n  EDGEWAY_IO_URING      `off` writes each upstream request head with its own system call\n                        instead of a turn's heads in one io_uring submission"
)]
struct Cli {
    /// Where edgeway keeps its state (the local certificate authority).
    /// Default: $EDGEWAY_STATE_DIR, else ~/.local/share/edgeway.
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// Worker threads that serve traffic. Default: the cores this process may run on. With one,
    /// every listener runs on a single-threaded event loop (as an nginx or HAProxy worker does),
    /// except a load balancer beside other tiers, which gets a loop of its own (edgeway-alb).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in demo: DNS on :8053, the edge on :8080/:8443, the load balancer on
    /// :9080/:9443, three storefront targets and the admin listener on :9900.
    Demo {
        /// Print the demo's config as TOML (to copy and edit) instead of running it.
        #[arg(long)]
        print_config: bool,
    },
    /// Run the tiers a config file names.
    Run {
        /// The config file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Validate a config file: every problem as FILE:LINE:COL: key.path: what is wrong (exit 2).
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// The local certificate authority.
    Ca {
        #[command(subcommand)]
        what: CaCommand,
    },
    /// Ask a DNS server (edgeway's own by default) and print the answer like `dig +short`.
    Dns {
        #[command(subcommand)]
        what: DnsCommand,
    },
    /// Register, deregister or describe the targets of a running node's target group (through its
    /// admin listener's registration API).
    Targets {
        #[command(subcommand)]
        what: TargetsCommand,
    },
    /// Invalidate cached objects of a distribution (CreateInvalidation), through the admin
    /// listener: exact paths or paths ending in `*`.
    Invalidate {
        /// The distribution's id.
        #[arg(long)]
        distribution: String,
        /// The admin listener.
        #[arg(long, default_value = "127.0.0.1:9900")]
        admin: SocketAddr,
        /// Paths such as /images/* or /index.html.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Translate infrastructure code into an edgeway config.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Print, without sending traffic, the decisions a request would meet: DNS, distribution,
    /// cache behavior, cache key and TTLs, origin, listener, rules, action, target group.
    Explain {
        /// The config file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// The request URL, e.g. https://dev.roboshop.localhost:8443/images/a.png.
        url: String,
        #[arg(long, default_value = "GET")]
        method: String,
        /// A request header, 'Name: value' (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// The viewer's IP address.
        #[arg(long)]
        from: Option<String>,
        /// Print the same as JSON.
        #[arg(long)]
        json: bool,
        /// Also send the request through the running stack and report what happened: status,
        /// X-Cache and the other CloudFront headers, timings, and the counters that moved on the
        /// admin listener (cache result, origin requests, rule matches, the target that served).
        #[arg(long)]
        live: bool,
        /// With --live: trust this CA certificate (PEM) instead of the local CA in the state dir.
        #[arg(long, requires = "live")]
        cacert: Option<PathBuf>,
    },
    /// Run one built-in storefront target (the demo's app) as its own process.
    DemoTarget {
        /// Address to listen on, e.g. 127.0.0.1:9101.
        #[arg(long)]
        listen: SocketAddr,
        /// Instance id shown in X-Instance-Id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Terraform (.tf files): the TOML goes to stdout (or -o), one line per ignored or
    /// untranslatable thing to stderr as FILE:LINE:COL: address.attribute: why. Exit 0 when the
    /// result runs, 2 when it cannot.
    Terraform {
        /// A .tf file or a directory of them (the root module).
        path: PathBuf,
        /// Write the TOML here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// A root variable, NAME=VALUE (repeatable).
        #[arg(long = "var")]
        vars: Vec<String>,
        /// A .tfvars file (after terraform.tfvars and *.auto.tfvars; repeatable).
        #[arg(long = "var-file")]
        var_files: Vec<PathBuf>,
        /// Target addresses of a target group: NAME=HOST:PORT[,HOST:PORT] (repeatable).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Local listen address: DIST=URL[,URL], LB=IP, LB:PORT=LOCALPORT, dns=ADDR, admin=ADDR.
        #[arg(long = "listen")]
        listens: Vec<String>,
        /// Run a built-in storefront target for each target group without targets.
        #[arg(long)]
        demo_targets: bool,
    },
}

#[derive(Subcommand)]
enum TargetsCommand {
    /// RegisterTargets: the targets start `initial` and get traffic once a health check passes.
    Register(TargetsArgs),
    /// DeregisterTargets: the targets drain for the group's deregistration_delay.
    Deregister(TargetsArgs),
    /// DescribeTargetHealth: each target's state, reason and description.
    Health(TargetsArgs),
}

#[derive(clap::Args)]
struct TargetsArgs {
    /// The admin listener.
    #[arg(long, default_value = "127.0.0.1:9900")]
    admin: SocketAddr,
    /// The target group's name.
    #[arg(long)]
    target_group: String,
    /// Targets as IP:PORT (or IP, with the group's port).
    targets: Vec<String>,
}

#[derive(Subcommand)]
enum CaCommand {
    /// Print the path of the CA certificate (creating the CA on first use), for curl --cacert.
    Path,
}

#[derive(Subcommand)]
enum DnsCommand {
    /// Query NAME (type A by default).
    Query {
        name: String,
        #[arg(default_value = "A")]
        record_type: String,
        /// The server to ask.
        #[arg(long, default_value = "127.0.0.1:8053")]
        server: SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDGEWAY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let state_dir = cli.state_dir.unwrap_or_else(default_state_dir);
    let _ = WORKERS.set(cli.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    ));
    match cli.command {
        Command::Demo { print_config: true } => {
            print!("{}", demo::CONFIG);
            ExitCode::SUCCESS
        }
        Command::Demo {
            print_config: false,
        } => match edgeway_config::parse("demo.toml", demo::CONFIG) {
            Ok(cfg) => run_config(cfg, &state_dir, true),
            Err(e) => fail(&e.to_string(), 2),
        },
        Command::Run { config } => match edgeway_config::load(&config) {
            Ok(cfg) => run_config(cfg, &state_dir, false),
            Err(e) => fail(&e.to_string(), 2),
        },
        Command::Check { config } => match edgeway_config::load(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string(), 2),
        },
        Command::Ca {
            what: CaCommand::Path,
        } => match LocalCa::load_or_create(&state_dir) {
            Ok(ca) => {
                println!("{}", ca.cert_path().display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("local CA in {}: {e}", state_dir.display()), 1),
        },
        Command::Dns {
            what:
                DnsCommand::Query {
                    name,
                    record_type,
                    server,
                },
        } => dns_query(&name, &record_type, server),
        Command::Targets { what } => targets(what),
        Command::Invalidate {
            distribution,
            admin,
            paths,
        } => invalidate(&distribution, admin, &paths),
        Command::Import {
            what:
                ImportCommand::Terraform {
                    path,
                    output,
                    vars,
                    var_files,
                    targets,
                    listens,
                    demo_targets,
                },
        } => {
            let args = edgeway_terraform::cli::ImportArgs {
                path,
                output,
                vars,
                var_files,
                targets,
                listens,
                demo_targets,
            };
            ExitCode::from(edgeway_terraform::cli::import_main(&args))
        }
        Command::Explain {
            config,
            url,
            method,
            headers,
            from,
            json,
            live: false,
            ..
        } => ExitCode::from(edgeway_terraform::cli::explain_main(
            &config,
            &url,
            &method,
            &headers,
            from.as_deref(),
            json,
        )),
        Command::Explain {
            config,
            url,
            method,
            headers,
            from,
            json,
            live: true,
            cacert,
        } => explain_live(
            &config,
            &url,
            &method,
            &headers,
            from.as_deref(),
            json,
            cacert.as_deref(),
            &state_dir,
        ),
        Command::DemoTarget { listen, id } => runtime().map_or_else(
            |e| fail(&e, 1),
            |rt| {
                rt.block_on(async move {
                    let l = match tokio::net::TcpListener::bind(listen).await {
                        Ok(l) => l,
                        Err(e) => return fail(&format!("{listen}: {e}"), 1),
                    };
                    let stop = shutdown_signal();
                    eprintln!("demo target {id} on http://{listen}");
                    match edgeway_demo::DemoTarget::new(id).serve(l, stop).await {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => fail(&e.to_string(), 1),
                    }
                })
            },
        ),
    }
}

fn fail(msg: &str, code: u8) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(code)
}

/// The worker count `--workers` set (or the cores this process may run on).
static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// One worker: a current-thread runtime, so a request's tasks, timers and I/O share one thread
/// without the work-stealing scheduler's cross-thread bookkeeping (docs/performance.md, batch 8).
/// More: the multi-thread runtime with that many workers.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    let workers = WORKERS.get().copied().unwrap_or(1);
    let mut b = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    b.enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Registers for Ctrl-C and SIGTERM now (so a signal that comes before the first poll is not
/// lost) and returns a future that resolves on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {}
                        _ = i.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn run_config(
    mut cfg: edgeway_config::Config,
    state_dir: &std::path::Path,
    banner: bool,
) -> ExitCode {
    let ca = match LocalCa::load_or_create(state_dir) {
        Ok(ca) => Arc::new(ca),
        Err(e) => return fail(&format!("local CA in {}: {e}", state_dir.display()), 1),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    // One worker and a load balancer beside other tiers: the balancer gets its own event loop
    // (thread `edgeway-alb`), as it would be its own process.
    let balancer = if WORKERS.get().copied().unwrap_or(1) <= 1
        && !cfg.load_balancers.is_empty()
        && (!cfg.distributions.is_empty() || cfg.dns.is_some() || !cfg.demo_targets.is_empty())
    {
        match edgeway::tier_thread::TierThread::start("edgeway-alb") {
            Ok(t) => Some(t),
            Err(e) => return fail(&e, 1),
        }
    } else {
        None
    };
    let placement = edgeway::Placement {
        balancer: balancer.as_ref().map(|t| t.handle().clone()),
    };
    let code = rt.block_on(async move {
        let bound = match bind(&mut cfg, false).await {
            Ok(b) => b,
            Err(e) => return fail(&e, 1),
        };
        let stack = match Stack::start_on(cfg, bound, ca.clone(), &placement).await {
            Ok(s) => s,
            Err(e) => return fail(&e, 1),
        };
        let stop = shutdown_signal();
        if banner {
            print!("{}", demo::banner(&stack, ca.cert_path()));
        } else {
            for (tier, what, url) in &stack.map {
                println!("  {tier:<7} {what:<42} {url}");
            }
        }
        stop.await;
        eprintln!("stopping: finishing in-flight requests");
        stack.shutdown().await;
        ExitCode::SUCCESS
    });
    if let Some(t) = balancer {
        t.stop();
    }
    code
}

fn dns_query(name: &str, rtype: &str, server: SocketAddr) -> ExitCode {
    let Ok(t) = rtype
        .to_ascii_uppercase()
        .parse::<hickory_proto::rr::RecordType>()
    else {
        return fail(&format!("unknown record type `{rtype}`"), 2);
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    rt.block_on(async move {
        match edgeway_dns::query(server, name, t, Duration::from_secs(3)).await {
            Ok(msg) => {
                let out = edgeway_dns::format_short(&msg);
                if !out.is_empty() {
                    println!("{}", out.trim_end());
                }
                let code = msg.response_code;
                if code != hickory_proto::op::ResponseCode::NoError {
                    eprintln!("{name}: {code}");
                    return ExitCode::from(1);
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("{name}: {e}"), 1),
        }
    })
}

/// `edgeway targets ...`: one request to the admin listener's registration API.
fn targets(what: TargetsCommand) -> ExitCode {
    let (op, args) = match what {
        TargetsCommand::Register(a) => ("register", a),
        TargetsCommand::Deregister(a) => ("deregister", a),
        TargetsCommand::Health(a) => ("health", a),
    };
    let mut list = Vec::new();
    for t in &args.targets {
        let (ip, port) = match t.parse::<SocketAddr>() {
            Ok(a) => (a.ip(), Some(a.port())),
            Err(_) => match t
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
            {
                Ok(ip) => (ip, None),
                Err(_) => return fail(&format!("`{t}` is not IP:PORT or IP"), 2),
            },
        };
        list.push(serde_json::json!({ "id": ip.to_string(), "port": port }));
    }
    if op != "health" && list.is_empty() {
        return fail("name at least one target (IP:PORT)", 2);
    }
    let path = format!("/target-groups/{}/{op}", args.target_group);
    let (method, body) = if op == "health" {
        ("GET", String::new())
    } else {
        ("POST", serde_json::json!({ "targets": list }).to_string())
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    let answer = rt.block_on(admin_request(args.admin, method, &path, &body));
    let (status, body) = match answer {
        Ok(a) => a,
        Err(e) => return fail(&format!("admin listener {}: {e}", args.admin), 1),
    };
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body.clone()));
    if !(200..300).contains(&status) {
        let msg = v["error"]["message"]
            .as_str()
            .map_or_else(|| body.trim().to_string(), str::to_string);
        return fail(&format!("{status}: {msg}"), 1);
    }
    if op == "health" {
        println!(
            "{:<24} {:<10} {:<32} DESCRIPTION",
            "TARGET", "STATE", "REASON"
        );
        for t in v["targets"].as_array().into_iter().flatten() {
            let s = |k: &str| t[k].as_str().unwrap_or("-").to_string();
            println!(
                "{:<24} {:<10} {:<32} {}",
                s("target"),
                s("state"),
                s("reason"),
                s("description")
            );
        }
    } else {
        println!("{op}ed {} target(s) in {}", list.len(), args.target_group);
    }
    ExitCode::SUCCESS
}

/// `edgeway explain --live`: the decisions, then what the running stack did with the request.
#[allow(clippy::too_many_arguments)]
fn explain_live(
    config: &std::path::Path,
    url: &str,
    method: &str,
    headers: &[String],
    from: Option<&str>,
    json: bool,
    cacert: Option<&std::path::Path>,
    state_dir: &std::path::Path,
) -> ExitCode {
    let (cfg, req) =
        match edgeway_terraform::cli::explain_request(config, url, method, headers, from) {
            Ok(x) => x,
            Err((e, code)) => return fail(&e, code),
        };
    let tls = match live::tls_config(cacert, state_dir) {
        Ok(t) => t,
        Err(e) => return fail(&e, 2),
    };
    let ex = edgeway_terraform::explain::explain(&cfg, &req);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    let got = rt.block_on(live::run(&cfg, &req, tls));
    if json {
        let mut v = serde_json::to_value(&ex).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("live".into(), got.to_json());
        }
        match serde_json::to_string_pretty(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(&e.to_string(), 1),
        }
    } else {
        print!("{}{}", ex.render(), got.render());
    }
    // The request could not be sent (or no answer came): exit 1.
    if got.status.is_none() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// `edgeway invalidate`: POST the paths to the admin listener's invalidation API.
fn invalidate(distribution: &str, admin: SocketAddr, paths: &[String]) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    let path = format!("/distributions/{distribution}/invalidations");
    let body = serde_json::json!({ "paths": paths }).to_string();
    let (status, body) = match rt.block_on(admin_request(admin, "POST", &path, &body)) {
        Ok(a) => a,
        Err(e) => return fail(&format!("admin listener {admin}: {e}"), 1),
    };
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body.clone()));
    if !(200..300).contains(&status) {
        let msg = v["Error"]["Message"]
            .as_str()
            .map_or_else(|| body.trim().to_string(), str::to_string);
        return fail(&format!("{status}: {msg}"), 1);
    }
    let inv = &v["Invalidation"];
    println!(
        "{}\t{}\t{} path(s)",
        inv["Id"].as_str().unwrap_or("-"),
        inv["Status"].as_str().unwrap_or("-"),
        paths.len()
    );
    ExitCode::SUCCESS
}

/// A tiny HTTP/1.1 client: one request with `Connection: close`, the status and body back.
async fn admin_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("malformed response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("malformed status line")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        let (Some(chunk), Some(after)) = (rest.get(..n), rest.get(n..)) else {
            break;
        };
        if n == 0 {
            break;
        }
        out.push_str(chunk);
        s = after.trim_start_matches("\r\n");
    }
    out
}
