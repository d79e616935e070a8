//! soyl's front door: the HTTP API (axum) and the `soyl` command line.
//!
//! - [`config`]: the one `clap` command-line / environment definition.
//! - [`api`]: routes, handlers, the error shape and its status mapping.
//! - [`intake`]: turning a submission into stored media, a job record and a queue message.
//! - [`serve`]: `soyl serve`, the API and a worker in one process on the embedded backends.
//! - [`bench`]: `soyl bench`, model ceilings, stage costs and end-to-end load on this machine.
//! - [`client`]: `soyl submit | status | wait`, an HTTP client of a running server.

pub mod api;
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
