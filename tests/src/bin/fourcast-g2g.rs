//! Glass-to-glass latency to an SRT receiver on loopback.
//!
//! Runs `fourcastd` with `FOURCAST_LATENCY_STAMP=1` (every program frame carries the
//! wall-clock time it was mixed, painted as blocks in its corner) and an SRT caller
//! destination to an `ffmpeg` SRT listener that decodes the stream and hands this program
//! the top rows of every frame. Latency = the time a frame is decoded here − the time
//! painted in it: mixing → encode → mux → SRT (its latency buffer included) → decode.
//! Camera capture is not in it (there is no camera here).
//!
//! The receiver is part of the path: `--receiver gst` (the default) decodes with GStreamer
//! and hands a frame over as soon as it is decoded; `--receiver ffmpeg` runs the ffmpeg 5.1
//! command line with its low-delay flags, which holds each frame about 65 ms longer (same
//! box, same second: 220 against 285 ms at 120-ms SRT latency on the development machine).
//!
//! With `--stages`, GStreamer's own latency tracer runs in the daemon too, and the time each
//! element holds a frame (median and p95, ms) is printed after the figure: where the box's
//! share goes. The tracer costs a little, so the figure of a `--stages` run is not the
//! reference one.
//!
//! `fourcast-g2g [--fourcastd PATH] [--seconds N] [--rung NAME] [--srt-latency MS] [--receiver gst|ffmpeg] [--stages]`

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fourcast_e2e::peers::free_udp_port;
use fourcast_e2e::{TempDir, config_with, free_port, http_get};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn main() {
    let bin = arg("--fourcastd", "target/release/fourcastd");
    let seconds: u64 = arg("--seconds", "20").parse().expect("--seconds N");
    let rung = arg("--rung", "720p");
    let srt_latency = arg("--srt-latency", "120");
    let base = fourcast_config::default_for_board("virtual").expect("virtual board");
    let program_width = base.program.width as usize;
    let width = base
        .rung(&rung)
        .unwrap_or_else(|| panic!("no rung {rung}"))
        .width as usize;
    let tmp = TempDir::new("g2g");
    let port = free_udp_port();
    let http = free_port();

    let rows = 32usize;
    let height = base.rung(&rung).map(|r| r.height as usize).unwrap_or(rows);
    let srt_ms: u64 = srt_latency.parse().expect("--srt-latency MS");
    let receiver = arg("--receiver", "gst");
    let mut rx = match receiver.as_str() {
        "ffmpeg" => ffmpeg_receiver(port, srt_ms, rows),
        "gst" => gst_receiver(port, srt_ms, rows, height),
        other => panic!("--receiver {other}: ffmpeg or gst"),
    }
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap_or_else(|e| panic!("the {receiver} receiver: {e} (make test-deps installs it)"));
    std::thread::sleep(Duration::from_millis(300));

    let config = config_with(&format!(
        "[[outputs.srt]]\nname = \"g2g\"\nmode = \"caller\"\nhost = \"127.0.0.1\"\nport = {port}\nlatency_ms = {srt_latency}\nrung = \"{rung}\"\n"
    ));
    let config_file = tmp.0.join("fourcast.toml");
    std::fs::write(&config_file, config).expect("config");
    let stages = std::env::args().any(|a| a == "--stages");
    let trace = tmp.0.join("trace.log");
    let mut daemon = Command::new(&bin);
    if stages {
        daemon
            .env("GST_TRACERS", "latency(flags=pipeline+element)")
            .env("GST_DEBUG", "GST_TRACER:7")
            .env("GST_DEBUG_NO_COLOR", "1")
            .env("GST_DEBUG_FILE", &trace);
    }
    let mut daemon = daemon
        .arg("run")
        .arg("--config")
        .arg(&config_file)
        .arg("--data-dir")
        .arg(tmp.0.join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{http}"))
        .env("FOURCAST_LATENCY_STAMP", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (build it: cargo build --release -p fourcastd)"));

    // Frames are read on their own thread, so a stream that never comes cannot hang this.
    let mut out = rx.stdout.take().expect("ffmpeg stdout");
    let (tx, frames) = std::sync::mpsc::sync_channel::<(u64, Vec<u8>)>(64);
    std::thread::spawn(move || {
        loop {
            let mut frame = vec![0u8; width * rows];
            if out.read_exact(&mut frame).is_err() || tx.send((now_ms(), frame)).is_err() {
                return;
            }
        }
    });
    let scale = width as f64 / program_width as f64;
    let start = Instant::now();
    let warmup = Duration::from_secs(5);
    let mut samples = Vec::new();
    let mut unread = 0;
    while start.elapsed() < warmup + Duration::from_secs(seconds) {
        let Ok((arrived, frame)) = frames.recv_timeout(Duration::from_secs(30)) else {
            eprintln!("no frames for 30 s: is {bin} built and does ffmpeg receive?");
            break;
        };
        match fourcast_engine::stamp::read(&frame, width, scale) {
            Some(ms) if start.elapsed() > warmup => samples.push(arrived.saturating_sub(ms)),
            Some(_) => {}
            None => unread += 1,
        }
    }
    let _ = http_get(http, "/api/v1/status");
    let _ = daemon.kill();
    let _ = rx.kill();
    let _ = daemon.wait();
    let _ = rx.wait();

    assert!(
        !samples.is_empty(),
        "no stamped frames arrived ({unread} unreadable)"
    );
    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "glass-to-glass ({rung}, SRT latency {srt_latency} ms, loopback, {receiver} receiver): frames {} | min {} ms | median {} ms | p95 {} ms | max {} ms | unreadable {unread}",
        samples.len(),
        samples[0],
        pct(0.5),
        pct(0.95),
        samples[samples.len() - 1]
    );
    let json = format!(
        "{{\"rung\":\"{rung}\",\"receiver\":\"{receiver}\",\"srt_latency_ms\":{srt_latency},\"frames\":{},\"min_ms\":{},\"median_ms\":{},\"p95_ms\":{},\"max_ms\":{}}}\n",
        samples.len(),
        samples[0],
        pct(0.5),
        pct(0.95),
        samples[samples.len() - 1]
    );
    if stages {
        print_stages(&std::fs::read_to_string(&trace).unwrap_or_default());
    }
    let dir = std::path::Path::new("target/bench");
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("g2g-{receiver}.json")), json);
    }
}

