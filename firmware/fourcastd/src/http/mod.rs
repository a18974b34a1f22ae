//! HTTP: the HLS origin, the status API and Prometheus metrics.

use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};

use std::sync::Arc;

use crate::access::{self, Access};
use crate::config_api;
use crate::controller::Controller;
use crate::device::{self, Device};

pub fn router(device: Device, access: Arc<Access>) -> Router {
    let controller = device.controller.clone();
    let box_routes = Router::new()
        .route("/api/v1/device", get(device::info))
        .route("/api/v1/device/log", get(device::log))
        .route("/api/v1/device/reboot", post(device::reboot))
        .route("/api/v1/device/factory-reset", post(device::factory_reset))
        .with_state(device);
    let auth = Router::new()
        .route(
            "/api/v1/setup",
            get(access::setup_state).post(access::setup),
        )
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/login", post(access::login))
        .route("/api/v1/logout", post(access::logout))
        .route("/api/v1/session", get(access::session))
        .route(
            "/api/v1/tokens",
            get(access::tokens).post(access::token_create),
        )
        .route(
            "/api/v1/tokens/{name}",
            axum::routing::delete(access::token_delete),
        )
        .with_state(access.clone());
    Router::new()
        .route("/", get(crate::web::asset))
        .route("/hls/{*path}", get(hls))
        .route("/api/v1/status", get(status))
        .route("/api/v1/hls/sign", post(hls_sign))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(crate::events::stream))
        .route(
            "/api/v1/config",
            get(config_api::read)
                .put(config_api::replace)
                .patch(config_api::patch),
        )
        .route("/api/v1/config/export", get(config_api::export))
        .route("/api/v1/config/history", get(config_api::history))
        .route("/api/v1/config/rollback", post(config_api::rollback))
        .route(
            "/api/v1/outputs/{name}/{action}",
            post(config_api::output_action),
        )
        .route(
            "/api/v1/overlays/{name}/{action}",
            post(config_api::overlay_action),
        )
        .route("/api/v1/inputs", get(crate::inputs::list))
        .route(
            "/api/v1/inputs/{name}/thumbnail.jpg",
            get(crate::inputs::thumbnail),
        )
        .route(
            "/api/v1/program/thumbnail.jpg",
            get(crate::inputs::program_thumbnail),
        )
        .route("/api/v1/program", get(crate::switcher::program))
        .route("/api/v1/program/take", post(crate::switcher::take))
        .route(
            "/api/v1/audio",
            get(crate::switcher::audio).post(crate::switcher::audio_change),
        )
        .route("/api/v1/recording/start", post(recording_start))
        .route("/api/v1/recording/stop", post(recording_stop))
        .route("/api/v1/recordings", get(recordings_list))
        .route(
            "/api/v1/recordings/{id}",
            axum::routing::delete(recording_delete),
        )
        .route("/api/v1/recordings/{id}/file", get(recording_file))
        .route("/metrics", get(metrics))
        .with_state(controller)
        .merge(auth)
        .merge(box_routes)
        .fallback(get(crate::web::asset))
        .layer(axum::middleware::from_fn_with_state(access, access::guard))
        // Every request body is small: a config is a few kB.
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
}

/// The OpenAPI 3 document of this API (a unit test keeps it true to the routes here).
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn status(State(c): State<Controller>) -> Response {
    match tokio::task::spawn_blocking(move || crate::status::status_of(&c)).await {
        Ok(s) => Json(s).into_response(),
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
    let (policy, key) = c.hls_access();
    let path = if let Some(rest) = path.strip_prefix("signed/") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match fourcast_auth::hls_url::verify(&key, rest, now) {
            Ok(p) => p.to_string(),
            Err(refusal) => return error(StatusCode::FORBIDDEN, "", refusal.to_string()),
        }
    } else if policy == fourcast_config::HlsAccess::Signed {
        return error(
            StatusCode::FORBIDDEN,
            "",
            "this box serves HLS only at signed URLs (POST /api/v1/hls/sign)".to_string(),
        );
    } else {
        path
    };
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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    ttl_s: Option<u32>,
}

/// The longest a signed HLS URL may last: a week.
const MAX_HLS_TTL_S: u32 = 604_800;

