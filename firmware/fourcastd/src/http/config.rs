//! The config over HTTP: read (secrets redacted), change whole (`PUT`) or in part
//! (`PATCH`, a JSON merge patch), each based on the revision the client read (a stale one
//! gets 409), the kept history, rollback, export, and starting or stopping a destination.
//!
//! Every change goes through [`Controller::change_based`]: validated with errors naming
//! each field, and a refused change leaves the stored config and what runs untouched.

use crate::http::reply::blocking;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::controller::{ChangeError, Controller};
use crate::http::access::{field_error, parse};

#[derive(Serialize)]
struct ConfigView {
    revision: u64,
    /// The running config; every secret reads `***`.
    config: fourcast_config::Config,
}

/// `GET /api/v1/config`: the running config, secrets redacted.
pub(crate) async fn read(State(c): State<Controller>) -> Response {
    let running = c.running();
    Json(ConfigView {
        revision: running.revision,
        config: running.config.clone(),
    })
    .into_response()
}

/// `GET /api/v1/config/export`: the running config as a TOML file, secrets redacted (an
/// import of it keeps the box's secrets: `***` means "keep").
pub(crate) async fn export(State(c): State<Controller>) -> Response {
    let s = c.running();
    let mut r = s.config.to_toml().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/toml; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"fourcast-r{}.toml\"",
        s.revision
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `PUT /api/v1/config`: a whole document, as JSON (`config`) or TOML text (`toml`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replace {
    base_revision: u64,
    config: Option<Value>,
    toml: Option<String>,
}

/// `PATCH /api/v1/config`: a JSON merge patch (RFC 7396) on the running config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Patch {
    base_revision: u64,
    patch: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    base_revision: u64,
    revision: u64,
}

pub(crate) async fn replace(State(c): State<Controller>, body: Bytes) -> Response {
    let req: Replace = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let config = match (req.config, req.toml) {
        (Some(json), None) => config_of(json),
        (None, Some(text)) => fourcast_config::Config::parse(&text),
        _ => {
            return field_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "config",
                "give the document as `config` (JSON) or `toml` (text), one of them",
            );
        }
    };
    match config {
        Ok(config) => apply(c, config, Some(req.base_revision)).await,
        Err(e) => refused(&e),
    }
}

pub(crate) async fn patch(State(c): State<Controller>, body: Bytes) -> Response {
    let req: Patch = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if !req.patch.is_object() {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "patch",
            "a merge patch is a JSON object",
        );
    }
    let controller = c.clone();
    let snapshot = match blocking(move || controller.snapshot()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The running config as the client sees it (secrets `***`, which keeps them).
    let mut doc = serde_json::to_value(&snapshot.config).unwrap_or(Value::Null);
    merge_patch(&mut doc, &req.patch);
    match config_of(doc) {
        Ok(config) => apply(c, config, Some(req.base_revision)).await,
        Err(e) => refused(&e),
    }
}

/// `GET /api/v1/config/history`: the kept revisions, oldest first.
pub(crate) async fn history(State(c): State<Controller>) -> Response {
    match blocking(move || c.history()).await {
        Ok(Ok(h)) => Json(h).into_response(),
        _ => field_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            "could not read the history",
        ),
    }
}

/// `POST /api/v1/config/rollback`: runs a kept revision again (as a new revision).
pub(crate) async fn rollback(State(c): State<Controller>, body: Bytes) -> Response {
    let req: Rollback = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let controller = c.clone();
    let result = blocking(move || controller.rollback(req.revision, Some(req.base_revision))).await;
    answer(&c, result.ok())
}

/// `POST /api/v1/outputs/{name}/{start|stop}`: enables or disables one SRT or RTMP
/// destination, as a config change (so it holds across a restart).
pub(crate) async fn output_action(
    State(c): State<Controller>,
    UrlPath((name, action)): UrlPath<(String, String)>,
) -> Response {
    let enabled = match switch(&action, "start", "stop") {
        Ok(v) => v,
        Err(r) => return *r,
    };
    edit(c, move |config| {
        let srt = config.outputs.srt.iter_mut().find(|o| o.name == name);
        let flag = match srt {
            Some(o) => &mut o.enabled,
            None => match config.outputs.rtmp.iter_mut().find(|o| o.name == name) {
                Some(o) => &mut o.enabled,
                None => return Err(format!("no destination named {name:?}")),
            },
        };
        *flag = enabled;
        Ok(())
    })
    .await
}

