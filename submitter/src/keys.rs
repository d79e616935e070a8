//! `soyl keys create | list | revoke`: API key administration on a data directory's database.
//! The secret is printed once by `create`; only its hash is stored.

use crate::config::{KeysAction, KeysArgs};
use soyl_jobs::embedded::{SqliteDb, SqliteKeyStore};
use soyl_jobs::keys::{key_hash, new_secret};
use soyl_jobs::{ApiKey, KeyStore, Tenant};

/// Runs a `soyl keys` action.
pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)?;
    let db = SqliteDb::open(&args.data_dir.join("soyl.db"))?;
    let keys = SqliteKeyStore::open(&db).await?;
    match args.action {
        KeysAction::Create {
            tenant,
            name,
            rate_per_s,
            max_concurrent_jobs,
        } => {
            let secret = new_secret();
            let key = ApiKey {
                id: key_hash(&secret)[..12].to_owned(),
                tenant: Tenant::parse(&tenant)?,
                name,
                rate_per_s,
                max_concurrent_jobs,
                created_at: time::OffsetDateTime::now_utc(),
                revoked_at: None,
            };
            keys.create(&key, &secret).await?;
            eprintln!(
                "created key {} for tenant {} (the secret below is not shown again)",
                key.id, key.tenant
            );
            println!("{secret}");
        }
        KeysAction::List { tenant } => {
            let tenant = tenant.as_deref().map(Tenant::parse).transpose()?;
            for key in keys.list(tenant.as_ref()).await? {
                println!("{}", serde_json::to_string(&key)?);
            }
        }
        KeysAction::Revoke { id } => {
            if !keys.revoke(&id).await? {
                anyhow::bail!("no live key with id {id}");
            }
            eprintln!("revoked key {id}");
        }
    }
    Ok(())
}
