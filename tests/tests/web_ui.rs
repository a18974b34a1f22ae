//! The web UI in a real browser: Debian's `chromium` (headless), driven by playwright-core
//! from npm (`web-ui/tests/ui.mjs`), against the real daemon on a box never set up, with a
//! real RTMP server (nginx-rtmp) for the destination the technician adds.
//!
//! Screenshots and the report (page weight, time to interactive) are kept in
//! `target/web-ui-artefacts/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fourcast_e2e::peers::{Capture, Nginx, require};
use fourcast_e2e::{Daemon, TempDir};

#[test]
fn a_technician_sets_up_switches_adds_a_destination_and_is_throttled() {
    require("node", "nodejs");
    require("/usr/bin/chromium", "chromium");
    let web_ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui");
    assert!(
        web_ui.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in web-ui/ (make test does)"
    );
    let artefacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-ui-artefacts");
    let _ = std::fs::remove_dir_all(&artefacts);

    let dir = TempDir::new("web-ui-rtmp");
    let nginx = Nginx::start(&dir.0, &["live"]);
    let daemon = Daemon::start_unset();
    let out = Command::new("node")
        .arg("tests/ui.mjs")
        .current_dir(&web_ui)
        .env("BASE_URL", format!("http://127.0.0.1:{}", daemon.port))
        .env("RTMP_URL", format!("rtmp://127.0.0.1:{}/live", nginx.port))
        .env("ARTEFACTS", &artefacts)
        .env("SETUP_CODE", daemon.setup_code())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{}\n--- daemon log (tail) ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&daemon.log(), 40)
    );
    for shot in [
        "dashboard-desktop.png",
        "dashboard-after-take.png",
        "phone-dashboard.png",
    ] {
        let len = std::fs::metadata(artefacts.join(shot)).map_or(0, |m| m.len());
        assert!(len > 10_000, "{shot} kept ({len} bytes)");
    }

    // What the browser added is real: nginx received the program under the key typed in.
    std::thread::sleep(Duration::from_secs(2));
    let recorded = nginx.recordings("live");
    let file = recorded
        .iter()
        .find(|p| p.to_string_lossy().contains("stream1"))
        .unwrap_or_else(|| panic!("nginx recorded no stream1: {recorded:?}"));
    let capture = Capture::probe(file);
    assert!(
        capture.duration() > 1.0,
        "{}: {:?} s",
        file.display(),
        capture.duration()
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
