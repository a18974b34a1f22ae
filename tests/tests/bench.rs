//! The benchmark runs and writes valid JSON (a smoke test: a second of media, no figures
//! judged; the figures are `make bench`'s job), and the offline render refuses bad input.

use std::path::Path;
use std::process::Command;

use fourcast_e2e::peers::require;
use fourcast_e2e::{TempDir, fourcastd};

const RUNGS: [&str; 4] = ["1080p", "720p", "480p", "360p"];

#[test]
fn the_standard_workload_bench_runs_both_engines_and_writes_results_json() {
    require("python3", "python3");
    require("ffmpeg", "ffmpeg");
    let tmp = TempDir::new("bench");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("python3")
        .arg(root.join("tests/bench/bench.py"))
        .args(["--frames", "30", "--repeat", "1", "--only", "standard"])
        .arg("--fourcastd")
        .arg(fourcastd())
        .arg("--out")
        .arg(&tmp.0)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Standard workload"), "{stdout}");
    let text = std::fs::read_to_string(tmp.0.join("results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let standard = &results["standard"];
    assert_eq!(standard["frames"], 30, "{standard}");
    for engine in ["fourcast", "ffmpeg"] {
        let e = &standard[engine];
        for key in ["cpu_s", "wall_s", "rss_mb", "speed"] {
            assert!(
                e[key].as_f64().is_some_and(|v| v > 0.0),
                "{engine}.{key}: {e}"
            );
        }
        for rung in RUNGS {
            // Any real encode of the test pattern is far above 20 dB; a broken one is not.
            let psnr = e["psnr_db"][rung].as_f64().unwrap_or(0.0);
            assert!(psnr > 20.0, "{engine} {rung}: PSNR {psnr}: {e}");
        }
    }
    let ratio = standard["cpu_ratio"].as_f64().unwrap();
    let expected = standard["fourcast"]["cpu_s"].as_f64().unwrap()
        / standard["ffmpeg"]["cpu_s"].as_f64().unwrap();
    assert!((ratio - expected).abs() < 0.01, "{standard}");
    // The encoder floor ran, and so did the older one-clip workload.
    let floor = standard["floor"]["cpu_s"].as_f64().unwrap_or(0.0);
    assert!(floor > 0.0, "{standard}");
    let to_floor = standard["cpu_ratio_to_floor"].as_f64().unwrap();
    let expected = standard["fourcast"]["cpu_s"].as_f64().unwrap() / floor;
    assert!((to_floor - expected).abs() < 0.01, "{standard}");
    assert_eq!(
        standard["sources"].as_array().map(Vec::len),
        Some(4),
        "{standard}"
    );
    assert!(
        standard["one_clip"]["cpu_ratio"]
            .as_f64()
            .is_some_and(|v| v > 0.0),
        "{standard}"
    );
}

#[test]
fn render_names_what_is_wrong_with_its_input() {
    let tmp = TempDir::new("render");
    let run = |args: &[&str]| {
        let out = Command::new(fourcastd())
            .arg("render")
            .arg("--out")
            .arg(tmp.0.join("out"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["/no/such/clip.yuv"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/no/such/clip.yuv"), "{err}");
    let (code, err) = run(&["--raw-size", "1920by1080", "x.yuv"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("1920by1080"), "{err}");
    let clip = tmp.0.join("short.yuv");
    // Half a frame of 64×64: not a whole frame, so nothing to render; must fail cleanly.
    std::fs::write(&clip, vec![16u8; 64 * 64 * 3 / 4]).unwrap();
    let (code, err) = run(&["--raw-size", "64x64", clip.to_str().unwrap()]);
    assert_ne!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