/// `POST /overlays/{name}/show|hide`: shows or hides the logo, lower third or clock from
/// the next frame (the lower third fades), kept in the config across restarts.
pub(crate) async fn overlay_action(
    State(c): State<Controller>,
    UrlPath((name, action)): UrlPath<(String, String)>,
) -> Response {
    let visible = match switch(&action, "show", "hide") {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let live = (c.clone(), name.clone());
    let reply = edit(c, move |config| {
        if config.overlays.set_visible(&name, visible) {
            Ok(())
        } else {
            Err(format!(
                "no overlay named {name:?} is configured (overlays are logo, lower_third, clock)"
            ))
        }
    })
    .await;
    // A scene may have shown or hidden it since the config last said so: the program
    // follows this request whether or not the config changed.
    if reply.status().is_success() {
        let (c, name) = live;
        let _ = blocking(move || c.show_overlay(&name, visible)).await;
    }
    reply
}

/// An on/off action in a path: true for `on`, false for `off`, else a 404 naming both.
fn switch(action: &str, on: &str, off: &str) -> Result<bool, Box<Response>> {
    match action {
        a if a == on => Ok(true),
        a if a == off => Ok(false),
        other => Err(Box::new(field_error(
            StatusCode::NOT_FOUND,
            "action",
            format!("{other}: use {on} or {off}"),
        ))),
    }
}

/// Applies `change` to the running config as the next revision; a change that finds
/// nothing to change answers 404 with its message.
async fn edit(
    c: Controller,
    change: impl FnOnce(&mut fourcast_config::Config) -> Result<(), String>,
) -> Response {
    let controller = c.clone();
    let snapshot = match blocking(move || controller.snapshot()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut config = snapshot.config;
    if let Err(message) = change(&mut config) {
        return field_error(StatusCode::NOT_FOUND, "name", message);
    }
    apply(c, config, Some(snapshot.revision)).await
}

async fn apply(c: Controller, config: fourcast_config::Config, base: Option<u64>) -> Response {
    let controller = c.clone();
    let result = blocking(move || controller.change_config(config, "api", base)).await;
    answer(&c, result.ok())
}

fn answer(c: &Controller, result: Option<Result<u64, ChangeError>>) -> Response {
    match result {
        Some(Ok(revision)) => Json(ConfigView {
            revision,
            config: c.running().config.clone(),
        })
        .into_response(),
        Some(Err(ChangeError::Invalid(errs))) => refused(&errs),
        Some(Err(e @ ChangeError::Stale { current, .. })) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({
                "error": { "path": "base_revision", "message": e.to_string() },
                "current_revision": current,
            })),
        )
            .into_response(),
        Some(Err(e @ ChangeError::NoRevision(_))) => {
            field_error(StatusCode::NOT_FOUND, "revision", e.to_string())
        }
        Some(Err(e)) => field_error(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string()),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// 422 naming every field: `error` is the first (as elsewhere in the API), `errors` all.
pub(crate) fn refused(errs: &fourcast_config::ConfigErrors) -> Response {
    let errors: Vec<_> = errs
        .0
        .iter()
        .map(|e| serde_json::json!({ "path": e.path, "message": e.message }))
        .collect();
    let first = errs.0.first();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(serde_json::json!({
            "error": {
                "path": first.map(|e| e.path.as_str()).unwrap_or(""),
                "message": first.map(|e| e.message.as_str()).unwrap_or("refused"),
            },
            "errors": errors,
        })),
    )
        .into_response()
}

/// A JSON config document, strictly (unknown fields refused); a field of the wrong shape is
/// named by its path.
pub(crate) fn config_of(
    json: Value,
) -> Result<fourcast_config::Config, fourcast_config::ConfigErrors> {
    serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "(document)".to_string()
        } else {
            path
        };
        fourcast_config::ConfigErrors::deserializing(path, &e.into_inner().to_string())
    })
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes a key, anything
/// else (arrays included) replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(doc) = target else {
        return;
    };
    for (key, value) in changes {
        if value.is_null() {
            doc.remove(key);
        } else {
            merge_patch(doc.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_merges_objects_removes_nulls_and_replaces_the_rest() {
        // The examples of RFC 7396, appendix A (a selection).
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut doc, patch, want) in cases {
            merge_patch(&mut doc, &patch);
            assert_eq!(doc, want, "patch {patch}");
        }
    }

    #[test]
    fn a_json_document_of_the_wrong_shape_is_named_by_field() {
        let doc = fourcast_config::default_for_board(fourcast_board::DEFAULT_BOARD).unwrap();
        let mut json = serde_json::to_value(&doc).unwrap();
        json["ladder"]["rungs"][1]["bitrate_kbps"] = json!("fast");
        let e = config_of(json).unwrap_err();
        assert_eq!(e.0[0].path, "ladder.rungs[1].bitrate_kbps", "{e}");
        let mut json = serde_json::to_value(&doc).unwrap();
        json["program"]["colour"] = json!("red");
        let e = config_of(json).unwrap_err();
        assert!(e.0[0].message.contains("colour"), "{e}");
        // An input without its kind's field: the field is named, no separator leaks.
        let mut json = serde_json::to_value(&doc).unwrap();
        json["inputs"][1] = json!({"name": "cam2", "kind": "srt"});
        let e = config_of(json).unwrap_err();
        assert_eq!(e.0[0].path, "inputs[1].listen_port", "{e}");
        assert_eq!(e.0[0].message, "an srt input needs a listen_port", "{e}");
        // And a good one round-trips to the same config.
        let back = config_of(serde_json::to_value(&doc).unwrap()).unwrap();
        assert_eq!(back, doc);
    }
}
