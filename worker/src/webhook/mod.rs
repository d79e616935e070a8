//! Webhooks: when a job with a `callback_url` ends (succeeded, failed, dead-lettered, cancelled),
//! the worker POSTs its public record there, signed, retried, through an SSRF guard, and records
//! how it went on the job (`webhook`). Delivery runs on its own task after the message is acked,
//! so it never delays or blocks a job's completion.
//!
//! - [`callback_url`]: the static URL rules (shared with the API's submit-time check);
//! - [`ip_policy`]: the address ranges a webhook may never reach;
//! - [`resolver`]: host name resolution, injectable for tests;
//! - [`ssrf`]: the guard (rules + resolution + address check, pinned addresses);
//! - [`signature`]: `Soyl-Signature` (HMAC-SHA256 over `"{t}.{body}"`);
//! - [`delivery`]: one delivery, with retries and manual redirects;
//! - [`slots`]: requests in flight at once, in all (64) and per host (8), held per attempt.
//!
//! Delivery is at least once per terminal event handled in this process, and not durable: a
//! delivery in progress when the process stops is lost (its job then shows no `webhook`).

pub mod callback_url;
pub mod delivery;
mod error;
pub mod ip_policy;
pub mod resolver;
pub mod signature;
pub mod slots;
pub mod ssrf;

pub use delivery::{Deliverer, Event, RetryPolicy};
pub use error::WebhookError;
pub use resolver::{Resolver, SystemResolver};
pub use signature::Secret;
pub use slots::Slots;
pub use ssrf::{Guard, GuardPolicy};

use soyl_jobs::{JobId, JobStore, Status, Tenant};
use std::sync::Arc;

/// Webhook requests in flight at once; more wait for a slot (their jobs are already finished).
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// Webhook requests in flight at once to one host.
const MAX_REQUESTS_PER_HOST: usize = 8;

/// Webhook settings (filled from the binary's command line).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Signing key.
    pub secret: Secret,
    /// What the SSRF guard lets through.
    pub policy: GuardPolicy,
    /// Attempts, backoff and timeout.
    pub retry: RetryPolicy,
}

impl Default for WebhookConfig {
    /// A per-process random secret, https only, no exemptions, 5 attempts from 1 s, 10 s timeout:
    /// the command line's defaults.
    fn default() -> Self {
        WebhookConfig {
            secret: Secret::generate(),
            policy: GuardPolicy {
                allow_http: false,
                allow_hosts: Vec::new(),
            },
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: std::time::Duration::from_secs(1),
                timeout: std::time::Duration::from_secs(10),
            },
        }
    }
}

/// The worker's webhook sender: a cloneable handle; each ended job gets its own task.
#[derive(Clone)]
pub struct Webhooks {
    store: Arc<dyn JobStore>,
    deliverer: Deliverer,
}

impl Webhooks {
    /// A sender using the system resolver.
    pub fn new(config: WebhookConfig, store: Arc<dyn JobStore>) -> Self {
        let guard = Guard::new(config.policy, Arc::new(SystemResolver));
        Webhooks {
            store,
            deliverer: Deliverer::new(guard, config.secret, config.retry)
                .with_slots(Slots::new(MAX_CONCURRENT_REQUESTS, MAX_REQUESTS_PER_HOST)),
        }
    }

    /// Called once a job's terminal state is durable (and its message acked): spawns the
    /// delivery of its record, if it has a callback URL and no webhook outcome yet, and returns
    /// at once.
    pub fn job_ended(&self, tenant: &Tenant, id: JobId) {
        let this = self.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move { this.notify(&tenant, id).await });
    }

    async fn notify(&self, tenant: &Tenant, id: JobId) {
        let job = match self.store.get(tenant, &id).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "webhook: could not read the job; not sent");
                return;
            }
        };
        let Some(url) = job.options.callback_url.as_deref() else {
            return;
        };
        // An outcome already recorded means a delivery for this end already ran (duplicate
        // trigger after a redelivered message).
        if !job.status.is_terminal() || job.webhook.is_some() {
            return;
        }
        let event = Event {
            name: event_name(job.status).to_owned(),
            body: job.public_json().to_string().into_bytes(),
        };
        let outcome = self.deliverer.deliver(url, &event).await;
        if outcome.delivered {
            tracing::info!(job_id = %id, host = %outcome.url_host, attempts = outcome.attempts, event = %event.name, "webhook delivered");
        } else {
            tracing::warn!(job_id = %id, host = %outcome.url_host, attempts = outcome.attempts, error = ?outcome.last_error, event = %event.name, "webhook not delivered");
        }
        if let Err(e) = self.store.record_webhook(&id, &outcome).await {
            tracing::warn!(job_id = %id, error = %e, "webhook: could not record the outcome");
        }
    }
}

/// The `Soyl-Event` of a terminal status.
pub fn event_name(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "job.succeeded",
        Status::Failed => "job.failed",
        Status::Cancelled => "job.cancelled",
        Status::Queued | Status::Running => "job.updated",
    }
}
