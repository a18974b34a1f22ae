use fourcast_board::{BoardError, Profile};

use crate::{
    Audio, CaptureInput, Config, Http, Input, Ladder, Layout, Outputs, Pattern, Pip, Program, Rung,
    Scene, SignalSource, Source, Storage,
};

/// Tones for the virtual cameras: distinct, easy to tell apart by ear and by FFT.
const TONES_HZ: [u32; 4] = [440, 554, 659, 880];

/// The default config for a board: its program, its cameras and its ladder.
pub fn default_for_board(board: &str) -> Result<Config, BoardError> {
    let profile = fourcast_board::profile(board)?;
    Ok(from_profile(&profile))
}

fn from_profile(p: &Profile) -> Config {
    let patterns = [
        Pattern::Smpte,
        Pattern::Ball,
        Pattern::ZonePlate,
        Pattern::Colors,
    ];
    let inputs = p
        .capture
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let source = match c.test_pattern() {
                // A board's capture node: the HDMI receiver or camera as it is.
                None if c.device.starts_with("/dev/") => Source::V4l2(CaptureInput {
                    device: c.device.clone().into(),
                    audio: None,
                    format: Default::default(),
                    // A profile's word is checked by the tests (every profile's default
                    // config is valid); an unknown one reads as the node itself.
                    signal: c
                        .signal
                        .as_deref()
                        .and_then(|s| SignalSource::parse(s).ok())
                        .unwrap_or_default(),
                }),
                pattern => Source::Test {
                    pattern: pattern
                        .and_then(Pattern::from_nick)
                        .unwrap_or(patterns[i % patterns.len()]),
                    tone_hz: TONES_HZ[i % TONES_HZ.len()],
                },
            };
            Input {
                label: Some(c.label.clone()),
                ..Input::new(&c.name, source)
            }
        })
        .collect::<Vec<Input>>();
    let scenes = default_scenes(&inputs);
    Config {
        ingest: Default::default(),
        overlays: Default::default(),
        fleet: Default::default(),
        ota: Default::default(),
        capture: Default::default(),
        board: p.name.clone(),
        program: Program {
            width: p.program.width,
            height: p.program.height,
            fps: p.program.fps,
            layout: Layout::Grid,
            inputs: Vec::new(),
            pip: Pip::default(),
        },
        audio: Audio::default(),
        inputs,
        scenes,
        ladder: Ladder {
            encoder: "auto".into(),
            x264_preset: "veryfast".into(),
            rungs: p
                .ladder
                .iter()
                .map(|r| Rung {
                    name: r.name.clone(),
                    width: r.width,
                    height: r.height,
                    bitrate_kbps: r.bitrate_kbps,
                })
                .collect(),
        },
        outputs: Outputs::default(),
        recording: Default::default(),
        multiview: Default::default(),
        http: Http::default(),
        storage: Storage::default(),
    }
}

/// A scene per layout, with the cameras in config order: something to switch to from the
/// first start.
fn default_scenes(inputs: &[Input]) -> Vec<Scene> {
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let first = |n: usize| names.iter().take(n).cloned().collect::<Vec<_>>();
    let mut scenes = vec![Scene {
        name: "all".into(),
        layout: Layout::Grid,
        inputs: Vec::new(),
        pip: Pip::default(),
        overlays: None,
    }];
    for (name, layout, n) in [
        ("main", Layout::Single, 1),
        ("two-up", Layout::SideBySide, 2),
        ("inset", Layout::Pip, 2),
        ("spotlight", Layout::Spotlight, 4),
    ] {
        if names.len() >= n.min(2) {
            scenes.push(Scene {
                name: name.into(),
                layout,
                inputs: first(n),
                pip: Pip::default(),
                overlays: None,
            });
        }
    }
    scenes
}
