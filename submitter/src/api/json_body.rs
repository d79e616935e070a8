//! Reading a JSON job submission (`Content-Type: application/json`):
//! `{"inputs": [{"text": "..."}, ...], "options": {...}}`. Text is the input that needs no upload;
//! media goes in multipart form parts.

use super::error::ApiError;
use super::multipart::Parts;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSpec {
    text: String,
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
    let texts: Vec<String> = body.inputs.into_iter().map(|i| i.text).collect();
    for text in &texts {
        super::multipart::check_text(text, max_text_bytes)?;
    }
    let options = match body.options {
        Some(value) => serde_json::from_value::<JobOptions>(value)
            .map_err(super::multipart::invalid_options)?,
        None => JobOptions::default(),
    };
    Ok(Parts {
        files: Vec::new(),
        texts,
        options: Some(options),
    })
}
