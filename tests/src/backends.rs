//! The storage ports of one test, on either backend: the embedded adapters (a fresh SQLite file
//! and media directory) or the AWS adapters on fresh resources in the shared `moto_server`. The
//! fault tests run each scenario once per backend through [`ports`].

use crate::moto::{self, Fixture};
use soyl_jobs::embedded::{MediaDir, QueueConfig, SqliteDb, SqliteJobStore, SqliteQueue};
use soyl_jobs::{JobQueue, JobStore, MediaStore};
use std::sync::Arc;
use std::time::Duration;

/// Which adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and a media directory.
    Embedded,
    /// SQS, S3 and DynamoDB on moto.
    Aws,
}

/// The ports of one test.
pub struct Ports {
    /// The job queue.
    pub queue: Arc<dyn JobQueue>,
    /// Its dead-letter queue.
    pub dead_letters: Arc<dyn JobQueue>,
    /// Job records.
    pub store: Arc<dyn JobStore>,
    /// Media.
    pub media: Arc<dyn MediaStore>,
    /// The embedded backend's directory, removed when the ports are dropped.
    pub dir: Option<tempfile::TempDir>,
}

/// Fresh ports on `backend` whose queue has `visibility` and `max_receives`; `None` (after
/// printing why) when the AWS emulator is not installed outside CI.
pub async fn ports(backend: Backend, visibility: Duration, max_receives: u32) -> Option<Ports> {
    match backend {
        Backend::Embedded => {
            let dir = crate::temp_dir();
            let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("open database");
            let config = QueueConfig {
                visibility_timeout: visibility,
                max_receives,
            };
            let queue = SqliteQueue::open(&db, "jobs", config).expect("open queue");
            Some(Ports {
                dead_letters: Arc::new(queue.dead_letter_queue()),
                queue: Arc::new(queue),
                store: Arc::new(SqliteJobStore::open(&db).expect("open job store")),
                media: Arc::new(MediaDir::open(dir.path().join("media")).expect("media dir")),
                dir: Some(dir),
            })
        }
        Backend::Aws => {
            let aws = Fixture::new(moto::shared()?, max_receives, visibility).await;
            let ports = aws.ports;
            Some(Ports {
                queue: Arc::new(ports.queue),
                dead_letters: Arc::new(ports.dead_letters.expect("dead-letter queue")),
                store: Arc::new(ports.store),
                media: Arc::new(ports.media),
                dir: None,
            })
        }
    }
}
