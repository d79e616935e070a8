//! `soyl serve | api | worker`: the HTTP API and a worker in one process, or either alone, on the
//! backend the configuration names ([`crate::backend`]). SIGINT/SIGTERM stop the listener and
//! drain the worker (in-flight jobs finish within the stop timeout or are released for
//! redelivery). A worker-only process still listens, answering just `/health` and `/ready`, for
//! the container orchestrator's health checks.

use crate::api::auth::{Auth, Limits};
use crate::api::{self, AppState, ReadyInfo};
use crate::bulk::{LocalPolicy, Sources};
use crate::config::{ApiLimits, AuthMode, InferenceArgs, ServeArgs, WebhookArgs};
use crate::intake::Intake;
use anyhow::Context;
use soyl_jobs::finished::{Finished, SignallingStore};
use soyl_jobs::{JobStore, KeyStore};
use soyl_models::face::BatchOverrides;
use soyl_models::image_input::ImageLimits;
use soyl_models::runtime::RuntimeOptions;
use soyl_models::text::{TextLimits, TextOptions};
use soyl_models::voice::AudioLimits;
use soyl_models::{Repository, Runtime};
use soyl_worker::webhook::{GuardPolicy, RetryPolicy, Secret, WebhookConfig};
use soyl_worker::{
    Backoff, PipelineConfig, Pipelines, QueueWeights, ReconcileConfig, WorkerConfig, WorkerPorts,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// API and worker (`soyl serve`).
    All,
    /// API only (`soyl api`).
    Api,
    /// Worker only, with a health listener (`soyl worker`).
    Worker,
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs, role: Role) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    crate::prometheus::install();
    let crate::backend::Ports {
        queue,
        dead_letters,
        bulk,
        store,
        media,
        keys,
        aws,
    } = crate::backend::build(&args).await?;
    let run_worker = role != Role::Api && !args.worker.no_worker;
    // The worker's terminal writes wake the API's long polls in this process.
    let finished = Arc::new(Finished::default());
    let store: Arc<dyn JobStore> = Arc::new(SignallingStore::new(store, finished.clone()));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let in_flight = Arc::new(soyl_worker::InFlight::default());
    let (worker, ready) = if !run_worker {
        let ready = ReadyInfo {
            models: Default::default(),
            device: "none".into(),
            worker: false,
        };
        (None, ready)
    } else {
        let pipelines = Arc::new(start_pipelines(&args.inference, &args.limits)?);
        let ready = ReadyInfo {
            models: pipelines.models(),
            device: format!("{:?}", pipelines.device()).to_lowercase(),
            worker: true,
        };
        let ports = WorkerPorts {
            queue: queue.clone(),
            dead_letters,
            bulk: bulk.clone(),
            store: store.clone(),
            media: media.clone(),
            in_flight: in_flight.clone(),
        };
        let config = worker_config(&args);
        (
            Some(tokio::spawn(soyl_worker::run(
                ports,
                pipelines,
                config,
                shutdown_rx.clone(),
            ))),
            ready,
        )
    };

    let auth: Option<Arc<dyn KeyStore>> = match args.limits.auth {
        AuthMode::Enabled => Some(keys.context(
            "--auth enabled needs a key store, which only the embedded backend has: on AWS, \
             put API Gateway keys in front and run with --auth disabled (SOYL_AUTH=disabled)",
        )?),
        AuthMode::Disabled => {
            tracing::warn!("authentication is DISABLED (--auth disabled): every caller is tenant `default`; use only locally");
            None
        }
    };
    let limits = Limits {
        rate_per_s: args.limits.rate_limit_per_s,
        burst: args.limits.rate_limit_burst,
        max_concurrent_jobs: args.limits.max_concurrent_jobs,
    };
    let state = AppState {
        auth: Arc::new(Auth::new(auth, limits)),
        intake: Intake::new(queue.clone(), store.clone(), media.clone())
            .allow_http_callbacks(args.webhooks.webhook_allow_http)
            .with_bulk_queue(bulk.as_ref().map(|b| b.queue.clone())),
        store,
        queue,
        limits: args.limits.clone(),
        ready: ready.clone(),
        fusion_weights: args.worker.fusion_weights.clone(),
        in_flight: run_worker.then_some(in_flight),
        finished,
        bulk: bulk_api(&args, aws),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, device = %ready.device, models = ?ready.models, seconds = started.elapsed().as_secs_f64(), "ready");
    // The one line scripts and tests read to find the server.
    println!("soyl listening on http://{addr}");

    let mut stop = shutdown_rx.clone();
    let router = match role {
        Role::Worker => api::health_router(state),
        Role::All | Role::Api => api::router(state),
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        let _ = shutdown_tx.send(true);
    });
    server.await.context("HTTP server")?;
    if let Some(worker) = worker {
        worker.await.context("worker task")?;
    }
    signals.abort();
    Ok(())
}

