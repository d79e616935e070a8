//! Reading objects a client already keeps in S3, under one bucket and key prefix: listed a
//! `ListObjectsV2` page at a time (never the whole listing at once) and read by key with a size
//! bound. Used by the submitter's `s3://bucket/prefix` bulk source; soyl never writes here.

use super::bucket::Bucket;
use super::sdk_error;
use crate::{Error, Result};
use time::OffsetDateTime;

/// Keys per `ListObjectsV2` page (S3's largest).
const PAGE_KEYS: i32 = 1000;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// Its full key in the bucket.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: OffsetDateTime,
    /// Its ETag, quotes removed: changes whenever the content does.
    pub etag: String,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ObjectPage {
    /// The objects of the page, in key order.
    pub objects: Vec<S3Object>,
    /// Continuation token of the next page, if there is one.
    pub next: Option<String>,
}

/// The objects of a bucket under a prefix. Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3Objects {
    bucket: Bucket,
    prefix: String,
}

impl S3Objects {
    /// The objects of `bucket` whose keys start with `prefix` (may be empty).
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, prefix: &str) -> S3Objects {
        S3Objects {
            bucket: Bucket::new(client, bucket),
            prefix: prefix.to_owned(),
        }
    }

    /// `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket.name(), self.prefix)
    }

    /// Lists at most one key: fails as the listing would (no such bucket, access denied), at the
    /// cost of one small request.
    pub async fn probe(&self) -> Result<()> {
        self.bucket
            .client()
            .list_objects_v2()
            .bucket(self.bucket.name())
            .prefix(&self.prefix)
            .max_keys(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error::map("s3", "list", &self.describe(), e))
    }

    /// The page after continuation token `after` (`None`: the first page).
    pub async fn page(&self, after: Option<String>) -> Result<ObjectPage> {
        let output = self
            .bucket
            .client()
            .list_objects_v2()
            .bucket(self.bucket.name())
            .prefix(&self.prefix)
            .max_keys(PAGE_KEYS)
            .set_continuation_token(after)
            .send()
            .await
            .map_err(|e| sdk_error::map("s3", "list", &self.describe(), e))?;
        let objects = output
            .contents()
            .iter()
            .filter_map(|object| {
                let modified = object
                    .last_modified()
                    .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                Some(S3Object {
                    key: object.key()?.to_owned(),
                    size: object
                        .size()
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    modified,
                    etag: object
                        .e_tag()
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned(),
                })
            })
            .collect();
        let next = match output.is_truncated() {
            Some(true) => output.next_continuation_token().map(str::to_owned),
            _ => None,
        };
        if next.is_none() && output.is_truncated() == Some(true) {
            return Err(Error::Backend {
                backend: "s3",
                operation: "list",
                message: format!(
                    "{}: a truncated page without a continuation token",
                    self.describe()
                ),
            });
        }
        Ok(ObjectPage { objects, next })
    }

    /// Reads the object under full key `key`, refusing it above `max_bytes`.
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<bytes::Bytes> {
        self.bucket.get(key, max_bytes, "source object", key).await
    }
}
