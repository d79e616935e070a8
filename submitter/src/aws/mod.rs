//! The AWS backend (`--backend aws`, `soyl init`, `s3://` bulk sources), present when soyl is
//! built with the `aws` feature (the default). A build without it (`--no-default-features`: no
//! AWS SDK to compile, as the fuzz targets are built) has the same functions, and each says the
//! backend is not in this build instead of running.

#[cfg(feature = "aws")]
mod enabled;
#[cfg(feature = "aws")]
pub use enabled::{init, open, s3_source, AwsClients, S3_SOURCES_NEED};

#[cfg(not(feature = "aws"))]
mod disabled;
#[cfg(not(feature = "aws"))]
pub use disabled::{init, open, s3_source, AwsClients, S3_SOURCES_NEED};
