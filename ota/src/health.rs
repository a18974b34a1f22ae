//! Success only after health: after the reboot into the new slot, the box must show, all
//! at once and within the window, that the daemon runs the new version, the program and
//! every rung make frames, HLS advances, every configured uplink is live again, and the
//! fleet link is back (if configured). Until then the job is not `succeeded`.

/// What the agent saw of the running box at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub version: String,
    pub program_fps: f64,
    /// (rung, frames per second)
    pub rungs: Vec<(String, f64)>,
    /// The newest HLS media sequence number seen (any rung).
    pub hls_sequence: Option<u64>,
    /// (uplink, live), for every enabled uplink.
    pub uplinks: Vec<(String, bool)>,
    /// `None` when no fleet link is configured.
    pub fleet_connected: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// Not yet; these are still missing.
    NotYet(Vec<String>),
    /// The window closed with these still missing: roll back.
    Unhealthy(String),
}

/// Judges `now` against `first` (an observation from the start of the window, for HLS
/// progress) and the window's deadline.
pub fn judge(
    expected_version: &str,
    first: &Observation,
    now: &Observation,
    now_ms: u64,
    deadline_ms: u64,
) -> Verdict {
    let mut missing = Vec::new();
    if now.version != expected_version {
        missing.push(format!(
            "runs {} instead of {expected_version}",
            now.version
        ));
    }
    if now.program_fps < 1.0 {
        missing.push("the program makes no frames".to_string());
    }
    if now.rungs.is_empty() {
        missing.push("no rung runs".to_string());
    }
    for (rung, fps) in &now.rungs {
        if *fps < 1.0 {
            missing.push(format!("rung {rung} makes no frames"));
        }
    }
    match (first.hls_sequence, now.hls_sequence) {
        (Some(a), Some(b)) if b > a => {}
        _ => missing.push("HLS does not advance".to_string()),
    }
    for (uplink, live) in &now.uplinks {
        if !live {
            missing.push(format!("uplink {uplink} is not live"));
        }
    }
    if now.fleet_connected == Some(false) {
        missing.push("the fleet link is not back".to_string());
    }
    if missing.is_empty() {
        Verdict::Healthy
    } else if now_ms >= deadline_ms {
        Verdict::Unhealthy(missing.join("; "))
    } else {
        Verdict::NotYet(missing)
    }
}

/// Every boot proves itself, update or not: once the program and every rung make frames
/// and HLS has advanced past `baseline` (the newest segment number when the agent started;
/// `None`: there was none, so the first segment is the advance), the booted slot is marked
/// good. A bootloader's boot counter (U-Boot's `BOOT_x_LEFT`,
/// GRUB's) counts down on every boot; without this, three power cuts in a row would fall
/// back to the other slot (found by the HIL power-cut scenario). Uplinks and the fleet link
/// are not asked: a venue's network being down is no reason to leave a firmware.
pub fn boot_is_healthy(baseline: Option<u64>, now: &Observation) -> bool {
    now.program_fps >= 1.0
        && !now.rungs.is_empty()
        && now.rungs.iter().all(|(_, fps)| *fps >= 1.0)
        && match (baseline, now.hls_sequence) {
            (Some(a), Some(b)) => b > a,
            (None, Some(_)) => true,
            (_, None) => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(seq: u64) -> Observation {
        Observation {
            version: "0.2.0".into(),
            program_fps: 30.0,
            rungs: vec![("720p".into(), 30.0), ("360p".into(), 30.0)],
            hls_sequence: Some(seq),
            uplinks: vec![("origin".into(), true)],
            fleet_connected: Some(true),
        }
    }

    #[test]
    fn healthy_only_when_everything_holds_at_once() {
        assert_eq!(
            judge("0.2.0", &good(5), &good(7), 10, 100),
            Verdict::Healthy
        );
        assert!(
            matches!(judge("0.2.0", &good(5), &good(5), 10, 100), Verdict::NotYet(m) if m == ["HLS does not advance"])
        );
        let mut stalled = good(9);
        stalled.rungs[1].1 = 0.0;
        stalled.uplinks[0].1 = false;
        let v = judge("0.2.0", &good(5), &stalled, 100, 100);
        assert_eq!(
            v,
            Verdict::Unhealthy("rung 360p makes no frames; uplink origin is not live".into())
        );
    }

    #[test]
    fn a_boot_is_healthy_when_it_makes_pictures_and_hls_moves_whatever_the_network() {
        let mut offline = good(7);
        offline.uplinks[0].1 = false;
        offline.fleet_connected = Some(false);
        assert!(boot_is_healthy(Some(5), &offline));
        assert!(!boot_is_healthy(Some(7), &offline), "HLS has not moved");
        assert!(
            boot_is_healthy(None, &offline),
            "the first segment after none"
        );
        let mut nothing_yet = good(0);
        nothing_yet.hls_sequence = None;
        assert!(!boot_is_healthy(None, &nothing_yet), "no segment yet");
        let mut dark = good(9);
        dark.rungs[0].1 = 0.0;
        assert!(!boot_is_healthy(Some(5), &dark));
    }

    #[test]
    fn the_old_version_still_running_is_not_health() {
        let mut old = good(9);
        old.version = "0.1.0".into();
        assert!(
            matches!(judge("0.2.0", &good(5), &old, 200, 100), Verdict::Unhealthy(r) if r.contains("runs 0.1.0"))
        );
        let mut no_fleet = good(9);
        no_fleet.fleet_connected = None;
        assert_eq!(
            judge("0.2.0", &good(5), &no_fleet, 0, 100),
            Verdict::Healthy,
            "no fleet configured"
        );
    }
}
