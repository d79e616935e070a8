//! Media uploaded ahead of a job: `POST /v1/uploads` gives a media key and a URL to `PUT` the
//! bytes to (this API's own on the embedded backend, a presigned S3 URL on AWS, which takes the
//! bytes without the API key), and a JSON job naming the key analyses that media like an
//! uploaded file. Keys that name no upload of the caller's are refused at submit.

use serde_json::{json, Value};
use soyl_tests::moto::{self, soyl_init as init};
use soyl_tests::{face_photo, temp_dir, Client, Server};
use std::time::Duration;

/// Issues an upload; returns (media_key, upload_url).
async fn ticket(client: &Client) -> (String, String) {
    let (status, ticket) = client.post_json("/v1/uploads", &json!({})).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["method"], "PUT");
    let key = ticket["media_key"].as_str().expect("media_key").to_owned();
    let url = ticket["upload_url"]
        .as_str()
        .expect("upload_url")
        .to_owned();
    (key, url)
}

/// Submits a JSON job of `media_key` and one text, waits for it, returns the record.
async fn run(client: &Client, media_key: &str) -> Value {
    let body = json!({"inputs": [
        {"media_key": media_key, "filename": "happy.jpg"},
        {"text": "What a lovely day"},
    ]});
    let (status, accepted) = client.post_json("/v1/jobs", &body).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["job_id"].as_str().expect("job_id");
    let job = client.wait(id, Duration::from_secs(90)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job
}

/// The uploaded photo was analysed as input 0, the text as input 1.
fn assert_happy_face_and_text(job: &Value, media_key: &str) {
    assert_eq!(job["inputs"][0]["media_key"], media_key, "{job}");
    assert_eq!(job["inputs"][0]["kind"], "image", "{job}");
    assert_eq!(job["inputs"][0]["filename"], "happy.jpg", "{job}");
    let faces = &job["result"]["face"][0]["faces"];
    assert_eq!(faces.as_array().map(Vec::len), Some(1), "{job}");
    assert_eq!(faces[0]["top"], "happy", "{job}");
    assert_eq!(job["result"]["text"][0]["input"], 1, "{job}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_put_to_the_api_is_analysed_by_a_job_naming_its_key() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let (key, url) = ticket(&client).await;
    assert!(url.starts_with("/v1/uploads/"), "{url}");
    let photo = face_photo("happy.jpg");
    let put = client
        .http
        .put(format!("{}{url}", server.url))
        .body(photo.clone());
    let (status, stored) = client.send(put).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        (stored["media_key"].as_str(), stored["size"].as_u64()),
        (Some(key.as_str()), Some(photo.len() as u64))
    );
    let job = run(&client, &key).await;
    assert_happy_face_and_text(&job, &key);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_that_name_no_upload_of_the_caller_are_refused() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let (key, _) = ticket(&client).await; // issued, never uploaded
    let (_, accepted) = client
        .submit(&[("happy.jpg", face_photo("happy.jpg"))], None)
        .await;
    let job_input = format!("default/{}/0", accepted["job_id"].as_str().expect("id"));
    let elsewhere = key.replacen("default/", "other/", 1);
    for bad in [key.as_str(), &job_input, &elsewhere, "../etc/passwd"] {
        let body = json!({"inputs": [{"media_key": bad}]});
        let (status, answer) = client.post_json("/v1/jobs", &body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some("unknown_media_key")),
            "{bad}: {answer}"
        );
    }
    let both = json!({"inputs": [{"media_key": key, "text": "hi"}]});
    let (status, answer) = client.post_json("/v1/jobs", &both).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_aws_the_upload_goes_to_a_presigned_s3_url_without_the_api_key() {
    let Some(moto) = moto::shared() else { return };
    let env = init(moto);
    let dir = temp_dir();
    let server = Server::start_with_env(dir.path(), &[], &env, &dir.path().join("serve.log"));
    let client = server.client();
    let (key, url) = ticket(&client).await;
    assert!(url.starts_with("http"), "a presigned URL: {url}");
    let put = reqwest::Client::new()
        .put(&url)
        .body(face_photo("happy.jpg"))
        .send()
        .await
        .expect("PUT to the presigned URL");
    assert!(put.status().is_success(), "{}", put.status());
    let job = run(&client, &key).await;
    assert_happy_face_and_text(&job, &key);
}
