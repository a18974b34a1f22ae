//! The recordings API: start and stop, the list, delete, and files with HTTP ranges (the
//! index itself is `recordings_index`).

use crate::http::reply::blocking;
use std::path::Path;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};

use crate::controller::Controller;
use crate::http::reply::error;

pub(crate) async fn recording_start(State(c): State<Controller>) -> Response {
    match blocking(move || c.start_recording()).await {
        Ok(Ok(())) => Json(serde_json::json!({ "recording": true })).into_response(),
        Ok(Err(e)) if e.contains("already recording") => {
            error(StatusCode::CONFLICT, "recording", e)
        }
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, "recording.path", e),
        Err(r) => r,
    }
}

pub(crate) async fn recording_stop(State(c): State<Controller>) -> Response {
    match blocking(move || c.stop_recording()).await {
        Ok(true) => Json(serde_json::json!({ "recording": false })).into_response(),
        Ok(false) => error(StatusCode::CONFLICT, "recording", "not recording"),
        Err(r) => r,
    }
}

pub(crate) async fn recordings_list(State(c): State<Controller>) -> Response {
    match blocking(move || c.recordings()).await {
        Ok(list) => Json(list).into_response(),
        Err(r) => r,
    }
}

fn bad_id(id: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "id",
        format!("\"{id}\" is not a recording id"),
    )
}

pub(crate) async fn recording_delete(
    State(c): State<Controller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad_id(&id);
    };
    use crate::controller::RecordingError as E;
    match blocking(move || c.delete_recording(id)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e @ E::NotFound(_))) => error(StatusCode::NOT_FOUND, "id", e.to_string()),
        Ok(Err(e @ E::InUse(_))) => error(StatusCode::CONFLICT, "id", e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "id", e.to_string()),
        Err(r) => r,
    }
}

/// A recording's file, with HTTP range requests (RFC 9110 §14) for resuming and seeking.
pub(crate) async fn recording_file(
    State(c): State<Controller>,
    UrlPath(id): UrlPath<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let Ok(id) = id.parse::<u64>() else {
        return bad_id(&id);
    };
    let list = match blocking(move || c.recordings()).await {
        Ok(l) => l,
        Err(r) => return r,
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
