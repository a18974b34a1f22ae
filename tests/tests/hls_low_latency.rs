//! Low-latency HLS from the box, judged from outside: blocking playlist reloads that wait
//! for the part asked for, far-future requests refused, delta updates, parts that are whole,
//! decode, start with a keyframe where they say so and make up their segment, and hls.js in
//! Debian's chromium playing the variant in low-latency mode for a minute.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fourcast_e2e::peers::require;
use fourcast_e2e::{Daemon, TempDir, ffprobe};

const RUNGS: [&str; 3] = ["720p", "480p", "360p"];

fn playlist(d: &Daemon, rung: &str, query: &str) -> (u16, String) {
    let r = d.get(&format!("/hls/ll/{rung}/index.m3u8{query}"));
    (r.status, r.text())
}

/// The number after `name=` in a tag line, e.g. `#EXT-X-MEDIA-SEQUENCE:` or `LAST-MSN=`.
fn number_after(text: &str, name: &str) -> Option<u64> {
    let at = text.find(name)? + name.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Where the playlist ends: (the open segment's number, parts of it listed).
fn position(text: &str) -> (u64, u64) {
    let first = number_after(text, "#EXT-X-MEDIA-SEQUENCE:").expect("MEDIA-SEQUENCE");
    let skipped = number_after(text, "SKIPPED-SEGMENTS=").unwrap_or(0);
    let listed = text.matches("#EXTINF:").count() as u64;
    let tail = text.rsplit("#EXTINF:").next().unwrap_or("");
    (
        first + skipped + listed,
        tail.matches("#EXT-X-PART:").count() as u64,
    )
}

fn uri(line: &str) -> &str {
    line.split("URI=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
}

fn started(rungs_with_segments: u64) -> Daemon {
    let mut d = Daemon::start(None);
    d.wait_until("the low-latency playlists", Duration::from_secs(60), |d| {
        RUNGS.iter().all(|r| {
            d.try_get(&format!("/hls/ll/{r}/index.m3u8"))
                .is_some_and(|p| {
                    p.status == 200
                        && p.text().matches("#EXTINF:").count() as u64 >= rungs_with_segments
                })
        })
    });
    d
}

#[test]
fn a_blocking_reload_waits_for_the_part_asked_for_and_far_ahead_is_refused() {
    let d = started(2);
    let master = d.get("/hls/ll/master.m3u8").text();
    for r in RUNGS {
        assert!(master.contains(&format!("\n{r}/index.m3u8\n")), "{master}");
    }
    assert!(master.contains("CODECS=\"avc1."), "{master}");

    let (status, text) = playlist(&d, "720p", "");
    assert_eq!(status, 200);
    for tag in [
        "#EXT-X-VERSION:9\n",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.600,CAN-SKIP-UNTIL=12.000\n",
        "#EXT-X-PART-INF:PART-TARGET=0.400\n",
        "#EXT-X-MAP:URI=\"",
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"",
        "#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=",
        "#EXT-X-RENDITION-REPORT:URI=\"../360p/index.m3u8\",LAST-MSN=",
    ] {
        assert!(text.contains(tag), "{tag:?} in\n{text}");
    }

    // The next part (not in the playlist yet): the request waits until it is.
    let (msn, parts) = position(&text);
    let asked = Instant::now();
    let (status, after) = playlist(&d, "720p", &format!("?_HLS_msn={msn}&_HLS_part={parts}"));
    let waited = asked.elapsed();
    assert_eq!(status, 200);
    let now = position(&after);
    assert!(
        now.0 > msn || now.1 > parts,
        "the answer holds part {parts} of {msn} or later: it ends at {now:?}\n{after}"
    );
    eprintln!("a blocking reload for the next part waited {waited:?}");

    // The hinted part itself: answered once it is whole.
    let hinted = after
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT"))
        .map(uri)
        .expect("a preload hint")
        .to_string();
    let part = d.get(&format!("/hls/ll/720p/{hinted}"));
    assert_eq!(part.status, 200, "the hinted part {hinted}");
    assert!(part.body.len() > 1000, "{} bytes", part.body.len());
    assert_eq!(part.header("content-type"), Some("video/iso.segment"));

    // Too far ahead: 400 at once, saying why.
    let (status, why) = playlist(&d, "720p", &format!("?_HLS_msn={}", now.0 + 3));
    assert_eq!(status, 400, "{why}");
    assert!(why.contains("_HLS_msn="), "{why}");
    let (status, why) = playlist(&d, "720p", &format!("?_HLS_msn={}&_HLS_part=40", now.0));
    assert_eq!(status, 400, "{why}");
    let (status, why) = playlist(&d, "720p", "?_HLS_part=1");
    assert_eq!(status, 400, "{why}");
    let (status, why) = playlist(&d, "720p", "?_HLS_msn=x");
    assert_eq!(
        (status, why.contains("not a whole number")),
        (400, true),
        "{why}"
    );
    assert_eq!(d.get("/hls/ll/4k/index.m3u8").status, 404);

    // Every other rung reports a segment within one of this one's.
    for line in after
        .lines()
        .filter(|l| l.starts_with("#EXT-X-RENDITION-REPORT"))
    {
        let theirs = number_after(line, "LAST-MSN=").expect("LAST-MSN");
        assert!(theirs.abs_diff(now.0) <= 1, "{line} against {now:?}");
    }
}

#[test]
fn parts_are_whole_decode_and_make_up_their_segment_and_delta_updates_skip() {
    let d = started(6);
    let work = TempDir::new("ll-parts");
    for rung in ["720p", "360p"] {
        let (_, text) = playlist(&d, rung, "");
        let init = d.get(&format!(
            "/hls/ll/{rung}/{}",
            uri(text.lines().find(|l| l.starts_with("#EXT-X-MAP")).unwrap())
        ));
        assert_eq!(init.status, 200);
        // The last finished segment and its parts.
        let lines: Vec<&str> = text.lines().collect();
        let seg_at = lines
            .iter()
            .rposition(|l| !l.starts_with('#') && !l.is_empty())
            .expect("a segment");
        let mut parts = Vec::new();
        for l in lines[..seg_at].iter().rev() {
            if l.starts_with("#EXT-X-PART:") {
                parts.push(*l);
            } else if l.starts_with("#EXTINF") || l.starts_with("#EXT-X-PROGRAM-DATE-TIME") {
                continue;
            } else {
                break;
            }
        }
        parts.reverse();
        assert!(
            parts.len() >= 4,
            "{rung}: parts of the last segment\n{text}"
        );
        let segment = d.get(&format!("/hls/ll/{rung}/{}", lines[seg_at]));
        assert_eq!(segment.status, 200);
        let mut joined = Vec::new();
        for (k, p) in parts.iter().enumerate() {
            let body = d.get(&format!("/hls/ll/{rung}/{}", uri(p))).body;
            if p.contains("INDEPENDENT=YES") {
                // A part that says it is independent starts with a keyframe.
                let file = work.0.join(format!("{rung}-part{k}.mp4"));
                std::fs::write(&file, [init.body.as_slice(), &body].concat()).unwrap();
                let probe = ffprobe(
                    &file,
                    &[
                        "-select_streams",
                        "v",
                        "-show_frames",
                        "-read_intervals",
                        "%+#1",
                        "-show_entries",
                        "frame=key_frame",
                    ],
                );
                assert_eq!(probe["frames"][0]["key_frame"], 1, "{rung} {p}: {probe}");
            }
            joined.extend(body);
        }
        assert_eq!(k_first_independent(&parts), Some(0), "{rung}: {parts:?}");
        assert!(
            joined == segment.body,
            "{rung}: the parts laid end to end are the segment"
        );
        let file = work.0.join(format!("{rung}-segment.mp4"));
        std::fs::write(&file, [init.body.as_slice(), &segment.body].concat()).unwrap();
        let probe = ffprobe(
            &file,
            &[
                "-count_frames",
                "-show_entries",
                "stream=codec_name,nb_read_frames",
            ],
        );
        let streams = probe["streams"].as_array().expect("streams");
        let frames = |codec: &str| {
            streams
                .iter()
                .find(|s| s["codec_name"] == codec)
                .and_then(|s| s["nb_read_frames"].as_str()?.parse::<u64>().ok())
        };
        assert_eq!(frames("h264"), Some(60), "{rung}: 2 s at 30 fps: {probe}");
        assert!(
            frames("aac").is_some_and(|n| n > 60),
            "{rung}: sound: {probe}"
        );
    }

    // A delta update leaves out what starts 12 s or more before the end, and nothing else.
    // (Fetched again if a part landed between the two.)
    let (full, delta) = (0..20)
        .map(|_| {
            (
                playlist(&d, "720p", "").1,
                playlist(&d, "720p", "?_HLS_skip=YES").1,
            )
        })
        .find(|(full, delta)| position(full) == position(delta))
        .expect("a full playlist and its delta from the same moment");
    let skipped = number_after(&delta, "#EXT-X-SKIP:SKIPPED-SEGMENTS=").expect("a skip");
    assert!(skipped >= 1, "{delta}");
    assert_eq!(
        delta.matches("#EXTINF:").count() as u64 + skipped,
        full.matches("#EXTINF:").count() as u64,
        "{delta}\n---\n{full}"
    );
    let shown = delta
        .lines()
        .find(|l| l.starts_with("#EXT-X-PROGRAM-DATE-TIME"))
        .expect("a segment after the skip");
    assert!(
        delta.ends_with(&full[full.find(shown).unwrap()..]),
        "{delta}\n---\n{full}"
    );
}

fn k_first_independent(parts: &[&str]) -> Option<usize> {
    parts.iter().position(|p| p.contains("INDEPENDENT=YES"))
}

#[test]
fn hls_js_plays_the_low_latency_variant_for_a_minute_without_a_stall() {
    require("node", "nodejs");
    require("/usr/bin/chromium", "chromium");
    let web_ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui");
    assert!(
        web_ui.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in web-ui/ (make test does)"
    );
    let d = started(2);
    let out = Command::new("node")
        .arg("tests/player.mjs")
        .current_dir(&web_ui)
        .env("BASE_URL", format!("http://127.0.0.1:{}", d.port))
        .env("PLAYLIST", "/hls/ll/master.m3u8")
        .env("LOW_LATENCY", "1")
        .env("SECONDS", "60")
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("hls.js on the low-latency variant: {stdout}");
    assert!(
        out.status.success(),
        "hls.js played: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert!(
        report["played_s"].as_f64().is_some_and(|s| s >= 60.0),
        "{report}"
    );
    assert_eq!(report["stalls"], 0, "no stall in a minute: {report}");
    assert!(
        report["latency_samples"].as_u64().is_some_and(|n| n >= 50),
        "{report}"
    );
}

#[test]
fn a_ladder_rebuild_goes_on_after_a_discontinuity_with_the_new_header() {
    let d = started(2);
    let (_, before) = playlist(&d, "720p", "");
    let first_map = uri(before
        .lines()
        .find(|l| l.starts_with("#EXT-X-MAP"))
        .unwrap())
    .to_string();
    let running = d.json("/api/v1/config")["config"]["ladder"]["x264_preset"]
        .as_str()
        .unwrap()
        .to_string();
    let other = if running == "ultrafast" {
        "superfast"
    } else {
        "ultrafast"
    };
    let revision = d.json("/api/v1/config")["revision"].as_u64().unwrap();
    let body = serde_json::json!({
        "base_revision": revision,
        "patch": {"ladder": {"x264_preset": other}},
    });
    let r = d.send(
        "PATCH",
        "/api/v1/config",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Two whole segments after the new header.
    let deadline = Instant::now() + Duration::from_secs(40);
    let after = loop {
        let (_, text) = playlist(&d, "720p", "");
        let tail = text.split("#EXT-X-DISCONTINUITY\n").nth(1).unwrap_or("");
        if tail.matches("#EXTINF:").count() >= 2 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no discontinuity with two segments after:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let tail = after.split("#EXT-X-DISCONTINUITY\n").nth(1).unwrap();
    assert!(
        tail.starts_with("#EXT-X-MAP:URI=\""),
        "the new header first:\n{after}"
    );
    let new_map = uri(tail.lines().next().unwrap());
    assert_ne!(new_map, first_map, "a new header after the rebuild");
    // Numbering goes on: the playlist's first segment is not numbered again from 0.
    assert!(
        number_after(&after, "#EXT-X-MEDIA-SEQUENCE:")
            >= number_after(&before, "#EXT-X-MEDIA-SEQUENCE:"),
        "{before}\n---\n{after}"
    );
    let segment = tail
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a segment after the header");
    let work = TempDir::new("ll-rebuild");
    let file = work.0.join("after.mp4");
    let init = d.get(&format!("/hls/ll/720p/{new_map}")).body;
    let body = d.get(&format!("/hls/ll/720p/{segment}")).body;
    std::fs::write(&file, [init, body].concat()).unwrap();
    let probe = ffprobe(
        &file,
        &[
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
        ],
    );
    assert!(probe.to_string().contains("h264"), "{probe}");
}
