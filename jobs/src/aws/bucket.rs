//! One S3 bucket: put, size-bounded get and presigned PUT URLs by full object key. Shared by the
//! media store ([`super::S3Media`], keys under the media prefix) and the job store (records too
//! large for a DynamoDB item, under the results prefix).

use super::sdk_error;
use crate::{Error, Result};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

const BACKEND: &str = "s3";

/// A bucket and its client. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    client: Client,
    name: Arc<str>,
}

impl Bucket {
    pub(crate) fn new(client: Client, name: &str) -> Bucket {
        Bucket {
            client,
            name: Arc::from(name),
        }
    }

    /// The client, for the operations only one caller needs.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn context(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    /// Stores `bytes` under `key` (overwrites).
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> Result<()> {
        self.client
            .put_object()
            .bucket(self.name.as_ref())
            .key(key)
            .set_content_type(content_type.map(str::to_owned))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_error::map(BACKEND, "put", &self.context(key), e))?;
        Ok(())
    }

    /// Reads the object under `key`, refusing with [`Error::TooLarge`] (named `shown_key`) from
    /// its `Content-Length`, before any of the body is read, when it is over `max_bytes`. A missing
    /// object is [`Error::NotFound`] of `what`.
    pub(crate) async fn get(
        &self,
        key: &str,
        max_bytes: u64,
        what: &'static str,
        shown_key: &str,
    ) -> Result<Bytes> {
        let output = self
            .client
            .get_object()
            .bucket(self.name.as_ref())
            .key(key)
            .send()
            .await
            .map_err(|e| self.get_error(e, key, what, shown_key))?;
        let too_large = |size: u64| Error::TooLarge {
            key: shown_key.to_owned(),
            size,
            limit: max_bytes,
        };
        let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(size) = declared.filter(|&size| size > max_bytes) {
            // Dropping the body closes the connection: nothing more is downloaded.
            return Err(too_large(size));
        }
        let bytes = self.read_body(output.body, key).await?;
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if size > max_bytes {
            return Err(too_large(size));
        }
        Ok(bytes)
    }

    /// The first `n` bytes of the object under `key` (a ranged GET: the rest is never sent) and
    /// the object's size. A missing object is [`Error::NotFound`] of `what`.
    pub(crate) async fn head(
        &self,
        key: &str,
        n: usize,
        what: &'static str,
        shown_key: &str,
    ) -> Result<(Bytes, u64)> {
        let answer = self
            .client
            .get_object()
            .bucket(self.name.as_ref())
            .key(key)
            .range(format!("bytes=0-{}", n.max(1) - 1))
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            // A range of an empty object is not satisfiable.
            Err(e)
                if sdk_error::code(&e).is_some_and(|c| c == "InvalidRange")
                    || sdk_error::http_status(&e) == Some(416) =>
            {
                return Ok((Bytes::new(), 0));
            }
            Err(e) => return Err(self.get_error(e, key, what, shown_key)),
        };
        // `bytes 0-63/12345`: the size follows the slash; without a range the length is it.
        let size = output
            .content_range()
            .and_then(|range| range.rsplit_once('/'))
            .and_then(|(_, size)| size.parse::<u64>().ok())
            .or_else(|| output.content_length().and_then(|n| u64::try_from(n).ok()));
        let mut bytes = self.read_body(output.body, key).await?;
        bytes.truncate(n);
        let size = size.unwrap_or(bytes.len() as u64);
        Ok((bytes, size))
    }

    /// The whole body of a GET (a failure midway is transient).
    async fn read_body(&self, body: ByteStream, key: &str) -> Result<Bytes> {
        let collected = body.collect().await.map_err(|e| Error::Transient {
            backend: BACKEND,
            operation: "get",
            message: format!("{}: reading the body: {e}", self.context(key)),
        })?;
        Ok(collected.into_bytes())
    }

    /// A failed GET as this crate's error: a missing object is [`Error::NotFound`] of `what`.
    fn get_error<E>(
        &self,
        e: SdkError<E, HttpResponse>,
        key: &str,
        what: &'static str,
        shown_key: &str,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let missing = sdk_error::code(&e).is_some_and(|c| c == "NoSuchKey")
            || sdk_error::http_status(&e) == Some(404);
        if missing {
            Error::NotFound {
                what,
                key: shown_key.to_owned(),
            }
        } else {
            sdk_error::map(BACKEND, "get", &self.context(key), e)
        }
    }

    /// A URL that accepts one `PUT` of the object under `key` for `ttl` (at most 7 days).
    pub(crate) async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String> {
        let config = PresigningConfig::expires_in(ttl).map_err(|_| Error::Invalid {
            what: "presigned URL lifetime",
            value: format!("{ttl:?}"),
            reason: "must be between 1 second and 7 days (S3's limit)",
        })?;
        let request = self
            .client
            .put_object()
            .bucket(self.name.as_ref())
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| sdk_error::map(BACKEND, "presign_put", &self.context(key), e))?;
        Ok(request.uri().to_owned())
    }
}
