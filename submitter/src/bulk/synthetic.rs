//! A [`Source`] of `n` generated text objects, with no files behind them: the listing is a lazy
//! range, each fetch formats a short sentence. Used by the bulk-listing benchmark
//! (`examples/bulk_listing.rs`) and its test to measure listing and enqueueing alone.

use super::source::{Source, SourceObject};
use super::BulkError;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use time::OffsetDateTime;

/// `n` keys `synthetic/000000000.txt`, `synthetic/000000001.txt`, ...
#[derive(Debug, Clone, Copy)]
pub struct Synthetic {
    /// How many keys the listing yields.
    pub keys: u64,
}

#[async_trait]
impl Source for Synthetic {
    fn describe(&self) -> String {
        format!("synthetic://{}", self.keys)
    }

    fn list(&self) -> BoxStream<'static, Result<SourceObject, BulkError>> {
        let objects = (0..self.keys).map(|i| {
            Ok(SourceObject {
                key: format!("synthetic/{i:09}.txt"),
                size: 48,
                modified: OffsetDateTime::UNIX_EPOCH,
                etag: None,
            })
        });
        stream::iter(objects).boxed()
    }

    async fn fetch(&self, key: &str) -> Result<Bytes, BulkError> {
        Ok(Bytes::from(format!(
            "Synthetic note {key}: a calm and ordinary day."
        )))
    }
}
