//! What the box looks like to the post-update health check: the engine's own status (the
//! program's and every rung's frame rate, HLS segments, uplinks) and the fleet link, read
//! into the pure `fourcast_ota::health::Observation`.

use fourcast_ota::health::Observation;
use fourcast_ota::when::Activity;

use crate::controller::Controller;

pub(super) fn observe(c: &Controller, version: &str) -> Observation {
    let s = c.snapshot();
    let e = &s.engine;
    let fleet = crate::fleet::status();
    Observation {
        version: version.to_string(),
        program_fps: e.program.fps,
        rungs: e.rungs.iter().map(|r| (r.name.clone(), r.fps)).collect(),
        // Every rung must publish: the slowest one's count.
        hls_sequence: e.rungs.iter().map(|r| r.segments).min(),
        uplinks: e
            .uplinks
            .iter()
            .filter(|u| u.state.as_str() != "disabled")
            .map(|u| (u.name.clone(), u.state.as_str() == "live"))
            .collect(),
        fleet_connected: fleet.enabled.then_some(fleet.state == "connected"),
    }
}

/// What a reboot would cut now.
pub(super) fn activity(c: &Controller) -> (Activity, u32) {
    let s = c.snapshot();
    let live: Vec<_> = s
        .engine
        .uplinks
        .iter()
        .filter(|u| u.state.as_str() == "live")
        .collect();
    let kbps = live.iter().map(|u| u.bitrate_kbps.max(0.0) as u32).sum();
    let recording = s
        .engine
        .recording
        .as_ref()
        .is_some_and(|r| r.state == "recording");
    (
        Activity {
            uplinks_live: live.iter().map(|u| u.name.clone()).collect(),
            recording,
        },
        kbps,
    )
}
