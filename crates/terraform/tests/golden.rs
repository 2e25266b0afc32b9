//! Golden tests: each `fixtures/NAME.tf` translates to `fixtures/NAME.toml`, with the warnings in
//! `fixtures/NAME.warnings` (one per line, `FILE:LINE:COL: address.attribute: why`).
//! `UPDATE_GOLDEN=1 cargo test -p edgeway-terraform --test golden` rewrites the expected files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_terraform::{import, ImportOptions};
use std::path::Path;

fn check(name: &str) {
    // Paths relative to the crate, so messages name `tests/fixtures/NAME.tf`.
    let tf = Path::new("tests/fixtures").join(format!("{name}.tf"));
    let r = import(&ImportOptions {
        path: tf.clone(),
        ..Default::default()
    })
    .unwrap();
    assert!(r.runs(), "{name}: {:?}", r.errors);
    let warnings: String = r.warnings.iter().map(|w| format!("{w}\n")).collect();
    let want_toml = tf.with_extension("toml");
    let want_warn = tf.with_extension("warnings");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&want_toml, &r.toml).unwrap();
        std::fs::write(&want_warn, &warnings).unwrap();
    }
    assert_eq!(
        r.toml,
        std::fs::read_to_string(&want_toml).unwrap(),
        "{name}: TOML differs"
    );
    assert_eq!(
        warnings,
        std::fs::read_to_string(&want_warn).unwrap(),
        "{name}: warnings differ"
    );
    // What the importer writes is what `edgeway check` accepts.
    edgeway_config::parse("golden.toml", &r.toml).unwrap();
}

#[test]
fn basic() {
    check("basic");
}

#[test]
fn alb_rules() {
    check("alb_rules");
}

#[test]
fn edge_logging() {
    check("edge_logging");
}
