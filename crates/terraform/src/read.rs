//! Reading evaluated bodies with types, recording a warning for every value that cannot be used
//! and, at the end, for every attribute or block nobody read.

use crate::eval::{EBlock, EBody};
use crate::funcs::{kind, to_bool, to_f64, to_str};
use crate::source::Loc;
use hcl::Value;
use std::cell::RefCell;

/// One line of the importer's report: `FILE:LINE:COL: address.attribute: why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub loc: Loc,
    pub path: String,
    pub why: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.loc, self.path, self.why)
    }
}

pub type Warnings = RefCell<Vec<Warning>>;

/// Keys never reported as ignored, anywhere: they have no effect on the data plane.
const SILENT: &[&str] = &[
    "tags",
    "tags_all",
    "provider",
    "depends_on",
    "lifecycle",
    "timeouts",
    "count",
    "for_each",
];

/// Why an ignored key matters, for the keys whose absence changes behavior.
fn reason(key: &str) -> &'static str {
    match key {
        "web_acl_id" | "enable_waf_fail_open" => "WAF is not emulated; requests are not filtered",
        "logging_config" | "access_logs" | "connection_logs" => "access logs are not written to S3",
        "function_association" | "lambda_function_association" => {
            "CloudFront Functions and Lambda@Edge are not run"
        }
        "response_headers_policy_id" => "response headers policies are not applied",
        "trusted_signers" | "trusted_key_groups" => "signed URLs and cookies are not enforced",
        "realtime_log_config_arn" => "real-time logs are not written",
        "field_level_encryption_id" => "field-level encryption is not applied",
        "origin_shield" => "Origin Shield is not emulated (one edge location)",
        "geoproximity_routing_policy" | "cidr_routing_policy" => {
            "this routing policy is not emulated; the record is answered as a simple record"
        }
        "transform" => "rule transforms are not applied",
        _ => "not supported by edgeway; ignored",
    }
}

/// A typed view of an evaluated body at `path` (e.g. `aws_lb.frontend.health_check`).
pub struct Reader<'a> {
    pub body: &'a EBody,
    pub path: String,
    pub loc: Loc,
    pub w: &'a Warnings,
}

impl<'a> Reader<'a> {
    pub fn new(body: &'a EBody, path: String, loc: Loc, w: &'a Warnings) -> Self {
        Reader { body, path, loc, w }
    }

    pub fn warn_at(&self, loc: &Loc, key: &str, why: impl Into<String>) {
        let path = if key.is_empty() {
            self.path.clone()
        } else {
            format!("{}.{key}", self.path)
        };
        self.w.borrow_mut().push(Warning {
            loc: loc.clone(),
            path,
            why: why.into(),
        });
    }

    /// A warning at `key` (or at the block when it is not written).
    pub fn warn(&self, key: &str, why: impl Into<String>) {
        let loc = self.loc_of(key);
        self.warn_at(&loc, key, why);
    }

    pub fn loc_of(&self, key: &str) -> Loc {
        self.body
            .attrs
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.loc.clone())
            .or_else(|| {
                self.body
                    .blocks
                    .iter()
                    .find(|b| b.ident == key)
                    .map(|b| b.loc.clone())
            })
            .unwrap_or_else(|| self.loc.clone())
    }

    pub fn has(&self, key: &str) -> bool {
        self.body.attrs.iter().any(|a| a.key == key)
    }

    /// Marks `key` read without looking at it.
    pub fn skip(&self, key: &str) {
        self.body
            .attrs
            .iter()
            .filter(|a| a.key == key)
            .for_each(|a| a.used.set(true));
        self.body
            .blocks
            .iter()
            .filter(|b| b.ident == key)
            .for_each(|b| b.used.set(true));
    }

    /// The value of `key` (None when absent, null, or not evaluable: then with a warning).
    pub fn value(&self, key: &str) -> Option<Value> {
        let a = self.body.attrs.iter().find(|a| a.key == key)?;
        a.used.set(true);
        match &a.value {
            Ok(Value::Null) => None,
            Ok(v) => Some(v.clone()),
            Err(e) => {
                self.warn_at(&a.loc, key, format!("cannot evaluate: {e}"));
                None
            }
        }
    }

    fn typed<T>(&self, key: &str, f: impl Fn(&Value) -> Result<T, String>) -> Option<T> {
        let v = self.value(key)?;
        match f(&v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.warn(key, e);
                None
            }
        }
    }

    pub fn str(&self, key: &str) -> Option<String> {
        self.typed(key, to_str)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.typed(key, to_bool)
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        self.typed(key, |v| {
            let n = to_f64(v)?;
            if n < 0.0 || n.fract() != 0.0 {
                return Err(format!("{n} is not a whole number"));
            }
            Ok(n as u64)
        })
    }

    pub fn u32(&self, key: &str) -> Option<u32> {
        let n = self.u64(key)?;
        u32::try_from(n)
            .map_err(|_| self.warn(key, format!("{n} is too large")))
            .ok()
    }

    pub fn u16(&self, key: &str) -> Option<u16> {
        let n = self.u64(key)?;
        u16::try_from(n)
            .map_err(|_| self.warn(key, format!("{n} is not a port")))
            .ok()
    }

    /// A list (or set) of strings.
    pub fn strings(&self, key: &str) -> Option<Vec<String>> {
        self.typed(key, |v| match v {
            Value::Array(l) => l.iter().map(to_str).collect(),
            other => Err(format!("{} where a list of strings is needed", kind(other))),
        })
    }

    pub fn block(&self, ident: &str) -> Option<Reader<'a>> {
        self.blocks(ident).into_iter().next()
    }

    pub fn blocks(&self, ident: &str) -> Vec<Reader<'a>> {
        let w = self.w;
        self.body
            .blocks
            .iter()
            .filter(|b| b.ident == ident)
            .map(|b: &'a EBlock| {
                b.used.set(true);
                Reader {
                    body: &b.body,
                    path: format!("{}.{ident}", self.path),
                    loc: b.loc.clone(),
                    w,
                }
            })
            .collect()
    }

    /// Reports every attribute and block that was not read (except `silent` ones), recursing
    /// into the blocks that were.
    pub fn finish(&self, silent: &[&str]) {
        report_unused(self.body, &self.path, silent, self.w);
    }
}

fn report_unused(body: &EBody, path: &str, silent: &[&str], w: &Warnings) {
    for a in &body.attrs {
        if !a.used.get() && !SILENT.contains(&a.key.as_str()) && !silent.contains(&a.key.as_str()) {
            w.borrow_mut().push(Warning {
                loc: a.loc.clone(),
                path: format!("{path}.{}", a.key),
                why: reason(&a.key).into(),
            });
        }
    }
    let mut seen = Vec::new();
    for b in &body.blocks {
        let p = format!("{path}.{}", b.ident);
        if b.used.get() {
            report_unused(&b.body, &p, silent, w);
        } else if !SILENT.contains(&b.ident.as_str())
            && !silent.contains(&b.ident.as_str())
            && !seen.contains(&b.ident)
        {
            seen.push(b.ident.clone());
            w.borrow_mut().push(Warning {
                loc: b.loc.clone(),
                path: p,
                why: reason(&b.ident).into(),
            });
        }
    }
}
