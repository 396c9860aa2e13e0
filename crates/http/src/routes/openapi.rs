//! `GET /openapi.json`: the OpenAPI 3.1 document of this server, no credentials.

use actix_web::HttpResponse;
use std::sync::OnceLock;

use super::Answer;

/// The document as served and as committed in `docs/openapi.json`.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut json = <super::ApiDoc as utoipa::OpenApi>::openapi()
            .to_pretty_json()
            .expect("the document serialises");
        json.push('\n');
        json
    })
}

#[utoipa::path(get, path = "/openapi.json", tag = "Operations",
    summary = "This document", security(()),
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
pub(super) async fn openapi() -> Answer {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(document()))
}
