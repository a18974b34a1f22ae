//! Inputs that arrive over the network and inputs that fail: a real SRT sender (`ffmpeg`)
//! feeds a tile through the box's SRT listener; when it stops, the tile shows the input's
//! slate and the program goes on; when it comes back, so does the picture. What the
//! program shows is judged from its thumbnail (decoded by `ffmpeg`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fourcast_config::{Input, Layout, Pattern, Source};
use fourcast_e2e::peers::{free_udp_port, require};
use fourcast_e2e::{Daemon, default_config, show_pattern};

/// The program thumbnail's pixel at (x, y) in fractions of the frame, as RGB.
pub fn program_pixel(d: &Daemon, x: f64, y: f64) -> [u8; 3] {
    let rgb = program_rgb(d);
    let (px, py) = ((x * 320.0) as usize, (y * 180.0) as usize);
    let i = (py * 320 + px) * 3;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

/// The brightest luma-ish value (max of R, G, B) in a region, fractions of the frame.
fn brightest(d: &Daemon, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> u8 {
    let rgb = program_rgb(d);
    let mut max = 0;
    for y in (y0 * 180.0) as usize..(y1 * 180.0) as usize {
        for x in (x0 * 320.0) as usize..(x1 * 320.0) as usize {
            let i = (y * 320 + x) * 3;
            max = max.max(rgb[i]).max(rgb[i + 1]).max(rgb[i + 2]);
        }
    }
    max
}

/// The program thumbnail as 320×180 RGB.
fn program_rgb(d: &Daemon) -> Vec<u8> {
    let jpeg = d.get("/api/v1/program/thumbnail.jpg").body;
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "jpeg_pipe",
            "-i",
            "-",
        ])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "320x180", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&jpeg).expect("feed the JPEG");
    }
    let out = child.wait_with_output().expect("ffmpeg output");
    assert_eq!(out.stdout.len(), 320 * 180 * 3, "a 320×180 RGB picture");
    out.stdout
}

fn is_blue([r, g, b]: [u8; 3]) -> bool {
    b > 160 && r < 80 && g < 80
}

/// The slate's dark grey (#26262a), away from its text.
fn is_slate([r, g, b]: [u8; 3]) -> bool {
    [r, g, b].iter().all(|v| (20..=60).contains(v))
}

/// `ffmpeg` sending a blue picture and a tone as MPEG-TS to the box's SRT listener.
fn srt_sender(port: u16, query: &str) -> Child {
    let url = format!("srt://127.0.0.1:{port}?{query}");
    ffmpeg_sender(
        "blue:s=640x360",
        "660:sample_rate=48000",
        None,
        "mpegts",
        &url,
    )
}

