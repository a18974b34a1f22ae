//! Live switching: layouts and scenes taken over the API while the box runs. The program
//! (its smallest HLS rung) is decoded afterwards and every frame is classified by the
//! colours at a few points: each of 20 takes must show up, in order, as commanded; no
//! frame may be missing (timestamps continuous), black or half-switched.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fourcast_config::Pattern;
use fourcast_e2e::{Daemon, default_config};

/// The four cameras' colours, in input order (cam1…cam4).
const COLOURS: [Colour; 4] = [Colour::Red, Colour::Green, Colour::Blue, Colour::White];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    Red,
    Green,
    Blue,
    White,
    Black,
    /// Anything else: a blend, or a picture that is none of the above.
    Other,
}

fn classify([r, g, b]: [u8; 3]) -> Colour {
    let hi = |v: u8| v > 180;
    let lo = |v: u8| v < 70;
    match (r, g, b) {
        _ if hi(r) && lo(g) && lo(b) => Colour::Red,
        _ if lo(r) && hi(g) && lo(b) => Colour::Green,
        _ if lo(r) && lo(g) && hi(b) => Colour::Blue,
        _ if hi(r) && hi(g) && hi(b) => Colour::White,
        _ if lo(r) && lo(g) && lo(b) => Colour::Black,
        _ => Colour::Other,
    }
}

/// Points (fractions of the frame) where a shot's colours are read, away from the labels
/// (top left of each camera) and clocks (bottom right).
const POINTS: [(f64, f64); 5] = [
    (0.30, 0.40), // left half / top-left cell / main picture
    (0.70, 0.40), // right half / top-right cell
    (0.30, 0.70), // bottom-left cell
    (0.60, 0.70), // bottom-right cell
    (0.80, 0.80), // the PiP inset (bottom right, 30 % wide)
];

struct Shot {
    body: String,
    expect: [Colour; 5],
}

fn cam(n: usize) -> Colour {
    COLOURS[n - 1]
}

