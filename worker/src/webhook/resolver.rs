//! Host name resolution for the SSRF guard, behind a small trait so that tests can map a name to
//! any address (say `internal.test -> 10.0.0.1`) without a DNS server. The default is tokio's
//! `lookup_host` (the system resolver, on the blocking pool).

use async_trait::async_trait;
use std::io;
use std::net::IpAddr;

/// Resolves a host name to its addresses.
#[async_trait]
pub trait Resolver: Send + Sync {
    /// Every address `host` resolves to (empty is allowed; the guard refuses it).
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The system resolver, through [`tokio::net::lookup_host`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        // The port is required by lookup_host and ignored here: the guard pins addresses only.
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}
