//! Firmware updates over the API: what the box runs and its slots, a bundle uploaded from
//! the web UI, a job that fetches one, and postpone/force while a reboot waits. The agent
//! (`crate::ota`) does the work; this file takes the requests.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::http::access::{field_error, parse};
use crate::http::device::Device;
use crate::ota::bundle::{bundle_file, check_sha256, hex, partial_file};
use crate::ota::{Ask, NewJob, Ota, Source};

/// `GET /api/v1/ota`.
pub(crate) async fn status() -> Response {
    Json(crate::ota::status()).into_response()
}

fn no_updater() -> Response {
    field_error(
        StatusCode::CONFLICT,
        "",
        "this box has no updater (fourcastd was started without --rauc-bus)",
    )
}

fn busy() -> Option<Response> {
    crate::ota::busy().then(|| {
        field_error(
            StatusCode::CONFLICT,
            "",
            "an update is already running: wait for it to end",
        )
    })
}

/// Hands a job to the agent and waits (briefly) for it to be queued.
async fn start(ota: &Ota, job: NewJob) -> Response {
    let (tx, rx) = oneshot::channel();
    if ota.asks.try_send(Ask::Start(job, tx)).is_err() {
        return field_error(StatusCode::SERVICE_UNAVAILABLE, "", "the updater is busy");
    }
    match tokio::time::timeout(std::time::Duration::from_secs(10), rx).await {
        Ok(Ok(Ok(id))) => {
            (StatusCode::ACCEPTED, Json(serde_json::json!({ "job": id }))).into_response()
        }
        Ok(Ok(Err(e))) => field_error(StatusCode::CONFLICT, "", e),
        _ => field_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            "the updater did not take the job",
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    #[serde(default)]
    allow_downgrade: bool,
    install: Option<fourcast_config::Install>,
}

/// `POST /api/v1/ota/bundle`: the body is a RAUC bundle; it is written whole to the
/// agent's folder (bounded by `ota.max_bundle_mib`), then a job installs it.
pub(crate) async fn upload(
    State(d): State<Device>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> Response {
    let Some(ota) = d.ota.clone() else {
        return no_updater();
    };
    if let Some(r) = busy() {
        return r;
    }
    let max = u64::from(d.controller.running().config.ota.max_bundle_mib) << 20;
    let part = partial_file(&ota.dir);
    let sha256 = match receive(body, &part, max).await {
        Ok(s) => s,
        Err(r) => {
            let _ = std::fs::remove_file(&part);
            return r;
        }
    };
    if let Err(e) = std::fs::rename(&part, bundle_file(&ota.dir)) {
        return field_error(StatusCode::INSUFFICIENT_STORAGE, "", e.to_string());
    }
    let job = NewJob {
        id: None,
        source: Source::Uploaded { sha256 },
        allow_downgrade: q.allow_downgrade,
        install: q.install,
        health_window_s: None,
        by: "upload".into(),
    };
    start(&ota, job).await
}

async fn receive(body: Body, part: &std::path::Path, max: u64) -> Result<String, Response> {
    let io = |e: std::io::Error| field_error(StatusCode::INSUFFICIENT_STORAGE, "", e.to_string());
    if let Some(dir) = part.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::File::create(part).map_err(io)?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            field_error(
                StatusCode::BAD_REQUEST,
                "",
                format!("the upload broke: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        if size > max {
            return Err(field_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "",
                format!(
                    "the bundle is larger than ota.max_bundle_mib ({} MiB)",
                    max >> 20
                ),
            ));
        }
        hash.update(&chunk);
        file.write_all(&chunk).map_err(io)?;
    }
    if size == 0 {
        return Err(field_error(
            StatusCode::BAD_REQUEST,
            "",
            "the body is empty: send the bundle file",
        ));
    }
    file.sync_all().map_err(io)?;
    Ok(hex(&hash.finalize()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobRequest {
    url: String,
    sha256: String,
    #[serde(default)]
    allow_downgrade: bool,
    install: Option<fourcast_config::Install>,
    health_window_s: Option<u32>,
    id: Option<String>,
}

/// `POST /api/v1/ota/jobs`: fetch a bundle from `url` (pinned by `sha256`) and install it.
pub(crate) async fn create_job(State(d): State<Device>, body: Bytes) -> Response {
    let Some(ota) = d.ota.clone() else {
        return no_updater();
    };
    let r: JobRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    match new_job(r, "api") {
        Ok(job) => match busy() {
            Some(r) => r,
            None => start(&ota, job).await,
        },
        Err((path, e)) => field_error(StatusCode::UNPROCESSABLE_ENTITY, path, e),
    }
}

/// A job request checked field by field (the API's and the fleet's).
pub(crate) fn new_job(r: JobRequest, by: &str) -> Result<NewJob, (&'static str, String)> {
    crate::ota::download::check_url(&r.url).map_err(|e| ("url", e))?;
    let sha256 = check_sha256(&r.sha256).map_err(|e| ("sha256", e))?;
    if let Some(s) = r.health_window_s
        && !(30..=3600).contains(&s)
    {
        return Err(("health_window_s", format!("{s}: must be 30–3600 s")));
    }
    if let Some(id) = &r.id
        && fourcast_fleet::topic::check_id("job", id).is_err()
    {
        return Err((
            "id",
            "letters, digits, '-' and '_' only, at most 64".to_string(),
        ));
    }
    Ok(NewJob {
        id: r.id,
        source: Source::Url { url: r.url, sha256 },
        allow_downgrade: r.allow_downgrade,
        install: r.install,
        health_window_s: r.health_window_s,
        by: by.into(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Postpone {
    minutes: u32,
}

/// `POST /api/v1/ota/postpone` `{"minutes": N}` (0 lifts it): the reboot waits.
pub(crate) async fn postpone(State(d): State<Device>, body: Bytes) -> Response {
    let Some(ota) = d.ota.clone() else {
        return no_updater();
    };
    let p: Postpone = match parse(&body) {
        Ok(p) => p,
        Err(e) => return *e,
    };
    if p.minutes > 7 * 24 * 60 {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "minutes",
            "at most a week (10080)",
        );
    }
    steer(&ota, Ask::Postpone(p.minutes))
}

/// `POST /api/v1/ota/force`: the waiting reboot goes now, live or not.
pub(crate) async fn force(State(d): State<Device>) -> Response {
    match &d.ota {
        Some(o) => steer(o, Ask::Force),
        None => no_updater(),
    }
}

fn steer(ota: &Ota, ask: Ask) -> Response {
    match ota.asks.try_send(ask) {
        Ok(()) => (StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response(),
        Err(_) => field_error(StatusCode::SERVICE_UNAVAILABLE, "", "the updater is busy"),
    }
}
