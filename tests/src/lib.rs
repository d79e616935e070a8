//! Harness for soyl's end-to-end tests: starts a real `soyl serve` process on a free loopback
//! port with its own data directory, and talks to it over HTTP. The binary is the one built from
//! this checkout (`scripts/test.sh` builds it first); models and media come from `../shared`.
//! [`moto`] runs a local AWS emulator for the AWS-backend tests; [`backends`] gives a test the
//! storage ports of either backend and [`worker`] runs in-process workers over them.

pub mod backends;
pub mod bulk_media;
pub mod echo;
pub mod latency;
pub mod moto;
pub mod proc_stats;
pub mod worker;

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The checkout's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file from `../shared/media/faces/`.
pub fn face_photo(name: &str) -> Vec<u8> {
    let path = repo_root().join("../shared/media/faces").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A voice fixture from `models/testdata/voice/` (espeak-ng speech, see the script there).
pub fn voice_fixture(name: &str) -> Vec<u8> {
    let path = repo_root().join("models/testdata/voice").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The `soyl` binary next to the running test executable (target/<profile>/soyl).
pub fn soyl_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("soyl");
    assert!(
        bin.is_file(),
        "{} not found: build it first (scripts/test.sh does: cargo build --release -p soyl-submitter)",
        bin.display()
    );
    bin
}

/// A running `soyl serve`. Killed (SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The data directory the server uses.
    pub data_dir: PathBuf,
    /// The server's log (JSON lines on stderr).
    pub log: PathBuf,
}

