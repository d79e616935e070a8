//! The multipart job submission (file, text and options parts), parsed the way `POST /v1/jobs`
//! parses it: the fuzzer writes the body under a fixed boundary; any body gives parts within the
//! limits or an `ApiError` with a 4xx status, never a panic.
#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{header, Request};
use libfuzzer_sys::fuzz_target;
use soyl_submitter::api::multipart;

fuzz_target!(|data: &[u8]| {
    let request = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
        .body(Body::from(data.to_vec()))
        .expect("a valid request");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let form = Multipart::from_request(request, &())
            .await
            .expect("the content type is multipart");
        match multipart::read(form, 16, 4096).await {
            Ok(parts) => {
                assert!(parts.files.len() + parts.texts.len() <= 16);
                assert!(parts.texts.iter().all(|t| t.len() <= 4096));
            }
            Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
        }
    });
});
