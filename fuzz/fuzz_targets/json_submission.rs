//! The JSON job submission (`{"inputs": [{"text"}], "options"}`), parsed the way `POST /v1/jobs`
//! parses it: any bytes give parts within the limits or an `ApiError` with a 4xx status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soyl_submitter::api::json_body;

fuzz_target!(|data: &[u8]| {
    match json_body::read(data, 16, 4096) {
        Ok(parts) => {
            assert!(parts.texts.len() <= 16);
            assert!(parts.texts.iter().all(|t| t.len() <= 4096));
        }
        Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
    }
});
