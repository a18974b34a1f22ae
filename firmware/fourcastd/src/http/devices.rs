//! `GET /api/v1/devices`: the capture devices on the board, what each can send, and which
//! input uses it (the web UI offers the others as "add this camera").

use std::path::Path;

use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use fourcast_config::Source;
use fourcast_engine::inputs::devices::{CaptureDevice, discover};

use crate::controller::Controller;
use crate::http::reply::blocking;

pub(crate) async fn list(State(c): State<Controller>) -> Response {
    match blocking(move || with_inputs(&c, discover())).await {
        Ok(devices) => Json(serde_json::json!({ "devices": devices })).into_response(),
        Err(r) => r,
    }
}

/// Marks each device with the input that captures from it (same node once links are
/// followed, so an input on `/dev/v4l/by-path/…` matches its `/dev/videoN`).
pub(crate) fn with_inputs(c: &Controller, mut devices: Vec<CaptureDevice>) -> Vec<CaptureDevice> {
    let config = c.running().config.clone();
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for d in &mut devices {
        let node = canonical(Path::new(&d.node));
        d.input = config.inputs.iter().find_map(|i| match &i.source {
            Source::V4l2(cap) if canonical(&cap.device) == node => Some(i.name.clone()),
            _ => None,
        });
    }
    devices
}
