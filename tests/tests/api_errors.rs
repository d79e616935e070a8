//! Every error the API answers has the one JSON shape and a stable code, whichever layer chose
//! it (an extractor's rejection, the router, option parsing), and a form's `options` and `text`
//! parts keep their meaning when a client sends them as files.

use serde_json::{json, Value};
use soyl_tests::{face_photo, temp_dir, Client, Server};

/// Sends `request`; returns the status and the error code of its JSON body (None if not JSON).
async fn code_of(client: &Client, request: reqwest::RequestBuilder) -> (u16, Option<String>) {
    let (status, body) = client.send(request).await;
    let code = body["error"]["code"].as_str().map(str::to_owned);
    (status, code)
}

fn code(status: u16, code: &str) -> (u16, Option<String>) {
    (status, Some(code.to_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_chosen_by_axum_itself_come_in_the_json_shape_with_a_code() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker", "--max-upload-bytes", "4096"]);
    let client = server.client();
    let url = |path: &str| format!("{}{path}", server.url);
    let big = json!({"text": "x".repeat(8192)}).to_string();
    let cases = [
        (
            client.http.post(url("/analyzeText")).body(big.clone()),
            code(413, "payload_too_large"),
        ),
        (
            client.http.post(url("/getEmotionState")).body(big.clone()),
            code(413, "payload_too_large"),
        ),
        (
            client.http.post(url("/v1/batches")).body(big),
            code(413, "payload_too_large"),
        ),
        (
            client.http.get(url("/v1/jobs/%FF%FE")),
            code(400, "invalid_request"),
        ),
        (client.http.get(url("/v2/jobs")), code(404, "unknown_route")),
        (
            client.http.put(url("/v1/jobs")),
            code(405, "method_not_allowed"),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(code_of(&client, request).await, expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_option_is_invalid_options_in_json_as_in_a_form() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let json_job = |options: Value| {
        let body = json!({"inputs": [{"text": "fine"}], "options": options});
        client
            .http
            .post(format!("{}/v1/jobs", server.url))
            .json(&body)
    };
    for options in [
        json!({"fuse": "yes"}),
        json!({"no_such_option": 1}),
        json!({"batch_id": "../x"}),
        json!({"voice": {"hop_s": 1e39}}),
    ] {
        assert_eq!(
            code_of(&client, json_job(options.clone())).await,
            code(422, "invalid_options"),
            "{options}"
        );
        let (status, body) = client
            .submit(
                &[("happy.jpg", face_photo("happy.jpg"))],
                Some(options.clone()),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_options")),
            "form with {options}: {body}"
        );
    }
    let unknown_field = json!({"inputs": [{"text": "fine"}], "extra": 1});
    let request = client
        .http
        .post(format!("{}/v1/jobs", server.url))
        .json(&unknown_field);
    assert_eq!(code_of(&client, request).await, code(422, "invalid_body"));
    let request = client
        .http
        .post(format!("{}/v1/jobs", server.url))
        .header("content-type", "application/json")
        .body("{not json");
    assert_eq!(code_of(&client, request).await, code(400, "invalid_body"));
}

#[tokio::test(flavor = "multi_thread")]
async fn options_and_text_parts_sent_as_files_keep_their_meaning() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let options = json!({"metadata": {"order": 42}, "modalities": ["text"]});
    // What `curl -F options=@opts.json -F text=@note.txt` and Python requests' `files=` send.
    let form = reqwest::multipart::Form::new()
        .part(
            "text",
            reqwest::multipart::Part::text("What a lovely day").file_name("note.txt"),
        )
        .part(
            "options",
            reqwest::multipart::Part::text(options.to_string()).file_name("opts.json"),
        );
    let (status, accepted) = client
        .send(
            client
                .http
                .post(format!("{}/v1/jobs", server.url))
                .multipart(form),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let (_, job) = client
        .job(accepted["job_id"].as_str().expect("job_id"))
        .await;
    let inputs = job["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 1, "{job}");
    assert_eq!(inputs[0]["kind"], "text", "{job}");
    assert_eq!(inputs[0]["text"], "What a lovely day", "{job}");
    assert_eq!(job["options"]["metadata"]["order"], 42, "{job}");
    assert_eq!(job["options"]["modalities"], json!(["text"]), "{job}");
}