/// ffmpeg as a player would run it for low delay: an SRT listener, one decoding thread, no
/// input buffering; the top `rows` of each frame in grey on stdout.
fn ffmpeg_receiver(port: u16, srt_ms: u64, rows: usize) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-loglevel", "error", "-threads", "1"])
        .args(["-fflags", "nobuffer", "-flags", "low_delay"])
        .args(["-analyzeduration", "500000", "-i"])
        .arg(format!(
            "srt://127.0.0.1:{port}?mode=listener&latency={}",
            srt_ms * 1000
        ))
        .args(["-an", "-vf", &format!("crop=iw:{rows}:0:0,format=gray")])
        .args(["-f", "rawvideo", "pipe:1"]);
    c
}

/// The same with GStreamer: `srtsrc` → `tsdemux` → `avdec_h264` (one thread) and no clock
/// sync, so a frame leaves as soon as it is decoded.
fn gst_receiver(port: u16, srt_ms: u64, rows: usize, height: usize) -> Command {
    let mut c = Command::new("gst-launch-1.0");
    c.arg("-q").args(
        format!(
            "srtsrc uri=srt://127.0.0.1:{port}?mode=listener latency={srt_ms} ! tsdemux latency=0 ! \
             h264parse ! avdec_h264 max-threads=1 ! videocrop bottom={} ! videoconvert ! \
             video/x-raw,format=GRAY8 ! fdsink fd=1 sync=false",
            height.saturating_sub(rows)
        )
        .split_whitespace(),
    );
    c
}

/// The latency tracer's records: per element (`element-latency`), the time from a buffer
/// entering it to leaving it; per pipeline (`latency`), from its source to its sink.
/// Printed slowest first, with how many buffers were seen.
fn print_stages(trace: &str) {
    let field = |line: &str, name: &str| -> Option<String> {
        let at = line.find(&format!("{name}=("))?;
        let rest = &line[at..];
        let value = &rest[rest.find(')')? + 1..];
        Some(
            value
                .split([',', ';'])
                .next()?
                .trim()
                .trim_matches('"')
                .to_string(),
        )
    };
    let mut by_element: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for line in trace.lines() {
        // `element-latency`: one element; `latency`: a pipeline, source to sink.
        let name = if line.contains(" element-latency,") {
            field(line, "element")
        } else if line.contains(" latency, ") {
            field(line, "src-element")
                .zip(field(line, "sink-element"))
                .map(|(src, sink)| format!("{src} → {sink}"))
        } else {
            None
        };
        if let (Some(name), Some(Ok(ns))) = (name, field(line, "time").map(|t| t.parse::<u64>())) {
            by_element.entry(name).or_default().push(ns);
        }
    }
    if by_element.is_empty() {
        println!("stages: the latency tracer wrote nothing (is GStreamer's tracing built in?)");
        return;
    }
    let mut rows: Vec<(String, f64, f64, usize)> = by_element
        .into_iter()
        .map(|(element, mut ns)| {
            ns.sort_unstable();
            let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
            (element, at(0.5), at(0.95), ns.len())
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("stages (GStreamer latency tracer, time each element holds a buffer):");
    for (element, median, p95, n) in rows.iter().filter(|r| r.1 >= 0.5) {
        println!("  {element:<44} median {median:7.1} ms | p95 {p95:7.1} ms | {n} buffers");
    }
}
