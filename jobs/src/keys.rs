//! API keys: each key belongs to one tenant and carries its own limits. Only a SHA-256 hash of a
//! key is ever stored; the plaintext is shown once, at creation. Used by the submitter's auth
//! layer (lookup on every request, so a revocation takes effect at once) and by `soyl keys`.

use crate::{Result, Tenant};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// A stored key (without its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public identifier (the first 12 hex digits of the hash), for listing and revoking.
    pub id: String,
    /// The tenant the key acts for.
    pub tenant: Tenant,
    /// A label chosen at creation.
    pub name: String,
    /// Requests per second allowed (token bucket refill); None: the server default.
    pub rate_per_s: Option<f64>,
    /// Most queued + running jobs of the tenant accepted through this key; None: server default.
    pub max_concurrent_jobs: Option<u64>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was revoked (revoked keys authenticate nothing).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// The hash a key is stored and looked up under.
pub fn key_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh key secret: `soyl_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "soyl_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Storage of API keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a key under the hash of `secret`.
    async fn create(&self, key: &ApiKey, secret: &str) -> Result<()>;
    /// The live (not revoked) key whose hash is `hash`.
    async fn lookup(&self, hash: &str) -> Result<Option<ApiKey>>;
    /// All keys, optionally of one tenant, revoked ones included.
    async fn list(&self, tenant: Option<&Tenant>) -> Result<Vec<ApiKey>>;
    /// Revokes the key with this id; false if there is none (or it was already revoked).
    async fn revoke(&self, id: &str) -> Result<bool>;
}
