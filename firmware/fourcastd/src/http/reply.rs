//! Replies every API area shares.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};

/// A JSON error: what is wrong and, where it applies, the field.
pub(crate) fn error(status: StatusCode, path: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "path": path, "message": message.into() } })),
    )
        .into_response()
}
