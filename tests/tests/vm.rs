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

/// The four vivid HDMI inputs as the box's cameras, on the small program.
fn capture_config() -> String {
    default_config(|c| {
        *c = fourcast_config::Config::from_toml(&small_config()).unwrap();
        for (i, input) in c.inputs.iter_mut().enumerate() {
            input.source = fourcast_config::Source::V4l2(fourcast_config::CaptureInput {
                device: format!("/dev/video{i}").into(),
                audio: None,
            });
        }
    })
}

fn input_state(vm: &Vm, name: &str) -> String {
    let status = vm.json("/api/v1/status");
    status["inputs"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .and_then(|i| i["state"].as_str())
        .unwrap_or("")
        .to_string()
}

fn program_frames(vm: &Vm) -> u64 {
    vm.json("/api/v1/status")["program"]["frames"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn hdmi_inputs_show_each_signal_state_and_come_back() {
    let mut vm = Vm::boot(BOARD);
    // The smallest timings vivid offers, so that emulation keeps up with four inputs.
    for i in 0..4 {
        vm.run(&format!(
            "v4l2-ctl -d /dev/video{i} --set-dv-bt-timings index=0 && v4l2-ctl -d /dev/video{i} --query-dv-timings | grep -q 'Active width: 640'"
        ));
    }
    vm.start_daemon(&capture_config());
    vm.wait_until("all four cameras live", Duration::from_secs(120), |vm| {
        (1..=4).all(|i| input_state(vm, &format!("cam{i}")) == "live")
    });
    let mut report = Vec::new();
    for (mode, want) in [
        (1, "no-signal"),
        (2, "no-lock"),
        (3, "out-of-range"),
        (0, "live"),
    ] {
        let frames = program_frames(&vm);
        vm.run(&format!(
            "v4l2-ctl -d /dev/video1 -c dv_timings_signal_mode={mode}"
        ));
        let took = vm.wait_until(&format!("cam2 {want}"), Duration::from_secs(20), |vm| {
            input_state(vm, "cam2") == want
        });
        for other in ["cam1", "cam3", "cam4"] {
            assert_eq!(
                input_state(&vm, other),
                "live",
                "{other} untouched by cam2's {want}"
            );
        }
        assert!(
            program_frames(&vm) > frames,
            "the program kept making frames"
        );
        report.push(format!(
            "mode {mode} → {want} in {:.2} s",
            took.as_secs_f64()
        ));
    }
    // A simulated unplug: every call fails ENODEV until the last handle closes.
    vm.run("v4l2-ctl -d /dev/video3 -c disconnect=1");
    let mut seen = Vec::new();
    let back = vm.wait_until(
        "cam4 back after its unplug",
        Duration::from_secs(20),
        |vm| {
            let s = input_state(vm, "cam4");
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            seen.len() > 1 && s == "live"
        },
    );
    assert!(
        seen.iter().any(|s| s == "unplugged" || s == "retrying"),
        "cam4 was seen gone: {seen:?}"
    );
    report.push(format!(
        "unplug: {seen:?}, live again after {:.2} s",
        back.as_secs_f64()
    ));
    eprintln!("virtual board, HDMI inputs: {}", report.join("; "));
}
