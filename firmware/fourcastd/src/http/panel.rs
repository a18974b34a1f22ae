//! The front panel over HTTP: what it shows (screen, lamps, tallies, parts), the screen as
//! a PNG, and its buttons pressed from the web UI (the virtual board has no others).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use fourcast_board::panel::switcher::Button;

use crate::http::access::field_error;
use crate::http::device::Device;

fn no_panel() -> Response {
    field_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "",
        "the panel has not started",
    )
}

/// `GET /api/v1/panel`.
pub(crate) async fn view(State(d): State<Device>) -> Response {
    match &d.panel {
        Some(p) => Json(p.view()).into_response(),
        None => no_panel(),
    }
}

/// `GET /api/v1/panel/screen.png`: the 128×64 screen as the panel shows it.
pub(crate) async fn screen(State(d): State<Device>) -> Response {
    match &d.panel {
        Some(p) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            p.screen_png(),
        )
            .into_response(),
        None => no_panel(),
    }
}

/// `POST /api/v1/panel/buttons/{name}`: `go_live`, `record`, `next_scene` or `cut`, as if
/// pressed on the box. 202: queued; the outcome is `last_press` in `GET /api/v1/panel`.
pub(crate) async fn press(State(d): State<Device>, Path(name): Path<String>) -> Response {
    let Some(button) = Button::from_name(&name) else {
        let known: Vec<&str> = Button::ALL.iter().map(|b| b.name()).collect();
        return field_error(
            StatusCode::NOT_FOUND,
            "name",
            format!("no button {name:?} (the panel has {})", known.join(", ")),
        );
    };
    match &d.panel {
        Some(p) if p.press(button) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "button": name })),
        )
            .into_response(),
        Some(_) => field_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            "presses are already waiting: try again",
        ),
        None => no_panel(),
    }
}
