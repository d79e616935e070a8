//! Where a batch's objects come from: the [`Source`] trait (a streaming listing plus a fetch by
//! key) and its local-directory implementation. The S3 prefix ([`super::s3::S3Prefix`]) and the
//! benchmark's synthetic keys ([`super::synthetic::Synthetic`]) implement it too.

use super::BulkError;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::fs::ReadDir;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// One object of a listing.
#[derive(Debug, Clone)]
pub struct SourceObject {
    /// Its key: the path relative to the source root, `/`-separated.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: OffsetDateTime,
    /// A version tag the source guarantees changes with the content (S3's ETag): when set, it
    /// stands in for the content hash in the object's identity, so the identity is known before
    /// the object is read.
    pub etag: Option<String>,
}

/// A listing of objects and a way to read them.
#[async_trait]
pub trait Source: Send + Sync {
    /// A stable name of the source (part of the default batch id).
    fn describe(&self) -> String;
    /// Streams the listing; never holds all of it in memory.
    fn list(&self) -> BoxStream<'static, Result<SourceObject, BulkError>>;
    /// Reads one object's bytes.
    async fn fetch(&self, key: &str) -> Result<Bytes, BulkError>;
    /// Checks that the source can be listed at all, before a batch over it is accepted.
    async fn probe(&self) -> Result<(), BulkError> {
        Ok(())
    }
}

/// Listed objects buffered between the walking thread and the enqueue loop.
const LISTING_BUFFER: usize = 1024;

/// A local directory, walked depth-first on a blocking thread (memory: one open directory
/// iterator per level). Symbolic links are not followed.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
    /// Largest file read (larger ones are per-object errors, never read into memory).
    max_bytes: u64,
}

impl LocalDir {
    /// The directory `root` (must exist); files over `max_bytes` are refused without being read.
    pub fn open(root: &Path, max_bytes: u64) -> Result<LocalDir, BulkError> {
        let root = root
            .canonicalize()
            .map_err(|e| BulkError::io(root, "opening the source directory", e))?;
        if !root.is_dir() {
            return Err(BulkError::Invalid(format!(
                "{} is not a directory",
                root.display()
            )));
        }
        Ok(LocalDir { root, max_bytes })
    }
}

#[async_trait]
impl Source for LocalDir {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn list(&self) -> BoxStream<'static, Result<SourceObject, BulkError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(LISTING_BUFFER);
        let root = self.root.clone();
        // The receiver going away (the caller stopped early) ends the walk at its next send.
        tokio::task::spawn_blocking(move || walk(&root, &tx));
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }

    async fn fetch(&self, key: &str) -> Result<Bytes, BulkError> {
        let path = self.root.join(key);
        let io = |e| BulkError::io(&path, "reading a source object", e);
        let size = tokio::fs::metadata(&path).await.map_err(io)?.len();
        if size > self.max_bytes {
            return Err(BulkError::Store(soyl_jobs::Error::TooLarge {
                key: key.to_owned(),
                size,
                limit: self.max_bytes,
            }));
        }
        let bytes = tokio::fs::read(&path).await.map_err(io)?;
        Ok(Bytes::from(bytes))
    }
}

type Sender = tokio::sync::mpsc::Sender<Result<SourceObject, BulkError>>;

fn walk(root: &Path, tx: &Sender) {
    let mut stack: Vec<ReadDir> = Vec::new();
    match std::fs::read_dir(root) {
        Ok(dir) => stack.push(dir),
        Err(e) => {
            // The root itself: nothing can be listed, and the run ends (a sub-directory's
            // failure is an `Io` error that the run counts and goes past).
            let reason = format!("listing {}: {e}", root.display());
            let _ = tx.blocking_send(Err(BulkError::SourceUnreadable(reason)));
            return;
        }
    }
    while let Some(dir) = stack.last_mut() {
        let Some(entry) = dir.next() else {
            stack.pop();
            continue;
        };
        let item = match entry.and_then(|e| Ok((e.path(), e.file_type()?, e.metadata()?))) {
            Ok((path, kind, _)) if kind.is_dir() => match std::fs::read_dir(&path) {
                Ok(dir) => {
                    stack.push(dir);
                    continue;
                }
                Err(e) => Err(BulkError::io(&path, "listing", e)),
            },
            Ok((path, kind, meta)) if kind.is_file() => Ok(object(root, &path, &meta)),
            Ok(_) => continue,
            Err(e) => Err(BulkError::io(root, "listing", e)),
        };
        if tx.blocking_send(item).is_err() {
            return;
        }
    }
}

fn object(root: &Path, path: &Path, meta: &std::fs::Metadata) -> SourceObject {
    let key = path
        .strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let modified = meta
        .modified()
        .map(OffsetDateTime::from)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    SourceObject {
        key,
        size: meta.len(),
        modified,
        etag: None,
    }
}
