//! The virtual board with a real kernel (`hil/vm/`, `tests/src/vm.rs`): Debian's 6.1
//! kernel boots under QEMU with the board's devices from real drivers, and the release
//! daemon runs in it and serves HLS to the host.

use std::time::{Duration, Instant};

use fourcast_e2e::vm::Vm;
use fourcast_e2e::{default_config, media_playlist};

/// Four HDMI inputs (vivid; the first multi-planar, like RK3588's `rk_hdmirx`), an ALSA
/// loopback card, an SMBus display at 0x3c, uinput.
const BOARD: &[&str] = &[
    "vivid n_devs=4 node_types=0x1,0x1,0x1,0x1 num_inputs=1,1,1,1 input_types=0x3,0x3,0x3,0x3 \
     multiplanar=2,1,1,1",
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
                format: Default::default(),
                signal: Default::default(),
            });
        }
    })
}

/// The colour at the centre of each quarter of the program (grid order), from a frame of
/// the newest HLS segment, by name: red, green, blue, white or what it is (r,g,b).
fn grid_colours(vm: &Vm) -> Vec<String> {
    let r = vm.get("/hls/180p/index.m3u8");
    if r.status != 200 {
        return Vec::new();
    }
    let playlist = media_playlist(&r.text());
    let Some(seg) = playlist.segments.last() else {
        return Vec::new();
    };
    let file = vm.share.0.join("grid.ts");
    std::fs::write(&file, vm.get(&format!("/hls/180p/{}", seg.uri)).body).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&file)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=64:36",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("ffmpeg decodes a frame");
    if out.stdout.len() != 64 * 36 * 3 {
        return Vec::new();
    }
    [(16, 9), (48, 9), (16, 27), (48, 27)]
        .iter()
        .map(|&(x, y)| {
            let at = (y * 64 + x) * 3;
            let (r, g, b) = (out.stdout[at], out.stdout[at + 1], out.stdout[at + 2]);
            let hi = |v: u8| v > 170;
            let lo = |v: u8| v < 80;
            match (r, g, b) {
                _ if hi(r) && lo(g) && lo(b) => "red".into(),
                _ if lo(r) && hi(g) && lo(b) => "green".into(),
                _ if lo(r) && lo(g) && hi(b) => "blue".into(),
                _ if hi(r) && hi(g) && hi(b) => "white".into(),
                _ => format!("({r},{g},{b})"),
            }
        })
        .collect()
}