/// The takes, with what each must look like at `POINTS`.
fn takes() -> Vec<Shot> {
    use Colour::*;
    let single = |n: usize| Shot {
        body: format!(r#"{{"layout":"single","inputs":["cam{n}"]}}"#),
        expect: [cam(n); 5],
    };
    let two = |a: usize, b: usize| Shot {
        // Side by side: two 16:9 pictures letterboxed in the middle half of the height.
        body: format!(r#"{{"layout":"side-by-side","inputs":["cam{a}","cam{b}"]}}"#),
        expect: [cam(a), cam(b), cam(a), cam(b), Black],
    };
    let grid = |o: [usize; 4]| Shot {
        body: format!(
            r#"{{"layout":"grid","inputs":["cam{}","cam{}","cam{}","cam{}"]}}"#,
            o[0], o[1], o[2], o[3]
        ),
        expect: [cam(o[0]), cam(o[1]), cam(o[2]), cam(o[3]), cam(o[3])],
    };
    let pip = |a: usize, b: usize| Shot {
        body: format!(r#"{{"layout":"pip","inputs":["cam{a}","cam{b}"]}}"#),
        expect: [cam(a), cam(a), cam(a), cam(a), cam(b)],
    };
    vec![
        single(1),
        grid([1, 2, 3, 4]),
        two(2, 3),
        pip(1, 3),
        single(4),
        grid([4, 3, 2, 1]),
        two(1, 4),
        single(2),
        pip(4, 2),
        grid([2, 1, 4, 3]),
        single(3),
        two(3, 1),
        pip(2, 4),
        single(1),
        grid([3, 4, 1, 2]),
        two(4, 2),
        single(4),
        pip(3, 1),
        Shot {
            body: r#"{"scene":"all"}"#.into(),
            expect: [cam(1), cam(2), cam(3), cam(4), cam(4)],
        },
        single(2),
    ]
}

fn config() -> String {
    default_config(|c| {
        for (input, pattern) in
            c.inputs
                .iter_mut()
                .zip([Pattern::Red, Pattern::Green, Pattern::Blue, Pattern::White])
        {
            fourcast_e2e::show_pattern(input, pattern);
        }
        // Keep a minute of segments, so the whole run can be decoded afterwards.
        c.outputs.hls.window = 30;
    })
}

#[test]
fn twenty_takes_land_whole_in_order_with_no_missing_or_black_frame() {
    let mut d = Daemon::start(Some(&config()));
    let rung = smallest_rung(&d);
    d.wait_until("first segments", Duration::from_secs(40), |d| {
        segments(d, &rung).len() >= 2
    });
    let before = d.status()["program"]["dropped_frames"].as_u64();

    let shots = takes();
    let mut latencies = Vec::new();
    for shot in &shots {
        let r = d.send(
            "POST",
            "/api/v1/program/take",
            &[("Content-Type", "application/json")],
            shot.body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}: {}", shot.body, r.text());
        std::thread::sleep(Duration::from_millis(700));
        let program = d.json("/api/v1/program");
        if let Some(ms) = program["last_switch_ms"].as_f64() {
            latencies.push(ms);
        }
    }
    latencies.sort_by(f64::total_cmp);
    eprintln!(
        "switch latency (take → first program frame painted), {} takes: median {:.1} ms, max {:.1} ms",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    assert_eq!(latencies.len(), shots.len(), "every take reached a frame");

    // Let the last take reach a closed segment, then decode everything since the start.
    std::thread::sleep(Duration::from_secs(5));
    let files = segments(&d, &rung);
    let (pts, frames) = decode(&files);
    assert!(frames.len() > 400, "{} frames decoded", frames.len());

    // No missing frame: timestamps continuous at 30 fps across every take. The first second
    // is the box starting up, long before the first take (which waits for two segments):
    // it is not what this test judges.
    for w in pts.windows(2).skip(30) {
        let step = w[1] - w[0];
        assert!(
            (step - 1.0 / 30.0).abs() < 0.004,
            "gap of {step:.4} s at pts {:.3}",
            w[0]
        );
    }
    let after = d.status()["program"]["dropped_frames"].as_u64();
    assert_eq!(before, after, "the program dropped frames while switching");

    // Every frame is one of the commanded shots; runs of frames follow the takes in order.
    let matches = |f: &[Colour; 5], s: &Shot| *f == s.expect;
    let mut next = 0;
    let mut shown = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        if next < shots.len() && matches(f, &shots[next]) {
            shown.push((next, k));
            next += 1;
            continue;
        }
        let current = next.checked_sub(1).map(|i| &shots[i]);
        // Before the first take the program shows the config's grid.
        let start = [cam(1), cam(2), cam(3), cam(4), cam(4)];
        let ok = current.map_or(*f == start, |s| matches(f, s));
        assert!(
            ok,
            "frame {k} (pts {:.3}) shows {f:?}: not take {} ({:?}) nor take {} ({:?})",
            pts[k],
            next,
            current.map(|s| s.body.as_str()),
            next + 1,
            shots.get(next).map(|s| s.body.as_str())
        );
    }
    assert_eq!(
        next,
        shots.len(),
        "only {next} of {} takes were seen in the program",
        shots.len()
    );
    eprintln!(
        "{} frames, {} takes seen at frames {:?}",
        frames.len(),
        next,
        shown.iter().map(|s| s.1).collect::<Vec<_>>()
    );
}

#[test]
fn a_fade_blends_and_bad_takes_are_refused_with_the_program_unchanged() {
    let mut d = Daemon::start(Some(&config()));
    let rung = smallest_rung(&d);
    d.wait_until("first segments", Duration::from_secs(40), |d| {
        segments(d, &rung).len() >= 2
    });
    let take = |d: &Daemon, body: &str| {
        d.send(
            "POST",
            "/api/v1/program/take",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };

    let r = take(&d, r#"{"layout":"single","inputs":["cam1"]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let before = d.json("/api/v1/program");

    // Bad takes: each names its field, and nothing changes.
    for (body, status, path) in [
        (r#"{"layout":"diagonal"}"#, 400, "layout"),
        (
            r#"{"layout":"single","inputs":["cam9"]}"#,
            422,
            "shot.inputs[0]",
        ),
        (
            r#"{"layout":"single","inputs":["cam1","cam2"]}"#,
            422,
            "shot.inputs",
        ),
        (
            r#"{"layout":"pip","inputs":["cam1","cam2"],"pip":{"size_pct":90,"margin_pct":15}}"#,
            422,
            "shot.pip",
        ),
        (r#"{"scene":"nope"}"#, 422, "scene"),
        (r#"{"layout":"grid","colour":"red"}"#, 400, ""),
        (
            r#"{"layout":"grid","transition":"fade","duration_ms":60000}"#,
            422,
            "duration_ms",
        ),
        (r#"not json"#, 400, ""),
    ] {
        let r = take(&d, body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let e: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON error");
        let got = e["error"]["path"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(path),
            "{body}: error at {got:?}, wanted {path:?}: {e}"
        );
        assert!(
            !e["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    }
    let after = d.json("/api/v1/program");
    assert_eq!(before["generation"], after["generation"], "{after}");
    assert_eq!(after["inputs"], serde_json::json!(["cam1"]));

    // A one-second fade from red to blue: the frames between are blends.
    let r = take(
        &d,
        r#"{"layout":"single","inputs":["cam3"],"transition":"fade","duration_ms":1000}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    std::thread::sleep(Duration::from_secs(6));
    let (_, frames) = decode(&segments(&d, &rung));
    let centre: Vec<Colour> = frames.iter().map(|f| f[0]).collect();
    let last_red = centre
        .iter()
        .rposition(|c| *c == Colour::Red)
        .expect("red before the fade");
    let blends = centre[last_red + 1..]
        .iter()
        .take_while(|c| **c == Colour::Other)
        .count();
    eprintln!("fade: {blends} frames between red and blue are neither");
    // 30 frames of fade; the first and last few are still within the red or blue class.
    assert!(
        (8..=32).contains(&blends),
        "a 1 s fade at 30 fps blends about 30 frames, saw {blends}: {centre:?}"
    );
    assert_eq!(centre.get(last_red + 1 + blends), Some(&Colour::Blue));
    assert_eq!(centre.last(), Some(&Colour::Blue));
}

fn smallest_rung(d: &Daemon) -> String {
    let status = d.status();
    let rungs = status["rungs"].as_array().expect("rungs");
    rungs
        .iter()
        .min_by_key(|r| r["width"].as_u64())
        .and_then(|r| r["name"].as_str())
        .expect("a rung")
        .to_string()
}

/// The rung's segment files, oldest first, as its playlist lists them.
fn segments(d: &Daemon, rung: &str) -> Vec<PathBuf> {
    let dir = d.hls_dir().join(rung);
    let Ok(text) = std::fs::read_to_string(dir.join("index.m3u8")) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| dir.join(l.trim()))
        .collect()
}

/// Decodes the segments in order: each frame's pts (s) and its colours at `POINTS`.
fn decode(files: &[PathBuf]) -> (Vec<f64>, Vec<[Colour; 5]>) {
    let concat = format!(
        "concat:{}",
        files
            .iter()
            .map(|f| f.to_string_lossy())
            .collect::<Vec<_>>()
            .join("|")
    );
    let (w, h) = (64usize, 36usize);
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            &concat,
            "-map",
            "0:v",
            "-vsync",
            "passthrough",
        ])
        .args([
            "-vf",
            &format!("scale={w}:{h}:flags=area"),
            "-f",
            "rawvideo",
        ])
        .args(["-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Vec<[Colour; 5]> = out
        .stdout
        .chunks_exact(w * h * 3)
        .map(|f| {
            POINTS.map(|(x, y)| {
                let at = ((y * h as f64) as usize * w + (x * w as f64) as usize) * 3;
                classify([f[at], f[at + 1], f[at + 2]])
            })
        })
        .collect();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=pts_time", "-of", "csv=p=0", &concat])
        .output()
        .expect("ffprobe runs");
    let pts: Vec<f64> = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    assert_eq!(
        pts.len(),
        frames.len(),
        "ffprobe and ffmpeg agree on frames"
    );
    (pts, frames)
}
