//! What `edgeway import terraform` and `edgeway explain` do, behind the binary's argument parsing.

use crate::translate::{import, split_assignment, ImportOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The raw flags of `edgeway import terraform`.
#[derive(Debug, Clone, Default)]
pub struct ImportArgs {
    pub path: PathBuf,
    pub output: Option<PathBuf>,
    pub vars: Vec<String>,
    pub var_files: Vec<PathBuf>,
    pub targets: Vec<String>,
    pub listens: Vec<String>,
    pub demo_targets: bool,
}

/// Parses the flags into [`ImportOptions`].
pub fn options(a: &ImportArgs) -> Result<ImportOptions, String> {
    let mut o = ImportOptions {
        path: a.path.clone(),
        var_files: a.var_files.clone(),
        demo_targets: a.demo_targets,
        ..Default::default()
    };
    for v in &a.vars {
        o.vars
            .push(split_assignment(v).map_err(|e| format!("--var: {e}"))?);
    }
    for t in &a.targets {
        let (name, addrs) = split_assignment(t).map_err(|e| format!("--target: {e}"))?;
        let list: Vec<String> = addrs
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for addr in &list {
            if edgeway_config::parse_socket_addr(addr).is_err()
                && addr.parse::<std::net::IpAddr>().is_err()
            {
                return Err(format!("--target {name}: `{addr}` is not ip:port"));
            }
        }
        o.targets.push((name, list));
    }
    for l in &a.listens {
        o.listens
            .push(split_assignment(l).map_err(|e| format!("--listen: {e}"))?);
    }
    Ok(o)
}

/// Runs the import: TOML to stdout or `-o`, warnings to stderr. Returns the exit code (0: the
/// result runs; 1: the files could not be read; 2: the result cannot run).
pub fn import_main(a: &ImportArgs) -> u8 {
    let opts = match options(a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let res = match import(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    for w in &res.warnings {
        eprintln!("{w}");
    }
    for e in &res.errors {
        eprintln!("error: {e}");
    }
    let written = match &a.output {
        Some(p) => std::fs::write(p, &res.toml).map_err(|e| format!("{}: {e}", p.display())),
        None => std::io::stdout()
            .write_all(res.toml.as_bytes())
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = written {
        eprintln!("{e}");
        return 1;
    }
    if res.runs() {
        0
    } else {
        2
    }
}

/// Loads the config and parses the request of `edgeway explain`; `Err` carries the message and
/// the exit code.
pub fn explain_request(
    config: &Path,
    url: &str,
    method: &str,
    headers: &[String],
    from: Option<&str>,
) -> Result<(edgeway_config::Config, crate::explain::Request), (String, u8)> {
    let cfg = edgeway_config::load(config).map_err(|e| (e.to_string(), 2))?;
    let mut hs = Vec::new();
    for h in headers {
        match h.split_once(':') {
            Some((n, v)) => hs.push((n.trim().to_string(), v.trim().to_string())),
            None => return Err((format!("-H {h:?}: expected 'Name: value'"), 2)),
        }
    }
    let from = match from.map(str::parse::<std::net::IpAddr>) {
        Some(Ok(ip)) => ip,
        Some(Err(_)) => return Err(("--from: not an IP address".into(), 2)),
        None => std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let req = crate::explain::Request::parse(url, method, hs, from).map_err(|e| (e, 2))?;
    Ok((cfg, req))
}

/// `edgeway explain`: prints the decisions (text or JSON). Returns the exit code.
pub fn explain_main(
    config: &Path,
    url: &str,
    method: &str,
    headers: &[String],
    from: Option<&str>,
    json: bool,
) -> u8 {
    let (cfg, req) = match explain_request(config, url, method, headers, from) {
        Ok(x) => x,
        Err((e, code)) => {
            eprintln!("{e}");
            return code;
        }
    };
    let ex = crate::explain::explain(&cfg, &req);
    if json {
        match serde_json::to_string_pretty(&ex) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
    } else {
        print!("{}", ex.render());
    }
    0
}
