//! Which H.264 and AAC encoders run, and how each is told its bitrate and GOP.

use gst::prelude::*;

use crate::EngineError;

/// The software fallback every board has.
pub(crate) const FALLBACK: &str = "x264enc";

/// AAC encoders in order of preference.
pub(crate) const AAC_ENCODERS: &[&str] = &["fdkaacenc", "avenc_aac", "voaacenc"];

/// Picks the H.264 encoder: the configured element, or (for `auto`) the first of the board's
/// list that is installed and opens its device, falling back to `x264enc`.
pub(crate) fn choose_video(
    configured: &str,
    board_preference: &[String],
) -> Result<String, EngineError> {
    if configured != "auto" {
        return if usable(configured) {
            Ok(configured.to_string())
        } else {
            Err(EngineError::Config(fourcast_config::ConfigErrors::one(
                "ladder.encoder",
                format!(
                    "encoder element \"{configured}\" is not installed or cannot open its device"
                ),
            )))
        };
    }
    board_preference
        .iter()
        .map(String::as_str)
        .chain([FALLBACK])
        .find(|name| usable(name))
        .map(str::to_string)
        .ok_or_else(|| EngineError::MissingElement(FALLBACK.into()))
}

/// The first installed AAC encoder.
pub(crate) fn choose_aac() -> Result<String, EngineError> {
    AAC_ENCODERS
        .iter()
        .find(|n| gst::ElementFactory::find(n).is_some())
        .map(|n| n.to_string())
        // None of them: name the one Debian ships in main.
        .ok_or_else(|| EngineError::MissingElement("avenc_aac".into()))
}

/// Installed, an encoder, and (for hardware) able to reach READY, i.e. open its device.
fn usable(name: &str) -> bool {
    let Some(factory) = gst::ElementFactory::find(name) else {
        return false;
    };
    if !factory.has_type(gst::ElementFactoryType::VIDEO_ENCODER) {
        return false;
    }
    let Ok(element) = factory.create().build() else {
        return false;
    };
    let ok = element.set_state(gst::State::Ready).is_ok();
    let _ = element.set_state(gst::State::Null);
    ok
}

/// Live-encoding settings: bitrate, longest GOP (a safety net; keyframes are forced on a
/// common clock so every rung cuts on the same frame), no B-frames, no scene-cut keyframes.
pub(crate) fn configure_video(
    enc: &gst::Element,
    kbps: u32,
    max_gop_frames: u32,
    x264_preset: &str,
) {
    let factory = factory_name(enc);
    match factory.as_str() {
        "x264enc" => {
            enc.set_property("bitrate", kbps);
            enc.set_property_from_str("tune", "zerolatency");
            enc.set_property_from_str("speed-preset", x264_preset);
            enc.set_property("key-int-max", max_gop_frames);
            enc.set_property("option-string", "scenecut=0");
        }
        "mpph264enc" => {
            set_if(enc, "gop", max_gop_frames as i32);
            set_if(enc, "bps", kbps * 1000);
        }
        "v4l2h264enc" => {
            let controls = gst::Structure::builder("controls")
                .field("video_bitrate", (kbps * 1000) as i32)
                .field("h264_i_frame_period", max_gop_frames as i32)
                .build();
            set_if(enc, "extra-controls", controls);
        }
        "nvv4l2h264enc" => {
            set_if(enc, "bitrate", kbps * 1000);
            set_if(enc, "iframeinterval", max_gop_frames);
        }
        "vaapih264enc" => {
            set_if(enc, "bitrate", kbps);
            set_if(enc, "keyframe-period", max_gop_frames);
        }
        _ => {
            set_if(enc, "bitrate", kbps);
            set_if(enc, "key-int-max", max_gop_frames);
        }
    }
}

/// Threads for each software encoder when `encoders` of them share `cores`: with at least as
/// many encoders as cores, one each (the rungs already keep every core busy, and x264's
/// sliced threads cost about 5 % more CPU for the same picture); otherwise x264's own
/// choice (0 = auto), so a lone encoder still uses every core.
pub(crate) fn x264_threads(encoders: usize, cores: usize) -> u32 {
    if encoders >= cores.max(1) { 1 } else { 0 }
}

