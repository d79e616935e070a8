//! Authentication and admission: `Authorization: Bearer <key>` is looked up (by hash) on every
//! request, so a revoked key is refused at once; the key's tenant scopes everything the request
//! touches. Each key has a token-bucket request rate (429 `rate_limited` with `Retry-After`).
//! With auth disabled (`--auth disabled`, local use only) every caller is tenant `default`.

use super::error::ApiError;
use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use soyl_jobs::keys::key_hash;
use soyl_jobs::{KeyStore, Tenant};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Who is calling: set by [`authenticate`] for every protected route.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant every read and write is scoped to.
    pub tenant: Tenant,
    /// The key's id (None with auth disabled).
    pub key_id: Option<String>,
    /// Most queued + running jobs this caller may have.
    pub max_concurrent_jobs: u64,
}

/// Default limits for keys that do not set their own.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests per second (token refill rate).
    pub rate_per_s: f64,
    /// Bucket size: requests allowed in a burst.
    pub burst: f64,
    /// Most queued + running jobs per tenant.
    pub max_concurrent_jobs: u64,
}

/// The auth layer's state: the key store (None: auth disabled) and the per-key buckets.
pub struct Auth {
    keys: Option<Arc<dyn KeyStore>>,
    limits: Limits,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Auth {
    /// Auth over `keys`; `None` disables authentication.
    pub fn new(keys: Option<Arc<dyn KeyStore>>, limits: Limits) -> Self {
        Auth {
            keys,
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether callers need a key (false with `--auth disabled`).
    pub fn enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// Takes one token from the key's bucket, or says how long until one is there.
    fn admit(&self, key_id: &str, rate: f64) -> Result<(), f64> {
        let now = Instant::now();
        let burst = self.limits.burst.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key_id.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - bucket.tokens) / rate.max(1e-9))
        }
    }
}

/// Middleware for protected routes: resolves the caller or answers 401 / 429.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = &state.auth;
    let Some(keys) = &auth.keys else {
        request.extensions_mut().insert(Caller {
            tenant: Tenant::default_tenant(),
            key_id: None,
            max_concurrent_jobs: auth.limits.max_concurrent_jobs,
        });
        return next.run(request).await;
    };
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return unauthorized("send an API key as `Authorization: Bearer <key>`");
    };
    let key = match keys.lookup(&key_hash(secret)).await {
        Ok(Some(key)) => key,
        Ok(None) => return unauthorized("unknown or revoked API key"),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let rate = key.rate_per_s.unwrap_or(auth.limits.rate_per_s);
    if let Err(wait) = auth.admit(&key.id, rate) {
        return too_many(
            "rate_limited",
            format!("over {rate} requests/s for this key"),
            wait,
        );
    }
    request.extensions_mut().insert(Caller {
        tenant: key.tenant.clone(),
        max_concurrent_jobs: key
            .max_concurrent_jobs
            .unwrap_or(auth.limits.max_concurrent_jobs),
        key_id: Some(key.id),
    });
    next.run(request).await
}

fn unauthorized(message: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

fn too_many(code: &'static str, message: String, retry_after_s: f64) -> Response {
    ApiError::too_many(code, message, retry_after_s).into_response()
}

/// Refuses a new job (429 `quota_exceeded`) while the caller's tenant already has its maximum of
/// queued + running jobs.
pub async fn check_quota(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let active = state.store.count_active(&caller.tenant).await?;
    if active >= caller.max_concurrent_jobs {
        return Err(ApiError::too_many(
            "quota_exceeded",
            format!(
                "{active} jobs queued or running, the limit is {}",
                caller.max_concurrent_jobs
            ),
            1.0,
        ));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 7235), the token is not.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_token_is_kept_as_sent() {
        assert_eq!(bearer_token("Bearer Key-1"), Some("Key-1"));
        assert_eq!(bearer_token("bearer Key-1"), Some("Key-1"));
        assert_eq!(bearer_token("BEARER  Key-1 "), Some("Key-1"));
        assert_eq!(bearer_token("Basic Key-1"), None);
        assert_eq!(bearer_token("BearerKey-1"), None);
    }
}
