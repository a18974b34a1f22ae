//! Signed, expiring HLS URLs (`[http] hls_access = "signed"`): the plain origin is refused,
//! a URL from `POST /api/v1/hls/sign` plays (ffprobe follows its relative playlists and
//! segments under the signed path), a tampered or expired one is refused.

use std::time::Duration;

use fourcast_config::HlsAccess;
use fourcast_e2e::{Daemon, default_config, http_request};
use serde_json::Value;

fn sign(d: &Daemon, body: &str) -> (u16, Value) {
    let r = d.send(
        "POST",
        "/api/v1/hls/sign",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

#[test]
fn only_signed_unexpired_urls_play() {
    let mut d = Daemon::start(Some(&default_config(|c| {
        c.http.hls_access = HlsAccess::Signed;
    })));
    let (status, grant) = sign(&d, "{}");
    assert_eq!(status, 200, "{grant}");
    let url = grant["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("/hls/signed/") && url.ends_with("/master.m3u8"),
        "{url}"
    );
    d.wait_until("the first segments", Duration::from_secs(40), |d| {
        http_request(d.port, "GET", &url, &[]).is_ok_and(|r| r.status == 200)
    });

    // The plain origin is refused, to anyone.
    let plain = http_request(d.port, "GET", "/hls/master.m3u8", &[]).unwrap();
    assert_eq!(plain.status, 403, "{}", plain.text());
    assert!(plain.text().contains("signed"), "{}", plain.text());

    // A real player follows the relative URIs under the signed path.
    let full = format!("http://127.0.0.1:{}{url}", d.port);
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,width",
            "-of",
            "csv=p=0",
        ])
        .arg(&full)
        .output()
        .expect("ffprobe runs");
    let streams = String::from_utf8_lossy(&probe.stdout);
    assert!(
        probe.status.success(),
        "{streams}\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert!(streams.contains("video"), "{streams}");
    let master = http_request(d.port, "GET", &url, &[]).unwrap().text();
    let rung = master.lines().find(|l| l.ends_with(".m3u8")).unwrap();
    let base = url.trim_end_matches("master.m3u8");
    let media = http_request(d.port, "GET", &format!("{base}{rung}"), &[]).unwrap();
    assert_eq!(media.status, 200);
    let segment = media
        .text()
        .lines()
        .find(|l| l.ends_with(".ts"))
        .unwrap()
        .to_string();
    let rung_dir = rung.rsplit_once('/').map_or("", |(dir, _)| dir);
    let seg = http_request(d.port, "GET", &format!("{base}{rung_dir}/{segment}"), &[]).unwrap();
    assert_eq!(seg.status, 200, "{base}{rung_dir}/{segment}");

    // Tampered: another expiry with the same signature, or a changed signature.
    let parts: Vec<&str> = url.split('/').collect(); // "", hls, signed, expires, sig, master
    let later = format!(
        "/hls/signed/{}/{}/master.m3u8",
        parts[3].parse::<u64>().unwrap() + 3600,
        parts[4]
    );
    assert_eq!(
        http_request(d.port, "GET", &later, &[]).unwrap().status,
        403
    );
    let mut sig = parts[4].to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flipped);
    let forged = format!("/hls/signed/{}/{sig}/master.m3u8", parts[3]);
    assert_eq!(
        http_request(d.port, "GET", &forged, &[]).unwrap().status,
        403
    );
    // Expired.
    let (_, short) = sign(&d, r#"{"ttl_s": 1}"#);
    let short = short["url"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(2200));
    let r = http_request(d.port, "GET", &short, &[]).unwrap();
    assert_eq!(r.status, 403);
    assert!(r.text().contains("expired"), "{}", r.text());
    // Bad requests, and only for the signed-in.
    assert_eq!(sign(&d, r#"{"ttl_s": 0}"#).0, 422);
    assert_eq!(sign(&d, r#"{"ttl_s": 999999}"#).0, 422);
    assert_eq!(sign(&d, r#"{"ttl": 5}"#).0, 400);
    let anonymous = http_request(d.port, "POST", "/api/v1/hls/sign", &[]).unwrap();
    assert_eq!(anonymous.status, 401);

    // A leaked link: rotating the key voids every URL given out, at once.
    assert_eq!(
        http_request(d.port, "GET", &url, &[]).unwrap().status,
        200,
        "the first grant still plays"
    );
    let r = d.request("POST", "/api/v1/hls/rotate", &[]);
    assert_eq!(r.status, 204, "{}", r.text());
    let r = http_request(d.port, "GET", &url, &[]).unwrap();
    assert_eq!(
        r.status,
        403,
        "a URL signed before the rotation: {}",
        r.text()
    );
    let (_, fresh) = sign(&d, "{}");
    let fresh = fresh["url"].as_str().unwrap().to_string();
    assert_eq!(
        http_request(d.port, "GET", &fresh, &[]).unwrap().status,
        200
    );
    assert_eq!(
        http_request(d.port, "POST", "/api/v1/hls/rotate", &[])
            .unwrap()
            .status,
        401,
        "only for the signed-in"
    );
}
