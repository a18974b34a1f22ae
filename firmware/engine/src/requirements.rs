//! What only this machine can tell about a config before it is stored: is every element it
//! needs installed (a missing one is named with its Debian package, see [`crate::packages`]),
//! do the graphics render, and does the configured encoder open.

use fourcast_config::{Config, ConfigErrors, FieldError};

use crate::ladder::encoder;
use crate::{Engine, EngineError, overlays, packages};

/// Elements every config needs, and the field a missing one is reported against: the house
/// source and the slates (test patterns, Pango text), the audio mix, the HLS ladder.
pub(crate) const REQUIRED: &[(&str, &str)] = &[
    ("videotestsrc", "inputs"),
    ("audiotestsrc", "inputs"),
    ("textoverlay", "inputs"),
    ("clockoverlay", "inputs"),
    ("audiomixer", "audio"),
    ("aacparse", "audio"),
    ("h264parse", "ladder"),
    ("mpegtsmux", "outputs.hls"),
    ("appsink", "outputs.hls"),
];

impl Engine {
    /// Checks what only this machine can tell: is every element the config needs installed,
    /// and does the configured encoder open? Errors name the config field.
    pub fn check(config: &Config) -> Result<(), ConfigErrors> {
        gst::init().map_err(|e| ConfigErrors::one("(engine)", e.to_string()))?;
        let mut errs = Vec::new();
        for (element, field) in REQUIRED {
            if gst::ElementFactory::find(element).is_none() {
                errs.push(FieldError::new(*field, packages::missing(element)));
            }
        }
        for (element, field, wanted) in [
            ("srtsink", "outputs.srt", !config.outputs.srt.is_empty()),
            ("mpegtsmux", "outputs.srt", !config.outputs.srt.is_empty()),
            ("rtmp2sink", "outputs.rtmp", !config.outputs.rtmp.is_empty()),
            ("flvmux", "outputs.rtmp", !config.outputs.rtmp.is_empty()),
        ] {
            if wanted && gst::ElementFactory::find(element).is_none() {
                errs.push(FieldError::new(field, packages::missing(element)));
            }
        }
        let has = |k: fourcast_config::InputKind| config.inputs.iter().any(|i| i.kind() == k);
        let timecode = config
            .overlays
            .clock
            .as_ref()
            .is_some_and(|c| c.mode == fourcast_config::ClockMode::Timecode);
        for (element, field, wanted) in [
            ("srtsrc", "inputs", has(fourcast_config::InputKind::Srt)),
            (
                "decodebin",
                "inputs",
                config
                    .inputs
                    .iter()
                    .any(|i| i.kind() != fourcast_config::InputKind::Test),
            ),
            ("flvdemux", "inputs", has(fourcast_config::InputKind::Rtmp)),
            ("v4l2src", "inputs", has(fourcast_config::InputKind::V4l2)),
            (
                "alsasrc",
                "inputs",
                config.inputs.iter().any(|i| match &i.source {
                    fourcast_config::Source::V4l2(c) => c.audio.is_some(),
                    fourcast_config::Source::Alsa { .. } => true,
                    _ => false,
                }),
            ),
            ("pngdec", "overlays.logo", config.overlays.logo.is_some()),
            (
                "clockoverlay",
                "overlays.clock",
                config.overlays.clock.is_some(),
            ),
            ("timecodestamper", "overlays.clock.mode", timecode),
            ("timeoverlay", "overlays.clock.mode", timecode),
        ] {
            if wanted && gst::ElementFactory::find(element).is_none() {
                errs.push(FieldError::new(field, packages::missing(element)));
            }
        }
        if errs.is_empty() {
            // Render the graphics now: a logo that is not an image is refused here, before
            // the config is stored.
            if let Err(EngineError::Config(e)) = overlays(config) {
                errs.extend(e.0);
            }
        }
        if let Err(e) = encoder::choose_aac() {
            errs.push(FieldError::new("audio", e.to_string()));
        }
        let board = fourcast_board::profile(&config.board)
            .map(|p| p.encoders)
            .unwrap_or_default();
        match encoder::choose_video(&config.ladder.encoder, &board) {
            Ok(_) => {}
            Err(EngineError::Config(e)) => errs.extend(e.0),
            Err(e) => errs.push(FieldError::new("ladder.encoder", e.to_string())),
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }
}