/// Applies [`x264_threads`] to a software encoder (hardware encoders have no such knob).
pub(crate) fn set_threads(enc: &gst::Element, threads: u32) {
    if factory_name(enc) == "x264enc" {
        enc.set_property("threads", threads);
    }
}

/// The cores this process may use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Changes a running encoder's bitrate. Returns false if this encoder cannot change it live.
pub(crate) fn set_bitrate(enc: &gst::Element, kbps: u32) -> bool {
    let (prop, value) = match factory_name(enc).as_str() {
        "x264enc" | "vah264enc" | "vaapih264enc" => ("bitrate", kbps),
        "mpph264enc" => ("bps", kbps * 1000),
        "nvv4l2h264enc" => ("bitrate", kbps * 1000),
        _ => return false,
    };
    let Some(spec) = enc.find_property(prop) else {
        return false;
    };
    if !spec.flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING) {
        return false;
    }
    enc.set_property(prop, value);
    true
}

pub(crate) fn configure_aac(enc: &gst::Element, kbps: u32) {
    // All three take bits per second, as int (avenc_aac, voaacenc) or int (fdkaacenc).
    set_if(enc, "bitrate", (kbps * 1000) as i32);
}

pub(crate) fn factory_name(e: &gst::Element) -> String {
    e.factory()
        .map(|f| f.name().to_string())
        .unwrap_or_default()
}

/// Sets a property if the element has it with a compatible type (hardware encoders differ
/// between BSP releases; a missing knob must not take the box down).
fn set_if<V: ToValue>(e: &gst::Element, name: &str, value: V) {
    let value = value.to_value();
    match e.find_property(name) {
        Some(spec) if spec.value_type() == value.type_() => e.set_property_from_value(name, &value),
        Some(spec) => match value.transform_with_type(spec.value_type()) {
            Ok(v) => e.set_property_from_value(name, &v),
            Err(_) => {
                tracing::warn!(element = %factory_name(e), property = name, "cannot set property: type differs")
            }
        },
        None => tracing::debug!(element = %factory_name(e), property = name, "no such property"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_falls_back_to_x264_when_no_hardware_encoder_is_there() {
        gst::init().unwrap();
        let board = vec!["mpph264enc".to_string(), "nvv4l2h264enc".to_string()];
        assert_eq!(choose_video("auto", &board).unwrap(), "x264enc");
    }

    #[test]
    fn a_configured_encoder_that_is_missing_is_a_field_error() {
        gst::init().unwrap();
        let err = choose_video("nosuchenc", &[]).unwrap_err().to_string();
        assert!(
            err.contains("ladder.encoder") && err.contains("nosuchenc"),
            "{err}"
        );
    }

    #[test]
    fn a_non_encoder_element_is_refused() {
        gst::init().unwrap();
        assert!(choose_video("fakesink", &[]).is_err());
    }

    #[test]
    fn x264_runs_one_thread_per_rung_when_the_rungs_fill_the_cores() {
        assert_eq!(x264_threads(4, 2), 1);
        assert_eq!(x264_threads(2, 2), 1);
        assert_eq!(x264_threads(1, 2), 0);
        assert_eq!(x264_threads(3, 8), 0);
        assert_eq!(x264_threads(1, 0), 1);
    }

    #[test]
    fn x264_gets_live_settings_and_changes_bitrate_while_playing() {
        gst::init().unwrap();
        let enc = gst::ElementFactory::make("x264enc").build().unwrap();
        configure_video(&enc, 2800, 120, "veryfast");
        assert_eq!(enc.property::<u32>("bitrate"), 2800);
        assert_eq!(enc.property::<u32>("key-int-max"), 120);
        assert!(set_bitrate(&enc, 1500));
        assert_eq!(enc.property::<u32>("bitrate"), 1500);
    }
}
