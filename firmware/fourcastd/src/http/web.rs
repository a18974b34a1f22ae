//! The web UI: the files of `web-ui/dist`, embedded at build time (see `build.rs`) and
//! served gzipped to browsers that accept it. No CDN: everything comes from the box.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// `GET /` and every UI file; anything else is 404.
pub(crate) async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    let path = match uri.path() {
        "/" | "/index.html" => "/index.html",
        p => p,
    };
    let Some((_, body, gz, etag)) = ASSETS.iter().find(|(p, ..)| *p == path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == *etag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if !gz.is_empty() && accepts_gzip(&headers) {
        let mut r = gz.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        body.into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    // Revalidated on every load (cheap: 304), so an updated box never shows a stale UI.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    r
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.trim().split(';');
            parts.next() == Some("gzip") && !parts.any(|q| q.trim() == "q=0")
        })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_is_embedded_with_hls_js_and_gzip_copies() {
        for want in ["/index.html", "/app.js", "/app.css", "/vendor/hls.min.js"] {
            let (_, body, gz, _) = ASSETS
                .iter()
                .find(|(p, ..)| *p == want)
                .unwrap_or_else(|| panic!("{want} is not embedded"));
            assert!(!body.is_empty() && !gz.is_empty(), "{want}");
            assert!(gz.len() < body.len(), "{want}: gzip is smaller");
        }
        let index =
            std::str::from_utf8(ASSETS.iter().find(|a| a.0 == "/index.html").unwrap().1).unwrap();
        assert!(
            !index.contains("http://") && !index.contains("https://"),
            "no outside URLs"
        );
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert!(accepts_gzip(&h));
    }
}
