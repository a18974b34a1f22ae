//! HLS is answered while the ladder is rebuilt. A ladder rebuild (a new x264 preset) holds
//! the controller's lock while the old encoders drain; the HLS origin, the config reader and
//! the thumbnails read what the controller publishes instead, so a player polling its
//! playlists sees no stall. Prints the response times it measured (the worst is judged
//! against a generous bound only: speed belongs to benchmarks, not to assertions).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fourcast_e2e::{Daemon, http_get};

#[test]
fn playlists_and_config_are_answered_while_the_ladder_is_rebuilt() {
    let mut d = Daemon::start(None);
    d.wait_until("the multivariant playlist", Duration::from_secs(40), |d| {
        d.try_get("/hls/720p/index.m3u8")
            .is_some_and(|r| r.status == 200)
    });
    let port = d.port;
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut times = Vec::new();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for path in ["/hls/master.m3u8", "/hls/720p/index.m3u8"] {
                    let start = Instant::now();
                    match http_get(port, path) {
                        Ok(r) if r.status == 200 => times.push(start.elapsed()),
                        Ok(r) => failures.push(format!("{path}: {}", r.status)),
                        Err(e) => failures.push(format!("{path}: {e}")),
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (times, failures)
        })
    };

    let builds = |d: &Daemon| d.status()["ladder"]["builds"].as_u64().unwrap();
    let before = builds(&d);
    // Three changes of the x264 preset, each different from the one running.
    let running = d.json("/api/v1/config")["config"]["ladder"]["x264_preset"]
        .as_str()
        .unwrap()
        .to_string();
    let other = if running == "ultrafast" {
        "superfast"
    } else {
        "ultrafast"
    };
    for preset in [other, running.as_str(), other] {
        let revision = d.json("/api/v1/config")["revision"].as_u64().unwrap();
        let body = serde_json::json!({
            "base_revision": revision,
            "patch": {"ladder": {"x264_preset": preset}},
        });
        let r = d.send(
            "PATCH",
            "/api/v1/config",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "preset {preset}: {}", r.text());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        builds(&d),
        before + 3,
        "each preset change rebuilds the ladder"
    );
    stop.store(true, Ordering::Relaxed);
    let (mut times, failures) = poller.join().expect("poller");

    assert!(
        failures.is_empty(),
        "HLS requests failed during rebuilds: {failures:?}"
    );
    assert!(times.len() > 20, "only {} requests answered", times.len());
    times.sort();
    let worst = *times.last().unwrap();
    let median = times[times.len() / 2];
    println!(
        "HLS during 3 ladder rebuilds: {} requests, median {:.1} ms, worst {:.1} ms",
        times.len(),
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3
    );
    assert!(
        worst < Duration::from_secs(1),
        "an HLS request waited {worst:?} during a ladder rebuild"
    );
}
