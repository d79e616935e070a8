//! The embedded [`MediaStore`]: one file per media key under a root directory, used by
//! `soyl serve` (the submitter stores uploads, the worker reads them).
//!
//! A key maps to `root/<key>`; [`MediaKey`] guarantees it cannot leave the root. A put writes a
//! temporary file next to the target and renames it over the target, so a reader never sees a
//! torn file, then waits for a group flush ([`GroupSync`]) that makes the file, the rename and
//! any directories created for it durable before the put returns. A crash before that flush
//! can leave the file torn, but no job refers to a key whose put has not returned. File work
//! runs on tokio's blocking pool.

use super::group_sync::{GroupSync, Written};
use crate::{Error, MediaKey, MediaStore, Result};
use async_trait::async_trait;
use bytes::Bytes;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const BACKEND: &str = "media-dir";

/// Media files under a root directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaDir {
    root: Arc<Path>,
    sync: Arc<GroupSync>,
}

impl MediaDir {
    /// The media directory at `root`, created if absent.
    pub fn open(root: PathBuf) -> Result<MediaDir> {
        fs::create_dir_all(&root).map_err(|e| Error::Backend {
            backend: BACKEND,
            operation: "open",
            message: format!("creating {}: {e}", root.display()),
        })?;
        let sync = GroupSync::open(&root).map_err(|e| Error::Backend {
            backend: BACKEND,
            operation: "open",
            message: format!("opening {}: {e}", root.display()),
        })?;
        Ok(MediaDir {
            root: Arc::from(root),
            sync: Arc::new(sync),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &MediaKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

/// Runs file work on the blocking pool; a panic resumes in the caller.
async fn blocking<T: Send + 'static>(
    operation: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(Error::Backend {
            backend: BACKEND,
            operation,
            message: format!("blocking task did not finish: {join}"),
        }),
    }
}

fn io_error(operation: &'static str, path: &Path, error: &io::Error) -> Error {
    Error::Backend {
        backend: BACKEND,
        operation,
        message: format!("{}: {error}", path.display()),
    }
}

/// Creates `dir` and its missing ancestors; returns the directories whose entries changed: `dir`
/// itself (the rename to come) and the parent of every directory created.
fn create_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut changed = vec![dir.to_path_buf()];
    let mut missing = dir;
    while !missing.exists() {
        match missing.parent() {
            Some(parent) => {
                changed.push(parent.to_path_buf());
                missing = parent;
            }
            None => break,
        }
    }
    fs::create_dir_all(dir)?;
    Ok(changed)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed into place,
/// then waits until the file and every directory entry made for it are durable.
fn write_atomically(path: &Path, bytes: &[u8], sync: &GroupSync) -> Result<()> {
    let dir = path.parent().ok_or_else(|| Error::Backend {
        backend: BACKEND,
        operation: "put",
        message: format!("{} has no parent directory", path.display()),
    })?;
    let dirs = create_dirs(dir).map_err(|e| io_error("put", dir, &e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per attempt, so concurrent puts of one key never share a temporary file.
    let temp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let written = File::create(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        // Best effort: the temporary file may not exist, and the write error is what matters.
        let _ = fs::remove_file(&temp);
        return Err(io_error("put", path, &e));
    }
    let written = Written {
        file: path.to_path_buf(),
        dirs,
    };
    sync.wait(&written).map_err(|e| io_error("put", path, &e))
}

/// Reads `path` if it is at most `max_bytes`, judging by the open file's size before reading.
/// The object's file, open, and its size. Size and bytes come from one open file: a put renames
/// a new file into place, so the file read cannot change size underneath.
fn open_object(path: &Path, key: &MediaKey) -> Result<(File, u64)> {
    let not_found = || Error::NotFound {
        what: "media",
        key: key.to_string(),
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(io_error("get", path, &e)),
    };
    let metadata = file.metadata().map_err(|e| io_error("get", path, &e))?;
    if !metadata.is_file() {
        return Err(not_found());
    }
    Ok((file, metadata.len()))
}

/// The first `n` bytes of the object and its size.
fn read_head(path: &Path, key: &MediaKey, n: usize) -> Result<(Bytes, u64)> {
    let (file, size) = open_object(path, key)?;
    let mut bytes = Vec::with_capacity(n.min(usize::try_from(size).unwrap_or(n)));
    file.take(n as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("get", path, &e))?;
    Ok((Bytes::from(bytes), size))
}

fn read_limited(path: &Path, key: &MediaKey, max_bytes: u64) -> Result<Bytes> {
    let (file, size) = open_object(path, key)?;
    if size > max_bytes {
        return Err(Error::TooLarge {
            key: key.to_string(),
            size,
            limit: max_bytes,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("get", path, &e))?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > max_bytes {
        return Err(Error::TooLarge {
            key: key.to_string(),
            size: read,
            limit: max_bytes,
        });
    }
    Ok(Bytes::from(bytes))
}

#[async_trait]
impl MediaStore for MediaDir {
    async fn put(&self, key: &MediaKey, bytes: Bytes, _content_type: Option<&str>) -> Result<()> {
        let path = self.path_of(key);
        let sync = Arc::clone(&self.sync);
        blocking("put", move || write_atomically(&path, &bytes, &sync)).await
    }

    async fn get(&self, key: &MediaKey, max_bytes: u64) -> Result<Bytes> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking("get", move || read_limited(&path, &key, max_bytes)).await
    }

    async fn head(&self, key: &MediaKey, n: usize) -> Result<(Bytes, u64)> {
        let path = self.path_of(key);
        let key = key.clone();
        blocking("get", move || read_head(&path, &key, n)).await
    }

    async fn presign_put(&self, _key: &MediaKey, _ttl: Duration) -> Result<Option<String>> {
        Ok(None)
    }
}
