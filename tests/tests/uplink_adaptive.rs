//! Network-adaptive SRT for real: the receiver sits in a network namespace behind a veth
//! pair; `tc` caps the link at 3 Mbit/s while the uplink runs at 6 Mbit/s, then lifts it.

use std::time::{Duration, Instant};

use fourcast_e2e::netns::Netns;
use fourcast_e2e::peers::{Capture, free_udp_port, srt_listener};
use fourcast_e2e::{Daemon, TempDir, config_with, destination};

fn uplink(d: &Daemon) -> serde_json::Value {
    destination(&d.status(), "origin").clone()
}

/// Polls the uplink every 250 ms until `done` holds; returns how long it took.
fn time_until(
    d: &mut Daemon,
    what: &str,
    limit: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Duration {
    let start = Instant::now();
    d.wait_until(what, limit, |d| done(&uplink(d)));
    start.elapsed()
}

#[test]
fn an_adaptive_uplink_follows_a_3_mbit_cap_down_and_climbs_back_when_it_lifts() {
    let ns = Netns::create();
    let tmp = TempDir::new("adaptive");
    let port = free_udp_port();
    let capture = tmp.0.join("origin.ts");
    let mut receiver = srt_listener(port, "latency=1000", &capture, Some(&ns.name));
    std::thread::sleep(Duration::from_millis(500));
    let outputs = format!(
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
max_kbps = 6000
"#,
        peer = ns.peer_ip
    );
    let mut d = Daemon::start(Some(&config_with(&outputs)));
    d.wait_live(&["origin"], Duration::from_secs(40));
    std::thread::sleep(Duration::from_secs(8));
    let clear = uplink(&d);
    assert_eq!(
        clear["target_kbps"], 6000,
        "a clear link keeps the maximum: {clear}"
    );
    let hls_kbps = d.status()["rungs"][0]["bitrate_kbps"].clone();

    ns.cap("3mbit");
    let down = time_until(
        &mut d,
        "the bitrate under the 3 Mbit/s cap",
        Duration::from_secs(30),
        |u| u["target_kbps"].as_u64().unwrap_or(u64::MAX) < 3000,
    );
    // Hold the cap and watch where it settles.
    let mut targets = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(250));
        let u = uplink(&d);
        targets.push(u["target_kbps"].as_u64().unwrap());
        sent.push(u["bitrate_kbps"].as_f64().unwrap());
    }
    let mean_target = targets.iter().sum::<u64>() as f64 / targets.len() as f64;
    let mean_sent = sent.iter().sum::<f64>() / sent.len() as f64;

    ns.uncap();
    let up = time_until(
        &mut d,
        "the bitrate back near the maximum",
        Duration::from_secs(60),
        |u| u["target_kbps"].as_u64().unwrap_or(0) >= 5400,
    );
    std::thread::sleep(Duration::from_secs(3));
    let end = d.status();
    let u = destination(&end, "origin");
    eprintln!(
        "adaptive: under the cap after {down:.1?}; settled at {mean_target:.0} kbit/s target, {mean_sent:.0} kbit/s sent; back to ≥5400 after {up:.1?}; reconnects {}; {}",
        u["reconnects"], u["srt"]
    );
    assert!(mean_target < 3000.0, "settled above the cap: {targets:?}");
    assert_eq!(u["state"], "live", "{u}");
    assert_eq!(u["reconnects"], 0, "the link was never dropped: {u}");
    // The HLS rung kept its configured bitrate: the uplink has its own encoder.
    assert_eq!(end["rungs"][0]["bitrate_kbps"], hls_kbps, "{end}");

    receiver.kill();
    let c = Capture::probe(&capture);
    eprintln!(
        "capture: {:.1} s, largest gap {:.3} s, decode errors: {}",
        c.duration(),
        c.largest_gap(),
        if c.decode_errors.is_empty() {
            "none"
        } else {
            &c.decode_errors
        }
    );
    assert_eq!(
        (c.video_codec.as_str(), c.audio_codec.as_str()),
        ("h264", "aac")
    );
    assert_eq!((c.width, c.height), (1280, 720));
    assert!(
        c.largest_gap() <= 0.1,
        "the capture has a {:.3} s gap",
        c.largest_gap()
    );
}
