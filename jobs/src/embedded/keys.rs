//! API keys in the embedded SQLite database (table `api_keys`, created on open): hash, tenant,
//! limits and revocation time. See [`crate::KeyStore`].

use super::db::write_transaction;
use super::SqliteDb;
use crate::keys::{key_hash, ApiKey, KeyStore};
use crate::{Error, Result, Tenant};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

/// [`KeyStore`] on SQLite.
#[derive(Clone)]
pub struct SqliteKeyStore {
    db: SqliteDb,
}

impl SqliteKeyStore {
    /// Opens the key table in `db`, creating it if absent.
    pub async fn open(db: &SqliteDb) -> Result<SqliteKeyStore> {
        db.call("create api_keys table", |conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS api_keys (
                    hash TEXT PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    tenant TEXT NOT NULL,
                    revoked INTEGER NOT NULL DEFAULT 0,
                    record TEXT NOT NULL
                 );",
            )
        })
        .await?;
        Ok(SqliteKeyStore { db: db.clone() })
    }
}

fn decode(record: String) -> rusqlite::Result<ApiKey> {
    serde_json::from_str(&record).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn create(&self, key: &ApiKey, secret: &str) -> Result<()> {
        let record = serde_json::to_string(key).map_err(|e| Error::Corrupt {
            key: key.id.clone(),
            message: e.to_string(),
        })?;
        let (hash, id, tenant) = (key_hash(secret), key.id.clone(), key.tenant.to_string());
        self.db
            .call("create api key", move |conn| {
                conn.execute(
                    "INSERT INTO api_keys (hash, id, tenant, record) VALUES (?1, ?2, ?3, ?4)",
                    params![hash, id, tenant, record],
                )
                .map(|_| ())
            })
            .await
    }

    async fn lookup(&self, hash: &str) -> Result<Option<ApiKey>> {
        let hash = hash.to_owned();
        self.db
            .call("look up api key", move |conn| {
                conn.query_row(
                    "SELECT record FROM api_keys WHERE hash = ?1 AND revoked = 0",
                    params![hash],
                    |row| row.get::<_, String>(0),
                )
                .optional()?
                .map(decode)
                .transpose()
            })
            .await
    }

    async fn list(&self, tenant: Option<&Tenant>) -> Result<Vec<ApiKey>> {
        let tenant = tenant.map(|t| t.to_string());
        self.db
            .call("list api keys", move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT record FROM api_keys WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map(params![tenant], |row| row.get::<_, String>(0))?;
                rows.map(|r| r.and_then(decode)).collect()
            })
            .await
    }

    async fn revoke(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.db
            .call("revoke api key", move |conn| {
                let tx = write_transaction(conn)?;
                let record: Option<String> = tx
                    .query_row(
                        "SELECT record FROM api_keys WHERE id = ?1 AND revoked = 0",
                        params![id],
                        |row| row.get(0),
                    )
                    .optional()?;
                let Some(record) = record else {
                    return Ok(false);
                };
                let mut key = decode(record)?;
                key.revoked_at = Some(time::OffsetDateTime::now_utc());
                let record = serde_json::to_string(&key)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                tx.execute(
                    "UPDATE api_keys SET revoked = 1, record = ?2 WHERE id = ?1",
                    params![id, record],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }
}
