//! Servers the benchmark starts and stops itself: `soyl serve` (this very binary) on a temporary
//! data directory and a free loopback port, and the Python peer baseline under uvicorn. Each is
//! killed when its handle drops; the handle knows how long it took to become ready and its peak
//! resident memory. Blocking process calls here are short (spawn, kill, /proc reads).

use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process started for the benchmark.
pub struct Started {
    child: Child,
    /// Base URL.
    pub url: String,
    /// Seconds from spawn to answering (soyl: models loaded and listening).
    pub ready_s: f64,
    /// Keeps the temporary data directory alive as long as the server.
    _dir: tempfile::TempDir,
}

impl Started {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the process so far, in MiB (Linux `VmHWM`).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `soyl serve` with `models`, `device` and `extra` arguments; ready when it prints its
/// address (after loading the models).
pub async fn start_soyl(models: &Path, device: &str, extra: &[String]) -> anyhow::Result<Started> {
    let dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let exe = std::env::current_exe().context("finding the soyl executable")?;
    let spawned = Instant::now();
    let mut child = Command::new(exe)
        // Loopback and a temporary data directory: nobody else can reach it, so no API keys.
        .args([
            "serve",
            "--auth",
            "disabled",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--models")
        .arg(models)
        .args(["--device", device])
        .args(extra)
        .env("SOYL_LOG", "warn,ort=error")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("serve.log"))
                .context("creating the server log")?,
        ))
        .spawn()
        .context("starting soyl serve")?;
    let stdout = child.stdout.take().context("soyl serve stdout")?;
    // A plain thread reads the address line, then keeps draining stdout so the server never
    // blocks on a full pipe; it ends when the server does.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let url = lines.by_ref().map_while(Result::ok).find_map(|line| {
            line.trim()
                .strip_prefix("soyl listening on ")
                .map(str::to_owned)
        });
        let _ = tx.send(url);
        for _ in lines {}
    });
    let mut started = Started {
        child,
        url: String::new(),
        ready_s: 0.0,
        _dir: dir,
    };
    let log = || std::fs::read_to_string(started._dir.path().join("serve.log")).unwrap_or_default();
    match tokio::time::timeout(Duration::from_secs(120), rx).await {
        Ok(Ok(Some(url))) => started.url = url,
        Ok(_) => anyhow::bail!("soyl serve exited before listening; its log:\n{}", log()),
        Err(_) => anyhow::bail!("soyl serve did not start within 120 s; its log:\n{}", log()),
    }
    started.ready_s = spawned.elapsed().as_secs_f64();
    Ok(started)
}

/// Starts the peer baseline (`bench/baseline/app.py`) under uvicorn with `python`, on a free
/// port; ready when `GET /health` answers.
pub async fn start_baseline(
    python: &str,
    app_dir: &Path,
    models: &Path,
) -> anyhow::Result<Started> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let port = free_port()?;
    let spawned = Instant::now();
    let child = Command::new(python)
        .args([
            "-m",
            "uvicorn",
            "app:app",
            "--log-level",
            "warning",
            "--host",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string()])
        .arg("--app-dir")
        .arg(app_dir)
        .env("BASELINE_MODELS", models)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("baseline.log")).context("creating the log")?,
        ))
        .spawn()
        .with_context(|| format!("starting the baseline with {python}"))?;
    let mut started = Started {
        child,
        url: format!("http://127.0.0.1:{port}"),
        ready_s: 0.0,
        _dir: dir,
    };
    let http = reqwest::Client::new();
    let deadline = spawned + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{}/health", started.url)).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if started.child.try_wait()?.is_some() || Instant::now() > deadline {
            let log = std::fs::read_to_string(started._dir.path().join("baseline.log"))
                .unwrap_or_default();
            anyhow::bail!(
                "the baseline did not start (install bench/baseline/requirements.txt for {python}); its log:\n{log}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.ready_s = spawned.elapsed().as_secs_f64();
    Ok(started)
}

/// A loopback port free right now (the baseline cannot report the one it picked).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `bench/baseline` of the checkout (or of the current directory).
pub fn baseline_dir() -> PathBuf {
    crate::serve::resolve_models_dir(Path::new("bench/baseline"))
}
