//! A local AWS emulator for the AWS-backend tests: `moto_server` (PyPI `moto[server]`), started
//! once per test binary on a free loopback port, and fixtures that create fresh resources in it
//! with the same `init` functions `soyl init --backend aws` uses.
//!
//! The server outlives no test binary: it runs under a small shell that kills it as soon as its
//! standard input (held by this process) closes, which the OS does when the test binary exits,
//! however it exits. Without `moto_server` on the `PATH` the tests skip with a printed reason,
//! except under `CI=true`, where they fail.

use soyl_jobs::aws::{self, AwsClients, AwsPorts, AwsSettings};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The region the tests use.
pub const REGION: &str = "us-east-1";

/// A running `moto_server`.
pub struct Moto {
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub endpoint: String,
    /// Where it logs.
    pub log: PathBuf,
    // Held open for the life of the process: closing it stops the server.
    _lifeline: Mutex<(Child, ChildStdin)>,
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

/// The emulator of this test binary, started on first use; `None` (after printing why) when
/// `moto_server` is not installed and this is not CI.
pub fn shared() -> Option<&'static Moto> {
    MOTO.get_or_init(start).as_ref()
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(binary).is_file()))
}

fn start() -> Option<Moto> {
    if !on_path("moto_server") {
        let why = "moto_server is not installed (python3 -m pip install 'moto[server]')";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}: CI must run the AWS-backend tests");
        }
        eprintln!("skipping AWS-backend test: {why}");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let log = std::env::temp_dir().join(format!("soyl-moto-{port}.log"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"moto_server -H 127.0.0.1 -p "$1" >"$2" 2>&1 & pid=$!; read _; kill $pid"#)
        .arg("sh")
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .expect("starting moto_server");
    let stdin = child.stdin.take().expect("piped stdin");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            panic!(
                "moto_server did not start on port {port}; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        log,
        _lifeline: Mutex::new((child, stdin)),
    })
}

impl Moto {
    /// The environment that points the AWS SDK's standard chain at this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// SDK clients of this emulator (S3 with path-style addressing).
    pub async fn clients(&self) -> AwsClients {
        let sdk = soyl_jobs::aws::sdk_config_loader()
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await;
        AwsClients::new(&sdk, true)
    }
}

/// A name no other test uses (queues, tables, buckets).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{:012x}", rand_u64() & 0xffff_ffff_ffff)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// Fresh resources in the emulator: a queue and its dead-letter queue, a bucket and a table.
pub struct Fixture {
    /// The clients.
    pub clients: AwsClients,
    /// What the resources are called.
    pub settings: AwsSettings,
    /// The ports on them.
    pub ports: AwsPorts,
}

impl Fixture {
    /// Creates the resources, the queue with `max_receives` and `visibility_timeout`.
    pub async fn new(moto: &Moto, max_receives: u32, visibility_timeout: Duration) -> Fixture {
        let clients = moto.clients().await;
        let queue_name = unique_name("soyl-jobs");
        let urls =
            aws::init::create_queues(&clients.sqs, &queue_name, max_receives, visibility_timeout)
                .await
                .expect("creating the queues");
        let settings = AwsSettings {
            queue_url: urls.queue_url,
            dlq_url: Some(urls.dlq_url),
            bulk_queue_url: None,
            bulk_dlq_url: None,
            bucket: unique_name("soyl-media"),
            media_prefix: "media/".to_owned(),
            results_prefix: "results/".to_owned(),
            table: unique_name("soyl-jobs"),
            retention: Duration::from_secs(30 * 24 * 60 * 60),
            visibility_timeout: Some(visibility_timeout),
        };
        aws::init::create_bucket(&clients.s3, &settings.bucket)
            .await
            .expect("creating the bucket");
        aws::init::create_table(&clients.dynamodb, &settings.table)
            .await
            .expect("creating the table");
        let ports = AwsPorts::new(&clients, &settings);
        Fixture {
            clients,
            settings,
            ports,
        }
    }
}

/// The settings `soyl init --backend aws` prints, as the environment variables they are.
const INIT_SETTINGS: &[&str] = &[
    "SOYL_BACKEND",
    "SOYL_QUEUE_URL",
    "SOYL_DLQ_URL",
    "SOYL_BULK_QUEUE_URL",
    "SOYL_BULK_DLQ_URL",
    "SOYL_BUCKET",
    "SOYL_TABLE",
];

/// Runs `soyl init --backend aws` on fresh names; returns the environment it printed, with the
/// emulator's (and path-style S3 addressing).
pub fn soyl_init(moto: &Moto) -> Vec<(&'static str, String)> {
    let mut env = moto.env();
    env.push(("SOYL_S3_PATH_STYLE", "true".to_owned()));
    let name = unique_name("soyl");
    let output = Command::new(crate::soyl_binary())
        .args([
            "init",
            "--backend",
            "aws",
            "--queue-name",
            &name,
            "--bulk-queue-name",
        ])
        .arg(format!("{name}-bulk"))
        .args(["--bucket", &name, "--table", &name])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("running soyl init");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "soyl init failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in stdout.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.split_once('=').expect("KEY=value lines");
        let key = INIT_SETTINGS
            .iter()
            .find(|known| **known == key)
            .unwrap_or_else(|| panic!("soyl init printed an unknown setting {key}"));
        env.push((key, value.to_owned()));
    }
    for setting in INIT_SETTINGS {
        assert!(
            env.iter().any(|(k, _)| k == setting),
            "soyl init did not print {setting}"
        );
    }
    env
}