fn report_tiles(took: Duration) {
    eprintln!(
        "virtual board: each grid tile showed its own camera's colour {:.1} s after all four were live",
        took.as_secs_f64()
    );
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
    // Each camera a solid colour (vivid's test patterns 7–9 and 6: red, green, blue, white).
    for (i, pattern) in [7, 8, 9, 6].iter().enumerate() {
        vm.run(&format!(
            "v4l2-ctl -d /dev/video{i} -c test_pattern={pattern}"
        ));
    }
    vm.start_daemon(&capture_config());
    vm.wait_until("all four cameras live", Duration::from_secs(120), |vm| {
        (1..=4).all(|i| input_state(vm, &format!("cam{i}")) == "live")
    });
    // Each tile of the program's grid shows its own camera (a frame from the newest segment).
    let tiles = vm.wait_until("each tile its camera", Duration::from_secs(30), |vm| {
        grid_colours(vm) == ["red", "green", "blue", "white"]
    });
    report_tiles(tiles);
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

/// The box on the VM's board profile (`vboard`: the panel's display on i2c-stub, its
/// buttons from uinput), test patterns for cameras and three scenes for the buttons.
fn panel_config() -> String {
    default_config(|c| {
        *c = fourcast_config::Config::from_toml(&small_config()).unwrap();
        c.board = "vboard".into();
        let scene = |name: &str, layout, inputs: &[&str]| fourcast_config::Scene {
            name: name.into(),
            layout,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            pip: Default::default(),
            overlays: None,
        };
        c.scenes = vec![
            scene("all", fourcast_config::Layout::Grid, &[]),
            scene("cam3-only", fourcast_config::Layout::Single, &["cam3"]),
            scene("cam4-only", fourcast_config::Layout::Single, &["cam4"]),
        ];
    })
}

/// Every SMBus write the guest's kernel traced, as (command byte, data). The trace shows an
/// I2C block as the kernel holds it: its length, then the bytes.
fn traced_writes(vm: &mut Vm) -> Vec<(u8, Vec<u8>)> {
    let trace = vm.run("cat /sys/kernel/tracing/trace");
    trace
        .lines()
        .filter(|l| l.contains("smbus_write:") && l.contains("a=03c"))
        .filter_map(|l| {
            let command = l.split(" c=").nth(1)?.split(' ').next()?;
            let command = u8::from_str_radix(command, 16).ok()?;
            let data = l.rsplit_once('[')?.1.trim_end().trim_end_matches(']');
            let data: Option<Vec<u8>> = data
                .split('-')
                .filter(|b| !b.is_empty())
                .map(|b| u8::from_str_radix(b, 16).ok())
                .collect();
            let data = data?;
            let (len, bytes) = data.split_first()?;
            (usize::from(*len) == bytes.len()).then(|| (command, bytes.to_vec()))
        })
        .collect()
}

fn tallies(vm: &Vm) -> Vec<String> {
    let panel = vm.json("/api/v1/panel");
    (1..=4)
        .map(|i| {
            panel["tally"]
                .as_array()
                .and_then(|a| a.iter().find(|t| t["input"] == format!("cam{i}")))
                .and_then(|t| t["tally"].as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

/// The panel's buttons as a uinput device (keys F1–F4, as `vboard` names them), fed from
/// /run/keys; returns once the daemon has the display and the buttons working.
fn panel_buttons(vm: &mut Vm) {
    let uinput = env!("CARGO_BIN_EXE_fourcast-uinput");
    vm.run(&format!(
        "touch /run/keys; (tail -f /run/keys | {uinput} fourcast-panel 59 60 61 62 \
         > /run/out/uinput.log 2>&1 &)"
    ));
    vm.wait_until(
        "the panel's parts all working",
        Duration::from_secs(60),
        |vm| {
            let parts = vm.json("/api/v1/panel")["parts"].clone();
            parts
                .as_array()
                .is_some_and(|p| p.len() == 2 && p.iter().all(|part| part["ok"] == true))
        },
    );
}

/// Presses key `code` on the panel's uinput device and waits for the daemon to count it.
fn press(vm: &mut Vm, code: u16) -> serde_json::Value {
    let before = vm.json("/api/v1/panel")["presses"].as_u64().unwrap_or(0);
    vm.run(&format!("echo 'press {code}' >> /run/keys"));
    vm.wait_until(
        &format!("the daemon to carry out key {code}"),
        Duration::from_secs(10),
        |vm| vm.json("/api/v1/panel")["presses"].as_u64().unwrap_or(0) > before,
    );
    vm.json("/api/v1/panel")["last_press"].clone()
}

#[test]
fn the_front_panel_shows_the_box_on_its_display_and_its_buttons_drive_it() {
    use fourcast_board::panel::screen::{Status, render};
    use fourcast_board::panel::ssd1306::frames_from_transfers;
    let mut vm = Vm::boot(BOARD);
    // The kernel's own record of every SMBus write: the bytes on the wire to i2c-stub.
    vm.run(
        "mount -t tracefs nodev /sys/kernel/tracing && cd /sys/kernel/tracing && \
         echo 2048 > buffer_size_kb && echo 1 > events/smbus/smbus_write/enable",
    );
    let start = Instant::now();
    vm.start_daemon(&panel_config());
    panel_buttons(&mut vm);

    // The display: the last whole picture on the bus is the screen the API describes.
    let mut matched = None;
    for _ in 0..20 {
        let before = vm.json("/api/v1/panel");
        let png = vm.get("/api/v1/panel/screen.png").body;
        let frames = frames_from_transfers(&traced_writes(&mut vm));
        let after = vm.json("/api/v1/panel");
        if before["frames"] != after["frames"] {
            continue; // it drew a new picture meanwhile: look again
        }
        let status: Status = serde_json::from_value(before["screen"].clone()).unwrap();
        let want = render(&status);
        if frames.last() == Some(&want) {
            assert_eq!(png, want.to_png(), "the web UI's picture is the display's");
            matched = Some((status, frames.len()));
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, frames) = matched.unwrap_or_else(|| {
        let trace = vm.run("grep -m 5 smbus_write /sys/kernel/tracing/trace; grep -c smbus_write /sys/kernel/tracing/trace");
        let frames = frames_from_transfers(&traced_writes(&mut vm));
        panic!(
            "the display never showed what the API says: {} whole pictures on the bus, the \
             last {:?}; the API: {}; the trace begins:\n{trace}",
            frames.len(),
            frames.last(),
            vm.json("/api/v1/panel")
        )
    });
    assert_eq!(status.address.as_deref(), Some("10.0.2.15"), "{status:?}");
    assert!(!status.live && !status.recording, "{status:?}");
    assert!(status.program_kbps.is_some(), "{status:?}");
    let shown_after = start.elapsed();

    // Tally: program red, the previewed scene green.
    let take = vm.send("POST", "/api/v1/program/take", br#"{"scene":"cam4-only"}"#);
    assert_eq!(take.status, 200, "{}", String::from_utf8_lossy(&take.body));
    vm.wait_until(
        "cam4 on program, the rest previewed",
        Duration::from_secs(5),
        |vm| tallies(vm) == ["preview", "preview", "preview", "program"],
    );
    // Next: the preview moves to cam3-only; nothing on program changes.
    let pressed = press(&mut vm, 61);
    assert_eq!(pressed["action"], serde_json::Value::Null, "{pressed}");
    assert_eq!(vm.json("/api/v1/panel")["preview"], "cam3-only");
    vm.wait_until("cam3 previewed", Duration::from_secs(5), |vm| {
        tallies(vm) == ["off", "off", "preview", "program"]
    });
    // Cut: cam3-only goes on program; the preview moves on to cam4-only.
    let t0 = Instant::now();
    let pressed = press(&mut vm, 62);
    assert_eq!(pressed["action"], "take cam3-only", "{pressed}");
    assert_eq!(pressed["status"], 200, "{pressed}");
    assert_eq!(
        vm.json("/api/v1/program")["inputs"],
        serde_json::json!(["cam3"])
    );
    vm.wait_until(
        "the tally to follow the cut",
        Duration::from_secs(5),
        |vm| tallies(vm) == ["off", "off", "program", "preview"],
    );
    let cut_to_tally = t0.elapsed();
    // Record: on, the screen says REC; again: off.
    let pressed = press(&mut vm, 60);
    assert_eq!(pressed["action"], "recording start", "{pressed}");
    vm.wait_until("REC on the screen", Duration::from_secs(10), |vm| {
        let p = vm.json("/api/v1/panel");
        p["screen"]["recording"] == true && p["lamps"]["rec"] == true
    });
    let pressed = press(&mut vm, 60);
    assert_eq!(pressed["action"], "recording stop", "{pressed}");
    // Go live with no uplink configured does nothing, and says so without an error.
    let pressed = press(&mut vm, 59);
    assert_eq!(pressed["action"], "uplinks start", "{pressed}");
    // A button the box does not have is refused by name.
    let r = vm.send("POST", "/api/v1/panel/buttons/eject", b"");
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("eject"));
    // The web UI's buttons press the same panel.
    let r = vm.send("POST", "/api/v1/panel/buttons/cut", b"");
    assert_eq!(r.status, 202);
    vm.wait_until("the web UI's cut", Duration::from_secs(5), |vm| {
        vm.json("/api/v1/program")["inputs"] == serde_json::json!(["cam4"])
    });
    eprintln!(
        "virtual board, front panel: the display matched the API {:.1} s after the daemon \
         started ({frames} whole pictures on the bus); cut button → tally in {:.2} s",
        shown_after.as_secs_f64(),
        cut_to_tally.as_secs_f64()
    );
}

/// The `device` events the box has announced so far.
fn device_events(vm: &Vm) -> Vec<serde_json::Value> {
    vm.json("/api/v1/events")
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["type"] == "device")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_camera_plugged_in_is_found_offered_and_taken_when_the_config_says_so() {
    // The board without its cameras: they are plugged in (the vivid module loaded) later.
    let mut vm = Vm::boot(&BOARD[1..]);
    vm.start_daemon(&default_config(|c| {
        *c = fourcast_config::Config::from_toml(&small_config()).unwrap();
        c.inputs.truncate(2);
        c.scenes.clear();
    }));
    let none = vm.json("/api/v1/devices");
    assert_eq!(none["devices"], serde_json::json!([]), "{none}");

    // Plugged in: announced, listed with what it can do, offered (no input uses it).
    let t0 = Instant::now();
    vm.run(&format!(
        "modprobe {}",
        BOARD[0].replace("n_devs=4", "n_devs=1")
    ));
    vm.wait_until("the device event", Duration::from_secs(10), |vm| {
        device_events(vm).iter().any(|e| e["action"] == "added")
    });
    let announced = t0.elapsed();
    let devices = vm.json("/api/v1/devices");
    let d = &devices["devices"][0];
    assert_eq!(d["node"], "/dev/video0", "{devices}");
    assert_eq!(d["driver"], "vivid", "{devices}");
    assert_eq!(d["dv_timings"], true, "an HDMI input: {devices}");
    assert!(
        d["formats"].as_array().is_some_and(|f| !f.is_empty()),
        "{devices}"
    );
    assert!(d["input"].is_null(), "offered, not taken: {devices}");
    assert_eq!(
        vm.json("/api/v1/config")["config"]["inputs"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Unplugged while unused: announced gone, no longer listed.
    vm.run("rmmod vivid");
    vm.wait_until("the removal event", Duration::from_secs(10), |vm| {
        device_events(vm).iter().any(|e| e["action"] == "removed")
    });
    assert_eq!(vm.json("/api/v1/devices")["devices"], serde_json::json!([]));

    // With capture.auto_add, the next one plugged in becomes an input and goes live.
    let config = vm.json("/api/v1/config");
    let r = vm.send(
        "PATCH",
        "/api/v1/config",
        serde_json::json!({
            "base_revision": config["revision"],
            "patch": { "capture": { "auto_add": true } }
        })
        .to_string()
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let t1 = Instant::now();
    vm.run(&format!(
        "modprobe {}",
        BOARD[0].replace("n_devs=4", "n_devs=1")
    ));
    vm.wait_until("the camera taken as cam3", Duration::from_secs(20), |vm| {
        device_events(vm)
            .iter()
            .any(|e| e["action"] == "added" && e["input"] == "cam3")
    });
    let taken = t1.elapsed();
    let live = vm.wait_until("cam3 live", Duration::from_secs(60), |vm| {
        input_state(vm, "cam3") == "live"
    });
    let inputs = vm.json("/api/v1/config")["config"]["inputs"].clone();
    assert_eq!(inputs[2]["kind"], "v4l2", "{inputs}");
    assert_eq!(inputs[2]["device"], "/dev/video0", "{inputs}");
    assert_eq!(vm.json("/api/v1/devices")["devices"][0]["input"], "cam3");
    eprintln!(
        "virtual board, hotplug: announced {:.2} s after the module was loaded; with \
         auto_add taken as an input {:.2} s after and live {:.2} s later",
        announced.as_secs_f64(),
        taken.as_secs_f64(),
        live.as_secs_f64()
    );
}

fn input_size(vm: &Vm, name: &str) -> (u64, u64) {
    let status = vm.json("/api/v1/status");
    let i = status["inputs"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .cloned()
        .unwrap_or_default();
    (
        i["width"].as_u64().unwrap_or(0),
        i["height"].as_u64().unwrap_or(0),
    )
}

#[test]
fn a_source_that_changes_resolution_is_followed_and_the_program_never_stops() {
    let mut vm = Vm::boot(BOARD);
    // vivid's timings menu: 0 is 640×480p59.94, 2 is 720×480p59.94 (the kernel's CEA list).
    vm.run("v4l2-ctl -d /dev/video2 --set-dv-bt-timings index=0");
    vm.start_daemon(&default_config(|c| {
        *c = fourcast_config::Config::from_toml(&small_config()).unwrap();
        c.inputs[2].source = fourcast_config::Source::V4l2(fourcast_config::CaptureInput {
            device: "/dev/video2".into(),
            audio: None,
            format: Default::default(),
            signal: Default::default(),
        });
    }));
    vm.wait_until("cam3 live at 640×480", Duration::from_secs(60), |vm| {
        input_state(vm, "cam3") == "live" && input_size(vm, "cam3") == (640, 480)
    });
    let before = vm.json("/api/v1/status");
    let mut report = Vec::new();
    for (index, size) in [(2, (720, 480)), (0, (640, 480))] {
        let frames = program_frames(&vm);
        vm.run(&format!(
            "v4l2-ctl -d /dev/video2 -c dv_timings_signal_mode=4 -c dv_timings={index}"
        ));
        let took = vm.wait_until(
            &format!("cam3 followed to {size:?}"),
            Duration::from_secs(20),
            |vm| input_state(vm, "cam3") == "live" && input_size(vm, "cam3") == size,
        );
        assert!(
            program_frames(&vm) > frames,
            "the program kept making frames"
        );
        report.push(format!(
            "{}×{} in {:.2} s",
            size.0,
            size.1,
            took.as_secs_f64()
        ));
    }
    let after = vm.json("/api/v1/status");
    assert_eq!(
        after["program"]["builds"], before["program"]["builds"],
        "the program was never rebuilt"
    );
    assert_eq!(
        after["ladder"]["builds"], before["ladder"]["builds"],
        "the encoders never restarted"
    );
    for other in ["cam1", "cam2", "cam4"] {
        assert_eq!(input_state(&vm, other), "live", "{other} untouched");
    }
    let dropped = after["program"]["dropped_frames"].as_u64().unwrap_or(0)
        - before["program"]["dropped_frames"].as_u64().unwrap_or(0);
    eprintln!(
        "virtual board, format follow (timed from v4l2-ctl's return): cam3 followed to {}; \
         program frames dropped meanwhile: {dropped}",
        report.join(", then ")
    );
}

/// The segments the rung's playlist lists now (none before it exists).
fn segments_now(vm: &Vm) -> Vec<String> {
    let r = vm.get("/hls/180p/index.m3u8");
    if r.status != 200 {
        return Vec::new();
    }
    media_playlist(&r.text())
        .segments
        .into_iter()
        .map(|s| s.uri)
        .collect()
}

/// The small program with one input: `/dev/video0`, its sound from `audio` if any.
fn one_camera(audio: Option<&str>) -> String {
    default_config(|c| {
        *c = fourcast_config::Config::from_toml(&small_config()).unwrap();
        c.inputs.truncate(1);
        c.inputs[0].source = fourcast_config::Source::V4l2(fourcast_config::CaptureInput {
            device: "/dev/video0".into(),
            audio: audio.map(String::from),
            format: fourcast_config::CaptureFormat::Auto,
            signal: Default::default(),
        });
        c.scenes.clear();
    })
}

/// 48 kHz stereo S16LE as a WAV file: `frames` frames, each `sample(k)` on both channels.
fn wav(frames: u32, sample: impl Fn(u32) -> i16) -> Vec<u8> {
    let data = frames * 4;
    let mut w = Vec::with_capacity(44 + data as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 0x0002_0001, 48_000, 48_000 * 4, 0x0010_0004] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data.to_le_bytes());
    for k in 0..frames {
        let s = sample(k);
        w.extend_from_slice(&s.to_le_bytes());
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}

/// Frame `k` of a 1 kHz tone at 48 kHz.
fn tone(k: u32) -> i16 {
    (12_000.0 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(k) / 48_000.0).sin()) as i16
}

/// A 1 kHz tone, `seconds` long.
fn tone_wav(seconds: u32) -> Vec<u8> {
    wav(48_000 * seconds, tone)
}

/// A decoded tone, judged by its phase: in each 10 ms block, the phase and amplitude of
/// the tone (its frequency measured over the whole take). A dropped, repeated or jumped
/// sample moves the phase by ω (0.13 rad at 1 kHz): a step in its second difference; the
/// codec's noise blurs the phase by milliradians only. A gap (sound that came too late for
/// the mixer) shows as a block without the tone. Returns the tone's amplitude, the blocks
/// below half of it, and the largest phase step away from those blocks, rad.
fn tone_steadiness(samples: &[i16]) -> (f64, Vec<usize>, f64) {
    const N: usize = 480;
    let crossings = samples.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    let w = 2.0 * std::f64::consts::PI * (crossings as f64 / samples.len() as f64);
    let mut phase = Vec::new();
    let mut amp = Vec::new();
    for (k, block) in samples.chunks_exact(N).enumerate() {
        let (mut i, mut q) = (0.0, 0.0);
        for (j, &x) in block.iter().enumerate() {
            let n = (k * N + j) as f64;
            i += f64::from(x) * (w * n).cos();
            q += f64::from(x) * (w * n).sin();
        }
        phase.push(q.atan2(i));
        amp.push(2.0 * (i * i + q * q).sqrt() / N as f64);
    }
    let wrap = |a: f64| {
        let two_pi = 2.0 * std::f64::consts::PI;
        (a + std::f64::consts::PI).rem_euclid(two_pi) - std::f64::consts::PI
    };
    let mut sorted = amp.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let gaps: Vec<usize> = (0..amp.len()).filter(|&k| amp[k] < 0.5 * median).collect();
    let near_gap = |k: usize| gaps.iter().any(|&g| g.abs_diff(k) <= 2);
    let step = phase
        .windows(3)
        .enumerate()
        .filter(|(k, _)| !near_gap(k + 1))
        .map(|(_, p)| wrap(wrap(p[2] - p[1]) - wrap(p[1] - p[0])).abs())
        .fold(0.0, f64::max);
    (median, gaps, step)
}

#[test]
fn a_cameras_sound_on_its_own_clock_is_kept_in_step_without_a_click() {
    let mut vm = Vm::boot(BOARD);
    std::fs::write(vm.share.0.join("tone.wav"), tone_wav(240)).unwrap();
    vm.run("v4l2-ctl -d /dev/video0 --set-dv-bt-timings index=0");
    vm.start_daemon(&one_camera(Some("hw:Loopback,1,0")));
    // The camera's sound: a tone into the loopback's other end, the loopback's clock (both
    // ends of its cable) 0.1 % off (ten
    // times a poor crystal's error, so the test is decisive in two minutes: uncorrected,
    // the sound would be 120 ms off the pictures by its end).
    vm.run(
        "(aplay -q -D hw:Loopback,0,0 /run/out/tone.wav > /run/out/aplay.log 2>&1 &); \
         sleep 1; for d in 0 1; do amixer -q -c Loopback cset \
         iface=PCM,device=$d,subdevice=0,name='PCM Rate Shift 100000' 100100 || exit 1; done",
    );
    let mut seen = serde_json::Value::Null;
    let waited = Instant::now();
    while seen["inputs"][0]["state"] != "live" || seen["inputs"][0]["audio_clock"].is_null() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the camera's sound was never measured: {}\naplay: {}\n{}",
            seen["inputs"],
            std::fs::read_to_string(vm.share.0.join("aplay.log")).unwrap_or_default(),
            vm.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(500));
        seen = vm.json("/api/v1/status");
    }
    // Two minutes: the clock as the box measures it, and the program's sound as HLS has it.
    let start = Instant::now();
    let mut clock = Vec::new();
    let mut fetched = std::collections::BTreeSet::new();
    let mut ts = Vec::new();
    while start.elapsed() < Duration::from_secs(120) {
        let s = vm.json("/api/v1/status");
        clock.push((
            start.elapsed().as_secs_f64(),
            s["inputs"][0]["audio_clock"].clone(),
        ));
        if start.elapsed() > Duration::from_secs(40) {
            for uri in segments_now(&vm) {
                if fetched.insert(uri.clone()) {
                    ts.extend(vm.get(&format!("/hls/180p/{uri}")).body);
                }
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let file = vm.share.0.join("program.ts");
    std::fs::write(&file, &ts).unwrap();
    let pcm = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&file)
        .args([
            "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "s16le", "-",
        ])
        .output()
        .expect("ffmpeg decodes the program's sound");
    let samples: Vec<i16> = pcm
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(
        samples.len() > 48_000 * 30,
        "at least 30 s of program sound: {}",
        samples.len()
    );
    // The decoder's first moments are its own start, not the box's.
    let (amplitude, gaps, step) = tone_steadiness(&samples[4800..]);
    let last = &clock.last().unwrap().1;
    let settled: Vec<f64> = clock
        .iter()
        .filter(|(t, _)| *t > 30.0)
        .filter_map(|(_, c)| c["offset_ms"].as_f64())
        .collect();
    let worst_offset = settled.iter().map(|o| o.abs()).fold(0.0, f64::max);
    eprintln!(
        "virtual board, capture sound 1000 ppm off: correction {:.0} ppm after 2 min, \
         offset from the pictures within ±{worst_offset:.1} ms after 30 s; program tone \
         amplitude {amplitude:.0}, largest phase step {step:.3} rad (one sample is 0.131), \
         10 ms blocks with a gap: {gaps:?} of {:.0} s",
        last["correction_ppm"].as_f64().unwrap_or(f64::NAN),
        samples.len() as f64 / 48_000.0
    );
    // The loopback's rate shift above 100000 slows its clock: the box stretches the sound.
    assert!(
        (last["correction_ppm"].as_f64().unwrap_or(0.0).abs() - 1000.0).abs() < 200.0,
        "the box measured the source's 1000 ppm: {clock:?}"
    );
    assert!(
        worst_offset < 33.0,
        "sound and pictures stay within a frame at 30 fps: {clock:?}"
    );
    assert!(
        amplitude > 3000.0,
        "the tone reached the program: {amplitude}"
    );
    // The correction itself never drops or repeats a sample.
    assert!(
        step < 0.06,
        "no slip in the program's sound: a phase step of {step} rad"
    );
    // Emulation stalls the guest now and then for longer than the mixer waits (100 ms):
    // what arrives after that is cut, which real hardware does not see. Up to 30 ms of
    // such gaps in the take are put down to the emulator; more is the box's.
    assert!(
        gaps.len() <= 3,
        "gaps in the program's sound (10 ms blocks without the tone): {gaps:?}"
    );
}

/// Silence with 1 kHz bursts (`length` frames every `every`, the first at `first`),
/// `frames` long.
fn bursts_wav(frames: u32, first: u32, every: u32, length: u32) -> Vec<u8> {
    wav(frames, |k| {
        let on = k >= first && (k - first) % every < length;
        if on { tone(k) } else { 0 }
    })
}

/// One value per frame of a lavfi graph over `file`: (pts in seconds, the frame tag `tag`).
fn lavfi_series(file: &std::path::Path, graph: &str, tag: &str) -> Vec<(f64, f64)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(graph.replace("FILE", &file.to_string_lossy()))
        .args([
            "-show_entries",
            &format!("frame=pts_time:frame_tags={tag}"),
            "-of",
            "csv=p=0",
        ])
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (t, v) = l.split_once(',')?;
            let v = if v.contains("inf") {
                -200.0
            } else {
                v.parse().ok()?
            };
            Some((t.parse().ok()?, v))
        })
        .collect()
}

/// Where `series` rises through `threshold` (its first value above it after one below).
fn onsets(series: &[(f64, f64)], threshold: f64) -> Vec<f64> {
    series
        .windows(2)
        .filter(|w| w[0].1 < threshold && w[1].1 >= threshold)
        .map(|w| w[1].0)
        .collect()
}

#[test]
fn a_cameras_picture_and_sound_stay_in_sync_through_the_box() {
    const RATE: u32 = 48_000;
    let (first, every, length, count) = (4 * RATE, 2 * RATE, RATE / 5, 12);
    let mut vm = Vm::boot(BOARD);
    let total = first + every * count + RATE;
    std::fs::write(
        vm.share.0.join("bursts.wav"),
        bursts_wav(total, first, every, length),
    )
    .unwrap();
    vm.run("v4l2-ctl -d /dev/video0 --set-dv-bt-timings index=0");
    // vivid's test-pattern control and its white and black pictures, as this kernel has them.
    let controls = vm.run("v4l2-ctl -d /dev/video0 -L");
    let control = controls
        .lines()
        .find(|l| l.trim_start().starts_with("test_pattern "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("vivid has a test_pattern control: {controls}"))
        .to_string();
    let item = |name: &str| {
        controls
            .lines()
            .find(|l| l.trim_end().ends_with(name))
            .and_then(|l| l.trim().split(':').next())
            .unwrap_or_else(|| panic!("vivid's test patterns include {name}: {controls}"))
            .to_string()
    };
    let (white, black) = (item("100% White"), item("100% Black"));
    vm.start_daemon(&one_camera(Some("hw:Loopback,1,0")));
    vm.wait_until(
        "the camera live with its sound",
        Duration::from_secs(60),
        |vm| {
            let s = vm.json("/api/v1/status");
            s["inputs"][0]["state"] == "live" && !s["inputs"][0]["audio_clock"].is_null()
        },
    );
    // Judged once the capture's clock correction holds the sound on its arrival: a start
    // under load can leave the first stamps up to its slack ahead, which the loop pulls in
    // at its 2000-ppm limit (2 ms a second).
    let settling = Instant::now();
    vm.wait_until(
        "the camera's sound held on its arrival (|offset| <= 10 ms)",
        Duration::from_secs(120),
        |vm| {
            let s = vm.json("/api/v1/status");
            s["inputs"][0]["audio_clock"]["offset_ms"]
                .as_f64()
                .is_some_and(|o| o.abs() <= 10.0)
        },
    );
    eprintln!(
        "the sound's clock settled {:.1} s after the camera went live: {}",
        settling.elapsed().as_secs_f64(),
        vm.json("/api/v1/status")["inputs"][0]["audio_clock"]
    );
    // The sound into the loopback; the flash when the card has taken each burst's first frame.
    let flash = env!("CARGO_BIN_EXE_fourcast-flash");
    vm.run(&format!(
        "(aplay -q -D hw:Loopback,0,0 /run/out/bursts.wav > /run/out/aplay.log 2>&1 &); \
         ({flash} /proc/asound/Loopback/pcm0p/sub0/status /dev/video0 {control} {white} {black} \
         {first} {every} {length} {count} > /run/out/flash.log 2>&1 &)"
    ));
    let start = Instant::now();
    let mut fetched = std::collections::BTreeSet::new();
    let mut ts = Vec::new();
    let take = Duration::from_secs_f64(f64::from(total) / f64::from(RATE) + 8.0);
    while start.elapsed() < take {
        for uri in segments_now(&vm) {
            if fetched.insert(uri.clone()) {
                ts.extend(vm.get(&format!("/hls/180p/{uri}")).body);
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!(
        "the sound's clock after the flashes: {}",
        vm.json("/api/v1/status")["inputs"][0]["audio_clock"]
    );
    let flips = std::fs::read_to_string(vm.share.0.join("flash.log")).unwrap_or_default();
    let file = vm.share.0.join("sync.ts");
    std::fs::write(&file, &ts).unwrap();
    // Brightness per picture and loudness per 5 ms of sound, on the stream's own clock.
    let luma = lavfi_series(&file, "movie=FILE,signalstats", "lavfi.signalstats.YAVG");
    let loudness = lavfi_series(
        &file,
        "amovie=FILE,asetnsamples=n=240,astats=metadata=1:reset=1",
        "lavfi.astats.Overall.RMS_level",
    );
    let flashes = onsets(&luma, 100.0);
    let tones = onsets(&loudness, -40.0);
    let offsets_ms: Vec<f64> = flashes
        .iter()
        .filter_map(|f| {
            tones
                .iter()
                .map(|t| t - f)
                .filter(|d| d.abs() < 0.8)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()))
                .map(|d| (d * 1000.0).round())
        })
        .collect();
    let mut sorted = offsets_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let frame_ms = 1000.0 / 15.0;
    eprintln!(
        "virtual board, lip sync (sound minus picture, ms, one per flash; a picture is \
         {frame_ms:.0} ms at 15 fps): {offsets_ms:?}; median {:?}; {} flashes, {} tones",
        sorted.get(sorted.len() / 2),
        flashes.len(),
        tones.len()
    );
    assert!(
        offsets_ms.len() >= 8,
        "most of the {count} flashes were found with their tone in the program \
         (flashes at {flashes:?}, tones at {tones:?})\nflips: {flips}\n{}",
        vm.daemon_log()
    );
    let median = sorted[sorted.len() / 2];
    assert!(
        median.abs() <= frame_ms,
        "sound and picture within a frame: median {median} ms of {offsets_ms:?}"
    );
    assert!(
        sorted.iter().all(|o| o.abs() <= 2.0 * frame_ms),
        "no flash more than two frames from its tone: {offsets_ms:?}"
    );
}

#[test]
fn a_usb_camera_is_asked_for_the_format_size_and_rate_the_program_needs() {
    // A vivid webcam: a list of sizes, fewer rates at the larger ones, raw only (like a
    // USB camera without MJPEG).
    let mut vm = Vm::boot(&["vivid n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0"]);
    let formats = vm.run("v4l2-ctl -d /dev/video0 --list-formats-ext | head -40");
    vm.start_daemon(&one_camera(None));
    let input = |vm: &Vm| vm.json("/api/v1/status")["inputs"][0].clone();
    vm.wait_until("the camera live", Duration::from_secs(60), |vm| {
        input(vm)["state"] == "live" && input(vm)["fps"].as_f64().unwrap_or(0.0) > 5.0
    });
    let seen = input(&vm);
    eprintln!(
        "virtual board, USB camera (vivid webcam) for a 320×180 program at 15 fps: asked for \
         {}, arriving {}×{} at {:.1} fps",
        seen["capture_format"], seen["width"], seen["height"], seen["fps"]
    );
    assert_eq!(
        seen["capture_format"], "raw 320×180 at 15 fps",
        "the smallest size that fills the program, at the lowest rate that keeps it: {seen}\n{formats}"
    );
    assert_eq!(
        (seen["width"].as_u64(), seen["height"].as_u64()),
        (Some(320), Some(180))
    );
    // Asking for MJPEG of a camera that has none is refused, naming the device and why.
    let current = vm.json("/api/v1/config");
    let mut inputs = current["config"]["inputs"].clone();
    inputs[0]["format"] = "mjpeg".into();
    let r = vm.send(
        "PATCH",
        "/api/v1/config",
        serde_json::json!({ "base_revision": current["revision"], "patch": { "inputs": inputs } })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let error = vm.wait_until("the format refused", Duration::from_secs(20), |vm| {
        input(vm)["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no MJPEG"))
    });
    let seen = input(&vm);
    eprintln!(
        "format = \"mjpeg\" on it: {} after {:.1} s",
        seen["last_error"],
        error.as_secs_f64()
    );
    assert!(
        seen["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("/dev/video0"),
        "{seen}"
    );
    assert_ne!(seen["state"], "live", "{seen}");
}

#[test]
fn a_sound_only_input_is_mixed_into_the_program_and_never_shown() {
    let mut vm = Vm::boot(BOARD);
    std::fs::write(vm.share.0.join("tone.wav"), tone_wav(90)).unwrap();
    vm.run("v4l2-ctl -d /dev/video0 --set-dv-bt-timings index=0");
    // One camera and the venue's desk through a sound card, audio following video.
    vm.start_daemon(&default_config(|c| {
        *c = fourcast_config::Config::from_toml(&one_camera(None)).unwrap();
        c.inputs.push(fourcast_config::Input::new(
            "desk",
            fourcast_config::Source::Alsa {
                device: "hw:Loopback,1,0".into(),
            },
        ));
        c.audio.follow_video = true;
    }));
    vm.run("(aplay -q -D hw:Loopback,0,0 /run/out/tone.wav > /run/out/aplay.log 2>&1 &)");
    let input = |vm: &Vm, n: usize| vm.json("/api/v1/status")["inputs"][n].clone();
    let took = vm.wait_until("the desk live and heard", Duration::from_secs(60), |vm| {
        let desk = input(vm, 1);
        desk["state"] == "live" && desk["audio"]["rms_dbfs"].as_f64().unwrap_or(-100.0) > -20.0
    });
    let (camera, desk) = (input(&vm, 0), input(&vm, 1));
    assert_eq!(desk["kind"], "alsa", "{desk}");
    assert_eq!(camera["state"], "live", "{camera}");
    // Its sound is in the program's AAC (the camera has none), while the program shows the
    // camera alone, full frame.
    let program = vm.json("/api/v1/program");
    let pcm = vm.wait_until("the tone in the program", Duration::from_secs(30), |vm| {
        let r = vm.get("/hls/180p/index.m3u8");
        if r.status != 200 {
            return false;
        }
        let playlist = media_playlist(&r.text());
        let Some(seg) = playlist.segments.last() else {
            return false;
        };
        let file = vm.share.0.join("desk.ts");
        std::fs::write(&file, vm.get(&format!("/hls/180p/{}", seg.uri)).body).unwrap();
        let out = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-i"])
            .arg(&file)
            .args(["-map", "0:a", "-ac", "1", "-f", "s16le", "-"])
            .output()
            .expect("ffmpeg decodes the program's sound");
        let samples: Vec<i16> = out
            .stdout
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let amplitude = tone_steadiness(&samples).0;
        samples.len() > 48_000 && amplitude > 3000.0
    });
    eprintln!(
        "virtual board, sound-only input (snd-aloop): live and heard {:.1} s after start, \
         its tone in the program's AAC {:.1} s later; desk level {} dBFS RMS, audio_clock {}",
        took.as_secs_f64(),
        pcm.as_secs_f64(),
        desk["audio"]["rms_dbfs"],
        desk["audio_clock"]
    );
    let shown = program.to_string();
    assert!(!shown.contains("desk"), "the desk is never a tile: {shown}");
    assert!(shown.contains("cam1"), "{shown}");
}

#[test]
fn the_go_live_button_starts_and_stops_the_uplink_to_a_real_receiver() {
    use fourcast_e2e::peers::{Capture, free_udp_port, srt_listener};
    // The cloud's SRT receiver on the host; the guest reaches the host as 10.0.2.2.
    let port = free_udp_port();
    let dir = fourcast_e2e::TempDir::new("golive");
    let capture = dir.0.join("cloud.ts");
    let mut receiver = srt_listener(port, "", &capture, None);
    let mut vm = Vm::boot(BOARD);
    let config = format!(
        "{}\n[[outputs.srt]]\nname = \"cloud\"\nenabled = false\nmode = \"caller\"\n\
         host = \"10.0.2.2\"\nport = {port}\nrung = \"180p\"\n",
        panel_config()
    );
    vm.start_daemon(&config);
    panel_buttons(&mut vm);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(receiver.captured(), 0, "nothing goes out before Go live");
    assert_eq!(vm.json("/api/v1/panel")["lamps"]["live"], false);
    // Go live: the uplink starts and the receiver gets the program.
    let pressed = Instant::now();
    let action = press(&mut vm, 59);
    vm.wait_until(
        "the receiver's first bytes",
        Duration::from_secs(30),
        |_| receiver.captured() > 0,
    );
    let reached = pressed.elapsed();
    vm.wait_until(
        "about 10 s of program at the receiver",
        Duration::from_secs(90),
        |_| receiver.captured() > 360_000,
    );
    let live_lamp = vm.json("/api/v1/panel")["lamps"]["live"].clone();
    // Go live again: it stops, and nothing more arrives.
    let action_off = press(&mut vm, 59);
    std::thread::sleep(Duration::from_secs(2));
    let after_stop = receiver.captured();
    std::thread::sleep(Duration::from_secs(4));
    let later = receiver.captured();
    receiver.interrupt();
    let got = Capture::probe(&capture);
    eprintln!(
        "virtual board, Go live button → first bytes at the host's SRT receiver {:.2} s after \
         the press ({} in all, {:.1} s of program, largest gap {:.2} s); {action} then \
         {action_off}; after the second press {} bytes more",
        reached.as_secs_f64(),
        later,
        got.duration(),
        got.largest_gap(),
        later - after_stop
    );
    assert_eq!(live_lamp, true, "the LIVE lamp is on while the uplink runs");
    assert_eq!(later, after_stop, "the second press stopped the uplink");
    assert_eq!(vm.json("/api/v1/panel")["lamps"]["live"], false);
    // Emulation stalls the guest now and then (up to about a second when the host is busy);
    // the uplink's own continuity is judged on the host by tests/tests/uplinks.rs.
    got.assert_good("the uplink's program", 320, 180, 1.5);
    let _ = receiver.log_text();
}

#[test]
fn a_bridge_chips_signal_is_read_from_its_own_node_and_a_grabbers_not_at_all() {
    // Two vivid HDMI inputs. cam1 captures video0 but reads its signal from the node named
    // like video1's (as a TC358743's timings are on its subdevice, not the CSI receiver's
    // video node); cam2 captures video1 and reads nothing but frames (a USB grabber).
    let mut vm =
        Vm::boot(&["vivid n_devs=2 node_types=0x1,0x1 num_inputs=1,1 input_types=0x3,0x3"]);
    for i in 0..2 {
        vm.run(&format!(
            "v4l2-ctl -d /dev/video{i} --set-dv-bt-timings index=0"
        ));
    }
    let name = vm
        .run("cat /sys/class/video4linux/video1/name")
        .trim()
        .to_string();
    assert!(!name.is_empty(), "video1 has a sysfs name");
    vm.start_daemon(&default_config(|c| {
        *c = fourcast_config::Config::from_toml(&small_config()).unwrap();
        c.inputs.truncate(2);
        for (i, signal) in [
            fourcast_config::SignalSource::Subdev(name.clone()),
            fourcast_config::SignalSource::Frames,
        ]
        .into_iter()
        .enumerate()
        {
            c.inputs[i].source = fourcast_config::Source::V4l2(fourcast_config::CaptureInput {
                device: format!("/dev/video{i}").into(),
                audio: None,
                format: fourcast_config::CaptureFormat::Auto,
                signal,
            });
        }
        c.scenes.clear();
    }));
    vm.wait_until("both cameras live", Duration::from_secs(90), |vm| {
        input_state(vm, "cam1") == "live" && input_state(vm, "cam2") == "live"
    });
    let config = vm.json("/api/v1/config");
    assert_eq!(
        config["config"]["inputs"][0]["signal"],
        format!("subdev:{name}"),
        "{config}"
    );
    // No signal on video1: cam1 (reading video1's node) says so, cam2 (frames only) cannot.
    vm.run("v4l2-ctl -d /dev/video1 -c dv_timings_signal_mode=1");
    let held = vm.wait_until("cam1 without signal", Duration::from_secs(10), |vm| {
        input_state(vm, "cam1") == "no-signal"
    });
    std::thread::sleep(Duration::from_secs(2));
    let grabber = input_state(&vm, "cam2");
    vm.run("v4l2-ctl -d /dev/video1 -c dv_timings_signal_mode=0");
    let back = vm.wait_until("cam1 back", Duration::from_secs(10), |vm| {
        input_state(vm, "cam1") == "live"
    });
    eprintln!(
        "virtual board, signal read from another node by its name ({name}): no-signal after \
         {:.2} s, back after {:.2} s; the frames-only input stayed {grabber}",
        held.as_secs_f64(),
        back.as_secs_f64()
    );
    assert_eq!(grabber, "live", "a frames-only input reads no timings");
    assert_eq!(input_state(&vm, "cam2"), "live");
}
