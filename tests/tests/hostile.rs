//! The hostile-input corpus (`tests/hostile/make_corpus.py`: image and decompression bombs,
//! corrupt and polyglot files, absurd audio headers, zip bombs, huge and invalid text, deeply
//! nested JSON, path traversal in file names, huge part counts) against a real `soyl serve`, on
//! each backend (embedded, and AWS APIs on moto): each
//! case ends with a stable error code (a 4xx at submit, or a `failed` job) or, for harmless content
//! in a hostile wrapper, a succeeded job; never a 5xx or a hang. The server's peak memory stays
//! under `SOYL_HOSTILE_MAX_RSS_MB` (default 1536), nothing is written outside its data directory,
//! and the next good job succeeds.

use futures::stream::{self, StreamExt};
use serde_json::Value;
use soyl_tests::proc_stats::mib;
use soyl_tests::{face_photo, faces, moto, repo_root, temp_dir, Client, Server};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name the traversal cases try to write outside the data directory (see make_corpus.py).
const ESCAPE_NAME: &str = "soyl-hostile-escape.png";
/// Cases in flight at once: enough to overlap decodes, few enough to keep the memory bound meaningful.
const CONCURRENCY: usize = 4;

/// One corpus case, as `cases.json` lists it.
struct Case {
    name: String,
    path: String,
    content_type: String,
    body: PathBuf,
    expect: String,
    codes: Vec<String>,
}

/// How a case ended: the HTTP status of the submit, and the job's final status and error code.
#[derive(Debug)]
struct Outcome {
    submit_status: u16,
    job_status: Option<String>,
    code: Option<String>,
}

