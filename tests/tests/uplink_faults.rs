//! Faults: the SRT receiver is killed and restarted three times during one run; a
//! destination whose port is closed keeps retrying. Nothing else may notice.

use std::time::{Duration, Instant};

use fourcast_e2e::peers::{Capture, Nginx, free_udp_port, srt_listener};
use fourcast_e2e::{Daemon, TempDir, config_with, destination};

#[test]
fn a_killed_srt_receiver_is_reconnected_each_time_and_nothing_else_notices() {
    let tmp = TempDir::new("faults");
    let nginx = Nginx::start(&tmp.0, &["live"]);
    let srt_port = free_udp_port();
    let closed_port = free_udp_port();
    let capture = |round: usize| tmp.0.join(format!("origin-{round}.ts"));
    let mut receiver = srt_listener(srt_port, "", &capture(0), None);
    std::thread::sleep(Duration::from_millis(300));
    let outputs = format!(
        r#"
[[outputs.srt]]
name = "origin"
mode = "caller"
host = "127.0.0.1"
port = {srt_port}
latency_ms = 200
rung = "480p"

[[outputs.rtmp]]
name = "platform"
url = "rtmp://127.0.0.1:{rtmp}/live"
key = "fault-test"
rung = "360p"

[[outputs.srt]]
name = "nowhere"
mode = "caller"
host = "127.0.0.1"
port = {closed_port}
rung = "360p"
"#,
        rtmp = nginx.port
    );
    let mut d = Daemon::start(Some(&config_with(&outputs)));
    d.wait_live(&["origin", "platform"], Duration::from_secs(40));
    d.wait_until(
        "the closed port to be retried",
        Duration::from_secs(20),
        |d| destination(&d.status(), "nowhere")["state"] == "retrying",
    );
    let start = d.status();
    let segments = |s: &serde_json::Value| s["rungs"][0]["segments"].as_u64().unwrap();
    let t_start = Instant::now();

    for round in 1..=3 {
        std::thread::sleep(Duration::from_secs(4));
        let before = destination(&d.status(), "origin")["reconnects"]
            .as_u64()
            .unwrap();
        receiver.kill();
        let killed = Instant::now();
        d.wait_until(
            "the box to notice the receiver is gone",
            Duration::from_secs(20),
            |d| destination(&d.status(), "origin")["state"] != "live",
        );
        let noticed = killed.elapsed();
        receiver = srt_listener(srt_port, "", &capture(round), None);
        let back = Instant::now();
        d.wait_until("the box to reconnect", Duration::from_secs(60), |d| {
            destination(&d.status(), "origin")["state"] == "live"
        });
        let took = back.elapsed();
        let failures = destination(&d.status(), "origin")["reconnects"]
            .as_u64()
            .unwrap()
            - before;
        eprintln!(
            "round {round}: noticed the loss after {noticed:.1?}, reconnected {took:.1?} after the receiver came back ({failures} tries)"
        );
        // The backoff starts afresh after a stable link (a timing bound would be noise on
        // a shared machine; the schedule itself is unit-tested in `fourcast_engine::retry`).
        // Two tries at most: one may start before the receiver has bound its port.
        assert!(
            (1..=2).contains(&failures),
            "round {round}: {failures} tries to reconnect; the backoff did not reset"
        );
    }
    std::thread::sleep(Duration::from_secs(4));
    let end = d.status();

    // HLS and the RTMP destination never noticed.
    let elapsed = t_start.elapsed().as_secs();
    // Counted from when the uplinks were live: what the faults cost, not start-up.
    let dropped = |s: &serde_json::Value| s["ladder"]["dropped_frames"].as_u64().unwrap_or(0);
    assert_eq!(dropped(&end), dropped(&start), "{end}");
    assert!(
        segments(&end) - segments(&start) >= elapsed / 2 - 2,
        "HLS advanced {} segments in {elapsed} s",
        segments(&end) - segments(&start)
    );
    let playlist = d.get("/hls/720p/index.m3u8").text();
    assert!(!playlist.contains("#EXT-X-DISCONTINUITY"), "{playlist}");
    let platform = destination(&end, "platform");
    assert_eq!(platform["state"], "live", "{platform}");
    assert_eq!(platform["reconnects"], 0, "{platform}");
    let nowhere = destination(&end, "nowhere");
    // Between two tries it is either waiting out its backoff or trying again.
    assert!(
        ["retrying", "connecting"].contains(&nowhere["state"].as_str().unwrap_or("")),
        "{nowhere}"
    );
    assert!(nowhere["reconnects"].as_u64().unwrap() >= 2, "{nowhere}");
    assert!(
        nowhere["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{nowhere}"
    );

    receiver.kill();
    d.signal(libc::SIGTERM);
    let _ = d.child.wait();
    std::thread::sleep(Duration::from_millis(500));
    // The RTMP recording is one unbroken file.
    let files = nginx.recordings("live");
    assert_eq!(files.len(), 1, "the RTMP stream was republished: {files:?}");
    let rtmp = Capture::probe(&files[0]);
    rtmp.assert_good("rtmp", 640, 360, 0.1);
    assert!(
        rtmp.duration() >= elapsed as f64 - 2.0,
        "{:.1} s recorded",
        rtmp.duration()
    );
    // Every SRT connection started cleanly on a keyframe and ran without a gap.
    for round in 0..=3 {
        let c = Capture::probe(&capture(round));
        c.assert_good(&format!("srt round {round}"), 854, 480, 0.1);
    }
}
