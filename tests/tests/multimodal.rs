//! Multimodal jobs over HTTP: a face, a spoken sentence and a sentence of text in one job give
//! face, voice, text and a fused reading whose valence follows the face and the words.

use serde_json::{json, Value};
use soyl_tests::{face_photo, temp_dir, voice_fixture, Server};
use std::time::Duration;

async fn run(client: &soyl_tests::Client, photo: &str, text: &str) -> Value {
    let files = [
        (photo, face_photo(photo)),
        ("speech.wav", voice_fixture("speech-pcm16.wav")),
    ];
    let (status, body) = client.submit_mixed(&files, &[text], None).await;
    assert_eq!(status, 202, "{body}");
    let job = client
        .wait(
            body["job_id"].as_str().expect("id"),
            Duration::from_secs(90),
        )
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    job
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_face_speech_and_praise_fuse_positive_sad_and_complaint_negative() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();

    let happy = run(&client, "happy.jpg", "I love this, it is wonderful :)").await;
    let result = &happy["result"];
    for modality in ["face", "voice", "text"] {
        assert!(
            result[modality].as_array().is_some_and(|a| a.len() == 1),
            "{modality}: {result}"
        );
    }
    assert!(
        result["voice"][0]["segments"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{result}"
    );
    assert!(
        result["voice"][0]["segments"][0]["prosody"]["energy_dbfs"].is_number(),
        "{result}"
    );
    assert!(
        result["text"][0]["summary"]["arousal"].is_null(),
        "the lexicon does not measure arousal"
    );
    for model in [
        "face-detector",
        "face-emotion",
        "voice-emotion",
        "text-sentiment",
    ] {
        assert!(
            result["models"][model].is_string(),
            "{model} missing from {}",
            result["models"]
        );
    }
    let fused = &result["fused"];
    assert!(
        fused["valence"].as_f64().expect("fused valence") > 0.0,
        "{fused}"
    );
    assert_eq!(
        fused["sources"].as_array().map(Vec::len),
        Some(3),
        "{fused}"
    );
    let weights: f64 = fused["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["weight"].as_f64())
        .sum();
    assert!((weights - 1.0).abs() < 0.01, "weights sum to {weights}");

    let sad = run(&client, "sad.jpg", "This is terrible and I hate it.").await;
    let fused = &sad["result"]["fused"];
    assert!(
        fused["valence"].as_f64().expect("fused valence") < 0.0,
        "{fused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn text_jobs_in_json_give_sentence_spans_that_slice_the_text() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let text = "I love this. The meeting is at 3pm. This is terrible and I hate it.";
    let body =
        json!({"inputs": [{"text": text}], "options": {"text": {"granularity": "sentence"}}});
    let (status, accepted) = client.post_json("/v1/jobs", &body).await;
    assert_eq!(status, 202, "{accepted}");
    let job = client
        .wait(
            accepted["job_id"].as_str().expect("id"),
            Duration::from_secs(60),
        )
        .await;
    let spans = job["result"]["text"][0]["spans"]
        .as_array()
        .expect("spans")
        .clone();
    assert_eq!(spans.len(), 3, "{job}");
    let chars: Vec<char> = text.chars().collect();
    let slice = |s: &Value| -> String {
        let (b, e) = (
            s["begin"].as_u64().expect("begin") as usize,
            s["end"].as_u64().expect("end") as usize,
        );
        chars[b..e].iter().collect()
    };
    assert_eq!(slice(&spans[0]), "I love this.");
    assert_eq!(slice(&spans[2]), "This is terrible and I hate it.");
    assert!(
        spans[0]["valence"].as_f64().expect("v") > 0.3
            && spans[2]["valence"].as_f64().expect("v") < -0.3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn text_over_the_limit_is_413_and_blank_text_fails_with_text_empty() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--max-text-bytes", "1000"]);
    let client = server.client();
    let long = "word ".repeat(300);
    let (status, body) = client
        .post_json("/v1/jobs", &json!({"inputs": [{"text": long}]}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("text_too_long")),
        "{body}"
    );
    let (status, body) = client
        .post_json("/v1/jobs", &json!({"inputs": [{"text": "   \n "}]}))
        .await;
    assert_eq!(status, 202, "{body}");
    let job = client
        .wait(
            body["job_id"].as_str().expect("id"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(job["error"]["code"], "text_empty", "{job}");
}
