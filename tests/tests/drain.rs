//! Graceful drain: SIGTERM while jobs are in flight stops receiving, finishes or releases the
//! in-flight work within the stop timeout, and exits 0; nothing is left `running`, and a restarted
//! server finishes every job.

use soyl_tests::{face_photo, temp_dir, Server};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_exits_cleanly_and_leaves_nothing_running() {
    let dir = temp_dir();
    let args = ["--stop-timeout-s", "3"];
    let mut server = Server::start(dir.path(), &args);
    let client = server.client();
    let photo = face_photo("group-six-faces.jpg");
    let ids = client.submit_many(40, "group.jpg", &photo).await;
    let asked = Instant::now();
    let status = server
        .terminate(Duration::from_secs(20))
        .expect("soyl serve exits after SIGTERM");
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took < Duration::from_secs(10),
        "drain took {took:?} with a 3 s stop timeout"
    );

    let api_only = Server::start(dir.path(), &["--no-worker"]);
    let (_, running) = api_only
        .client()
        .send(
            api_only
                .client()
                .http
                .get(format!("{}/v1/jobs?status=running", api_only.url)),
        )
        .await;
    assert_eq!(
        running["jobs"].as_array().map(Vec::len),
        Some(0),
        "jobs left running: {running}"
    );
    drop(api_only);

    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    for id in &ids {
        let job = client.wait(id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    println!("drained in {took:?}");
}
