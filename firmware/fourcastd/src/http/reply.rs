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

/// Runs controller work (it takes the controller's lock and may wait for the engine) on
/// tokio's blocking pool, never on a runtime worker, which must stay free for HLS. The one
/// way the HTTP side runs blocking work: a panic in it is logged and answered 500, never a
/// dropped connection.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!("blocking work failed: {e}");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "the box failed to do this; see its log",
        )
    })
}
