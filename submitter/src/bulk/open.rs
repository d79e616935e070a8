//! From a source as written (`s3://bucket/prefix` or a directory path) to a [`Source`], under the
//! rules of the caller: the command line may read any directory it can; the HTTP API only
//! directories under `--bulk-root` (none without it), so that a request can never make the
//! server read its own files. `s3://` needs the AWS backend's clients; on the AWS backend the
//! HTTP API takes no local paths at all (the API runs on Lambda, whose disk holds no media).

use super::{BulkError, LocalDir, Source};
use crate::aws::{s3_source, AwsClients};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A source as a caller writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local directory.
    Local(PathBuf),
    /// Objects of `bucket` whose keys start with `prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
}

impl SourceSpec {
    /// Parses `s3://bucket[/prefix]` or a path.
    pub fn parse(text: &str) -> Result<SourceSpec, BulkError> {
        let invalid = |why: &str| BulkError::InvalidSource(format!("{text:?}: {why}"));
        if text.trim().is_empty() {
            return Err(invalid("empty"));
        }
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.contains("://") {
                return Err(invalid("only s3:// URLs and directory paths are sources"));
            }
            return Ok(SourceSpec::Local(PathBuf::from(text)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(invalid("the bucket must be 3 to 63 of a-z 0-9 . -"));
        }
        if prefix.len() > 1024 {
            return Err(invalid("the prefix is longer than an S3 key may be"));
        }
        Ok(SourceSpec::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// Which local directories a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPolicy {
    /// Any directory (the command line, which runs as its user).
    Any,
    /// Only directories under this root (the HTTP API's `--bulk-root`); relative paths are
    /// taken relative to it.
    Under(PathBuf),
    /// None: no `--bulk-root` was configured.
    NoRoot,
    /// None: this backend takes no local sources (the HTTP API on AWS).
    Unsupported,
}

/// Opens sources for one backend and caller.
#[derive(Debug, Clone)]
pub struct Sources {
    /// AWS clients, on the AWS backend (`s3://` sources need them).
    pub aws: Option<AwsClients>,
    /// Which local directories may be read.
    pub local: LocalPolicy,
    /// Largest object a source reads (`s3://` and local).
    pub max_object_bytes: u64,
}

impl Sources {
    /// The source `text` names, if this caller may read it.
    pub fn open(&self, text: &str) -> Result<Arc<dyn Source>, BulkError> {
        match SourceSpec::parse(text)? {
            SourceSpec::S3 { bucket, prefix } => {
                let clients = self.aws.as_ref().ok_or_else(|| {
                    BulkError::UnsupportedSource(crate::aws::S3_SOURCES_NEED.to_owned())
                })?;
                Ok(s3_source(clients, &bucket, &prefix, self.max_object_bytes))
            }
            SourceSpec::Local(path) => Ok(Arc::new(self.local_dir(&path)?)),
        }
    }

    fn local_dir(&self, path: &Path) -> Result<LocalDir, BulkError> {
        match &self.local {
            LocalPolicy::Any => LocalDir::open(path, self.max_object_bytes),
            LocalPolicy::Under(root) => {
                LocalDir::open(&confine(root, path)?, self.max_object_bytes)
            }
            LocalPolicy::NoRoot => Err(BulkError::LocalSourceDisabled),
            LocalPolicy::Unsupported => Err(BulkError::UnsupportedSource(
                "this backend takes s3://bucket/prefix sources only".to_owned(),
            )),
        }
    }
}

/// `path` (relative paths under `root`) with every link and `..` resolved, if it is an existing
/// directory inside `root`. A missing path and one outside the root get the same answer, so the
/// API tells nothing about files outside the root.
fn confine(root: &Path, path: &Path) -> Result<PathBuf, BulkError> {
    let outside = || BulkError::OutsideRoot(path.display().to_string());
    let root = root.canonicalize().map_err(|_| outside())?;
    let resolved = root.join(path).canonicalize().map_err(|_| outside())?;
    if resolved.starts_with(&root) && resolved.is_dir() {
        Ok(resolved)
    } else {
        Err(outside())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_and_paths_are_told_apart() {
        assert_eq!(
            SourceSpec::parse("s3://media-archive/2024/faces/").unwrap(),
            SourceSpec::S3 {
                bucket: "media-archive".into(),
                prefix: "2024/faces/".into()
            }
        );
        assert_eq!(
            SourceSpec::parse("s3://media-archive").unwrap(),
            SourceSpec::S3 {
                bucket: "media-archive".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            SourceSpec::parse("./archive").unwrap(),
            SourceSpec::Local("./archive".into())
        );
        for bad in ["", "s3://", "s3://Upper_Case/x", "http://example.com/x"] {
            assert!(
                matches!(SourceSpec::parse(bad), Err(BulkError::InvalidSource(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_directory_outside_the_root_is_refused_like_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("inside")).unwrap();
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        assert!(confine(&root, Path::new("inside")).is_ok());
        assert!(confine(&root, &root.join("inside")).is_ok());
        for bad in ["../outside", "missing", "/etc"] {
            assert!(
                matches!(
                    confine(&root, Path::new(bad)),
                    Err(BulkError::OutsideRoot(_))
                ),
                "{bad}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside"), root.join("link")).unwrap();
            assert!(matches!(
                confine(&root, Path::new("link")),
                Err(BulkError::OutsideRoot(_))
            ));
        }
    }
}
