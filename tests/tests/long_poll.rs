//! `GET /v1/jobs/{id}?wait_ms=`: the long poll answers as soon as the job ends (woken by this
//! process's worker, not by a poll interval), answers with the record as it is when the wait runs
//! out, is capped by `--sync-deadline-ms`, and refuses a malformed query with a code.

use soyl_tests::{face_photo, temp_dir, Server};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_returns_the_finished_job_in_one_request() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    for _ in 0..3 {
        let id = client.submit_ok("happy.jpg", face_photo("happy.jpg")).await;
        let asked = Instant::now();
        let (status, job) = client
            .send(
                client
                    .http
                    .get(format!("{}/v1/jobs/{id}?wait_ms=20000", client.url)),
            )
            .await;
        let took = asked.elapsed();
        assert_eq!(status, 200, "{job}");
        assert_eq!(
            job["status"], "succeeded",
            "one request waits for the end: {job}"
        );
        assert_eq!(
            job["result"]["face"][0]["faces"][0]["top"], "happy",
            "{job}"
        );
        assert!(
            took < Duration::from_secs(15),
            "answered when the job ended, took {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_worker_the_wait_runs_out_and_is_capped() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker", "--sync-deadline-ms", "600"]);
    let client = server.client();
    let id = client.submit_ok("happy.jpg", face_photo("happy.jpg")).await;
    let get = |query: &str| {
        let url = format!("{}/v1/jobs/{id}{query}", client.url);
        let request = client.http.get(url);
        let client = client.clone();
        async move {
            let asked = Instant::now();
            let answer = client.send(request).await;
            (answer, asked.elapsed())
        }
    };

    let ((status, job), took) = get("?wait_ms=300").await;
    assert_eq!(
        (status, job["status"].as_str()),
        (200, Some("queued")),
        "{job}"
    );
    assert!(
        took >= Duration::from_millis(300),
        "waited the 300 ms asked: {took:?}"
    );

    let ((status, _), took) = get("?wait_ms=60000").await;
    assert_eq!(status, 200);
    assert!(
        (Duration::from_millis(600)..Duration::from_secs(5)).contains(&took),
        "capped at --sync-deadline-ms 600: {took:?}"
    );

    let ((status, _), took) = get("").await;
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_millis(300),
        "no wait asked, none made: {took:?}"
    );

    let ((status, body), _) = get("?wait_ms=soon").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "{body}"
    );
}
