//! edgeway as a library: binding, wiring and the demo, shared by the binary and the end-to-end
//! tests.
#![forbid(unsafe_code)]

pub mod bind;
pub mod certs;
pub mod demo;
pub mod resolve;
pub mod stack;
pub mod tier_thread;

pub use bind::{bind, Bound};
pub use stack::{Placement, Stack};

/// The default state directory (the local CA lives here): `$EDGEWAY_STATE_DIR`, else
/// `<data dir>/edgeway` (`~/.local/share/edgeway` on Linux).
pub fn default_state_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("EDGEWAY_STATE_DIR") {
        return d.into();
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("edgeway")
}
