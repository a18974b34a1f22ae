//! A snapshot of what the engine is doing, for `/api/v1/status` and `/metrics`.

use serde::Serialize;

use crate::{Engine, lock};

#[derive(Debug, Clone, Serialize)]
pub struct EngineStatus {
    pub program: ProgramStatus,
    pub inputs: Vec<InputStatus>,
    pub ladder: LadderStatus,
    pub rungs: Vec<RungStatus>,
    /// The uplinks (`outputs.srt[]`, `outputs.rtmp[]`); `destinations` in the status API.
    #[serde(rename = "destinations")]
    pub uplinks: Vec<crate::outputs::uplink::UplinkStatus>,
    /// The recorder, while one has run since the box started.
    pub recording: Option<crate::outputs::recorder::RecorderStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgramStatus {
    pub width: u32,
    pub height: u32,
    pub fps_configured: u32,
    /// Frames per second leaving the mixer, over the last second.
    pub fps: f64,
    pub frames: u64,
    /// Frames missing from the program's timeline.
    pub dropped_frames: u64,
    /// Times the program pipeline was built (1 = never rebuilt).
    pub builds: u64,
    /// The program's audio over the last second.
    pub audio: crate::audio_mix::Levels,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputStatus {
    pub name: String,
    pub kind: fourcast_config::InputKind,
    /// `live` (pictures arriving), `no-signal` (none for a second: its tile shows its
    /// slate), `retrying` (its source failed and is being opened again) or `ended` (a
    /// file played once).
    pub state: crate::program::InputState,
    /// The picture size arriving (or last arrived).
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: f64,
    /// The last error of its source, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub frames: u64,
    /// The input's audio entering the mixer, over the last second.
    pub audio: crate::audio_mix::Levels,
    /// A capture's sound against the program's clock: its offset from the pictures and
    /// the correction applied (only for a `v4l2` input with `audio`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_clock: Option<fourcast_media_core::drift::DriftReport>,
    /// What a capture device was asked for: format, size, rate and JPEG decoder (only
    /// for a `v4l2` input, once opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_format: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LadderStatus {
    pub encoder: String,
    /// Frames the encoders could not take in time (dropped before the tee, for all rungs).
    pub dropped_frames: u64,
    pub builds: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RungStatus {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub encoder: String,
    pub bitrate_kbps: u32,
    pub fps: f64,
    /// Measured bit rate of the encoded video, kbit/s, over the last second.
    pub measured_kbps: f64,
    pub frames: u64,
    /// Frames this rung did not encode: dropped before the ladder plus gaps in its output.
    pub dropped_frames: u64,
    pub segments: u64,
}

pub(crate) fn collect(e: &Engine) -> EngineStatus {
    let s = &e.shared;
    let (width, height, fps) = e
        .config
        .as_ref()
        .map(|c| (c.program.width, c.program.height, c.program.fps))
        .unwrap_or_default();
    let encoder = lock(&s.encoder).clone();
    let bridge_dropped = s.bridge.dropped.dropped();
    EngineStatus {
        program: ProgramStatus {
            width,
            height,
            fps_configured: fps,
            fps: s.program_frames.fps(),
            frames: s.program_frames.frames(),
            dropped_frames: s.program_frames.dropped(),
            builds: e.program_builds,
            audio: s.program_levels.levels(),
        },
        inputs: lock(&s.inputs)
            .iter()
            .map(|i| {
                let size = i.resolution();
                InputStatus {
                    name: i.name.clone(),
                    kind: i.kind,
                    state: i.state(),
                    width: size.map(|s| s.0),
                    height: size.map(|s| s.1),
                    fps: i.frames.fps(),
                    last_error: i.health.as_ref().and_then(|h| h.last_error()),
                    frames: i.frames.frames(),
                    audio: i.levels.levels(),
                    audio_clock: i.health.as_ref().and_then(|h| h.audio_clock()),
                    capture_format: i.health.as_ref().and_then(|h| h.capture_format()),
                }
            })
            .collect(),
        ladder: LadderStatus {
            encoder: encoder.clone(),
            dropped_frames: bridge_dropped,
            builds: e.ladder_builds,
        },
        rungs: lock(&s.rungs)
            .iter()
            .map(|r| RungStatus {
                name: r.name.clone(),
                width: r.width,
                height: r.height,
                encoder: encoder.clone(),
                bitrate_kbps: r.bitrate_kbps,
                fps: r.frames.fps(),
                measured_kbps: r.frames.bits_per_second() as f64 / 1000.0,
                frames: r.frames.frames(),
                dropped_frames: bridge_dropped + r.frames.dropped(),
                segments: e.origin.segments(&r.name),
            })
            .collect(),
        uplinks: e.uplinks.iter().map(|d| d.status()).collect(),
        recording: e.recording_status(),
    }
}
