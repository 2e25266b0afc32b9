//! The wire side of the server: packets in, packets out.

pub(crate) mod packet;
pub mod server;
