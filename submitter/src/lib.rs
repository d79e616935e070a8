//! soyl's front door: the HTTP API (axum) and the `soyl` command line.
//!
//! - [`config`]: the one `clap` command-line / environment definition.
//! - [`api`]: routes, handlers, the error shape and its status mapping.
//! - [`intake`]: turning a submission into stored media, a job record and a queue message.
//! - [`serve`]: `soyl serve | api | worker`: the API and/or a worker in one process.
//! - [`backend`]: the storage ports of the chosen backend (embedded or AWS), and `soyl init`.
//! - [`bench`]: `soyl bench`, model ceilings, stage costs and end-to-end load on this machine.
//! - [`client`]: `soyl submit | status | wait`, an HTTP client of a running server.

pub mod api;
pub mod aws;
pub mod backend;
pub mod bench;
pub mod bulk;
pub mod client;
pub mod config;
pub mod intake;
pub mod keys;
pub mod prometheus;
pub mod reprocess;
pub mod serve;
pub mod sniff;
