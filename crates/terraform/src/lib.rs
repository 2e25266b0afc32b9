//! Terraform import (HCL → edgeway TOML) and `explain` (the decisions a request would meet).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod eval;
pub mod funcs;
pub mod read;
pub mod source;
pub mod translate;

pub use read::Warning;
pub use translate::{import, split_assignment, ImportOptions, ImportResult};
pub mod cli;
pub mod explain;
