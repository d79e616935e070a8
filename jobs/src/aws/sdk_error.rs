//! Turning AWS SDK errors into [`Error`]: throttling, 5xx answers, timeouts and connection
//! failures are [`Error::Transient`] (retry with backoff); everything else is [`Error::Backend`].
//! Every message names what was being touched (queue URL, bucket and key, table and job id).
//! Used by every AWS adapter; the callers first pick out the codes that mean something to them
//! (a stale receipt, a missing object, a failed condition).

use crate::Error;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes that mean "not now": the same request may succeed later.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "TransactionInProgressException",
    "KMS.ThrottlingException",
];

/// The error code of an SDK error, if the service sent one (`AWS.SimpleQueueService.` style
/// prefixes and `#` namespaces stripped, so callers match on the plain name).
pub(crate) fn code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<&str> {
    let code = error.code()?;
    let code = code.rsplit('#').next().unwrap_or(code);
    Some(code.rsplit('.').next().unwrap_or(code))
}

/// The HTTP status of the service's answer, if there was one.
pub(crate) fn http_status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

/// Maps an SDK error to [`Error`], with `context` (what was being touched) in the message.
pub(crate) fn map<E>(
    backend: &'static str,
    operation: &'static str,
    context: &str,
    error: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ResponseError(_) => http_status(&error).is_none_or(|s| s >= 500),
        SdkError::ServiceError(_) => {
            code(&error).is_some_and(|c| TRANSIENT_CODES.contains(&c))
                || http_status(&error).is_some_and(|s| s == 429 || s >= 500)
        }
        _ => false,
    };
    // The service's own words when it sent some; else the whole chain (timeouts, connections).
    let message = match (error.code(), error.message()) {
        (Some(code), message) => format!("{context}: {code}: {}", message.unwrap_or_default()),
        (None, _) => format!("{context}: {}", DisplayErrorContext(&error)),
    };
    if transient {
        Error::Transient {
            backend,
            operation,
            message,
        }
    } else {
        Error::Backend {
            backend,
            operation,
            message,
        }
    }
}
