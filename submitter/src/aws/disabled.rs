//! The AWS backend in a build without the `aws` feature: every entry point says so, with the
//! command that builds it in.

use crate::backend::Ports;
use crate::bulk::Source;
use crate::config::{BackendArgs, InitArgs};
use soyl_jobs::embedded::QueueConfig;
use std::sync::Arc;

/// The AWS clients, of which this build can make none: every `Option<AwsClients>` in it is
/// `None`.
#[derive(Debug, Clone)]
pub enum AwsClients {}

/// Why an `s3://` source cannot be read in this build.
pub const S3_SOURCES_NEED: &str = "s3:// sources need the AWS backend, which this soyl was built \
     without (cargo feature `aws`)";

fn not_built() -> anyhow::Error {
    anyhow::anyhow!(
        "this soyl was built without the AWS backend (cargo feature `aws`); rebuild with the \
         default features (`cargo build --release --bin soyl`) or use --backend embedded"
    )
}

/// Fails: there is no AWS backend in this build.
pub async fn open(_: &BackendArgs, _: QueueConfig) -> anyhow::Result<Ports> {
    Err(not_built())
}

/// Fails: there is no AWS backend in this build.
pub async fn init(_: &InitArgs) -> anyhow::Result<()> {
    Err(not_built())
}

/// Unreachable: no [`AwsClients`] value exists in this build.
pub fn s3_source(clients: &AwsClients, _: &str, _: &str, _: u64) -> Arc<dyn Source> {
    match *clients {}
}
