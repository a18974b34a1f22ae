//! Shutdown, live reload and bad reloads, against the running daemon.

use std::time::{Duration, Instant};

use fourcast_e2e::{Daemon, default_config, media_playlist};

fn media_sequence(d: &Daemon, rung: &str) -> u64 {
    media_playlist(&d.get(&format!("/hls/{rung}/index.m3u8")).text()).media_sequence
        + media_playlist(&d.get(&format!("/hls/{rung}/index.m3u8")).text())
            .segments
            .len() as u64
}

fn wait_for_hls(d: &mut Daemon) {
    d.wait_until("the multivariant playlist", Duration::from_secs(40), |d| {
        d.try_get("/hls/master.m3u8")
            .is_some_and(|r| r.status == 200)
    });
}

fn input_frames(status: &serde_json::Value) -> Vec<u64> {
    status["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["frames"].as_u64().unwrap())
        .collect()
}

#[test]
fn sigterm_stops_within_five_seconds_and_leaves_valid_playlists() {
    let mut d = Daemon::start(None);
    wait_for_hls(&mut d);
    std::thread::sleep(Duration::from_secs(3));
    let start = Instant::now();
    d.signal(libc::SIGTERM);
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status}:\n{}", d.log());
    for rung in ["720p", "480p", "360p"] {
        let dir = d.hls_dir().join(rung);
        let text = std::fs::read_to_string(dir.join("index.m3u8")).unwrap();
        let p = media_playlist(&text);
        assert!(p.end_list, "{rung}: no ENDLIST after shutdown:\n{text}");
        assert!(!p.segments.is_empty());
        for s in &p.segments {
            let len = std::fs::metadata(dir.join(&s.uri))
                .map(|m| m.len())
                .unwrap_or(0);
            assert!(len > 0, "{rung}: {} listed but missing", s.uri);
        }
    }
    assert!(d.hls_dir().join("master.m3u8").exists());
}

#[test]
fn a_live_bitrate_change_keeps_inputs_running_and_hls_advancing() {
    let mut d = Daemon::start(Some(&default_config(|_| {})));
    wait_for_hls(&mut d);
    let before = d.status();
    let revision = before["config_revision"].as_u64().unwrap();
    let seq = media_sequence(&d, "480p");

    let changed = default_config(|c| c.ladder.rungs[1].bitrate_kbps = 1000);
    std::fs::write(d.config_file.as_ref().unwrap(), changed).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_until("the new revision", Duration::from_secs(10), |d| {
        d.status()["config_revision"].as_u64() == Some(revision + 1)
    });
    let after = d.status();
    assert_eq!(after["rungs"][1]["bitrate_kbps"], 1000);
    assert_eq!(after["program"]["builds"], 1, "the inputs were restarted");
    assert_eq!(
        after["ladder"]["builds"], 1,
        "the encoders were rebuilt for a bitrate"
    );
    let frames_then = input_frames(&after);
    d.wait_until("HLS to advance", Duration::from_secs(15), |d| {
        media_sequence(d, "480p") >= seq + 3
    });
    let frames_now = input_frames(&d.status());
    assert!(
        frames_now.iter().zip(&frames_then).all(|(n, t)| n > t),
        "inputs stalled"
    );

    // A ladder reshape rebuilds the encoders and HLS, never the inputs.
    let reshaped = default_config(|c| {
        c.ladder.rungs[1].bitrate_kbps = 1000;
        c.ladder.rungs.pop();
    });
    std::fs::write(d.config_file.as_ref().unwrap(), reshaped).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_until("the reshaped ladder", Duration::from_secs(15), |d| {
        d.status()["rungs"].as_array().is_some_and(|r| r.len() == 2)
    });
    let s = d.status();
    assert_eq!(
        (
            s["program"]["builds"].as_u64(),
            s["ladder"]["builds"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let seq = media_sequence(&d, "720p");
    d.wait_until("HLS after the rebuild", Duration::from_secs(15), |d| {
        media_sequence(d, "720p") >= seq + 2
    });
    d.wait_until("the master to drop 360p", Duration::from_secs(10), |d| {
        !d.get("/hls/master.m3u8").text().contains("360p")
    });
}

#[test]
fn bad_reloads_are_rejected_by_field_and_change_nothing() {
    let mut d = Daemon::start(Some(&default_config(|_| {})));
    wait_for_hls(&mut d);
    let revision = d.status()["config_revision"].as_u64().unwrap();
    let good = default_config(|_| {});
    let bad_docs = [
        (
            good.replacen("bitrate_kbps = 1400", "bitrate_kbps = -1400", 1),
            "ladder.rungs[1].bitrate_kbps",
        ),
        (
            good.replacen(
                "kind = \"test\"\npattern = \"ball\"",
                "kind = \"file\"\npath = \"/nonexistent/clip.mp4\"",
                1,
            )
            .replacen("tone_hz = 554\n", "", 1),
            "inputs[1].path",
        ),
        (
            good.replacen("encoder = \"auto\"", "encoder = \"nosuchenc\"", 1),
            "ladder.encoder",
        ),
    ];
    for (i, (doc, path)) in bad_docs.iter().enumerate() {
        assert_ne!(doc, &good, "case {i} did not change the document");
        std::fs::write(d.config_file.as_ref().unwrap(), doc).unwrap();
        let seq = media_sequence(&d, "720p");
        d.signal(libc::SIGHUP);
        d.wait_until(
            &format!("the rejection naming {path}"),
            Duration::from_secs(10),
            |d| {
                let events = d.get("/api/v1/events").text();
                events.matches("config_rejected").count() > i && events.contains(path)
            },
        );
        let s = d.status();
        assert_eq!(
            s["config_revision"].as_u64(),
            Some(revision),
            "a bad config was stored"
        );
        assert_eq!(
            (
                s["program"]["builds"].as_u64(),
                s["ladder"]["builds"].as_u64()
            ),
            (Some(1), Some(1))
        );
        d.wait_until("HLS to keep going", Duration::from_secs(10), |d| {
            media_sequence(d, "720p") > seq
        });
    }
    assert!(
        d.log().contains("ladder.encoder"),
        "the rejection is logged"
    );
}

#[test]
fn a_file_input_loops_into_the_program() {
    let dir = fourcast_e2e::TempDir::new("clip");
    let clip = dir.0.join("clip.mp4");
    let ok = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=30:duration=2",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:duration=2"])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&clip)
        .status()
        .expect("ffmpeg runs")
        .success();
    assert!(ok, "ffmpeg made no clip");
    let config = default_config(|c| {
        let cam = &c.inputs[3];
        c.inputs[3] = fourcast_config::Input {
            label: cam.label.clone(),
            ..fourcast_config::Input::file(&cam.name, &clip)
        };
    });
    let mut d = Daemon::start(Some(&config));
    wait_for_hls(&mut d);
    // A 2 s clip still feeding its tile after 6 s has looped at least twice.
    std::thread::sleep(Duration::from_secs(6));
    let s = d.status();
    let clip_input = &s["inputs"][3];
    assert_eq!(clip_input["kind"], "file");
    assert_eq!(clip_input["state"], "live", "{s:#}");
    assert!(clip_input["frames"].as_u64().unwrap() > 150, "{clip_input}");
}
