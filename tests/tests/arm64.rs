//! The firmware on ARM: the aarch64 build of `fourcastd` (cross-compiled by `make check-arm`
//! against Debian 12's arm64 GStreamer in `target/arm64/root`) runs the virtual board under
//! `qemu-aarch64-static` and serves HLS that an independent parser and `ffprobe` accept.
//! Emulated speed is not a figure here; correctness is.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fourcast_e2e::{Daemon, default_config, media_playlist};

/// The arm64 root (`make check-arm` makes it) and the cross-built daemon.
fn arm64() -> (PathBuf, PathBuf) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let root = std::env::var_os("FOURCAST_ARM64_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("arm64/root"));
    let daemon = target.join("aarch64-unknown-linux-gnu/debug/fourcastd");
    for (what, path) in [
        ("the arm64 root", &root),
        ("the aarch64 fourcastd", &daemon),
    ] {
        assert!(
            path.exists(),
            "{what} is missing at {}: run `make check-arm` (it makes the root and cross-builds)",
            path.display()
        );
    }
    (root, daemon)
}

#[test]
fn the_aarch64_daemon_serves_the_virtual_board_as_hls_under_emulation() {
    let (root, daemon) = arm64();
    let qemu = "qemu-aarch64-static";
    assert!(
        std::process::Command::new(qemu)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "{qemu} is missing: run `make check-arm` (it installs qemu-user-static)"
    );
    let out = std::process::Command::new("file")
        .arg(&daemon)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(out.contains("ARM aarch64"), "not an arm64 build: {out}");
    // A small program, two rungs: what emulation can encode.
    let config = default_config(|c| {
        c.program.width = 320;
        c.program.height = 180;
        c.program.fps = 15;
        c.ladder.x264_preset = "ultrafast".into();
        c.ladder.rungs = vec![
            fourcast_config::Rung {
                name: "180p".into(),
                width: 320,
                height: 180,
                bitrate_kbps: 300,
            },
            fourcast_config::Rung {
                name: "90p".into(),
                width: 160,
                height: 90,
                bitrate_kbps: 120,
            },
        ];
        c.multiview.fps = 0;
    });
    // GStreamer's plugins from the arm64 root, scanned in process (an arm64 scanner could
    // not be started without binfmt_misc), its registry of its own.
    let registry = std::env::temp_dir().join(format!("fourcast-arm64-{}.bin", std::process::id()));
    let lib = root.join("usr/lib/aarch64-linux-gnu");
    let started = Instant::now();
    let command = [
        "env".to_string(),
        "GST_REGISTRY_FORK=no".into(),
        format!("GST_REGISTRY_1_0={}", registry.display()),
        format!(
            "GST_PLUGIN_SYSTEM_PATH_1_0={}",
            lib.join("gstreamer-1.0").display()
        ),
        qemu.to_string(),
        "-L".into(),
        root.to_string_lossy().into_owned(),
        daemon.to_string_lossy().into_owned(),
    ];
    let mut d = Daemon::start_command(&config, &command);
    let answered = started.elapsed();
    // A fixed amount of program: 150 frames (10 s of the program's time).
    d.wait_until(
        "150 program frames and the master playlist",
        Duration::from_secs(240),
        |d| {
            d.status()["program"]["frames"].as_u64().unwrap_or(0) >= 150
                && d.try_get("/hls/master.m3u8")
                    .is_some_and(|r| r.status == 200)
        },
    );
    let ran = started.elapsed();
    let status = d.status();
    let master = d.get("/hls/master.m3u8").text();
    let parsed = m3u8_rs::parse_playlist_res(master.as_bytes());
    let Ok(m3u8_rs::Playlist::MasterPlaylist(master_list)) = parsed else {
        panic!("not a master playlist: {master}");
    };
    assert_eq!(master_list.variants.len(), 2, "{master}");
    let mut report = Vec::new();
    for (rung, (w, h)) in [("180p", (320, 180)), ("90p", (160, 90))] {
        let variant = master_list
            .variants
            .iter()
            .find(|v| v.uri.contains(rung))
            .unwrap_or_else(|| panic!("{rung} in the master playlist: {master}"));
        assert_eq!(
            variant.resolution.map(|r| (r.width, r.height)),
            Some((w, h)),
            "{master}"
        );
        let playlist = media_playlist(&d.get(&format!("/hls/{}", variant.uri)).text());
        assert!(!playlist.segments.is_empty(), "{rung}: no segment");
        let dir = variant.uri.rsplit_once('/').map_or("", |(d, _)| d);
        for seg in &playlist.segments {
            let body = d.get(&format!("/hls/{dir}/{}", seg.uri)).body;
            let file = d.data.0.join(format!("{rung}-{}", seg.uri));
            std::fs::write(&file, &body).unwrap();
            let probe = fourcast_e2e::ffprobe(
                &file,
                &[
                    "-show_streams",
                    "-count_frames",
                    "-show_entries",
                    "stream=codec_name,width,height,nb_read_frames",
                ],
            );
            let streams = probe["streams"].as_array().cloned().unwrap_or_default();
            let video = streams
                .iter()
                .find(|s| s["codec_name"] == "h264")
                .unwrap_or_else(|| panic!("{rung}/{}: no H.264: {probe}", seg.uri));
            assert_eq!(
                (video["width"].as_u64(), video["height"].as_u64()),
                (Some(w), Some(h)),
                "{rung}/{}",
                seg.uri
            );
            let frames: u64 = video["nb_read_frames"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                frames > 0,
                "{rung}/{}: no decodable picture: {probe}",
                seg.uri
            );
            assert!(
                streams.iter().any(|s| s["codec_name"] == "aac"),
                "{rung}/{}: no AAC: {probe}",
                seg.uri
            );
            report.push(format!("{rung}/{} {frames} pictures", seg.uri));
        }
    }
    eprintln!(
        "aarch64 fourcastd under qemu-user: HTTP after {:.1} s, 150 program frames and the \
         master playlist after {:.1} s (program at {:.1} fps, {} dropped by the ladder); \
         decoded {}",
        answered.as_secs_f64(),
        ran.as_secs_f64(),
        status["program"]["fps"].as_f64().unwrap_or(0.0),
        status["ladder"]["dropped_frames"],
        report.join(", ")
    );
    d.signal(libc::SIGTERM);
    let code = d.child.wait().expect("the daemon exits");
    assert!(
        code.success(),
        "a clean stop on SIGTERM: {code}\n{}",
        d.log()
    );
    let _ = std::fs::remove_file(registry);
}
