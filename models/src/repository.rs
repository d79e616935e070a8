//! The model repository: a folder with one sub-folder per model, each holding a `model.toml`.
//! Loaded once at start (`--models` / `SOYL_MODELS`); the pipelines look models up by task.

use crate::manifest::{Manifest, Task};
use crate::ModelError;
use std::path::{Path, PathBuf};

/// All manifests found under a repository folder.
#[derive(Debug, Clone)]
pub struct Repository {
    root: PathBuf,
    models: Vec<Manifest>,
}

impl Repository {
    /// Reads every `*/model.toml` under `root`. Folders without a manifest are ignored.
    pub fn load(root: &Path) -> Result<Repository, ModelError> {
        let entries = std::fs::read_dir(root).map_err(|e| ModelError::Manifest {
            path: root.display().to_string(),
            message: format!("cannot read model repository: {e}"),
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("model.toml").is_file())
            .collect();
        dirs.sort();
        let models = dirs
            .iter()
            .map(|d| Manifest::load(d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Repository {
            root: root.to_path_buf(),
            models,
        })
    }

    /// The repository folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every manifest.
    pub fn models(&self) -> &[Manifest] {
        &self.models
    }

    /// The first model serving `task` (sorted by folder name), if any.
    pub fn for_task(&self, task: Task) -> Option<&Manifest> {
        self.models.iter().find(|m| m.task == task)
    }
}
