//! The HLS origin over HTTP: playlists and segments from the engine's HLS directory (open,
//! or only at signed URLs), and signing URLs. Reads what the controller publishes; never
//! waits for its lock.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};

use crate::controller::Controller;
use crate::http::reply::error;

/// Serves the HLS origin. Playlists change every segment: `no-cache`. Segment names are
/// never reused (they carry the run's start time), so segments are immutable.
pub(crate) async fn hls(
    State(c): State<Controller>,
    UrlPath(path): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Response {
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
    if let Some(rest) = path.strip_prefix("ll/") {
        return crate::http::low_latency::serve(&c.low_latency(), rest, query.as_deref()).await;
    }
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
pub(crate) async fn hls_sign(State(c): State<Controller>, body: axum::body::Bytes) -> Response {
    let req: SignRequest = if body.is_empty() {
        SignRequest { ttl_s: None }
    } else {
        match crate::http::access::parse(&body) {
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
    let low_latency = c.running().config.outputs.hls.low_latency;
    Json(serde_json::json!({
        "url": format!("{prefix}/master.m3u8"),
        "low_latency_url": low_latency.then(|| format!("{prefix}/ll/master.m3u8")),
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

/// `POST /api/v1/hls/rotate`: a new signing key; every signed URL given out so far stops
/// working at once (a link that leaked, a contract that ended).
pub(crate) async fn hls_rotate(State(c): State<Controller>) -> Response {
    match crate::http::reply::blocking(move || c.rotate_hls_key()).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "", e.to_string()),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
