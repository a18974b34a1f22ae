//! The fleet's commands, run by the same handlers as the HTTP API (so a command is checked
//! and answered exactly as the API would: an HTTP status, and the field a refusal names).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use fourcast_fleet::message::{Command, CommandResult};
use serde::Deserialize;
use serde_json::Value;

use crate::http::device::{Device, Power};

/// The largest snapshot sent (base64 grows it by a third; payloads are at most 64 KiB).
const MAX_SNAPSHOT: usize = 44 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UplinkArgs {
    name: String,
    action: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingArgs {
    action: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// Runs `name` (one of `fourcast_fleet::agent::COMMANDS`) with `command.args`.
pub(super) async fn run(device: &Device, name: &str, command: &Command) -> CommandResult {
    let c = device.controller.clone();
    let args = if command.args.is_null() {
        Value::Object(Default::default())
    } else {
        command.args.clone()
    };
    let answer = match name {
        "take" => {
            let body = Bytes::from(serde_json::to_vec(&args).unwrap_or_default());
            from_http(crate::http::program::take(State(c), body).await).await
        }
        "uplink" => match parse::<UplinkArgs>(args) {
            Ok(a) => {
                from_http(
                    crate::http::config::output_action(State(c), Path((a.name, a.action))).await,
                )
                .await
            }
            Err(e) => e,
        },
        "recording" => match parse::<RecordingArgs>(args) {
            Ok(a) if a.action == "start" => {
                from_http(crate::http::recordings::recording_start(State(c)).await).await
            }
            Ok(a) if a.action == "stop" => {
                from_http(crate::http::recordings::recording_stop(State(c)).await).await
            }
            Ok(a) => refusal(422, "action", format!("{:?}: use start or stop", a.action)),
            Err(e) => e,
        },
        "snapshot" => match parse::<NoArgs>(args) {
            Ok(_) => snapshot(&c).await,
            Err(e) => e,
        },
        "reboot" => match parse::<NoArgs>(args) {
            Ok(_) => {
                // The answer goes out first; then the run loop stops the engine cleanly.
                let power = device.power.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    tracing::warn!("reboot asked for by the fleet");
                    let _ = power.send(Power::Reboot);
                });
                Answer {
                    status: 202,
                    message: String::new(),
                    field: None,
                    body: serde_json::json!({ "rebooting": true }),
                }
            }
            Err(e) => e,
        },
        // Firmware updates: the API's own handlers (a job is `POST /api/v1/ota/jobs`).
        "ota" => {
            let body = Bytes::from(serde_json::to_vec(&args).unwrap_or_default());
            from_http(crate::http::ota::create_job(State(device.clone()), body).await).await
        }
        "ota_postpone" => {
            let body = Bytes::from(serde_json::to_vec(&args).unwrap_or_default());
            from_http(crate::http::ota::postpone(State(device.clone()), body).await).await
        }
        "ota_force" => match parse::<NoArgs>(args) {
            Ok(_) => from_http(crate::http::ota::force(State(device.clone())).await).await,
            Err(e) => e,
        },
        other => refusal(404, "command", format!("no command {other:?}")),
    };
    CommandResult {
        id: command.id.clone(),
        status: answer.status,
        message: answer.message,
        field: answer.field,
        body: answer.body,
    }
}

struct Answer {
    status: u16,
    message: String,
    field: Option<String>,
    body: Value,
}

fn refusal(status: u16, field: &str, message: String) -> Answer {
    Answer {
        status,
        message,
        field: Some(format!("args.{field}")),
        body: Value::Null,
    }
}

fn parse<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, Answer> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let message = e.into_inner().to_string();
        let field = match message.split_once("unknown field `") {
            Some((_, rest)) if field.is_empty() => rest.split('`').next().unwrap_or("").to_string(),
            _ => field,
        };
        refusal(422, &field, message)
    })
}

/// An API answer as a command result: a refusal's `error.path` and `message` become the
/// result's field (under `args.`) and message; a success's JSON is its body.
async fn from_http(r: Response) -> Answer {
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Answer {
            status: status.as_u16(),
            message: String::new(),
            field: None,
            body: json,
        };
    }
    let path = json["error"]["path"].as_str().unwrap_or("");
    Answer {
        status: status.as_u16(),
        message: json["error"]["message"]
            .as_str()
            .unwrap_or(status.canonical_reason().unwrap_or("refused"))
            .to_string(),
        field: (!path.is_empty()).then(|| format!("args.{path}")),
        body: Value::Null,
    }
}

/// The program's thumbnail, base64 JPEG.
async fn snapshot(c: &crate::controller::Controller) -> Answer {
    let r = crate::http::inputs::program_thumbnail(State(c.clone())).await;
    if r.status() != StatusCode::OK {
        return from_http(r).await;
    }
    let jpeg = axum::body::to_bytes(r.into_body(), 1 << 22)
        .await
        .unwrap_or_default();
    if jpeg.len() > MAX_SNAPSHOT {
        return Answer {
            status: 413,
            message: format!(
                "the program thumbnail is {} bytes, more than {MAX_SNAPSHOT} fit in a message: lower multiview size",
                jpeg.len()
            ),
            field: None,
            body: Value::Null,
        };
    }
    Answer {
        status: 200,
        message: String::new(),
        field: None,
        body: serde_json::json!({
            "content_type": "image/jpeg",
            "bytes": jpeg.len(),
            "jpeg_base64": base64::engine::general_purpose::STANDARD.encode(&jpeg),
        }),
    }
}
