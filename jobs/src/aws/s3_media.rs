//! The S3 [`MediaStore`]: media key `k` is the object `{prefix}k` of one bucket. Used by the
//! submitter (puts uploads, hands out presigned PUT URLs for large ones) and the worker (reads).

use super::bucket::Bucket;
use crate::{MediaKey, MediaStore, Result};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Media in an S3 bucket, under an optional key prefix. Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3Media {
    bucket: Bucket,
    prefix: Arc<str>,
}

impl S3Media {
    /// Media in `bucket`, each key under `prefix` (e.g. `media/`; empty for none).
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, prefix: &str) -> S3Media {
        S3Media {
            bucket: Bucket::new(client, bucket),
            prefix: Arc::from(prefix),
        }
    }

    fn object_key(&self, key: &MediaKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }
}

#[async_trait]
impl MediaStore for S3Media {
    async fn put(&self, key: &MediaKey, bytes: Bytes, content_type: Option<&str>) -> Result<()> {
        self.bucket
            .put(&self.object_key(key), bytes, content_type)
            .await
    }

    async fn get(&self, key: &MediaKey, max_bytes: u64) -> Result<Bytes> {
        self.bucket
            .get(&self.object_key(key), max_bytes, "media", key.as_str())
            .await
    }

    async fn head(&self, key: &MediaKey, n: usize) -> Result<(Bytes, u64)> {
        self.bucket
            .head(&self.object_key(key), n, "media", key.as_str())
            .await
    }

    async fn presign_put(&self, key: &MediaKey, ttl: Duration) -> Result<Option<String>> {
        self.bucket
            .presign_put(&self.object_key(key), ttl)
            .await
            .map(Some)
    }
}