fn generate_corpus(out: &Path) -> Vec<Case> {
    let script = repo_root().join("tests/hostile/make_corpus.py");
    let jpeg = repo_root().join("../shared/media/faces/happy.jpg");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(out)
        .arg("--jpeg")
        .arg(&jpeg)
        .status()
        .expect("running python3 tests/hostile/make_corpus.py");
    assert!(status.success(), "make_corpus.py failed");
    let index: Value =
        serde_json::from_slice(&std::fs::read(out.join("cases.json")).expect("cases.json written"))
            .expect("cases.json is JSON");
    let text = |v: &Value, k: &str| v[k].as_str().expect("a string field").to_owned();
    index
        .as_array()
        .expect("a list of cases")
        .iter()
        .map(|c| Case {
            name: text(c, "name"),
            path: text(c, "path"),
            content_type: text(c, "content_type"),
            body: out.join(text(c, "body")),
            expect: text(c, "expect"),
            codes: c["codes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

async fn run_case(client: &Client, case: &Case) -> Outcome {
    let body = std::fs::read(&case.body).expect("request body");
    let response = client
        .http
        .post(format!("{}{}", client.url, case.path))
        .header("content-type", &case.content_type)
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: no answer within 60 s: {e}", case.name));
    let submit_status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(
        submit_status < 500,
        "{}: server error {submit_status}: {answer}",
        case.name
    );
    if submit_status != 202 {
        return Outcome {
            submit_status,
            job_status: None,
            code: answer["error"]["code"].as_str().map(str::to_owned),
        };
    }
    let id = answer["job_id"].as_str().expect("job_id");
    let job = client.wait(id, Duration::from_secs(120)).await;
    Outcome {
        submit_status,
        job_status: job["status"].as_str().map(str::to_owned),
        code: job["error"]["code"].as_str().map(str::to_owned),
    }
}

fn check(case: &Case, outcome: &Outcome) {
    let what = format!("{}: {outcome:?}", case.name);
    let rejected = match outcome.job_status.as_deref() {
        None => {
            assert!((400..500).contains(&outcome.submit_status), "{what}");
            true
        }
        Some("failed") => true,
        Some("succeeded") => false,
        Some(other) => panic!("{what}: ended {other}"),
    };
    if rejected {
        let code = outcome.code.as_deref().unwrap_or_default();
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{what}: no stable error code"
        );
        // A caught panic in a decoder or tokenizer keeps the server up but is still a bug.
        assert!(!code.ends_with("_crashed"), "{what}: a decoder panicked");
        assert!(
            case.codes.is_empty() || case.codes.iter().any(|c| c == code),
            "{what}: expected one of {:?}",
            case.codes
        );
    }
    match case.expect.as_str() {
        "rejected" => assert!(rejected, "{what}: should have been refused"),
        "succeeded" => assert!(!rejected, "{what}: harmless content should succeed"),
        "terminal" => {}
        other => panic!("{}: unknown expectation {other}", case.name),
    }
}

/// Every file under `root` that is not under `allowed`.
fn files_outside(root: &Path, allowed: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.starts_with(allowed) {
            continue;
        }
        for entry in std::fs::read_dir(&dir).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Where a traversal case could have landed: beside every ancestor of the data directory and of
/// the server's working directory (the checkout), and in /tmp.
fn escape_targets(data_dir: &Path) -> Vec<PathBuf> {
    let mut targets: Vec<PathBuf> = data_dir
        .ancestors()
        .chain(repo_root().ancestors())
        .map(|dir| dir.join(ESCAPE_NAME))
        .collect();
    targets.push(PathBuf::from("/tmp").join(ESCAPE_NAME));
    targets
}

fn max_rss_bytes() -> u64 {
    std::env::var("SOYL_HOSTILE_MAX_RSS_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1536)
        << 20
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_input_ends_with_a_code_within_memory_and_the_service_keeps_serving() {
    hostile_corpus(Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_input_ends_with_a_code_within_memory_and_the_service_keeps_serving_aws() {
    let Some(moto) = moto::shared() else { return };
    hostile_corpus(moto::soyl_init(moto)).await;
}

/// The corpus against a `soyl serve` on the backend `env` selects (none: embedded).
async fn hostile_corpus(env: Vec<(&'static str, String)>) {
    let corpus_dir = temp_dir();
    let cases = generate_corpus(corpus_dir.path());
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let sandbox = temp_dir();
    let data_dir = sandbox.path().join("a/b/data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    for target in escape_targets(&data_dir) {
        assert!(
            !target.exists(),
            "{} exists before the run",
            target.display()
        );
    }
    let passwd_before = std::fs::read("/etc/passwd").ok();

    let log = data_dir.join("serve.log");
    let server = Server::start_with_env(&data_dir, &[], &env, &log);
    let client = server.client();
    let outcomes: Vec<(usize, Outcome)> = stream::iter(cases.iter().enumerate())
        .map(|(i, case)| {
            let client = client.clone();
            async move { (i, run_case(&client, case).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, outcome) in &outcomes {
        let case = &cases[*i];
        println!(
            "{:<36} {:>3} {:<10} {}",
            case.name,
            outcome.submit_status,
            outcome.job_status.as_deref().unwrap_or("-"),
            outcome.code.as_deref().unwrap_or("-")
        );
    }
    for (i, outcome) in &outcomes {
        check(&cases[*i], outcome);
    }

    let id = client.submit_ok("happy.jpg", face_photo("happy.jpg")).await;
    let job = client.wait(&id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(faces(&job)[0]["top"], "happy");

    let peak = server.peak_rss_bytes();
    println!(
        "hostile corpus: {} cases, server peak RSS {:.0} MiB",
        cases.len(),
        mib(peak)
    );
    assert!(
        peak < max_rss_bytes(),
        "server peak RSS {:.0} MiB is over the {:.0} MiB limit",
        mib(peak),
        mib(max_rss_bytes())
    );
    for target in escape_targets(&data_dir) {
        assert!(!target.exists(), "{} was written", target.display());
    }
    let outside = files_outside(sandbox.path(), &data_dir);
    assert!(
        outside.is_empty(),
        "written outside the data dir: {outside:?}"
    );
    assert_eq!(std::fs::read("/etc/passwd").ok(), passwd_before);
}