/// What `/v1/batches` may read: `s3://` on AWS, directories under `--bulk-root` on the embedded
/// backend (and nothing local on AWS, whose API process has no media on its disk).
fn bulk_api(args: &ServeArgs, aws: Option<crate::aws::AwsClients>) -> api::BulkApi {
    let local = match (&aws, &args.bulk_root) {
        (Some(_), _) => LocalPolicy::Unsupported,
        (None, Some(root)) => LocalPolicy::Under(root.clone()),
        (None, None) => LocalPolicy::NoRoot,
    };
    let models = resolve_models_dir(&args.inference.models);
    let model_versions = crate::bulk::model_versions(&models).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no model versions for batch identities: batches here will not match ones made with models");
        Default::default()
    });
    api::BulkApi {
        sources: Sources {
            aws,
            local,
            max_object_bytes: args.limits.max_upload_bytes as u64,
        },
        runs: Default::default(),
        model_versions,
    }
}

fn start_pipelines(args: &InferenceArgs, limits: &ApiLimits) -> anyhow::Result<Pipelines> {
    let runtime = Runtime::init(RuntimeOptions {
        device: args.device,
        intra_threads: args.intra_threads,
        spinning: args.ort_spin,
        preprocess_threads: args.preprocess_threads,
        replicas: args.replicas,
        cuda_graph: args.cuda_graph,
    })?;
    let models = resolve_models_dir(&args.models);
    let repo = Repository::load(&models)?;
    let config = PipelineConfig {
        batching: BatchOverrides {
            max_batch: args.max_batch,
            max_delay: args.max_delay_ms.map(Duration::from_millis),
        },
        image_limits: ImageLimits {
            max_side: args.max_image_side,
            max_pixels: args.max_image_pixels,
        },
        audio_limits: AudioLimits {
            max_duration_s: args.max_audio_seconds,
            max_channels: args.max_audio_channels,
            ..AudioLimits::default()
        },
        text: TextOptions {
            limits: TextLimits {
                max_bytes: limits.max_text_bytes,
            },
            max_batch_tokens: args.max_batch_tokens,
            sort_by_length: None,
        },
    };
    let pipelines = Pipelines::start(&runtime, &repo, &config)?;
    if pipelines.models().is_empty() {
        tracing::warn!(models = %models.display(), "no models found: every job will fail with modality_unavailable");
    }
    Ok(pipelines)
}

/// The model repository path (or another checkout-relative path, such as the bench media); the
/// default relative path also works from outside the checkout
/// for a binary built from it.
pub(crate) fn resolve_models_dir(path: &std::path::Path) -> PathBuf {
    if path.is_relative() && !path.exists() {
        let fallback = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path);
        if fallback.exists() {
            return fallback;
        }
    }
    path.to_path_buf()
}

fn worker_config(args: &ServeArgs) -> WorkerConfig {
    let w = &args.worker;
    WorkerConfig {
        worker_id: format!("{}-{}", hostname(), std::process::id()),
        pollers: w.pollers,
        max_in_flight: w.max_in_flight,
        lease: Duration::from_secs(w.visibility_timeout_s.max(1)),
        receive_wait: Duration::from_secs(1),
        max_media_bytes: args.limits.max_upload_bytes as u64,
        stop_timeout: Duration::from_secs(w.stop_timeout_s),
        job_timeout: (w.job_timeout_s > 0).then(|| Duration::from_secs(w.job_timeout_s)),
        retry: Backoff {
            base: Duration::from_millis(w.retry_base_ms),
            max: Duration::from_millis(w.retry_max_ms.max(w.retry_base_ms)),
        },
        reconcile: (w.reconcile_after_s > 0).then(|| ReconcileConfig {
            after: Duration::from_secs(w.reconcile_after_s),
            every: Duration::from_secs(w.reconcile_every_s.max(1)),
        }),
        fusion_weights: w.fusion_weights.clone(),
        queue_weights: QueueWeights {
            interactive: w.interactive_weight,
            bulk: w.bulk_weight,
            max_bulk_in_flight: w.max_bulk_in_flight,
        },
        webhook: webhook_config(&args.webhooks),
    }
}

fn webhook_config(args: &WebhookArgs) -> WebhookConfig {
    let secret = match args.webhook_secret.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Secret::new(text),
        None => {
            tracing::warn!(
                "no --webhook-secret (SOYL_WEBHOOK_SECRET): webhooks are signed with a random key \
                 of this process, which receivers cannot verify and which changes at every restart"
            );
            Secret::generate()
        }
    };
    WebhookConfig {
        secret,
        policy: GuardPolicy {
            allow_http: args.webhook_allow_http,
            allow_hosts: args.webhook_allow_hosts.clone(),
        },
        retry: RetryPolicy {
            max_attempts: args.webhook_max_attempts,
            base_delay: Duration::from_millis(args.webhook_retry_base_ms),
            timeout: Duration::from_millis(args.webhook_timeout_ms),
        },
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "soyl".into())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
