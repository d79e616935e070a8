//! One webhook delivery: the signed POST of a job record to its callback URL, retried with
//! exponential backoff, each request (redirect hops included) checked by the SSRF guard and
//! connected to the checked addresses only. Redirects are followed by hand (reqwest's own
//! following is off), up to [`MAX_REDIRECTS`] hops, re-posting the same body. Used by
//! [`super::Webhooks`]; tests call it directly with an injected resolver.

use super::signature::{self, Secret};
use super::slots::Slots;
use super::ssrf::{Guard, Target};
use super::{callback_url, WebhookError};
use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION, USER_AGENT};
use reqwest::Url;
use soyl_jobs::WebhookOutcome;
use std::time::Duration;
use time::OffsetDateTime;

/// Most redirect hops followed within one attempt.
pub const MAX_REDIRECTS: usize = 3;

/// Longest wait between two attempts, whatever the backoff says.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Retry and timeout settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles before each later one (capped at 5 minutes).
    pub base_delay: Duration,
    /// Limit on one request, connect to last byte.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        (self.base_delay * 2u32.pow(doublings)).min(MAX_BACKOFF)
    }
}

/// What is sent: the event name (`job.succeeded`, ...) and the JSON body.
#[derive(Debug, Clone)]
pub struct Event {
    /// `Soyl-Event` header value.
    pub name: String,
    /// The request body (the public job record, serialised once so every attempt signs the
    /// same bytes).
    pub body: Vec<u8>,
}

/// Sends webhooks. Cheap to share.
#[derive(Debug, Clone)]
pub struct Deliverer {
    guard: Guard,
    secret: Secret,
    retry: RetryPolicy,
    /// Taken for each attempt (None: no limit).
    slots: Option<Slots>,
}

impl Deliverer {
    /// A deliverer signing with `secret`, sending through `guard`.
    pub fn new(guard: Guard, secret: Secret, retry: RetryPolicy) -> Self {
        Deliverer {
            guard,
            secret,
            retry,
            slots: None,
        }
    }

    /// Runs each attempt within `slots` (a slot is held for the attempt only, not between
    /// attempts).
    pub fn with_slots(mut self, slots: Slots) -> Self {
        self.slots = Some(slots);
        self
    }

    /// Delivers `event` to `callback_url` until a 2xx answer, a final failure, or the last
    /// attempt; never fails itself: the outcome says how it went.
    pub async fn deliver(&self, callback_url: &str, event: &Event) -> WebhookOutcome {
        let delivery_id = uuid::Uuid::now_v7().to_string();
        let url = match callback_url::parse(callback_url, self.guard.allows_http()) {
            Ok(url) => url,
            Err(e) => return outcome(host_of(callback_url), 0, Err(e)),
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        let max_attempts = self.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let result = {
                let _slot = match &self.slots {
                    Some(slots) => Some(slots.acquire(&host).await),
                    None => None,
                };
                self.attempt(&url, event, &delivery_id).await
            };
            let retry = match &result {
                Ok(_) => false,
                Err(e) => e.is_retryable() && attempt < max_attempts,
            };
            if !retry {
                return outcome(host, attempt, result);
            }
            if let Err(e) = &result {
                tracing::info!(%host, attempt, error = %e, event = %event.name, "webhook attempt failed; retrying");
            }
            tokio::time::sleep(self.retry.backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// One attempt: POST, following redirects by hand. Ok(status) on 2xx.
    async fn attempt(
        &self,
        url: &Url,
        event: &Event,
        delivery_id: &str,
    ) -> Result<u16, WebhookError> {
        let mut url = url.clone();
        for _hop in 0..=MAX_REDIRECTS {
            let target = self.guard.check(&url).await?;
            let response = self.post(&target, event, delivery_id).await?;
            let status = response.status();
            if status.is_success() {
                return Ok(status.as_u16());
            }
            if !status.is_redirection() {
                return Err(WebhookError::Status(status.as_u16()));
            }
            url = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| url.join(location).ok())
                .ok_or(WebhookError::BadRedirect(status.as_u16()))?;
        }
        Err(WebhookError::TooManyRedirects(MAX_REDIRECTS))
    }

    /// One signed POST to a checked target, connected to its pinned addresses.
    async fn post(
        &self,
        target: &Target,
        event: &Event,
        delivery_id: &str,
    ) -> Result<reqwest::Response, WebhookError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would make its own connection to the target, around the pinned addresses.
            .no_proxy()
            .timeout(self.retry.timeout);
        if let Some((host, addrs)) = &target.pin {
            builder = builder.resolve_to_addrs(host, addrs);
        }
        let client = builder.build().map_err(|e| transport(&e))?;
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        client
            .post(target.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                concat!("soyl-webhook/", env!("CARGO_PKG_VERSION")),
            )
            .header("Soyl-Event", event.name.as_str())
            .header("Soyl-Delivery", delivery_id)
            .header(
                "Soyl-Signature",
                signature::header(&self.secret, timestamp, &event.body),
            )
            .body(event.body.clone())
            .send()
            .await
            .map_err(|e| transport(&e))
    }
}

/// A transport error with its causes (reqwest's own message alone says little).
fn transport(error: &(dyn std::error::Error + 'static)) -> WebhookError {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    WebhookError::Transport(message)
}

/// The host of a URL that failed to pass, for the record (empty when it does not parse).
fn host_of(text: &str) -> String {
    Url::parse(text)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn outcome(url_host: String, attempts: u32, result: Result<u16, WebhookError>) -> WebhookOutcome {
    let (delivered, last_status, last_error) = match result {
        Ok(status) => (true, Some(status), None),
        Err(e) => (false, e.status(), Some(e.to_string())),
    };
    WebhookOutcome {
        url_host,
        attempts,
        delivered,
        last_status,
        last_error,
        finished_at: OffsetDateTime::now_utc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let retry = RetryPolicy {
            base_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        };
        let waits: Vec<_> = (1..=4).map(|n| retry.backoff(n).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400]);
        assert_eq!(retry.backoff(40), MAX_BACKOFF);
    }
}
