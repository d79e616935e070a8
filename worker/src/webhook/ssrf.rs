//! The SSRF guard: decides whether a webhook may go to a URL, and to which addresses. Called by
//! the delivery loop ([`super::delivery`]) before every request, redirect hops included.
//!
//! A URL passes when it meets the static rules ([`super::callback_url`]) and every address its
//! host is (an IP literal) or resolves to is public ([`super::ip_policy`]). The addresses that
//! were checked come back in the [`Target`]; the request connects to exactly those (reqwest's
//! per-client DNS override), so a name that resolves differently a moment later (DNS rebinding)
//! cannot lead the connection elsewhere. Hosts on the allow-list (`--webhook-allow-hosts`, exact
//! names, for local testing) skip the address check but not the static rules.

use super::resolver::Resolver;
use super::{callback_url, ip_policy, WebhookError};
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use url::Host;

/// What the guard lets through.
#[derive(Debug, Clone, Default)]
pub struct GuardPolicy {
    /// Accept `http://` as well as `https://`.
    pub allow_http: bool,
    /// Hosts exempt from the address check, compared exactly (case-insensitively) with the
    /// URL's host: a name (`hooks.local`) or an address (`127.0.0.1`, `::1`).
    pub allow_hosts: Vec<String>,
}

/// A URL that passed, with the addresses to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL.
    pub url: Url,
    /// For a host name: the name and the checked addresses the connection must use. `None` for
    /// an IP literal, which is its own (checked) address.
    pub pin: Option<(String, Vec<SocketAddr>)>,
}

/// The guard. Cheap to share.
#[derive(Clone)]
pub struct Guard {
    policy: GuardPolicy,
    resolver: Arc<dyn Resolver>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard with this policy, resolving names with `resolver`.
    pub fn new(policy: GuardPolicy, resolver: Arc<dyn Resolver>) -> Self {
        Guard { policy, resolver }
    }

    /// Whether `http://` URLs are accepted.
    pub fn allows_http(&self) -> bool {
        self.policy.allow_http
    }

    /// Checks `url` and resolves its host; refuses internal addresses unless the host is
    /// allow-listed.
    pub async fn check(&self, url: &Url) -> Result<Target, WebhookError> {
        callback_url::check(url, self.policy.allow_http)?;
        let exempt = self.is_allow_listed(url);
        let port = url.port_or_known_default().unwrap_or(443);
        let refuse_internal = |host: &str, ip: IpAddr| match ip_policy::forbidden(ip) {
            Some(reason) if !exempt => Err(WebhookError::Refused {
                host: host.to_owned(),
                addr: ip,
                reason,
            }),
            _ => Ok(()),
        };
        match url.host() {
            Some(Host::Ipv4(ip)) => refuse_internal(&ip.to_string(), IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => refuse_internal(&ip.to_string(), IpAddr::V6(ip))?,
            Some(Host::Domain(name)) => {
                let addrs =
                    self.resolver
                        .lookup(name)
                        .await
                        .map_err(|e| WebhookError::Resolve {
                            host: name.to_owned(),
                            message: e.to_string(),
                        })?;
                if addrs.is_empty() {
                    return Err(WebhookError::Resolve {
                        host: name.to_owned(),
                        message: "no addresses".into(),
                    });
                }
                // Every address must pass: one internal address among public ones is enough
                // for a connection attempt to land inside.
                for ip in &addrs {
                    refuse_internal(name, *ip)?;
                }
                let pinned = addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
                return Ok(Target {
                    url: url.clone(),
                    pin: Some((name.to_owned(), pinned)),
                });
            }
            None => return Err(WebhookError::InvalidUrl("no host".into())),
        }
        Ok(Target {
            url: url.clone(),
            pin: None,
        })
    }

    fn is_allow_listed(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let bare = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
        let host = bare(host);
        self.policy
            .allow_hosts
            .iter()
            .any(|allowed| bare(allowed).eq_ignore_ascii_case(&host))
    }
}
