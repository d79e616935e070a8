//! Reading a JSON job submission (`Content-Type: application/json`):
//! `{"inputs": [{"text": "..."}, {"media_key": "...", "filename": "..."}, ...], "options": {...}}`.
//! Text needs no upload; media is either uploaded beforehand (`POST /v1/uploads`, then named by
//! its `media_key`) or sent in multipart form parts. The job's inputs are the media keys in
//! order, then the texts in order.

use super::error::ApiError;
use super::multipart::Parts;
use crate::intake::StoredInput;
use axum::http::StatusCode;
use serde::Deserialize;
use soyl_jobs::JobOptions;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    inputs: Vec<InputSpec>,
    /// Parsed on its own, so that a bad option is `invalid_options`, as in a multipart form.
    #[serde(default)]
    options: Option<serde_json::Value>,
}

/// One input: exactly one of `text` and `media_key` (with an optional `filename`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSpec {
    text: Option<String>,
    media_key: Option<String>,
    filename: Option<String>,
}

/// Parses and validates a JSON submission.
pub fn read(bytes: &[u8], max_inputs: usize, max_text_bytes: usize) -> Result<Parts, ApiError> {
    let body: Body = serde_json::from_slice(bytes).map_err(|e| {
        let status = if e.is_syntax() || e.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, "invalid_body", format!("job body: {e}"))
    })?;
    if body.inputs.len() > max_inputs {
        return Err(super::multipart::too_many_inputs(max_inputs));
    }
    let mut texts = Vec::new();
    let mut stored = Vec::new();
    for (index, input) in body.inputs.into_iter().enumerate() {
        match (input.text, input.media_key, input.filename) {
            (Some(text), None, None) => {
                super::multipart::check_text(&text, max_text_bytes)?;
                texts.push(text);
            }
            (None, Some(media_key), filename) => stored.push(StoredInput {
                media_key,
                filename,
            }),
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!(
                        "inputs[{index}]: give either `text`, or `media_key` (and optionally \
                         `filename`)"
                    ),
                ))
            }
        }
    }
    let options = match body.options {
        Some(value) => serde_json::from_value::<JobOptions>(value)
            .map_err(super::multipart::invalid_options)?,
        None => JobOptions::default(),
    };
    Ok(Parts {
        files: Vec::new(),
        stored,
        texts,
        options: Some(options),
    })
}
