//! The `edgeway` command.
#![forbid(unsafe_code)]

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
#[command(name = "edgeway", version, about, long_about = None)]
struct Cli {
    /// Where edgeway keeps its state (the local certificate authority).
    /// Default: $EDGEWAY_STATE_DIR, else ~/.local/share/edgeway.
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
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
            tracing_subscriber::EnvFilter::try_from_env("EDGEWAY_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let state_dir = cli.state_dir.unwrap_or_else(default_state_dir);
    match cli.command {
        Command::Demo { print_config: true } => {
            print!("{}", demo::CONFIG);
            ExitCode::SUCCESS
        }
        Command::Demo { print_config: false } => match edgeway_config::parse("demo.toml", demo::CONFIG) {
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
        Command::Ca { what: CaCommand::Path } => match LocalCa::load_or_create(&state_dir) {
            Ok(ca) => {
                println!("{}", ca.cert_path().display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("local CA in {}: {e}", state_dir.display()), 1),
        },
        Command::Dns { what: DnsCommand::Query { name, record_type, server } } => dns_query(&name, &record_type, server),
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

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start the runtime: {e}"))
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

fn run_config(mut cfg: edgeway_config::Config, state_dir: &std::path::Path, banner: bool) -> ExitCode {
    let ca = match LocalCa::load_or_create(state_dir) {
        Ok(ca) => Arc::new(ca),
        Err(e) => return fail(&format!("local CA in {}: {e}", state_dir.display()), 1),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    rt.block_on(async move {
        let bound = match bind(&mut cfg, false).await {
            Ok(b) => b,
            Err(e) => return fail(&e, 1),
        };
        let stack = match Stack::start(cfg, bound, ca.clone()).await {
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
    })
}

fn dns_query(name: &str, rtype: &str, server: SocketAddr) -> ExitCode {
    let Ok(t) = rtype.to_ascii_uppercase().parse::<hickory_proto::rr::RecordType>() else {
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
