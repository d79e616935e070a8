//! Crash safety of the single-machine service: SIGKILL `soyl serve` while jobs are in flight,
//! start it again on the same data directory, and every accepted job reaches a terminal state
//! exactly once: a job the database holds as ended at the kill never ends again, and every other
//! job ends once in the second run (its terminal transitions, as logged).

use soyl_jobs::embedded::{SqliteDb, SqliteJobStore};
use soyl_jobs::{JobId, JobStore, Tenant};
use soyl_tests::{face_photo, temp_dir, terminal_transitions, Server};
use std::collections::HashSet;
use std::time::Duration;

/// The jobs of `ids` that the database in `dir` holds as ended.
async fn ended_in_store(dir: &std::path::Path, ids: &[String]) -> HashSet<String> {
    let db = SqliteDb::open(&dir.join("soyl.db")).expect("open the killed server's database");
    let store = SqliteJobStore::open(&db).expect("job store");
    let mut ended = HashSet::new();
    for id in ids {
        let job_id: JobId = id.parse().expect("job id");
        let job = store
            .get(&Tenant::default_tenant(), &job_id)
            .await
            .expect("get job")
            .expect("an accepted job is stored");
        if job.status.is_terminal() {
            ended.insert(id.clone());
        }
    }
    ended
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_run_then_restart_finishes_every_job_exactly_once() {
    let dir = temp_dir();
    let args = ["--visibility-timeout-s", "2"];
    let first_log = dir.path().join("first.log");
    let mut first = Server::start_logging(dir.path(), &args, &first_log);
    let client = first.client();
    let photo = face_photo("group-six-faces.jpg");
    let ids = client.submit_many(40, "group.jpg", &photo).await;
    first.kill();
    // What had ended is read from the database, not the log: a kill between a result's commit and
    // its log line leaves an ended job with no line.
    let ended_at_kill = ended_in_store(dir.path(), &ids).await;

    let second_log = dir.path().join("second.log");
    let second = Server::start_logging(dir.path(), &args, &second_log);
    let client = second.client();
    let mut retried = 0;
    for id in &ids {
        let job = client.wait(id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(
            job["result"]["face"][0]["faces"].as_array().map(Vec::len),
            Some(6)
        );
        if job["attempts"].as_u64().unwrap_or(0) > 1 {
            retried += 1;
        }
        let started: &str = job["started_at"].as_str().expect("started_at");
        assert!(job["finished_at"].as_str().expect("finished_at") >= started);
    }
    let before_kill = terminal_transitions(&[&first_log]);
    let after_restart = terminal_transitions(&[&second_log]);
    for id in &ids {
        let first_run = before_kill.get(id).copied().unwrap_or(0);
        let second_run = after_restart.get(id).copied().unwrap_or(0);
        if ended_at_kill.contains(id) {
            assert!(
                first_run <= 1,
                "job {id} ended {first_run} times before the kill"
            );
            assert_eq!(
                second_run, 0,
                "job {id} had ended before the kill and ended again"
            );
        } else {
            assert_eq!(
                first_run, 0,
                "job {id} logged an end that the database does not hold"
            );
            assert_eq!(
                second_run, 1,
                "job {id} ended {second_run} times after the restart"
            );
        }
    }
    let unfinished_at_kill = ids.len() - ended_at_kill.len();
    println!("{unfinished_at_kill} of 40 jobs were unfinished at SIGKILL; {retried} were redelivered after a lease lapsed");
    assert!(
        unfinished_at_kill > 0,
        "the kill came after every job had finished: the test proved nothing"
    );
}
