//! The static rules for a callback URL, checked by the API at submit (422 `invalid_callback_url`)
//! and again by the SSRF guard before every request (redirect targets included): it parses, its
//! scheme is https (or http when allowed), it carries no credentials and has a host, and it is at
//! most [`MAX_LEN`] bytes. Addresses are checked later, after DNS resolution ([`super::ssrf`]).

use super::WebhookError;
use reqwest::Url;

/// Longest accepted callback URL, in bytes.
pub const MAX_LEN: usize = 2048;

/// Parses `text` and applies the static rules; `allow_http` also accepts `http://`.
pub fn parse(text: &str, allow_http: bool) -> Result<Url, WebhookError> {
    if text.len() > MAX_LEN {
        return Err(WebhookError::InvalidUrl(format!(
            "{} bytes, over the limit of {MAX_LEN}",
            text.len()
        )));
    }
    let url = Url::parse(text).map_err(|e| WebhookError::InvalidUrl(e.to_string()))?;
    check(&url, allow_http)?;
    Ok(url)
}

/// Applies the static rules to a parsed URL (a redirect target).
pub fn check(url: &Url, allow_http: bool) -> Result<(), WebhookError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(WebhookError::InvalidUrl(
                "http is not allowed (https only; the server's --webhook-allow-http allows it)"
                    .into(),
            ))
        }
        other => {
            return Err(WebhookError::InvalidUrl(format!(
                "scheme {other:?} is not allowed (https only)"
            )))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookError::InvalidUrl(
            "credentials in the URL are not allowed".into(),
        ));
    }
    if url.host().is_none() {
        return Err(WebhookError::InvalidUrl("no host".into()));
    }
    if url.as_str().len() > MAX_LEN {
        return Err(WebhookError::InvalidUrl(format!(
            "longer than {MAX_LEN} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_pass() {
        assert!(parse("https://hooks.example.com/soyl?token=abc", false).is_ok());
    }

    #[test]
    fn http_needs_the_allow_flag() {
        assert!(parse("http://hooks.example.com/", false).is_err());
        assert!(parse("http://hooks.example.com/", true).is_ok());
    }

    #[test]
    fn other_schemes_credentials_and_long_urls_are_refused() {
        for bad in [
            "ftp://hooks.example.com/",
            "file:///etc/passwd",
            "https://user:pw@hooks.example.com/",
            "https://user@hooks.example.com/",
            "not a url",
        ] {
            assert!(parse(bad, true).is_err(), "{bad} accepted");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_LEN));
        assert!(parse(&long, true).is_err());
    }
}
