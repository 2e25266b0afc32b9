//! edgeway's configuration: the TOML file model (Terraform's names and nesting), parsing with
//! positions, and validation that reports every problem at once as `file:line:col: key.path: what`.
//!
//! Runtime code receives a [`Config`] only after [`load`] or [`parse`] has validated it, and never
//! re-checks it.
#![forbid(unsafe_code)]

mod error;
mod locate;
pub mod managed;
pub mod model;
mod ports;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use model::*;
pub use ports::PortMap;
pub use validate::{join_host_port, parse_listen_url, parse_matcher, parse_socket_addr};

use std::path::Path;

/// Reads, parses and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::single(ConfigError {
            file: name.clone(),
            line: 0,
            col: 0,
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        })
    })?;
    let base = path.parent().map(Path::to_path_buf);
    parse_with_base(&name, &src, base.as_deref())
}

/// Parses and validates config text; `file` names it in errors. Relative file paths in the
/// config (certificates) resolve against the current directory.
pub fn parse(file: &str, src: &str) -> Result<Config, ConfigErrors> {
    parse_with_base(file, src, None)
}

/// Parses and validates config text; relative file paths resolve against `base`.
pub fn parse_with_base(file: &str, src: &str, base: Option<&Path>) -> Result<Config, ConfigErrors> {
    let locator = locate::Locator::new(src);
    let mut errors = Vec::new();
    let mut unknown = Vec::new();
    let de = match toml::de::Deserializer::parse(src) {
        Ok(de) => de,
        Err(e) => return Err(ConfigErrors::single(locator.toml_error(file, &e))),
    };
    let parsed: Result<Config, _> = serde_ignored::deserialize(de, |p| unknown.push(p.to_string()));
    for p in unknown {
        let path = locate::normalize_path(&p);
        errors.push(locator.error(file, &path, "unknown key".to_string()));
    }
    let mut cfg = match parsed {
        Ok(c) => c,
        Err(e) => {
            errors.push(locator.toml_error(file, &e));
            return Err(ConfigErrors::new(errors));
        }
    };
    if let Some(b) = base {
        cfg.resolve_paths(b);
    }
    for (path, message) in validate::validate(&cfg) {
        errors.push(locator.error(file, &path, message));
    }
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigErrors::new(errors))
    }
}
