//! The HTTP API and the web UI, one file per area: `hls` (the origin), `program` (takes
//! and the audio mix), `inputs`, `config`, `recordings`, `access` (setup, login, sessions,
//! tokens, the guard), `device`, `sse` (the event stream), `metrics`, `status`, `web` (the
//! embedded UI), `tls` (optional HTTPS). This file is the router.

pub(crate) mod access;
pub(crate) mod config;
pub(crate) mod device;
pub(crate) mod devices;
pub(crate) mod hashing;
pub(crate) mod hls;
pub(crate) mod inputs;
pub(crate) mod low_latency;
pub(crate) mod metrics;
pub(crate) mod ota;
pub(crate) mod panel;
pub(crate) mod password;
pub(crate) mod program;
pub(crate) mod recordings;
pub(crate) mod reply;
#[cfg(test)]
mod request_props;
pub(crate) mod serve;
pub(crate) mod setup_code;
pub(crate) mod sse;
pub(crate) mod status;
pub(crate) mod tls;
pub(crate) mod web;

use crate::http::reply::blocking;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};

use std::sync::Arc;

use crate::controller::Controller;
use access::Access;
use device::Device;

pub(crate) fn router(device: Device, access: Arc<Access>) -> Router {
    let controller = device.controller.clone();
    let redirect_state = controller.clone();
    let box_routes = Router::new()
        .route("/api/v1/device", get(device::info))
        .route("/api/v1/device/log", get(device::log))
        .route("/api/v1/device/reboot", post(device::reboot))
        .route("/api/v1/device/factory-reset", post(device::factory_reset))
        .route("/api/v1/ota", get(ota::status))
        .route("/api/v1/ota/bundle", post(ota::upload))
        .route("/api/v1/ota/jobs", post(ota::create_job))
        .route("/api/v1/ota/postpone", post(ota::postpone))
        .route("/api/v1/ota/force", post(ota::force))
        .route("/api/v1/panel", get(panel::view))
        .route("/api/v1/panel/screen.png", get(panel::screen))
        .route("/api/v1/panel/buttons/{name}", post(panel::press))
        .with_state(device);
    let auth = Router::new()
        .route(
            "/api/v1/setup",
            get(access::setup_state).post(access::setup),
        )
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/login", post(access::login))
        .route("/api/v1/logout", post(access::logout))
        .route("/api/v1/password", post(access::password_change))
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
        .route("/", get(crate::http::web::asset))
        .route("/hls/{*path}", get(hls::hls))
        .route("/api/v1/status", get(status))
        .route("/api/v1/hls/sign", post(hls::hls_sign))
        .route("/api/v1/hls/rotate", post(hls::hls_rotate))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(crate::http::sse::stream))
        .route(
            "/api/v1/config",
            get(config::read).put(config::replace).patch(config::patch),
        )
        .route("/api/v1/config/export", get(config::export))
        .route("/api/v1/config/history", get(config::history))
        .route("/api/v1/config/rollback", post(config::rollback))
        .route(
            "/api/v1/outputs/{name}/{action}",
            post(config::output_action),
        )
        .route(
            "/api/v1/overlays/{name}/{action}",
            post(config::overlay_action),
        )
        .route("/api/v1/devices", get(devices::list))
        .route("/api/v1/inputs", get(crate::http::inputs::list))
        .route(
            "/api/v1/inputs/{name}/thumbnail.jpg",
            get(crate::http::inputs::thumbnail),
        )
        .route(
            "/api/v1/program/thumbnail.jpg",
            get(crate::http::inputs::program_thumbnail),
        )
        .route("/api/v1/program", get(crate::http::program::program))
        .route("/api/v1/program/take", post(crate::http::program::take))
        .route(
            "/api/v1/audio",
            get(crate::http::program::audio).post(crate::http::program::audio_change),
        )
        .route("/api/v1/recording/start", post(recordings::recording_start))
        .route("/api/v1/recording/stop", post(recordings::recording_stop))
        .route("/api/v1/recordings", get(recordings::recordings_list))
        .route(
            "/api/v1/recordings/{id}",
            axum::routing::delete(recordings::recording_delete),
        )
        .route(
            "/api/v1/recordings/{id}/file",
            get(recordings::recording_file),
        )
        .route("/metrics", get(metrics))
        .with_state(controller)
        .merge(auth)
        .merge(box_routes)
        .fallback(get(crate::http::web::asset))
        .layer(axum::middleware::from_fn_with_state(access, access::guard))
        .layer(axum::middleware::from_fn_with_state(
            redirect_state,
            crate::http::tls::redirect_to_https,
        ))
        // Every request body is small: a config is a few kB.
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(axum::middleware::from_fn(browser_guards))
}

/// What the web UI may load and run: its own files only (hls.js plays from `blob:` media
/// and may start a `blob:` worker), never inside another site's frame.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self' blob:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Headers that keep a browser from being turned against the box: no framing
/// (clickjacking), no content sniffing, no referrer with a signed HLS URL in it. No HSTS:
/// the box's certificate is self-signed, and HSTS would forbid the one click a technician
/// needs to accept it.
async fn browser_guards(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, header::HeaderValue::from_static(value));
    }
    r
}

/// The OpenAPI 3 document of this API (a unit test keeps it true to the routes here).
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn status(State(c): State<Controller>) -> Response {
    match blocking(move || crate::http::status::status_of(&c)).await {
        Ok(s) => Json(s).into_response(),
        Err(r) => r,
    }
}

/// The most recent events (config applied or rejected, pipelines started, errors).
async fn events(State(c): State<Controller>) -> Json<Vec<crate::controller::Event>> {
    Json(c.recent_events())
}

async fn metrics(State(c): State<Controller>) -> Response {
    let s = blocking(move || c.snapshot()).await;
    let s = match s {
        Ok(s) => s,
        Err(r) => return r,
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::http::metrics::render(&s, &crate::fleet::status()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (METHOD, path) of every `.route(…)` in this file, read from its source: the routes
    /// as the code declares them.
    fn declared_routes() -> std::collections::BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let src = &src[..src.find("#[cfg(test)]\nmod tests").unwrap_or(src.len())];
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
}
