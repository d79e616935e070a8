//! Reading a `multipart/form-data` job submission: `file` parts (one or more; any other part with a
//! file name counts as a file), `text` parts (inline text inputs), and at most one `options` part
//! holding the job options as JSON. `options` and `text` keep their meaning when the client sends
//! them with a file name (`curl -F options=@opts.json`, Python `requests`' `files=`). Also the limits both submission forms share.

use super::error::ApiError;
use crate::intake::Upload;
use axum::extract::Multipart;
use axum::http::StatusCode;
use soyl_jobs::JobOptions;

/// The parts of a submission.
#[derive(Debug, Default)]
pub struct Parts {
    /// Files, in order.
    pub files: Vec<Upload>,
    /// Uploads named by key (JSON bodies only), in order.
    pub stored: Vec<crate::intake::StoredInput>,
    /// Texts, in order.
    pub texts: Vec<String>,
    /// Options, if sent.
    pub options: Option<JobOptions>,
}

/// 413 for a job with more than `max_inputs` inputs.
pub fn too_many_inputs(max_inputs: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_inputs",
        format!("a job holds at most {max_inputs} inputs"),
    )
}

/// 422 `invalid_options` for options that do not fit the schema (whichever form sent them).
pub fn invalid_options(e: serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_options",
        format!("options: {e}"),
    )
}

/// 413 for a text over `max_text_bytes` (UTF-8 bytes).
pub fn check_text(text: &str, max_text_bytes: usize) -> Result<(), ApiError> {
    if text.len() > max_text_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text_too_long",
            format!(
                "text is {} bytes, over the limit of {max_text_bytes}",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Reads every part, enforcing `max_inputs` and `max_text_bytes`. On a refusal the rest of the body
/// is read and dropped first (it is bounded by `--max-upload-bytes`): a client still sending parts
/// when the answer comes would otherwise see a reset connection instead of the 4xx and its code.
pub async fn read(
    mut multipart: Multipart,
    max_inputs: usize,
    max_text_bytes: usize,
) -> Result<Parts, ApiError> {
    let parts = read_parts(&mut multipart, max_inputs, max_text_bytes).await;
    if parts.is_err() {
        drain(&mut multipart).await;
    }
    parts
}

/// Reads and drops what is left of a form, stopping at its end or at the first malformed part.
async fn drain(multipart: &mut Multipart) {
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

async fn read_parts(
    multipart: &mut Multipart,
    max_inputs: usize,
    max_text_bytes: usize,
) -> Result<Parts, ApiError> {
    let mut parts = Parts::default();
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        match (name.as_str(), filename) {
            ("options", _) => {
                if parts.options.is_some() {
                    return Err(ApiError::bad_request(
                        "invalid_options",
                        "more than one options part",
                    ));
                }
                let bytes = field.bytes().await?;
                let options =
                    serde_json::from_slice::<JobOptions>(&bytes).map_err(invalid_options)?;
                parts.options = Some(options);
            }
            ("text", _) => {
                let text = field.text().await?;
                check_text(&text, max_text_bytes)?;
                parts.texts.push(text);
            }
            (_, filename @ Some(_)) | ("file", filename @ None) => {
                let bytes = field.bytes().await?;
                parts.files.push(Upload { bytes, filename });
            }
            (other, None) => {
                return Err(ApiError::bad_request(
                    "unknown_field",
                    format!("unknown form field {other:?}: use file, text or options"),
                ))
            }
        }
        if parts.files.len() + parts.texts.len() > max_inputs {
            return Err(too_many_inputs(max_inputs));
        }
    }
    Ok(parts)
}
