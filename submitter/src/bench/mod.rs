//! `soyl bench`: sizes this machine for soyl. In order: the raw ONNX Runtime ceiling of every
//! model ([`ceiling`]), each CPU preprocessing stage alone ([`stages`]), then end-to-end load over
//! loopback HTTP ([`load`]) against a `soyl serve` it starts itself (or `--url`), a second one
//! with `--max-batch 1` (the batching ablation), and optionally the Python peer baseline
//! ([`server::start_baseline`]): all running at once, each point measured on each in turn, and
//! the face1 ceiling probed again after each face1 point ([`probe`]). [`report`] prints the
//! tables and writes `bench.md`, `bench.json` and `bench.svg`; [`targets`] states the issue's
//! targets as met or not. Called from `main`.

pub mod ceiling;
pub mod lanes;
pub mod load;
pub mod probe;
pub mod report;
pub mod server;
pub mod stages;
pub mod targets;
pub mod workloads;

use crate::config::BenchArgs;
use crate::serve::resolve_models_dir;
use anyhow::Context;
use load::{Api, Point, Target};
use report::{Report, ServerInfo};
use soyl_models::runtime::RuntimeOptions;
use soyl_models::{DeviceChoice, Repository, Runtime};
use std::time::Duration;
use workloads::Workload;

