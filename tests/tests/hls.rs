//! The box on the virtual board serves valid live HLS, judged from outside: playlists by
//! m3u8-rs and by the RFC 8216 rules, segments by ffprobe, the window over a minute.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use fourcast_e2e::{Daemon, TempDir, ffprobe, media_playlist};

const RUNGS: [(&str, u64, u64); 3] = [("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)];

#[test]
fn the_virtual_board_serves_valid_live_hls_for_a_minute() {
    let mut d = Daemon::start(None);
    d.wait_until("the multivariant playlist", Duration::from_secs(40), |d| {
        d.try_get("/hls/master.m3u8")
            .is_some_and(|r| r.status == 200)
    });

    // Multivariant playlist.
    let master = d.get("/hls/master.m3u8");
    assert_eq!(
        master.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(master.header("cache-control"), Some("no-cache"));
    let text = master.text();
    let Ok(m3u8_rs::Playlist::MasterPlaylist(mv)) = m3u8_rs::parse_playlist_res(text.as_bytes())
    else {
        panic!("not a multivariant playlist:\n{text}")
    };
    assert!(mv.independent_segments, "{text}");
    assert_eq!(mv.variants.len(), 3, "{text}");
    for (v, (name, w, h)) in mv.variants.iter().zip(RUNGS) {
        assert_eq!(v.uri, format!("{name}/index.m3u8"));
        let res = v.resolution.expect("RESOLUTION");
        assert_eq!((res.width, res.height), (w, h));
        assert_eq!(v.frame_rate, Some(30.0));
        let codecs = v.codecs.as_deref().expect("CODECS");
        let (video, audio) = codecs.split_once(',').expect("video and audio codecs");
        assert!(video.starts_with("avc1.") && video.len() == 11, "{codecs}");
        assert_eq!(audio, "mp4a.40.2");
        let avg = v.average_bandwidth.expect("AVERAGE-BANDWIDTH");
        assert!(v.bandwidth >= avg && avg > 100_000, "{text}");
    }

    // Wait for a full window on every rung.
    d.wait_until("six segments per rung", Duration::from_secs(40), |d| {
        RUNGS.iter().all(|(n, _, _)| {
            d.try_get(&format!("/hls/{n}/index.m3u8"))
                .is_some_and(|r| media_playlist(&r.text()).segments.len() >= 6)
        })
    });
    let before = d.status();

    // Segments: codecs, size, fps, a keyframe first, the same keyframe times on every rung.
    let work = TempDir::new("segments");
    let mut first_keyframes: Vec<BTreeMap<u64, String>> = Vec::new();
    // Snapshot every rung's window and fetch its segments before the (slow) analysis, so
    // the windows compared across rungs are from the same moment.
    let mut snapshots = Vec::new();
    for (name, _, _) in RUNGS {
        let text = d.get(&format!("/hls/{name}/index.m3u8")).text();
        snapshots.push((media_playlist(&text), text));
    }
    let mut downloads = Vec::new();
    for ((p, _), (name, _, _)) in snapshots.iter().zip(RUNGS) {
        let bodies: Vec<Vec<u8>> = p
            .segments
            .iter()
            .map(|seg| {
                let resp = d.get(&format!("/hls/{name}/{}", seg.uri));
                assert_eq!(resp.status, 200, "{name}/{}", seg.uri);
                assert_eq!(resp.header("content-type"), Some("video/mp2t"));
                assert!(
                    resp.header("cache-control")
                        .is_some_and(|c| c.contains("max-age"))
                );
                resp.body
            })
            .collect();
        downloads.push(bodies);
    }
    for (((p, text), bodies), (name, w, h)) in snapshots.iter().zip(&downloads).zip(RUNGS) {
        check_media_rules(p, text);
        let mut keys = BTreeMap::new();
        let mut concat = Vec::new();
        for (i, (seg, body)) in p.segments.iter().zip(bodies).enumerate() {
            let file = work.0.join(format!("{name}-{i}.ts"));
            std::fs::write(&file, body).unwrap();
            concat.extend_from_slice(body);
            let streams = ffprobe(
                &file,
                &[
                    "-show_entries",
                    "stream=codec_type,codec_name,width,height,r_frame_rate",
                ],
            );
            let streams = streams["streams"].as_array().unwrap();
            let video = streams
                .iter()
                .find(|s| s["codec_type"] == "video")
                .expect("video stream");
            let audio = streams
                .iter()
                .find(|s| s["codec_type"] == "audio")
                .expect("audio stream");
            assert_eq!(video["codec_name"], "h264");
            assert_eq!(
                (video["width"].as_u64(), video["height"].as_u64()),
                (Some(w), Some(h))
            );
            assert_eq!(video["r_frame_rate"], "30/1");
            assert_eq!(audio["codec_name"], "aac");
            let frames = ffprobe(
                &file,
                &[
                    "-select_streams",
                    "v:0",
                    "-read_intervals",
                    "%+#1",
                    "-show_entries",
                    "frame=key_frame,pts_time",
                ],
            );
            let first = &frames["frames"][0];
            assert_eq!(
                first["key_frame"], 1,
                "{name} segment {} does not start with a keyframe",
                seg.uri
            );
            keys.insert(
                p.media_sequence + i as u64,
                first["pts_time"].as_str().unwrap().to_string(),
            );
        }
        // Continuous timestamps across the whole window.
        let file = work.0.join(format!("{name}-window.ts"));
        std::fs::write(&file, &concat).unwrap();
        let frames = ffprobe(
            &file,
            &["-select_streams", "v:0", "-show_entries", "frame=pts_time"],
        );
        let pts: Vec<f64> = frames["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["pts_time"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(
            pts.len() >= 5 * 60,
            "{name}: {} frames in six segments",
            pts.len()
        );
        for pair in pts.windows(2) {
            let step = pair[1] - pair[0];
            if (step - 1.0 / 30.0).abs() >= 0.002 {
                // Where the frame went: gaps in the program's output, frames the bridge
                // dropped for the encoders, gaps in each rung's output.
                let s = d.status();
                panic!(
                    "{name}: PTS step {step} at {}; dropped frames: program {}, ladder {}, \
                     rungs {:?}",
                    pair[0],
                    s["program"]["dropped_frames"],
                    s["ladder"]["dropped_frames"],
                    s["rungs"].as_array().map(|r| r
                        .iter()
                        .map(|r| r["dropped_frames"].clone())
                        .collect::<Vec<_>>())
                );
            }
        }
        first_keyframes.push(keys);
    }
    for (i, keys) in first_keyframes.iter().enumerate().skip(1) {
        for (seq, t) in keys {
            if let Some(t0) = first_keyframes[0].get(seq) {
                assert_eq!(
                    t, t0,
                    "segment {seq}: {} keys at {t}, 720p at {t0}",
                    RUNGS[i].0
                );
            }
        }
        assert!(
            keys.keys()
                .filter(|s| first_keyframes[0].contains_key(s))
                .count()
                >= 5,
            "{keys:?} vs {:?}",
            first_keyframes[0]
        );
    }

    // A minute of sliding windows; removed segments stay fetchable for a playlist's length.
    let mut last: HashMap<&str, (u64, Vec<String>, u64)> = HashMap::new();
    let mut removed: Vec<(String, Instant)> = Vec::new();
    let mut fetched_after_removal = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        for (name, _, _) in RUNGS {
            let text = d.get(&format!("/hls/{name}/index.m3u8")).text();
            let p = media_playlist(&text);
            check_media_rules(&p, &text);
            let uris: Vec<String> = p.segments.iter().map(|s| s.uri.clone()).collect();
            if let Some((seq, old, target)) = last.get(name) {
                assert!(p.media_sequence >= *seq, "{name}: media sequence went back");
                assert_eq!(
                    p.target_duration, *target,
                    "{name}: target duration changed"
                );
                let gone = (p.media_sequence - seq) as usize;
                assert_eq!(
                    old[gone.min(old.len())..],
                    uris[..old.len() - gone.min(old.len())],
                    "{name}: window did not slide by {gone}"
                );
                for uri in &old[..gone.min(old.len())] {
                    removed.push((format!("/hls/{name}/{uri}"), Instant::now()));
                }
            }
            last.insert(name, (p.media_sequence, uris, p.target_duration));
        }
        // Within the playlist's duration (6 × 2 s) of removal, a segment must still be served.
        for (path, when) in &removed {
            let age = when.elapsed();
            if age > Duration::from_secs(1) && age < Duration::from_secs(10) {
                assert_eq!(d.get(path).status, 200, "{path} gone {age:?} after removal");
                fetched_after_removal += 1;
            }
        }
        removed.retain(|(_, when)| when.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        fetched_after_removal > 20,
        "only {fetched_after_removal} removed segments checked"
    );
    let seqs: Vec<u64> = RUNGS.iter().map(|(n, _, _)| last[n].0).collect();
    assert!(
        seqs.iter().all(|s| *s >= 30),
        "the window slid too little in a minute: {seqs:?}"
    );

    // Disk use is bounded: the window plus its grace period.
    for (name, _, _) in RUNGS {
        let files = std::fs::read_dir(d.hls_dir().join(name)).unwrap().count();
        assert!(files <= 2 * 6 + 4, "{name}: {files} files on disk");
    }

    // No dropped frames over that minute.
    let after = d.status();
    let dropped = |s: &serde_json::Value| {
        let mut v = vec![
            s["program"]["dropped_frames"].as_u64().unwrap(),
            s["ladder"]["dropped_frames"].as_u64().unwrap(),
        ];
        v.extend(
            s["rungs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["dropped_frames"].as_u64().unwrap()),
        );
        v
    };
    assert_eq!(
        dropped(&before),
        dropped(&after),
        "frames dropped during the minute:\n{after:#}"
    );
    for r in after["rungs"].as_array().unwrap() {
        assert!((r["fps"].as_f64().unwrap() - 30.0).abs() < 1.5, "{r}");
        assert_eq!(r["encoder"], "x264enc");
    }
    let metrics = d.get("/metrics").text();
    assert!(
        metrics.contains("fourcast_rung_segments_total{rung=\"720p\"}"),
        "{metrics}"
    );
}

/// RFC 8216 rules for a live media playlist, item 5 of the issue.
fn check_media_rules(p: &m3u8_rs::MediaPlaylist, text: &str) {
    assert!(
        p.independent_segments,
        "no EXT-X-INDEPENDENT-SEGMENTS:\n{text}"
    );
    assert!(!p.end_list, "a live playlist has no ENDLIST:\n{text}");
    assert!(
        p.segments.len() <= 6,
        "window larger than configured:\n{text}"
    );
    for s in &p.segments {
        assert!(
            s.program_date_time.is_some(),
            "segment without PROGRAM-DATE-TIME:\n{text}"
        );
        let rounded = (s.duration as f64).round() as u64;
        assert!(
            rounded <= p.target_duration,
            "EXTINF {} > target {}:\n{text}",
            s.duration,
            p.target_duration
        );
    }
}
