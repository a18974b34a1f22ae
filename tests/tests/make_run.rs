//! The README's first command, `make run`, exactly as a user types it (with a port and a data
//! directory of the test's own): the release daemon comes up on the virtual board, prints its
//! URLs, serves the web page and a master playlist, and its cameras carry their labels (a
//! Pango element, `textoverlay`: a machine without `gstreamer1.0-x` fails here).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use fourcast_e2e::{TempDir, free_port, http_get, media_playlist};

/// `make run` in its own process group, so the daemon under make stops with it.
struct MakeRun {
    child: Child,
    out: PathBuf,
}

impl MakeRun {
    fn start(port: u16, data: &Path, out: PathBuf) -> MakeRun {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let log = std::fs::File::create(&out).expect("log file");
        let mut cmd = Command::new("make");
        cmd.current_dir(&root)
            .arg("--no-print-directory")
            .arg("run")
            .arg(format!(
                "ARGS=--listen 127.0.0.1:{port} --data-dir {}",
                data.display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .process_group(0);
        // Cargo's own variables for this test must not leak into the make → cargo below.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().to_string();
            if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
                cmd.env_remove(key);
            }
        }
        MakeRun {
            child: cmd.spawn().expect("make runs (make test installs it)"),
            out,
        }
    }

    fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.out) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    fn wait_for(&mut self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        while !check() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "make run exited ({status}) before {what}:\n{}",
                    self.output()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for MakeRun {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        kill_group(pgid, Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        kill_group(pgid, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn kill_group(pgid: i32, sig: Signal) {
    let _ = killpg(Pid::from_raw(pgid), sig);
}

/// The luma plane of the first picture of `segment`, full size.
fn first_picture(segment: &Path, width: usize, height: usize) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(segment)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs (make test installs it)");
    assert!(
        out.status.success() && out.stdout.len() == width * height,
        "ffmpeg decoded {} bytes: {}",
        out.stdout.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn make_run_serves_the_page_the_master_playlist_and_labelled_cameras() {
    let tmp = TempDir::new("make-run");
    let port = free_port();
    let mut run = MakeRun::start(port, &tmp.0.join("data"), tmp.0.join("make-run.log"));
    run.wait_for("the master playlist", Duration::from_secs(240), || {
        http_get(port, "/hls/master.m3u8").is_ok_and(|r| r.status == 200)
    });
    let printed = run.output();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/hls/master.m3u8"),
    ] {
        assert!(
            printed.contains(&url),
            "make run did not print {url}:\n{printed}"
        );
    }

    let page = http_get(port, "/").expect("the web page");
    assert_eq!(page.status, 200, "GET /: {}", page.text());
    assert!(
        page.text().contains("<html") && page.text().contains("Fourcast"),
        "GET / is not the web UI:\n{}",
        page.text()
    );

    let master = http_get(port, "/hls/master.m3u8").expect("master").text();
    let top = master
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no variant in the master playlist:\n{master}"))
        .to_string();
    assert!(master.contains("RESOLUTION=1280x720"), "{master}");
    let dir = top
        .rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    let mut segment = None;
    run.wait_for("a segment of the top rung", Duration::from_secs(30), || {
        let Ok(r) = http_get(port, &format!("/hls/{top}")) else {
            return false;
        };
        let playlist = media_playlist(&r.text());
        segment = playlist.segments.first().map(|s| s.uri.clone());
        segment.is_some()
    });
    let uri = segment.expect("a segment");
    let path = if dir.is_empty() {
        format!("/hls/{uri}")
    } else {
        format!("/hls/{dir}/{uri}")
    };
    let body = http_get(port, &path).expect("segment");
    assert_eq!(body.status, 200, "GET {path}");
    let file = tmp.0.join("segment.ts");
    std::fs::write(&file, &body.body).expect("write segment");

    // CAM 1 is SMPTE bars in the grid's top-left tile (640×360): its bars are vertical, so
    // without a label a column is the same at the top of the tile as lower down. The label
    // ("CAM 1", bold, on a shaded box about 20..150 × 25..65) makes the top rows differ from the rows
    // below it in the same columns.
    let (w, h) = (1280usize, 720usize);
    let y = first_picture(&file, w, h);
    let band = |row0: usize, col: usize| -> f64 {
        (row0..row0 + 16)
            .map(|r| y[r * w + col] as f64)
            .sum::<f64>()
            / 16.0
    };
    let cols = 24..144;
    let n = cols.len() as f64;
    let label_diff: f64 = cols
        .clone()
        .map(|c| (band(30, c) - band(120, c)).abs())
        .sum::<f64>()
        / n;
    // The same measure between two unlabelled bands of the same tile: the bars' own noise.
    let plain_diff: f64 = cols
        .map(|c| (band(80, c) - band(120, c)).abs())
        .sum::<f64>()
        / n;
    assert!(
        label_diff > 20.0 && plain_diff < 8.0,
        "no CAM 1 label: top band differs from the bars below by {label_diff:.1} \
         (unlabelled bands differ by {plain_diff:.1})"
    );
}