/// Runs the benchmark and writes the report to `args.out`.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let models = resolve_models_dir(&args.models);
    let media = resolve_models_dir(&args.media);
    let workloads = workloads::load(&args.workloads, &media)?;
    let (duration, levels, budget) = if args.quick {
        (
            Duration::from_secs(1),
            vec![1, 16],
            Duration::from_millis(200),
        )
    } else {
        let levels = args.concurrency.clone();
        (
            Duration::from_secs_f64(args.duration_s),
            levels,
            Duration::from_millis(500),
        )
    };

    let cores = soyl_models::runtime::cores();
    let (ceiling, stages, probe) = if args.no_ceiling {
        (Vec::new(), Vec::new(), None)
    } else {
        eprintln!("bench: measuring raw session ceilings and preprocessing stages ...");
        let (device, models, wl) = (args.device, models.clone(), workloads.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let runtime = Runtime::init(RuntimeOptions {
                device,
                intra_threads: 0,
                // The raw-session ceiling: ONNX Runtime's default session options.
                spinning: true,
                preprocess_threads: 0,
                replicas: 0,
                cuda_graph: true,
            })?;
            let repo = Repository::load(&models)?;
            let ceiling = ceiling::measure(&runtime, &repo, &[1, 4, 16, 64], budget)?;
            let stages = stages::measure(&repo, &wl, budget, cores)?;
            let probe = probe::FaceProbe::new(runtime, repo, &wl, &ceiling, budget, cores);
            Ok((ceiling, stages, probe))
        })
        .await
        .context("ceiling task")??
    };

    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &args.api_key {
        let value = format!("Bearer {key}")
            .parse()
            .context("--api-key is not a header value")?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let mut device = format!("{:?}", args.device).to_lowercase();
    // Every server runs from the start, and each point is measured on all of them in turn
    // (soyl, the `--max-batch 1` ablation, and on face1 the peer baseline) at the same workload
    // and concurrency, so all of them are measured in the same state of the machine: a host
    // that slows under sustained load would otherwise favour whichever ran first.
    let mut running: Vec<(Target, Option<server::Started>)> = Vec::new();
    if let Some(url) = &args.url {
        device = ready_device(&http, url).await.unwrap_or(device);
        running.push((soyl_target(targets::SOYL, url, None), None));
    } else {
        let mut configs = vec![(targets::SOYL, Vec::new())];
        if !args.no_ablation {
            configs.push((
                targets::UNBATCHED,
                vec!["--max-batch".to_owned(), "1".to_owned()],
            ));
        }
        for (label, extra) in configs {
            let extra: Vec<String> = args.serve_arg.iter().cloned().chain(extra).collect();
            eprintln!("bench: starting soyl serve {} ...", extra.join(" "));
            let started = server::start_soyl(&models, device_flag(args.device), &extra).await?;
            if let Some(d) = ready_device(&http, &started.url).await {
                device = d;
            }
            let target = soyl_target(label, &started.url, Some(started.pid()));
            running.push((target, Some(started)));
        }
    }
    if args.baseline && workloads.iter().any(|w| w.name == "face1") {
        eprintln!("bench: starting the Python peer baseline ...");
        let started =
            server::start_baseline(&args.python, &server::baseline_dir(), &models).await?;
        let target = Target {
            label: targets::BASELINE.into(),
            url: started.url.clone(),
            api: Api::Baseline,
            pid: Some(started.pid()),
        };
        running.push((target, Some(started)));
    }
    let order: Vec<&Target> = running.iter().map(|(t, _)| t).collect();
    let (points, probes) =
        sweep(&http, &order, probe.as_ref(), &workloads, &levels, duration).await;
    let servers: Vec<ServerInfo> = running
        .into_iter()
        .map(|(target, started)| ServerInfo {
            label: target.label,
            ready_s: started.as_ref().map(|s| s.ready_s),
            peak_rss_mib: started.as_ref().and_then(server::Started::peak_rss_mib),
        })
        .collect();

    let summary = targets::summarize(&targets::Figures {
        ceiling: &ceiling,
        stages: &stages,
        probes: &probes,
        points: &points,
        servers: &servers,
        cores,
        on_cuda: device == "cuda",
    });
    let report = Report {
        machine: format!("{}, {cores} cores, device {device}", cpu_model()),
        date: now(),
        commit: commit(),
        ceiling,
        stages,
        probes,
        points,
        servers,
        summary,
    };
    let text = report::markdown(&report);
    println!("{text}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    std::fs::write(args.out.join("bench.md"), &text)?;
    std::fs::write(
        args.out.join("bench.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(args.out.join("bench.svg"), report::svg(&report.points))?;
    eprintln!("bench: report written to {}", args.out.display());
    Ok(())
}

/// A soyl server at `url` (process `pid` when the benchmark started it), labelled `label` in
/// the report.
fn soyl_target(label: &str, url: &str, pid: Option<u32>) -> Target {
    Target {
        label: label.into(),
        url: url.to_owned(),
        api: Api::Soyl,
        pid,
    }
}

/// Every workload at every level, each point on every target in `order` in turn (the peer
/// baseline serves face1 only), after a short warm-up of each; right after each face1 point of
/// the first target (soyl), a `probe` of the face1 ceiling.
async fn sweep(
    http: &reqwest::Client,
    order: &[&Target],
    probe: Option<&probe::FaceProbe>,
    workloads: &[Workload],
    levels: &[usize],
    duration: Duration,
) -> (Vec<Point>, Vec<probe::ProbeRow>) {
    let mut points = Vec::new();
    let mut probes = Vec::new();
    for w in workloads {
        let face1 = w.name == "face1";
        let targets: Vec<&Target> = order
            .iter()
            .copied()
            .filter(|t| face1 || t.api != Api::Baseline)
            .collect();
        for t in &targets {
            load::run_point(http, t, w, 4, Duration::from_millis(300)).await;
        }
        for &clients in levels {
            for (i, t) in targets.iter().enumerate() {
                let p = load::run_point(http, t, w, clients, duration).await;
                eprintln!(
                "bench: {:<18} {:<6} {clients:>3} clients: {:>8.1} jobs/s  p50 {:>7.1} ms  p99 {:>7.1} ms{}",
                p.target,
                p.workload,
                p.throughput,
                p.p50_ms,
                p.p99_ms,
                if p.failed > 0 { format!("  {} failed", p.failed) } else { String::new() }
            );
                points.push(p);
                // Right after soyl's point, before the others'.
                if let Some(probe) = probe.filter(|_| face1 && i == 0) {
                    match probe.measure(clients).await {
                        Ok(row) => probes.push(row),
                        Err(e) => eprintln!("bench: probing the face1 ceiling failed: {e:#}"),
                    }
                }
            }
        }
    }
    (points, probes)
}

fn device_flag(choice: DeviceChoice) -> &'static str {
    match choice {
        DeviceChoice::Auto => "auto",
        DeviceChoice::Cpu => "cpu",
        DeviceChoice::Cuda => "cuda",
    }
}

/// The device a running soyl reports in `/ready`.
async fn ready_device(http: &reqwest::Client, url: &str) -> Option<String> {
    let ready: serde_json::Value = http
        .get(format!("{url}/ready"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    ready["device"].as_str().map(str::to_owned)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

fn now() -> String {
    let rfc3339 = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!(
        "{} UTC",
        rfc3339.get(..16).unwrap_or(&rfc3339).replace('T', " ")
    )
}

/// The commit measured: `SOYL_COMMIT` when set (a binary carried to another host), else the
/// checkout's, from git.
fn commit() -> String {
    if let Ok(commit) = std::env::var("SOYL_COMMIT") {
        return commit;
    }
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}
