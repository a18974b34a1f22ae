//! Inputs and the multiview over HTTP: each input's state with its tally (on program or
//! not), and the JPEG thumbnails of every input and of the program.

use crate::http::reply::blocking;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;

use crate::controller::Controller;
use crate::http::access::field_error;

#[derive(Serialize)]
struct InputView {
    name: String,
    label: String,
    #[serde(flatten)]
    status: serde_json::Value,
    /// Tally: the input is in the program's current shot.
    on_program: bool,
    thumbnail: String,
}

/// `GET /api/v1/inputs`.
pub(crate) async fn list(State(c): State<Controller>) -> Response {
    let Ok((snapshot, program)) = blocking(move || (c.snapshot(), c.program())).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let views: Vec<InputView> = snapshot
        .config
        .inputs
        .iter()
        .map(|input| {
            let status = snapshot
                .engine
                .inputs
                .iter()
                .find(|s| s.name == input.name)
                .and_then(|s| serde_json::to_value(s).ok())
                .unwrap_or_default();
            InputView {
                name: input.name.clone(),
                label: input.label.clone().unwrap_or_else(|| input.name.clone()),
                status,
                on_program: program.inputs.contains(&input.name),
                thumbnail: format!("/api/v1/inputs/{}/thumbnail.jpg", input.name),
            }
        })
        .collect();
    Json(views).into_response()
}

/// `GET /api/v1/inputs/{name}/thumbnail.jpg`.
pub(crate) async fn thumbnail(
    State(c): State<Controller>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    if name == fourcast_engine::outputs::thumbs::PROGRAM
        || c.running().config.input(&name).is_none()
    {
        return field_error(
            StatusCode::NOT_FOUND,
            "name",
            format!("no input named {name:?}"),
        );
    }
    jpeg(&c, &name)
}

/// `GET /api/v1/program/thumbnail.jpg`.
pub(crate) async fn program_thumbnail(State(c): State<Controller>) -> Response {
    jpeg(&c, fourcast_engine::outputs::thumbs::PROGRAM)
}

fn jpeg(c: &Controller, source: &str) -> Response {
    let Some(t) = c.thumbnail(source) else {
        return field_error(
            StatusCode::NOT_FOUND,
            "",
            format!("no thumbnail of {source} yet (multiview.fps 0, or no frame so far)"),
        );
    };
    let mut r = t.jpeg.as_ref().clone().into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{source}-{}\"", t.seq)) {
        h.insert(header::ETAG, v);
    }
    r
}
