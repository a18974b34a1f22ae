//! An update during a show: the box streams to an SRT receiver across a capped link while
//! it downloads a bundle from the same far side. The download is paced to a share of what
//! the uplink sends, the uplink stays live above its adaptive floor with no gap, and the
//! reboot waits for the show to end.

use std::time::{Duration, Instant};

use fourcast_e2e::netns::Netns;
use fourcast_e2e::peers::{Capture, free_udp_port, srt_listener};
use fourcast_e2e::rauc::{COMPATIBLE, Rig, Signer, big_image, sha256};
use fourcast_e2e::{Daemon, config_with, destination, free_port};

#[test]
fn during_a_show_the_download_yields_to_the_uplink_and_the_reboot_waits() {
    let ns = Netns::create();
    ns.cap("4mbit");
    let rig = Rig::start("0.1.0");
    let bundle = rig.bundle(
        "big",
        "0.2.0",
        COMPATIBLE,
        &big_image("0.2.0", 1_500_000),
        Signer::Ours,
    );
    let www = rig.dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::copy(&bundle, www.join("b.raucb")).unwrap();
    let http_port = free_port();
    let mut server = ns
        .command("python3")
        .args([
            "-m",
            "http.server",
            &http_port.to_string(),
            "--bind",
            &ns.peer_ip,
        ])
        .arg("--directory")
        .arg(&www)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 http.server");
    let port = free_udp_port();
    let capture = rig.dir.0.join("origin.ts");
    let mut receiver = srt_listener(port, "latency=1000", &capture, Some(&ns.name));
    std::thread::sleep(Duration::from_millis(500));
    let config = config_with(&format!(
        r#"
[[outputs.srt]]
name = "origin"
mode = "caller"
host = "{peer}"
port = {port}
latency_ms = 1000
rung = "720p"
adaptive = true
min_kbps = 800
max_kbps = 3000

[ota]
install = "idle"
download_uplink_percent = 25
"#,
        peer = ns.peer_ip
    ));
    let mut d = Daemon::start_args(&config, &rig.daemon_args());
    d.wait_live(&["origin"], Duration::from_secs(40));
    std::thread::sleep(Duration::from_secs(5));
    let job = serde_json::json!({
        "url": format!("http://{}:{http_port}/b.raucb", ns.peer_ip),
        "sha256": sha256(&bundle),
    });
    let r = d.send("POST", "/api/v1/ota/jobs", &[], job.to_string().as_bytes());
    assert_eq!(r.status, 202, "{}", r.text());

    // Watch the download and the uplink until the job waits on the reboot.
    let started = Instant::now();
    let (mut first, mut last) = (None, (0.0, 0u64));
    let mut uplink = Vec::new();
    let mut lowest_target = u64::MAX;
    loop {
        let o = d.json("/api/v1/ota");
        let job = &o["job"];
        let t = started.elapsed().as_secs_f64();
        if job["phase"] == "downloading" {
            let done = job["done_bytes"].as_u64().unwrap_or(0);
            if first.is_none() && done > 0 {
                first = Some((t, done));
            }
            last = (t, done);
        }
        let u = destination(&d.status(), "origin").clone();
        assert_eq!(u["state"], "live", "the uplink stays live: {u}");
        uplink.push(u["bitrate_kbps"].as_f64().unwrap_or(0.0));
        lowest_target = lowest_target.min(u["target_kbps"].as_u64().unwrap_or(0));
        if job["phase"] == "rebooting" && o["waiting"]["why"].is_string() {
            let why = o["waiting"]["why"].as_str().unwrap().to_string();
            assert!(why.contains("origin"), "waits for the live uplink: {why}");
            break;
        }
        assert!(
            !["failed", "succeeded"].contains(&job["phase"].as_str().unwrap_or("")),
            "{job}"
        );
        assert!(t < 120.0, "the download did not end in 2 minutes: {job}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (t0, b0) = first.expect("the download was seen");
    let download_kbps = (last.1 - b0) as f64 * 8.0 / 1000.0 / (last.0 - t0).max(0.5);
    let uplink_kbps = uplink.iter().sum::<f64>() / uplink.len() as f64;
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "no reboot during the show"
    );
    let u = destination(&d.status(), "origin").clone();
    eprintln!(
        "download {download_kbps:.0} kbit/s beside an uplink of {uplink_kbps:.0} kbit/s (25 % allowed); \
         lowest uplink target {lowest_target} kbit/s (floor 800); reconnects {}",
        u["reconnects"]
    );
    assert!(
        download_kbps <= uplink_kbps * 0.25 * 1.5 + 256.0,
        "the download took {download_kbps:.0} kbit/s beside {uplink_kbps:.0}"
    );
    assert!(lowest_target >= 800, "the uplink stayed above its floor");
    assert_eq!(u["reconnects"], 0, "{u}");
    let _ = server.kill();
    let _ = server.wait();
    receiver.kill();
    let c = Capture::probe(&capture);
    assert!(
        c.largest_gap() <= 0.1,
        "the capture has a {:.3} s gap",
        c.largest_gap()
    );
}
