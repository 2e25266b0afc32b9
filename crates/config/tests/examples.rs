//! Every file in `examples/` validates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn every_example_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = edgeway_config::load(&path) {
                panic!("{} does not validate:\n{e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 1, "no examples found");
}
