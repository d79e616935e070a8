//! The OpenAPI 3 document (generated from the handlers' `#[utoipa::path]` attributes and the
//! shapes in [`super::schema`]), served at `/openapi.json`, and a Swagger UI page at `/docs`.

use super::schema::*;
use super::{batches, health, jobs, seed, uploads, AppState};
use axum::extract::State;
use axum::response::Html;
use axum::Json;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "soyl", description = "Asynchronous multimodal emotion inference: submit jobs, poll results."),
    paths(
        jobs::submit, jobs::list_jobs, jobs::get_job, jobs::cancel_job,
        uploads::create_upload, uploads::put_upload,
        batches::create_batch, batches::get_batch,
        seed::get_emotion_state, seed::analyze_face, seed::analyze_voice, seed::analyze_text,
        health::health, health::ready, metrics_doc, openapi_json, docs,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Accepted, Links, JobStatus, InputView, JobRecord, JobList, TextInput,
        MediaKeyInput, JsonInput, UploadTicket, UploadStored,
        JsonSubmission, MultipartSubmission, Module, EmotionStateRequest, FusedSource, FusedState,
        AnalyzeTextRequest, FileUpload, JobOptionsView, ModalityName, PriorityName, FaceOptionsView,
        VoiceOptionsView, TextOptionsView, GranularityName, BatchRequest, BatchAccepted, BatchLinks,
        crate::bulk::BatchStatus, crate::bulk::Listing, crate::bulk::Filters,
    )),
    modifiers(&Bearer, &AtLeastOneInput),
    tags((name = "jobs", description = "asynchronous jobs"), (name = "batches", description = "bulk reprocessing of stored media"), (name = "seed", description = "the original API's endpoints"), (name = "probes", description = "health, readiness, metrics, documentation"))
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// A multipart submission needs at least one `file` or `text` part, which a derived schema (every
/// part optional) cannot say: it becomes `anyOf` [itself with `file` required, with `text`
/// required]. In multipart an empty array is no part at all, so only the required one has
/// `minItems: 1`.
struct AtLeastOneInput;

impl Modify for AtLeastOneInput {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let name = "MultipartSubmission";
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(name).cloned() else {
            return;
        };
        let requiring = |part: &str| {
            let mut branch = object.clone();
            branch.required = vec![part.to_owned()];
            for (name, property) in branch.properties.iter_mut() {
                if let RefOr::T(Schema::Array(array)) = property {
                    array.min_items = (name == part).then_some(1);
                }
            }
            Schema::Object(branch)
        };
        let any = AnyOfBuilder::new()
            .item(requiring("file"))
            .item(requiring("text"))
            .description(object.description.clone())
            .build();
        components
            .schemas
            .insert(name.to_owned(), RefOr::T(Schema::AnyOf(any)));
    }
}

/// Prometheus metrics (documented here; served by [`crate::prometheus::metrics`]).
#[utoipa::path(get, path = "/metrics", tag = "probes", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[allow(dead_code)]
fn metrics_doc() {}

/// `GET /openapi.json`. With `--auth disabled` the served document requires no key, as the
/// server it describes does not.
#[utoipa::path(get, path = "/openapi.json", tag = "probes", responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi_json(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    if !state.auth.enabled() {
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                operation.security = None;
            }
        }
    }
    Json(doc)
}

/// `GET /docs`: Swagger UI (loaded from a CDN) over `/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "probes", responses((status = 200, description = "Swagger UI", body = String, content_type = "text/html")))]
pub async fn docs() -> Html<&'static str> {
    Html(
        r##"<!doctype html>
<html><head><meta charset="utf-8"><title>soyl API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
<noscript>The API description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
</body></html>"##,
    )
}
