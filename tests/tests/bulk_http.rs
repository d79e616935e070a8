//! `POST /v1/batches` and `GET /v1/batches/{id}` end to end on the embedded backend with the real
//! models: a generated directory under `--bulk-root` is reprocessed over HTTP, polled until done,
//! and posted again without adding a job; the root confines what a request may read; another
//! tenant sees nothing. `SOYL_BULK_HTTP_ITEMS` sets the directory size (default 60).

use serde_json::{json, Value};
use soyl_tests::bulk_media::generate;
use soyl_tests::{soyl_keys, temp_dir, Client, Server};
use std::time::{Duration, Instant};

fn items() -> usize {
    std::env::var("SOYL_BULK_HTTP_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60)
}

/// Posts a batch of `source`; returns its id, asserting 202, `started` and the `self` link.
async fn post_batch(client: &Client, source: &str) -> String {
    let (status, body) = client
        .post_json("/v1/batches", &json!({"source": source}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["started"], true, "{body}");
    let id = body["batch_id"].as_str().expect("batch_id").to_owned();
    assert_eq!(body["links"]["self"], format!("/v1/batches/{id}"));
    id
}

/// Polls `GET /v1/batches/{id}` until its listing ended and every job finished.
async fn wait_done(client: &Client, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (status, body) = client
            .send(client.http.get(format!("{}/v1/batches/{id}", client.url)))
            .await;
        assert_eq!(status, 200, "{body}");
        if body["done"] == true {
            assert_eq!(body["listing"]["finished"], true, "{body}");
            return body;
        }
        assert!(Instant::now() < deadline, "batch not done in time: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_posted_over_http_finishes_and_a_second_post_adds_nothing() {
    let n = items();
    let dir = temp_dir();
    let (root, data) = (dir.path().join("root"), dir.path().join("data"));
    generate(&root.join("archive"), n);
    std::fs::create_dir_all(&data).expect("data dir");
    let root_arg = root.to_string_lossy().into_owned();
    let server = Server::start(&data, &["--bulk-root", &root_arg]);
    let client = server.client();

    let started = Instant::now();
    let id = post_batch(&client, "archive").await;
    let status = wait_done(&client, &id).await;
    println!(
        "{n} items over HTTP in {:.1} s: {status}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(status["total"], n as u64, "{status}");
    let finished = status["succeeded"].as_u64().unwrap() + status["failed"].as_u64().unwrap();
    assert_eq!(
        finished, n as u64,
        "every job succeeded or failed: {status}"
    );
    assert!(status["succeeded"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["listing"]["enqueued"], n as u64, "{status}");
    assert!(status["items_per_s"].as_f64().unwrap() > 0.0, "{status}");
    assert_eq!(status["eta_s"], 0.0, "{status}");

    let again = post_batch(&client, &root.join("archive").to_string_lossy()).await;
    assert_eq!(again, id, "the same source resumes the same batch");
    let status = wait_done(&client, &id).await;
    assert_eq!(status["total"], n as u64, "{status}");
    let listing = &status["listing"];
    assert_eq!(listing["enqueued"], 0, "{status}");
    assert_eq!(listing["existing"], n as u64, "{status}");
    assert_eq!(
        listing["resent"], 0,
        "finished jobs are never sent again: {status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn local_sources_are_confined_to_the_bulk_root() {
    let dir = temp_dir();
    let (root, data) = (dir.path().join("root"), dir.path().join("data"));
    std::fs::create_dir_all(root.join("inside")).expect("root");
    std::fs::create_dir_all(dir.path().join("outside")).expect("outside");
    std::fs::create_dir_all(&data).expect("data dir");
    let root_arg = root.to_string_lossy().into_owned();
    let confined = Server::start(&data, &["--bulk-root", &root_arg, "--no-worker"]);
    let client = confined.client();
    let outside = dir.path().join("outside").to_string_lossy().into_owned();
    for source in ["../outside", outside.as_str(), "/etc", "missing"] {
        let (status, body) = client
            .post_json("/v1/batches", &json!({"source": source}))
            .await;
        assert_eq!(status, 403, "{source}: {body}");
        assert_eq!(body["error"]["code"], "source_outside_bulk_root", "{body}");
    }
    for (body, code) in [
        (json!({"source": "s3://archive/x/"}), "source_not_supported"),
        (json!({"source": "ftp://host/x"}), "invalid_source"),
        (json!({"source": "inside", "colour": "red"}), "invalid_body"),
        (
            json!({"source": "inside", "batch_id": "../x"}),
            "invalid_batch",
        ),
    ] {
        let (status, answer) = client.post_json("/v1/batches", &body).await;
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert!(status == 400 || status == 422, "{body}: {status}");
    }
    let (status, body) = client
        .send(client.http.get(format!("{}/v1/batches/b-0000", client.url)))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("batch_not_found"))
    );

    drop(confined);
    let open = Server::start(&data, &["--no-worker"]);
    let (status, body) = open
        .client()
        .post_json("/v1/batches", &json!({"source": root_arg}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "local_source_disabled", "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_tenants_batch_answers_like_an_unknown_one() {
    let dir = temp_dir();
    let (root, data) = (dir.path().join("root"), dir.path().join("data"));
    generate(&root.join("few"), 3);
    std::fs::create_dir_all(&data).expect("data dir");
    let alice = soyl_keys(&data, &["create", "--tenant", "alice"]);
    let bob = soyl_keys(&data, &["create", "--tenant", "bob"]);
    let root_arg = root.to_string_lossy().into_owned();
    let server = Server::start(
        &data,
        &["--bulk-root", &root_arg, "--auth", "enabled", "--no-worker"],
    );
    let id = post_batch(&server.client_with_key(&alice), "few").await;
    let get = |key: &str| {
        let client = server.client_with_key(key);
        let url = format!("{}/v1/batches/{id}", server.url);
        async move { client.send(client.http.get(url)).await }
    };
    let (status, body) = get(&alice).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&bob).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "batch_not_found");
}