/// `ffmpeg` sending a test picture (`colour`, lavfi `color` options) and a tone (lavfi
/// `sine` options) as H.264/AAC in `format` to `url`, for `seconds` or until killed.
fn ffmpeg_sender(colour: &str, tone: &str, seconds: Option<u32>, format: &str, url: &str) -> Child {
    require("ffmpeg", "ffmpeg");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", &format!("color=c={colour}:r=25")])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency={tone}")]);
    if let Some(s) = seconds {
        cmd.args(["-t", &s.to_string()]);
    }
    cmd.args([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
    ])
    .args([
        "-g", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", format, url,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("ffmpeg starts")
}

fn input<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["inputs"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no input {name} in {status}"))
}

/// Polls the program thumbnail until `want` holds at (x, y); returns how long it took.
fn until_pixel(d: &Daemon, what: &str, x: f64, y: f64, want: fn([u8; 3]) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let px = program_pixel(d, x, y);
        if want(px) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: the program still shows {px:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const PASSPHRASE: &str = "stage-left-2026";

fn srt_config(port: u16) -> String {
    default_config(|c| {
        let mut remote = Input::srt("cam2", port, PASSPHRASE);
        remote.label = Some("CAM 2".into());
        if let Source::Srt(srt) = &mut remote.source {
            srt.streamid = Some("stage-left".into());
        }
        c.inputs[1] = remote;
        show_pattern(&mut c.inputs[0], Pattern::Red);
        c.program.layout = Layout::Single;
        c.program.inputs = vec!["cam2".into()];
        c.multiview.fps = 10;
        c.scenes.clear();
    })
    // `to_toml` redacts secrets: put the passphrase back.
    .replace(
        "passphrase = \"***\"",
        &format!("passphrase = \"{PASSPHRASE}\""),
    )
}

/// Waits until input `name`'s audio meter reads above -60 dBFS. Audio is metered over a
/// window, so it may trail the input's first pictures by a moment.
fn until_audio(d: &mut Daemon, name: &str) {
    d.wait_until(&format!("{name}'s audio"), Duration::from_secs(10), |d| {
        input(&d.status(), name)["audio"]["rms_dbfs"]
            .as_f64()
            .unwrap_or(-200.0)
            > -60.0
    });
}

#[test]
fn an_srt_input_shows_its_slate_when_the_sender_stops_and_comes_back_by_itself() {
    let port = free_udp_port();
    let mut d = Daemon::start(Some(&srt_config(port)));
    // Nothing sends yet: the tile shows the slate, the program runs.
    until_pixel(&d, "slate before any sender", 0.5, 0.2, is_slate);
    assert_eq!(input(&d.status(), "cam2")["state"], "no-signal");

    // Senders with the wrong passphrase or stream id are refused.
    for (query, what) in [
        (
            "passphrase=not-the-passphrase&streamid=stage-left",
            "passphrase",
        ),
        (
            &format!("passphrase={PASSPHRASE}&streamid=somebody-else") as &str,
            "stream id",
        ),
    ] {
        let mut wrong = srt_sender(port, query);
        std::thread::sleep(Duration::from_secs(3));
        let px = program_pixel(&d, 0.5, 0.2);
        assert!(
            is_slate(px),
            "a wrong {what} got on air: {px:?}\n{}",
            d.log()
        );
        let _ = wrong.kill();
        let _ = wrong.wait();
    }

    let good = format!("passphrase={PASSPHRASE}&streamid=stage-left");
    let mut sender = srt_sender(port, &good);
    let first = until_pixel(&d, "the sender's picture", 0.5, 0.2, is_blue);
    d.wait_until("cam2 live", Duration::from_secs(10), |d| {
        input(&d.status(), "cam2")["state"] == "live"
    });
    let s = d.status();
    let cam2 = input(&s, "cam2");
    assert_eq!(
        (cam2["width"].as_u64(), cam2["height"].as_u64()),
        (Some(640), Some(360))
    );
    until_audio(&mut d, "cam2");
    let s = d.status();
    let dropped_before = s["program"]["dropped_frames"].as_u64().unwrap_or(0);
    let frames_before = s["program"]["frames"].as_u64().unwrap_or(0);

    // The sender goes away: slate within a second, the program does not stop.
    let _ = sender.kill();
    let _ = sender.wait();
    let to_slate = until_pixel(&d, "the slate after the sender stopped", 0.5, 0.2, is_slate);
    d.wait_until("cam2 no-signal", Duration::from_secs(5), |d| {
        input(&d.status(), "cam2")["state"] == "no-signal"
    });

    // Back by itself when the sender returns.
    std::thread::sleep(Duration::from_secs(1));
    let mut sender = srt_sender(port, &good);
    let back = until_pixel(
        &d,
        "the picture after the sender came back",
        0.5,
        0.2,
        is_blue,
    );
    let _ = sender.kill();
    let _ = sender.wait();

    let s = d.status();
    let frames_after = s["program"]["frames"].as_u64().unwrap_or(0);
    assert_eq!(
        s["program"]["dropped_frames"].as_u64().unwrap_or(0),
        dropped_before,
        "the program lost frames while the input failed"
    );
    assert!(frames_after > frames_before + 50, "the program stalled");
    println!(
        "SRT input: first picture {:.2} s after the sender started; slate {:.2} s after it \
         stopped; picture back {:.2} s after it restarted (thumbnails at 10/s)",
        first.as_secs_f64(),
        to_slate.as_secs_f64(),
        back.as_secs_f64()
    );
    assert!(
        to_slate <= Duration::from_millis(1500),
        "the slate took {to_slate:?} (1 s asked, plus a thumbnail period)"
    );
    assert!(
        back <= Duration::from_secs(4),
        "the picture took {back:?} to come back"
    );
}

/// A PNG: a 64×32 block, its left half opaque red, its right half fully transparent.
fn write_logo(path: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args([
            "-i",
            "color=c=red:s=64x32,format=rgba,geq=r=255:g=0:b=0:a='if(lt(X,32),255,0)'",
        ])
        .args(["-frames:v", "1"])
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg wrote the logo");
}

#[test]
fn logo_and_lower_third_are_painted_shown_and_hidden_and_a_bad_logo_is_refused() {
    let dir = fourcast_e2e::TempDir::new("overlay");
    let logo = dir.0.join("logo.png");
    write_logo(&logo);
    let not_png = dir.0.join("logo-not.png");
    std::fs::write(&not_png, "this is not an image").expect("write");
    let config = default_config(|c| {
        for i in &mut c.inputs {
            show_pattern(i, Pattern::Black);
        }
        c.program.layout = Layout::Single;
        c.multiview.fps = 10;
        let (w, h) = (c.program.width, c.program.height);
        c.overlays.logo = Some(fourcast_config::Logo {
            path: logo.clone(),
            // Top right, 1/8 of the width.
            x: w - w / 8 - w / 20,
            y: h / 20,
            width: w / 8,
            opacity: 1.0,
            visible: true,
        });
        c.overlays.lower_third = Some(fourcast_config::LowerThird {
            title: "Ada Lovelace".into(),
            subtitle: "Analyst".into(),
            size: 0,
            text_color: "#ffffff".into(),
            background: "#c01010".into(),
            background_opacity: 1.0,
            fade_ms: 300,
            visible: false,
        });
        c.scenes = vec![fourcast_config::Scene {
            name: "speaker".into(),
            layout: Layout::Single,
            inputs: Vec::new(),
            pip: Default::default(),
            overlays: Some(vec!["lower_third".into(), "logo".into()]),
        }];
        c.overlays.clock = Some(fourcast_config::Clock {
            mode: fourcast_config::ClockMode::Timecode,
            format: "%H:%M:%S".into(),
            corner: fourcast_config::Corner::BottomLeft,
            visible: false,
        });
    });
    let mut d = Daemon::start(Some(&config));
    let red = |[r, g, b]: [u8; 3]| r > 150 && g < 80 && b < 80;
    let black = |[r, g, b]: [u8; 3]| r < 50 && g < 50 && b < 50;
    // The logo's opaque half is red; its transparent half shows the black program.
    let logo_x = 1.0 - 1.0 / 8.0 - 1.0 / 20.0;
    until_pixel(&d, "the logo's opaque half", logo_x + 1.0 / 32.0, 0.06, red);
    assert!(
        black(program_pixel(&d, logo_x + 3.0 / 32.0, 0.06)),
        "its transparent half"
    );
    // The lower third: hidden at start, then shown (fading in), then hidden.
    let band = (0.65, 0.8);
    assert!(
        black(program_pixel(&d, band.0, band.1)),
        "the lower third starts hidden"
    );
    let r = d.request("POST", "/api/v1/overlays/lower_third/show", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    until_pixel(&d, "the lower third shown", band.0, band.1, red);
    let r = d.request("POST", "/api/v1/overlays/lower_third/hide", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    until_pixel(&d, "the lower third hidden", band.0, band.1, black);
    // A scene shows it without changing the config; hiding it then hides it, although
    // the config already said hidden.
    let r = d.send(
        "POST",
        "/api/v1/program/take",
        &[("Content-Type", "application/json")],
        br#"{"scene":"speaker"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    until_pixel(
        &d,
        "the lower third shown by the scene",
        band.0,
        band.1,
        red,
    );
    let r = d.request("POST", "/api/v1/overlays/lower_third/hide", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    until_pixel(&d, "the lower third hidden again", band.0, band.1, black);
    // The timecode: bottom left, where nothing else is drawn.
    let corner = ((0.0, 0.88), (0.3, 1.0));
    assert!(
        brightest(&d, corner.0, corner.1) < 60,
        "the clock starts hidden"
    );
    let r = d.request("POST", "/api/v1/overlays/clock/show", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    d.wait_until("the timecode drawn", Duration::from_secs(10), |d| {
        brightest(d, corner.0, corner.1) > 180
    });
    let r = d.request("POST", "/api/v1/overlays/clock/hide", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    d.wait_until("the timecode hidden", Duration::from_secs(10), |d| {
        brightest(d, corner.0, corner.1) < 60
    });
    let r = d.request("POST", "/api/v1/overlays/logo/hide", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    until_pixel(&d, "the logo hidden", logo_x + 1.0 / 32.0, 0.06, black);
    // An overlay that is not configured, and an unknown action.
    let r = d.request("POST", "/api/v1/overlays/sparkles/show", &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    let r = d.request("POST", "/api/v1/overlays/logo/blink", &[]);
    assert_eq!(r.status, 404, "{}", r.text());

    // A logo that is not an image: refused naming the field; nothing changes.
    let before = d.json("/api/v1/config");
    let patch = serde_json::json!({
        "base_revision": before["revision"],
        "patch": { "overlays": { "logo": { "path": not_png, "visible": true } } }
    });
    let r = d.send(
        "PATCH",
        "/api/v1/config",
        &[("Content-Type", "application/json")],
        patch.to_string().as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("overlays.logo.path"), "{}", r.text());
    assert!(r.text().contains("not a PNG"), "{}", r.text());
    let after = d.json("/api/v1/config");
    assert_eq!(after["revision"], before["revision"]);
    assert_eq!(
        d.status()["program"]["builds"],
        1,
        "the program was not rebuilt"
    );
}

/// `ffmpeg` publishing a green picture and a tone over RTMP.
fn rtmp_publisher(url: &str, seconds: u32) -> Child {
    ffmpeg_sender(
        "green:s=480x270",
        "880:sample_rate=44100",
        Some(seconds),
        "flv",
        url,
    )
}

fn is_green([r, g, b]: [u8; 3]) -> bool {
    g > 90 && r < 80 && b < 80
}

#[test]
fn an_rtmp_publisher_becomes_an_input_and_wrong_keys_and_garbage_are_refused() {
    use std::io::Write;
    let port = fourcast_e2e::free_port();
    const KEY: &str = "phone-7f3a9c";
    let config = default_config(|c| {
        c.inputs[2] = Input::rtmp("phone", KEY);
        c.program.layout = Layout::Single;
        c.program.inputs = vec!["phone".into()];
        c.ingest.rtmp_listen = format!("127.0.0.1:{port}");
        c.multiview.fps = 10;
        c.scenes.clear();
    })
    .replace("key = \"***\"", &format!("key = \"{KEY}\""));
    let mut d = Daemon::start(Some(&config));
    until_pixel(&d, "the phone's slate", 0.5, 0.2, is_slate);
    d.wait_until("the ingest server listens", Duration::from_secs(10), |_| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // A wrong key: ffmpeg is refused and the tile keeps its slate.
    let wrong = rtmp_publisher(&format!("rtmp://127.0.0.1:{port}/live/not-the-key"), 5);
    let out = wrong.wait_with_output().expect("ffmpeg ends");
    assert!(!out.status.success(), "a wrong key was accepted");
    assert!(is_slate(program_pixel(&d, 0.5, 0.2)));

    // Garbage, a handshake cut off, a session that stops mid-message: none of it harms
    // the box or the program.
    let before = d.status();
    let frames_before = before["program"]["frames"].as_u64().unwrap_or(0);
    for junk in [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![3u8; 700],
        {
            let mut v = vec![3u8];
            v.extend(std::iter::repeat_n(0u8, 1536));
            v.extend([0xffu8; 200]);
            v
        },
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = s.write_all(&junk);
        drop(s);
    }
    std::thread::sleep(Duration::from_secs(1));

    // Eight keyless peers from one address, a byte every 2 s (they used to hold every
    // session and lock the publisher out): two get a place, for 10 s at most.
    let trickle_started = std::time::Instant::now();
    let tricklers: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let source = std::net::Ipv4Addr::new(127, 0, 0, 2);
                let Ok(mut s) = fourcast_e2e::connect_from(source, port) else {
                    return Duration::ZERO;
                };
                let started = std::time::Instant::now();
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut b = [0u8; 64];
                while started.elapsed() < Duration::from_secs(30) {
                    if s.write_all(&[3]).is_err() {
                        break;
                    }
                    match std::io::Read::read(&mut s, &mut b) {
                        Ok(0) => break,
                        Err(e)
                            if e.kind() != std::io::ErrorKind::WouldBlock
                                && e.kind() != std::io::ErrorKind::TimedOut =>
                        {
                            break;
                        }
                        _ => {}
                    }
                }
                started.elapsed()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    // The right key: the phone's picture in its tile, its audio on the meters.
    let mut publisher = rtmp_publisher(&format!("rtmp://127.0.0.1:{port}/live/{KEY}"), 30);
    let shown = until_pixel(&d, "the phone's picture", 0.5, 0.2, is_green);
    d.wait_until("phone live", Duration::from_secs(10), |d| {
        input(&d.status(), "phone")["state"] == "live"
    });
    let s = d.status();
    let phone = input(&s, "phone");
    assert_eq!(
        (phone["width"].as_u64(), phone["height"].as_u64()),
        (Some(480), Some(270))
    );
    until_audio(&mut d, "phone");
    let held: Vec<Duration> = tricklers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        held.iter().all(|h| *h < Duration::from_secs(16)),
        "keyless peers held their places for {held:?} (the box gives 10 s)"
    );
    println!(
        "RTMP strangers closed after {held:?} ({} s into the attack)",
        trickle_started.elapsed().as_secs()
    );
    // A second publisher on the same key while the first publishes is refused.
    let second = rtmp_publisher(&format!("rtmp://127.0.0.1:{port}/live/{KEY}"), 3);
    let out = second.wait_with_output().expect("ffmpeg ends");
    assert!(!out.status.success(), "two publishers on one key");
    assert!(is_green(program_pixel(&d, 0.5, 0.2)));

    // The publisher stops: slate; the program never stopped.
    let _ = publisher.kill();
    let _ = publisher.wait();
    until_pixel(&d, "the slate after the publisher left", 0.5, 0.2, is_slate);
    let s = d.status();
    assert_eq!(
        s["program"]["dropped_frames"], before["program"]["dropped_frames"],
        "{}",
        s["program"]
    );
    assert!(s["program"]["frames"].as_u64().unwrap_or(0) > frames_before + 60);
    let log = d.log();
    assert!(!log.contains(KEY), "the stream key leaked into the log");
    println!(
        "RTMP ingest: picture {:.2} s after ffmpeg started",
        shown.as_secs_f64()
    );
}

/// An H.264 clip made by ffmpeg from a lavfi `video` source, with a 2-s tone if `audio`.
fn make_clip(path: &Path, video: &str, audio: bool) {
    make_clip_in(path, video, audio, "libx264");
}

/// A clip of `video` (lavfi) encoded with ffmpeg's `codec`.
fn make_clip_in(path: &Path, video: &str, audio: bool, codec: &str) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", video]);
    if audio {
        cmd.args(["-f", "lavfi", "-i", "sine=frequency=500:duration=2"])
            .args(["-c:a", "aac", "-shortest"]);
    }
    cmd.args(["-c:v", codec, "-pix_fmt", "yuv420p"]);
    if codec == "libx264" {
        cmd.args(["-preset", "ultrafast"]);
    }
    cmd.arg(path);
    assert!(
        cmd.status().expect("ffmpeg runs").success(),
        "ffmpeg made no {video}"
    );
}

#[test]
fn a_file_played_once_ends_on_its_slate_and_a_looped_one_keeps_playing() {
    let dir = fourcast_e2e::TempDir::new("clip");
    let clip = dir.0.join("clip.mp4");
    make_clip(&clip, "color=c=blue:s=320x180:r=25:d=2", true);
    let broken = dir.0.join("broken.mp4");
    std::fs::write(&broken, vec![0x42u8; 4096]).expect("write");
    // Larger than 4K: refused before it is decoded (two frames are enough to say so).
    let huge = dir.0.join("huge.mp4");
    make_clip(&huge, "color=c=red:s=4224x2376:r=25:d=0.08", false);
    let config = default_config(|c| {
        c.inputs[2] = Input::file("broken", &broken);
        c.inputs[3] = Input::file("huge", &huge);
        c.inputs[0] = Input::new(
            "once",
            Source::File {
                path: clip.clone(),
                looped: false,
            },
        );
        c.inputs[1] = Input::file("looped", &clip);
        c.program.layout = Layout::Single;
        c.program.inputs = vec!["once".into()];
        c.multiview.fps = 10;
        c.scenes.clear();
    });
    let mut d = Daemon::start(Some(&config));
    until_pixel(&d, "the clip", 0.5, 0.5, is_blue);
    let dropped_at_start = d.status()["program"]["dropped_frames"].clone();
    d.wait_until(
        "the clip played once has ended",
        Duration::from_secs(15),
        |d| input(&d.status(), "once")["state"] == "ended",
    );
    until_pixel(&d, "the slate after the clip ended", 0.5, 0.2, is_slate);
    std::thread::sleep(Duration::from_secs(3));
    let s = d.status();
    assert_eq!(
        input(&s, "looped")["state"],
        "live",
        "the looped clip stopped: {s}"
    );
    assert_eq!(input(&s, "once")["state"], "ended");
    // A file that does not decode: retried with backoff, its error in the status.
    d.wait_until("the broken file retrying", Duration::from_secs(10), |d| {
        input(&d.status(), "broken")["state"] == "retrying"
    });
    let s = d.status();
    let error = input(&s, "broken")["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!error.is_empty(), "no last_error: {s}");
    let error = input(&s, "huge")["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("4224×2376") && error.contains("4096×2160"),
        "a picture over 4K: {s}"
    );
    assert_eq!(s["program"]["dropped_frames"], dropped_at_start);
}

/// A codec outside the allow-list (FFV1, which GStreamer could decode) is refused before a
/// decoder is plugged, with a message naming it; the other inputs carry on.
#[test]
fn a_codec_outside_the_allow_list_is_refused() {
    let dir = fourcast_e2e::TempDir::new("codec");
    let clip = dir.0.join("archive.mkv");
    make_clip_in(&clip, "color=c=green:s=320x180:r=25:d=1", false, "ffv1");
    let config = default_config(|c| {
        c.inputs[3] = Input::file("cam4", &clip);
    });
    let mut d = Daemon::start(Some(&config));
    d.wait_until("the FFV1 file refused", Duration::from_secs(20), |d| {
        input(&d.status(), "cam4")["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("video/x-ffv"))
    });
    let s = d.status();
    let error = input(&s, "cam4")["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("the box decodes H.264"), "{error}");
    d.wait_until("the other cameras live", Duration::from_secs(20), |d| {
        input(&d.status(), "cam1")["state"] == "live"
    });
}
