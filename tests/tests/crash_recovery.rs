//! Crash safety of the single-machine service: SIGKILL `soyl serve` while jobs are in flight,
//! start it again on the same data directory, and every accepted job reaches a terminal state
//! exactly once (one terminal transition logged per job across both runs).

use soyl_tests::{face_photo, temp_dir, terminal_transitions, Server};
use std::time::Duration;

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
    let mut unfinished_at_kill = 0;
    let counts = terminal_transitions(&[&first_log, &second_log]);
    let before_kill = terminal_transitions(&[&first_log]);
    for id in &ids {
        let n = counts.get(id).copied().unwrap_or(0);
        assert_eq!(n, 1, "job {id} reached a terminal state {n} times");
        if !before_kill.contains_key(id) {
            unfinished_at_kill += 1;
        }
    }
    println!("{unfinished_at_kill} of 40 jobs were unfinished at SIGKILL; {retried} were redelivered after a lease lapsed");
    assert!(
        unfinished_at_kill > 0,
        "the kill came after every job had finished: the test proved nothing"
    );
}
