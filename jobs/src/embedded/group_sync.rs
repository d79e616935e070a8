//! Durability for many writers at the cost of few flushes: group commit for the media
//! directory.
//!
//! A writer finishes its file work (temporary file written and renamed into place) and then
//! calls [`GroupSync::wait`]. One waiter at a time flushes the whole file system (`syncfs` on
//! Linux); every writer that arrived before that flush started is durable when it ends, and
//! those that arrived during it are served by the next one. Under load a flush covers the
//! writes of several uploads, where one `fsync` of the file and one of its directory per upload
//! cost their own device flushes (docs/performance.md). The flush also covers directories
//! created for the upload, which a per-file `fsync` does not.
//!
//! Elsewhere than Linux there is no `syncfs`: each waiter syncs its own file and the
//! directories it created.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};

/// Paths one writer needs durable: its file, then the directories that hold new entries (the
/// file's own directory first).
#[derive(Debug)]
pub struct Written {
    /// The file renamed into place.
    pub file: PathBuf,
    /// Directories whose entries changed: the file's, and any created for it.
    pub dirs: Vec<PathBuf>,
}

/// Flushes the file system under one root for every writer waiting at once.
#[derive(Debug)]
pub struct GroupSync {
    /// An open handle on the root, naming the file system to flush.
    root: File,
    state: Mutex<State>,
    flushed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out: writers that finished their file work.
    arrived: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// Whether a waiter is flushing now.
    flushing: bool,
}

impl GroupSync {
    /// Group commit for the file system holding `root`.
    pub fn open(root: &Path) -> io::Result<GroupSync> {
        Ok(GroupSync {
            root: File::open(root)?,
            state: Mutex::new(State::default()),
            flushed: Condvar::new(),
        })
    }

    /// Blocks until `written` is durable. Call it after the file work is complete.
    pub fn wait(&self, written: &Written) -> io::Result<()> {
        if !cfg!(target_os = "linux") {
            return sync_each(written);
        }
        let lock = || self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = lock();
        state.arrived += 1;
        let ticket = state.arrived;
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if !state.flushing {
                // Lead a flush that covers every ticket handed out so far.
                state.flushing = true;
                let covers = state.arrived;
                drop(state);
                let flushed = flush(&self.root);
                state = lock();
                state.flushing = false;
                if flushed.is_ok() {
                    state.durable = state.durable.max(covers);
                }
                self.flushed.notify_all();
                // A failed flush fails its leader; the others each lead a try of their own.
                flushed?;
                continue;
            }
            state = self
                .flushed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(target_os = "linux")]
fn flush(root: &File) -> io::Result<()> {
    rustix::fs::syncfs(root).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn flush(_root: &File) -> io::Result<()> {
    unreachable!("GroupSync::wait syncs each writer's own paths elsewhere than Linux")
}

fn sync_each(written: &Written) -> io::Result<()> {
    File::open(&written.file)?.sync_all()?;
    for dir in &written.dirs {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[cfg(target_os = "linux")]
    #[test]
    fn every_writer_returns_once_a_flush_after_its_arrival_ended() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(GroupSync::open(dir.path()).unwrap());
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let sync = Arc::clone(&sync);
                let file = dir.path().join(format!("f{i}"));
                std::thread::spawn(move || {
                    std::fs::write(&file, b"x").unwrap();
                    let dirs = vec![file.parent().unwrap().to_path_buf()];
                    sync.wait(&Written { file, dirs })
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        let state = sync.state.lock().unwrap();
        assert_eq!(state.arrived, 16);
        assert_eq!(state.durable, 16, "no ticket left behind");
        assert!(!state.flushing);
    }
}
