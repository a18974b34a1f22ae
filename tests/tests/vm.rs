//! The virtual board with a real kernel (`hil/vm/`, `tests/src/vm.rs`): Debian's 6.1
//! kernel boots under QEMU with the board's devices from real drivers, and the release
//! daemon runs in it and serves HLS to the host.

use std::time::{Duration, Instant};

use fourcast_e2e::vm::Vm;
use fourcast_e2e::{default_config, media_playlist};

/// Four HDMI inputs (vivid), an ALSA loopback card, an SMBus display at 0x3c, uinput.
const BOARD: &[&str] = &[
    "vivid n_devs=4 node_types=0x1,0x1,0x1,0x1 num_inputs=1,1,1,1 input_types=0x3,0x3,0x3,0x3",
    "snd-aloop",
    "i2c-dev",
    "i2c-stub chip_addr=0x3c",
    "uinput",
    "evdev",
];

/// A program emulation can encode live: 320×180 at 15 fps, one rung, x264 ultrafast.
fn small_config() -> String {
    default_config(|c| {
        c.program.width = 320;
        c.program.height = 180;
        c.program.fps = 15;
        c.ladder.x264_preset = "ultrafast".into();
        c.ladder.rungs = vec![fourcast_config::Rung {
            name: "180p".into(),
            width: 320,
            height: 180,
            bitrate_kbps: 300,
        }];
        c.multiview.fps = 0;
    })
}

#[test]
fn the_virtual_board_boots_a_real_kernel_and_the_box_serves_hls_from_it() {
    let mut vm = Vm::boot(BOARD);
    let kernel = vm.run("uname -r");
    let devices = vm.run(
        "ls /dev/video*; cat /proc/asound/cards; ls /dev/i2c-*; ls /dev/uinput; \
         v4l2-ctl -d /dev/video0 --query-dv-timings",
    );
    for want in [
        "/dev/video0",
        "/dev/video3",
        "Loopback",
        "/dev/i2c-0",
        "/dev/uinput",
        "Active width: 1280",
    ] {
        assert!(devices.contains(want), "{want} in:\n{devices}");
    }
    let started = Instant::now();
    vm.start_daemon(&small_config());
    let first = vm.wait_until("the first HLS segment", Duration::from_secs(120), |vm| {
        let r = vm.get("/hls/180p/index.m3u8");
        r.status == 200 && !media_playlist(&r.text()).segments.is_empty()
    });
    let playlist = media_playlist(&vm.get("/hls/180p/index.m3u8").text());
    let uri = &playlist.segments[0].uri;
    let segment = vm.get(&format!("/hls/180p/{uri}"));
    assert_eq!(segment.status, 200);
    let file = vm.share.0.join("first.ts");
    std::fs::write(&file, &segment.body).unwrap();
    let probe = fourcast_e2e::ffprobe(&file, &["-show_streams"]);
    let video = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (video["codec_name"].as_str(), video["width"].as_u64()),
        (Some("h264"), Some(320)),
        "{probe}"
    );
    eprintln!(
        "virtual board: kernel {} booted to the agent in {:.1} s; daemon start to first segment {:.1} s ({:.1} s polling)",
        kernel.trim(),
        vm.boot_s,
        started.elapsed().as_secs_f64(),
        first.as_secs_f64()
    );
}