impl Server {
    /// Starts `soyl serve` on `data_dir` with extra arguments; waits until it prints its address.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_logging(
            data_dir,
            extra,
            &data_dir.join(format!("serve-{}.log", unique())),
        )
    }

    /// Like [`Server::start`], logging to `log`.
    pub fn start_logging(data_dir: &Path, extra: &[&str], log: &Path) -> Server {
        Self::start_with_env(data_dir, extra, &[], log)
    }

    /// Like [`Server::start_logging`], with extra environment variables.
    pub fn start_with_env(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, String)],
        log: &Path,
    ) -> Server {
        let dir = data_dir.to_string_lossy();
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir];
        args.extend_from_slice(extra);
        let mut server = Self::start_command(&args, env, log);
        server.data_dir = data_dir.to_path_buf();
        server
    }

    /// Starts `soyl <args>` (a command that listens and prints its address: `serve`, `api`,
    /// `worker`) with extra environment variables, logging to `log`.
    pub fn start_command(args: &[&str], env: &[(&str, String)], log: &Path) -> Server {
        let log_file = std::fs::File::create(log).expect("log file");
        let mut child = Command::new(soyl_binary())
            .current_dir(repo_root())
            .args(["--log-format", "json"])
            .args(args)
            // Servers run without keys unless a test exercises authentication itself.
            .args(
                if args.contains(&"--auth")
                    || !matches!(args.first(), Some(&("serve" | "api" | "worker")))
                {
                    &[][..]
                } else {
                    &["--auth", "disabled"][..]
                },
            )
            .env("SOYL_LOG", "info,ort=error")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("starting soyl");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            line.clear();
            let n = reader.read_line(&mut line).expect("reading soyl stdout");
            if let Some(rest) = line.trim().strip_prefix("soyl listening on ") {
                break rest.to_owned();
            }
            if n == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "soyl {args:?} did not start; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Server {
            child: Some(child),
            url,
            data_dir: PathBuf::new(),
            log: log.to_path_buf(),
        }
    }

    /// The server's process id (None once killed or terminated).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's peak resident memory so far, in bytes (see [`proc_stats::peak_rss_bytes`]).
    pub fn peak_rss_bytes(&self) -> u64 {
        let pid = self.pid().expect("the server is running");
        proc_stats::peak_rss_bytes(pid)
            .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status (Linux only)"))
    }

    /// SIGKILL: no chance to drain or release anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit status (None if it had to be killed after `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// A client of this server.
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: self.url.clone(),
        }
    }

    /// A client that sends `Authorization: Bearer <key>`.
    pub fn client_with_key(&self, key: &str) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().expect("header value"),
        );
        Client {
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .expect("client"),
            url: self.url.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client of one server.
#[derive(Clone)]
pub struct Client {
    /// The underlying client.
    pub http: reqwest::Client,
    /// Base URL.
    pub url: String,
}

impl Client {
    /// Submits files (name, bytes) with optional options JSON; returns (status, body).
    pub async fn submit(&self, files: &[(&str, Vec<u8>)], options: Option<Value>) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        if let Some(options) = options {
            form = form.text("options", options.to_string());
        }
        let response = self
            .http
            .post(format!("{}/v1/jobs", self.url))
            .multipart(form)
            .send()
            .await
            .expect("POST /v1/jobs");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Submits a multipart job with files and text parts; returns (status, body).
    pub async fn submit_mixed(
        &self,
        files: &[(&str, Vec<u8>)],
        texts: &[&str],
        options: Option<Value>,
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        for text in texts {
            form = form.text("text", text.to_string());
        }
        if let Some(options) = options {
            form = form.text("options", options.to_string());
        }
        self.send(
            self.http
                .post(format!("{}/v1/jobs", self.url))
                .multipart(form),
        )
        .await
    }

    /// POSTs JSON to `path`; returns (status, body).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.url)).json(body))
            .await
    }

    /// POSTs one multipart file to `path`; returns (status, body).
    pub async fn post_file(&self, path: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
        self.send(
            self.http
                .post(format!("{}{path}", self.url))
                .multipart(form),
        )
        .await
    }

    /// Sends a request; returns (status, JSON body or null).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Submits the same file `n` times concurrently; returns the job ids.
    pub async fn submit_many(&self, n: usize, name: &str, bytes: &[u8]) -> Vec<String> {
        let submits = (0..n).map(|_| self.submit_ok(name, bytes.to_vec()));
        futures::future::join_all(submits).await
    }

    /// Submits and returns the job id, asserting 202.
    pub async fn submit_ok(&self, name: &str, bytes: Vec<u8>) -> String {
        let (status, body) = self.submit(&[(name, bytes)], None).await;
        assert_eq!(status, 202, "submit {name}: {body}");
        body["job_id"].as_str().expect("job_id").to_owned()
    }

    /// GET /v1/jobs/{id}.
    pub async fn job(&self, id: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/v1/jobs/{id}", self.url))
            .send()
            .await
            .expect("GET /v1/jobs/{id}");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls until the job is terminal; panics after `timeout`.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, job) = self.job(id).await;
            assert_eq!(status, 200, "GET job {id}: {job}");
            if matches!(
                job["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} not finished after {timeout:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Submits each labelled reference photo (happy, sad, angry, surprise) and checks that its job
/// succeeds with one face whose top label is the photo's, from the reference models.
pub async fn assert_labelled_photos(client: &Client) {
    for label in ["happy", "sad", "angry", "surprise"] {
        let id = client
            .submit_ok(&format!("{label}.jpg"), face_photo(&format!("{label}.jpg")))
            .await;
        let job = client.wait(&id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let found = faces(&job);
        assert_eq!(found.len(), 1, "{label}.jpg: {job}");
        assert_eq!(found[0]["top"], label, "{label}.jpg: {job}");
        let emotions = found[0]["emotions"].as_object().expect("emotions");
        let total: f64 = emotions.values().filter_map(|v| v.as_f64()).sum();
        assert!((total - 1.0).abs() < 0.01, "probabilities sum to {total}");
        assert!(found[0]["detection"].as_f64().expect("detection") > 0.7);
        assert_eq!(
            job["result"]["models"]["face-emotion"],
            "fer2013-mini-xception-0.66"
        );
        assert_eq!(
            job["result"]["models"]["face-detector"],
            "ultraface-rfb320-1"
        );
    }
}

/// The faces found in input 0 of a succeeded job.
pub fn faces(job: &Value) -> &Vec<Value> {
    job["result"]["face"][0]["faces"]
        .as_array()
        .unwrap_or_else(|| panic!("no faces array in {job}"))
}

/// A fresh temporary directory.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Runs `soyl keys --data-dir DIR ARGS...` and returns its stdout (the key, for `create`).
pub fn soyl_keys(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(soyl_binary())
        .arg("keys")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("running soyl keys");
    assert!(
        out.status.success(),
        "soyl keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Terminal transitions per job id ("job succeeded" / "job failed" events) in `soyl` JSON logs.
pub fn terminal_transitions(logs: &[&Path]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for log in logs {
        let text = std::fs::read_to_string(log).expect("server log");
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let message = event["fields"]["message"].as_str().unwrap_or_default();
            if message == "job succeeded" || message == "job failed" {
                let id = event["fields"]["job_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    counts
}
