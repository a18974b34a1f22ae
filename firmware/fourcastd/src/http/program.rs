//! Live production over HTTP: what the program shows, takes (a scene by name, or a layout
//! with its inputs) with a cut or a fade, and the audio mix.

use crate::http::reply::blocking;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use fourcast_config::{Layout, Pip, Shot};
use fourcast_engine::{MAX_FADE_MS, Transition};
use serde::Deserialize;

use crate::controller::Controller;
use crate::http::access::{field_error, parse};
use crate::http::config::refused;

/// A fade with no duration given lasts this long.
const DEFAULT_FADE_MS: u32 = 500;

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum TransitionKind {
    #[default]
    Cut,
    Fade,
}

/// `POST /api/v1/program/take`: either `scene`, or `layout` (with `inputs` and `pip`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Take {
    scene: Option<String>,
    layout: Option<Layout>,
    #[serde(default)]
    inputs: Vec<String>,
    pip: Option<Pip>,
    #[serde(default)]
    transition: TransitionKind,
    duration_ms: Option<u32>,
}

pub(crate) async fn program(State(c): State<Controller>) -> Response {
    Json(c.program()).into_response()
}

pub(crate) async fn take(State(c): State<Controller>, body: Bytes) -> Response {
    let take: Take = match parse(&body) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let (shot, scene) = match resolve(&c, &take) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let transition = match (take.transition, take.duration_ms) {
        (TransitionKind::Cut, Some(_)) => {
            return field_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "duration_ms",
                "a cut has no duration (use \"transition\": \"fade\")",
            );
        }
        (TransitionKind::Cut, None) => Transition::Cut,
        (TransitionKind::Fade, ms) => Transition::Fade {
            ms: ms.unwrap_or(DEFAULT_FADE_MS),
        },
    };
    if let Transition::Fade { ms } = transition
        && !(1..=MAX_FADE_MS).contains(&ms)
    {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "duration_ms",
            format!("{ms}: a fade lasts 1–{MAX_FADE_MS} ms"),
        );
    }
    let controller = c.clone();
    let scene_name = scene.clone();
    match blocking(move || controller.take(shot, scene_name, transition)).await {
        Ok(Ok(generation)) => {
            let mut view = serde_json::to_value(c.program()).unwrap_or_default();
            if let Some(o) = view.as_object_mut() {
                o.insert("taken".into(), generation.into());
                o.insert("scene".into(), scene.into());
            }
            Json(view).into_response()
        }
        Ok(Err(errs)) => refused(&errs),
        Err(r) => r,
    }
}

/// `GET /api/v1/audio`: the live mix with each input's levels and the program's.
pub(crate) async fn audio(State(c): State<Controller>) -> Response {
    let view = blocking(move || c.mix().map(|mix| with_levels(&c, mix))).await;
    match view {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(r) => r,
    }
}

/// `POST /api/v1/audio`: a partial change of the live mix.
pub(crate) async fn audio_change(State(c): State<Controller>, body: Bytes) -> Response {
    let change: fourcast_engine::audio_mix::MixChange = match parse(&body) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let view = blocking(move || c.set_mix(&change).map(|mix| with_levels(&c, mix))).await;
    match view {
        Ok(Ok(view)) => Json(view).into_response(),
        Ok(Err(errs)) => refused(&errs),
        Err(r) => r,
    }
}

/// The mix with each input's levels (blocking: it reads the engine's status).
fn with_levels(c: &Controller, mix: fourcast_engine::audio_mix::MixState) -> serde_json::Value {
    let status = serde_json::to_value(c.snapshot().engine).unwrap_or_default();
    let mut view = serde_json::to_value(mix).unwrap_or_default();
    if let Some(inputs) = view["inputs"].as_array_mut() {
        for strip in inputs {
            let level = status["inputs"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["name"] == strip["name"]))
                .map(|i| i["audio"].clone());
            strip["levels"] = level.unwrap_or_default();
        }
    }
    view["program_levels"] = status["program"]["audio"].clone();
    view
}

/// The shot a take asks for: a configured scene, or the layout given.
fn resolve(c: &Controller, take: &Take) -> Result<(Shot, Option<String>), Box<Response>> {
    let unprocessable = |path: &str, msg: String| {
        Box::new(field_error(StatusCode::UNPROCESSABLE_ENTITY, path, msg))
    };
    match (&take.scene, take.layout) {
        (Some(_), Some(_)) => Err(unprocessable(
            "scene",
            "give a scene or a layout, not both".into(),
        )),
        (None, None) => Err(unprocessable(
            "layout",
            "give a scene name or a layout (single, side-by-side, grid, pip, spotlight)".into(),
        )),
        (Some(name), None) => {
            if !take.inputs.is_empty() || take.pip.is_some() {
                return Err(unprocessable(
                    "inputs",
                    "a scene brings its own inputs and inset".into(),
                ));
            }
            let scene = c
                .scene(name)
                .ok_or_else(|| unprocessable("scene", format!("{name}: no such scene")))?;
            Ok((scene.shot(), Some(scene.name)))
        }
        (None, Some(layout)) => Ok((
            Shot {
                layout,
                inputs: take.inputs.clone(),
                pip: take.pip.unwrap_or_default(),
            },
            None,
        )),
    }
}
