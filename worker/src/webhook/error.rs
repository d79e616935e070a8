//! Why one webhook attempt failed, and whether trying again may help. Used by the delivery loop
//! ([`super::delivery`]) to decide between a retry and giving up, and written (as text) into the
//! job's webhook outcome.

use std::net::IpAddr;

/// Why a webhook attempt did not end in a 2xx answer.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not acceptable as a callback target (scheme, credentials, length, host).
    #[error("invalid callback URL: {0}")]
    InvalidUrl(String),
    /// The target's address is one the SSRF guard refuses.
    #[error("refused callback target {host} ({addr}): {reason}")]
    Refused {
        /// The host as written in the URL.
        host: String,
        /// The address it is (or resolved to).
        addr: IpAddr,
        /// The address class, e.g. "loopback", "cloud metadata".
        reason: &'static str,
    },
    /// The host name did not resolve (or resolved to nothing).
    #[error("could not resolve callback host {host}: {message}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's words.
        message: String,
    },
    /// More redirects than the guard follows.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// A redirect answer without a usable `Location` header.
    #[error("HTTP {0} redirect without a valid Location header")]
    BadRedirect(u16),
    /// The receiver answered, but not with 2xx.
    #[error("HTTP {0}")]
    Status(u16),
    /// Connecting, sending or reading failed (refused, reset, TLS, timeout).
    #[error("transport error: {0}")]
    Transport(String),
}

impl WebhookError {
    /// True when a later attempt may succeed: transport errors (connect, timeout, reset), 429
    /// and 5xx. Refused targets, bad URLs, redirect trouble and other statuses are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            WebhookError::Transport(_) | WebhookError::Resolve { .. } => true,
            WebhookError::Status(status) => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The HTTP status the receiver answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            WebhookError::Status(status) | WebhookError::BadRedirect(status) => Some(*status),
            _ => None,
        }
    }
}
