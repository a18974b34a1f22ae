//! Low-latency HLS over HTTP (`/hls/ll/`): the multivariant playlist, each rung's playlist
//! with blocking reload (`_HLS_msn`, `_HLS_part`) and delta updates (`_HLS_skip`), and the
//! headers, parts and segments, all from the engine's memory. A request that waits (for a
//! part, or for the hinted part's bytes) waits at most three target durations, then gets
//! 503; one asking too far ahead gets 400 at once (rfc8216bis §6.2.5.2).

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fourcast_engine::LowLatencyOrigin;
use fourcast_engine::outputs::low_latency::{Found, MASTER, PLAYLIST, Reload};

/// What a playlist request asks for.
#[derive(Debug, Default, PartialEq)]
struct Ask {
    msn: Option<u64>,
    part: Option<u64>,
    skip: bool,
}

/// The HLS query parameters (others, like a player's cache buster, are left alone).
fn ask(query: Option<&str>) -> Result<Ask, String> {
    let mut ask = Ask::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{key}={value:?} is not a whole number"))
        };
        match key {
            "_HLS_msn" => ask.msn = Some(number()?),
            "_HLS_part" => ask.part = Some(number()?),
            "_HLS_skip" => match value {
                "YES" | "v2" => ask.skip = true,
                _ => return Err(format!("_HLS_skip={value:?}: YES or v2")),
            },
            _ => {}
        }
    }
    Ok(ask)
}

pub(crate) async fn serve(
    origin: &Arc<LowLatencyOrigin>,
    path: &str,
    query: Option<&str>,
) -> Response {
    match path.split_once('/') {
        None if path == MASTER => match origin.master() {
            Some(text) => reply(text.into_bytes(), "application/vnd.apple.mpegurl", false),
            None => not_yet("no rung has a whole segment yet"),
        },
        Some((rung, PLAYLIST)) => playlist(origin, rung, query).await,
        Some((rung, name)) if !name.contains('/') => file(origin, rung, name).await,
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn playlist(origin: &Arc<LowLatencyOrigin>, rung: &str, query: Option<&str>) -> Response {
    let ask = match ask(query) {
        Ok(a) => a,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let deadline = tokio::time::Instant::now() + origin.wait_limit();
    let mut changes = origin.changes();
    loop {
        match origin.reload(rung, ask.msn, ask.part) {
            None => return StatusCode::NOT_FOUND.into_response(),
            Some(Reload::Ready) => break,
            Some(Reload::Refuse(why)) => return (StatusCode::BAD_REQUEST, why).into_response(),
            Some(Reload::Wait) => {
                if !matches!(
                    tokio::time::timeout_at(deadline, changes.changed()).await,
                    Ok(Ok(()))
                ) {
                    return not_yet("the part asked for did not come in time");
                }
            }
        }
    }
    match origin.playlist(rung, ask.skip) {
        Some(text) => reply(text.into_bytes(), "application/vnd.apple.mpegurl", false),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(origin: &Arc<LowLatencyOrigin>, rung: &str, name: &str) -> Response {
    let content_type = if name.ends_with(".mp4") {
        "video/mp4"
    } else if name.ends_with(".m4s") {
        "video/iso.segment"
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let deadline = tokio::time::Instant::now() + origin.wait_limit();
    let mut changes = origin.changes();
    loop {
        match origin.file(rung, name) {
            Found::Bytes(b) => return reply(b.to_vec(), content_type, true),
            Found::Missing => return StatusCode::NOT_FOUND.into_response(),
            // The hinted part: answered as soon as it is whole.
            Found::NotYet => {
                if !matches!(
                    tokio::time::timeout_at(deadline, changes.changed()).await,
                    Ok(Ok(()))
                ) {
                    return not_yet("the hinted part did not come in time");
                }
            }
        }
    }
}

fn reply(body: Vec<u8>, content_type: &'static str, immutable: bool) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=86400, immutable"
        } else {
            "no-cache"
        }),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

fn not_yet(why: &'static str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hls_query_is_read_and_bad_numbers_are_named() {
        assert_eq!(ask(None), Ok(Ask::default()));
        assert_eq!(
            ask(Some("_HLS_msn=42&_HLS_part=3&_HLS_skip=YES&t=1")),
            Ok(Ask {
                msn: Some(42),
                part: Some(3),
                skip: true
            })
        );
        assert_eq!(
            ask(Some("_HLS_msn=x")),
            Err("_HLS_msn=\"x\" is not a whole number".into())
        );
        assert!(ask(Some("_HLS_skip=NO")).unwrap_err().contains("YES or v2"));
        assert!(ask(Some("_HLS_part=-1")).is_err());
    }
}
