//! The engine on the virtual board, for real: pipelines run, segments land, changes apply
//! with the smallest change.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fourcast_engine::{Engine, EngineEvent};

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn segments_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "ts"))
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_virtual_board_streams_hls_and_takes_a_bitrate_change_without_restarting_inputs() {
    let dir = std::env::temp_dir().join(format!("fourcast-engine-{}", std::process::id()));
    let events: Arc<Mutex<Vec<EngineEvent>>> = Arc::default();
    let sink = events.clone();
    let mut engine = Engine::new(&dir, Arc::new(move |e| sink.lock().unwrap().push(e))).unwrap();
    let mut config = fourcast_config::default_for_board("virtual").unwrap();
    config.outputs.hls.window = 3;
    Engine::check(&config).unwrap();
    engine.apply(&config).unwrap();

    wait_for("the multivariant playlist", Duration::from_secs(20), || {
        dir.join("master.m3u8").exists()
    });
    let master = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 3, "{master}");
    assert!(master.contains("RESOLUTION=854x480"), "{master}");
    let status = engine.status();
    assert_eq!(status.inputs.len(), 4);
    assert!(
        status
            .inputs
            .iter()
            .all(|i| i.state == fourcast_engine::program::InputState::Live),
        "{status:?}"
    );
    assert_eq!(status.ladder.encoder, "x264enc");

    // Bitrate only: the encoders are told, nothing is rebuilt.
    config.ladder.rungs[0].bitrate_kbps = 1500;
    let plan = engine.apply(&config).unwrap();
    assert!(!plan.program);
    let before = segments_in(&dir.join("720p"));
    wait_for(
        "more segments after the change",
        Duration::from_secs(15),
        || segments_in(&dir.join("720p")) > before,
    );
    let status = engine.status();
    assert_eq!((status.program.builds, status.ladder.builds), (1, 1));
    assert_eq!(status.rungs[0].bitrate_kbps, 1500);
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, EngineEvent::BitrateChanged { kbps: 1500, .. }))
    );

    // A new rung size: the ladder is rebuilt, the program is not.
    config.ladder.rungs[2].height = 352;
    config.ladder.rungs[2].width = 626;
    engine.apply(&config).unwrap();
    let builds_before = engine.status();
    assert_eq!(
        (builds_before.program.builds, builds_before.ladder.builds),
        (1, 2)
    );
    let n = engine.status().rungs[2].segments;
    wait_for(
        "segments from the rebuilt ladder",
        Duration::from_secs(15),
        || engine.status().rungs[2].segments > n,
    );

    engine.shutdown();
    // The kept rungs mark where the new encoders start; the resized one starts afresh.
    let playlist = std::fs::read_to_string(dir.join("720p/index.m3u8")).unwrap();
    assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    for line in playlist.lines().filter(|l| l.starts_with("#EXTINF:")) {
        let secs: f64 = line[8..line.len() - 1].parse().unwrap();
        assert!(
            secs <= 2.05,
            "segment of {secs} s in a 2 s ladder:\n{playlist}"
        );
    }
    let playlist = std::fs::read_to_string(dir.join("360p/index.m3u8")).unwrap();
    assert!(!playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    assert!(playlist.ends_with("#EXT-X-ENDLIST\n"), "{playlist}");
    let _ = std::fs::remove_dir_all(&dir);
}
