//! HTTP: the HLS origin, the status API and Prometheus metrics.

use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;

use crate::controller::Controller;

pub fn router(controller: Controller) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/hls/{*path}", get(hls))
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .route("/api/v1/config", get(config))
        .route("/metrics", get(metrics))
        .with_state(controller)
}

async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}

#[derive(Serialize)]
struct Status {
    version: &'static str,
    board: String,
    uptime_s: f64,
    config_revision: u64,
    #[serde(flatten)]
    engine: fourcast_engine::EngineStatus,
}

async fn status(State(c): State<Controller>) -> Json<Status> {
    let s = tokio::task::spawn_blocking(move || c.snapshot()).await;
    let s = s.expect("snapshot does not panic: it only reads counters");
    Json(Status {
        version: env!("CARGO_PKG_VERSION"),
        board: s.config.board.clone(),
        uptime_s: s.uptime_s,
        config_revision: s.revision,
        engine: s.engine,
    })
}

#[derive(Serialize)]
struct ConfigView {
    revision: u64,
    /// The running config; every secret reads `***`.
    config: fourcast_config::Config,
}

/// The running config, secrets redacted.
async fn config(State(c): State<Controller>) -> Response {
    match tokio::task::spawn_blocking(move || c.snapshot()).await {
        Ok(s) => Json(ConfigView {
            revision: s.revision,
            config: s.config,
        })
        .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The most recent events (config applied or rejected, pipelines started, errors).
async fn events(State(c): State<Controller>) -> Json<Vec<crate::controller::Event>> {
    Json(c.recent_events())
}

async fn metrics(State(c): State<Controller>) -> Response {
    let s = tokio::task::spawn_blocking(move || c.snapshot()).await;
    let Ok(s) = s else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&s),
    )
        .into_response()
}

/// Serves the HLS origin. Playlists change every segment: `no-cache`. Segment names are
/// never reused (they carry the run's start time), so segments are immutable.
async fn hls(State(c): State<Controller>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(file) = safe_join(&c.hls_dir(), &path) else {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    };
    let (content_type, cache) = match file.extension().and_then(|e| e.to_str()) {
        Some("m3u8") => ("application/vnd.apple.mpegurl", "no-cache"),
        Some("ts") => ("video/mp2t", "public, max-age=86400, immutable"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match tokio::fs::read(&file).await {
        Ok(body) => {
            let mut r = body.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            r
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `base/rel` if `rel` is a plain relative path (no `..`, no root, no prefix).
fn safe_join(base: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        Some(base.join(rel))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_paths_cannot_leave_the_origin() {
        let base = Path::new("/data/hls");
        assert_eq!(
            safe_join(base, "720p/index.m3u8"),
            Some(PathBuf::from("/data/hls/720p/index.m3u8"))
        );
        assert_eq!(safe_join(base, "../store.redb"), None);
        assert_eq!(safe_join(base, "720p/../../x"), None);
        assert_eq!(safe_join(base, "/etc/passwd"), None);
    }
}