/// `POST /api/v1/hls/sign`: a signed, expiring URL of the multivariant playlist.
async fn hls_sign(State(c): State<Controller>, body: axum::body::Bytes) -> Response {
    let req: SignRequest = if body.is_empty() {
        SignRequest { ttl_s: None }
    } else {
        match crate::access::parse(&body) {
            Ok(r) => r,
            Err(r) => return *r,
        }
    };
    let ttl = req.ttl_s.unwrap_or_else(|| c.hls_url_ttl_s());
    if !(1..=MAX_HLS_TTL_S).contains(&ttl) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ttl_s",
            format!("{ttl}: 1–{MAX_HLS_TTL_S} s"),
        );
    }
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + u64::from(ttl);
    let (policy, key) = c.hls_access();
    let prefix = fourcast_auth::hls_url::prefix(&key, expires);
    Json(serde_json::json!({
        "url": format!("{prefix}/master.m3u8"),
        "expires": expires,
        "hls_access": policy,
    }))
    .into_response()
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

    /// (METHOD, path) of every `.route(…)` in this file, read from its source: the routes
    /// as the code declares them.
    fn declared_routes() -> std::collections::BTreeSet<(String, String)> {
        let src = include_str!("api.rs");
        let src = &src[..src.find("#[cfg(test)]").unwrap_or(src.len())];
        let mut out = std::collections::BTreeSet::new();
        for chunk in src.split(".route(").skip(1) {
            // The call's text, up to its closing parenthesis.
            let mut depth = 1;
            let end = chunk
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(chunk.len(), |(i, _)| i);
            let call = &chunk[..end];
            let path = call.split('"').nth(1).unwrap_or_default().to_string();
            for method in ["get", "post", "put", "patch", "delete"] {
                let used = call
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| i == 0 || !call.as_bytes()[i - 1].is_ascii_alphanumeric());
                if used {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_api_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.to_uppercase(), path.clone()))
            })
            .collect();
        let declared: std::collections::BTreeSet<(String, String)> = declared_routes()
            .into_iter()
            .filter(|(_, p)| p.starts_with("/api/") || p == "/metrics")
            .collect();
        assert!(declared.len() >= 15, "{declared:?}");
        let missing: Vec<_> = declared.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&declared).collect();
        assert!(
            missing.is_empty(),
            "routes not in openapi.json: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "openapi.json lists routes that do not exist: {stale:?}"
        );
    }

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

/// A JSON error: what is wrong and, where it applies, the field.
fn error(status: StatusCode, path: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "path": path, "message": message.into() } })),
    )
        .into_response()
}

async fn recording_start(State(c): State<Controller>) -> Response {
    match tokio::task::spawn_blocking(move || c.start_recording()).await {
        Ok(Ok(())) => Json(serde_json::json!({ "recording": true })).into_response(),
        Ok(Err(e)) if e.contains("already recording") => {
            error(StatusCode::CONFLICT, "recording", e)
        }
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, "recording.path", e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn recording_stop(State(c): State<Controller>) -> Response {
    match tokio::task::spawn_blocking(move || c.stop_recording()).await {
        Ok(true) => Json(serde_json::json!({ "recording": false })).into_response(),
        Ok(false) => error(StatusCode::CONFLICT, "recording", "not recording"),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn recordings_list(State(c): State<Controller>) -> Response {
    match tokio::task::spawn_blocking(move || c.recordings()).await {
        Ok(list) => Json(list).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn bad_id(id: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "id",
        format!("\"{id}\" is not a recording id"),
    )
}

async fn recording_delete(State(c): State<Controller>, UrlPath(id): UrlPath<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad_id(&id);
    };
    use crate::controller::RecordingError as E;
    match tokio::task::spawn_blocking(move || c.delete_recording(id)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e @ E::NotFound(_))) => error(StatusCode::NOT_FOUND, "id", e.to_string()),
        Ok(Err(e @ E::InUse(_))) => error(StatusCode::CONFLICT, "id", e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "id", e.to_string()),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A recording's file, with HTTP range requests (RFC 9110 §14) for resuming and seeking.
async fn recording_file(
    State(c): State<Controller>,
    UrlPath(id): UrlPath<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(id) = id.parse::<u64>() else {
        return bad_id(&id);
    };
    let list = match tokio::task::spawn_blocking(move || c.recordings()).await {
        Ok(l) => l,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let Some(entry) = list.into_iter().find(|e| e.id == id) else {
        return error(StatusCode::NOT_FOUND, "id", format!("no recording {id}"));
    };
    let Ok(mut file) = tokio::fs::File::open(&entry.file).await else {
        return error(
            StatusCode::NOT_FOUND,
            "id",
            format!("{}: missing on disk", entry.file),
        );
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len),
        Some(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Some(None) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
    };
    if file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let body =
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file.take(end - start)));
    let name = Path::new(&entry.file)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&(end - start).to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// One `bytes=` range against a file of `len` bytes, as inclusive `(first, last)`;
/// `None` if it cannot be satisfied. Several ranges are answered with the first.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value
        .trim()
        .strip_prefix("bytes=")?
        .split(',')
        .next()?
        .trim();
    let (a, b) = spec.split_once('-')?;
    if len == 0 {
        return None;
    }
    match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (n > 0).then(|| (len.saturating_sub(n), len - 1))
        }
        (first, "") => {
            let a: u64 = first.parse().ok()?;
            (a < len).then_some((a, len - 1))
        }
        (first, last) => {
            let (a, b): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
            (a <= b && a < len).then_some((a, b.min(len - 1)))
        }
    }
}

#[cfg(test)]
mod range_tests {
    use super::parse_range;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 999)));
        assert_eq!(parse_range("bytes=0-0, 5-9", 1000), Some((0, 0)));
        for bad in [
            "bytes=1000-",
            "bytes=5-1",
            "bytes=-0",
            "items=0-1",
            "bytes=x-1",
            "bytes=0-1",
        ] {
            let len = if bad == "bytes=0-1" { 0 } else { 1000 };
            assert_eq!(parse_range(bad, len), None, "{bad}");
        }
    }
}
