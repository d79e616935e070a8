//! The `s3://bucket/prefix` [`Source`]: the listing is `ListObjectsV2`, one page of up to 1,000
//! keys in memory at a time, fetched only when the enqueue loop asks for more; a fetch is a
//! size-bounded `GetObject`. Each object's ETag is its version tag, so its identity needs no
//! content hash. The enqueue loop copies each media object into soyl's media store (the job's
//! input must be a media key of that store); text objects become inline text.

use super::source::{Source, SourceObject};
use super::BulkError;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use soyl_jobs::aws::{AwsClients, S3Objects};

/// The objects under one S3 prefix.
#[derive(Debug, Clone)]
pub struct S3Prefix {
    objects: S3Objects,
    max_bytes: u64,
}

/// Where the listing is: before the first page, at a continuation token, or past the last page.
enum Cursor {
    Start,
    After(String),
    End,
}

impl S3Prefix {
    /// Objects of `bucket` under `prefix`; fetches refuse objects over `max_bytes`.
    pub fn new(clients: &AwsClients, bucket: &str, prefix: &str, max_bytes: u64) -> Self {
        S3Prefix {
            objects: S3Objects::new(clients.s3.clone(), bucket, prefix),
            max_bytes,
        }
    }
}

#[async_trait]
impl Source for S3Prefix {
    fn describe(&self) -> String {
        self.objects.describe()
    }

    fn list(&self) -> BoxStream<'static, Result<SourceObject, BulkError>> {
        let objects = self.objects.clone();
        let pages = stream::unfold(Cursor::Start, move |cursor| {
            let objects = objects.clone();
            async move {
                let token = match cursor {
                    Cursor::Start => None,
                    Cursor::After(token) => Some(token),
                    Cursor::End => return None,
                };
                match objects.page(token).await {
                    Ok(page) => {
                        let next = page.next.map_or(Cursor::End, Cursor::After);
                        let items: Vec<Result<SourceObject, BulkError>> = page
                            .objects
                            .into_iter()
                            // "Folder" placeholder objects carry no media.
                            .filter(|o| !o.key.ends_with('/'))
                            .map(|o| {
                                Ok(SourceObject {
                                    key: o.key,
                                    size: o.size,
                                    modified: o.modified,
                                    etag: Some(o.etag),
                                })
                            })
                            .collect();
                        Some((stream::iter(items), next))
                    }
                    // A failed page ends the listing with its error.
                    Err(e) => Some((stream::iter(vec![Err(BulkError::Store(e))]), Cursor::End)),
                }
            }
        });
        Box::pin(pages.flatten())
    }

    async fn fetch(&self, key: &str) -> Result<Bytes, BulkError> {
        Ok(self.objects.get(key, self.max_bytes).await?)
    }

    /// No such bucket, access denied and the like are the caller's to fix (`SourceUnreadable`);
    /// a throttled or unavailable S3 stays a storage error, to retry.
    async fn probe(&self) -> Result<(), BulkError> {
        match self.objects.probe().await {
            Ok(()) => Ok(()),
            Err(e) if e.is_transient() => Err(BulkError::Store(e)),
            Err(e) => Err(BulkError::SourceUnreadable(e.to_string())),
        }
    }
}
