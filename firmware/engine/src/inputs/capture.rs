//! How a capture device's pictures reach the converter: the format, size and rate chosen
//! for it (`fourcast_media_core::capture_format` decides) as caps after `v4l2src`, and for
//! MJPEG the board's JPEG decoder.

use std::path::Path;

use fourcast_media_core::capture_format::{self, Choice, Preference, Want};
use gst::prelude::*;

use crate::inputs::devices;
use crate::{EngineError, make};

/// What a capture input asks for, fixed when its feed is built.
#[derive(Clone, Debug)]
pub(crate) struct Ask {
    pub preference: Preference,
    pub want: Want,
    /// The board's hardware JPEG decoders, in order of preference.
    pub jpeg_decoders: Vec<String>,
}

/// The JPEG decoder every machine has (libjpeg-turbo, NEON/SIMD in software).
pub(crate) const SOFTWARE_JPEG: &str = "jpegdec";

/// The first of the board's JPEG decoders installed here, or [`SOFTWARE_JPEG`]; and
/// whether it is hardware.
fn jpeg_decoder(board: &[String]) -> (String, bool) {
    board
        .iter()
        .find(|d| gst::ElementFactory::find(d).is_some())
        .map_or((SOFTWARE_JPEG.to_string(), false), |d| (d.clone(), true))
}

/// The elements between `v4l2src` and the converter for `device`, and what was chosen in
/// words (for the log and status). A device that cannot be asked is followed as it is.
pub(crate) fn chain(
    name: &str,
    device: &Path,
    ask: &Ask,
) -> Result<(Vec<gst::Element>, String), EngineError> {
    let (decoder, hardware) = jpeg_decoder(&ask.jpeg_decoders);
    let (offers, receiver) = devices::describe_node(device)
        .map(|d| (d.offers(), d.dv_timings))
        .unwrap_or_default();
    let choice = capture_format::choose(&offers, receiver, ask.want, ask.preference, hardware)
        .map_err(|e| EngineError::Capture(format!("{}: {e}", device.display())))?;
    elements(name, choice, &decoder, hardware)
}

/// A choice's elements: caps for the format, size and rate, and the JPEG decoder.
fn elements(
    name: &str,
    choice: Choice,
    decoder: &str,
    hardware: bool,
) -> Result<(Vec<gst::Element>, String), EngineError> {
    let caps = |media: &str, width: u32, height: u32, fps: f64| {
        let mut s = gst::Structure::builder(media)
            .field("width", width as i32)
            .field("height", height as i32);
        if fps > 0.0 {
            // A range, not a fraction: 29.97 is 30000/1001 to the driver.
            let at = |f: f64| {
                gst::Fraction::approximate_f64(f.max(0.0)).unwrap_or(gst::Fraction::new(0, 1))
            };
            s = s.field(
                "framerate",
                gst::FractionRange::new(at(fps - 0.5), at(fps + 0.5)),
            );
        }
        gst::Caps::builder_full().structure(s.build()).build()
    };
    let filter = make("capsfilter", &format!("{name}-capture-caps"))?;
    Ok(match choice {
        Choice::Follow => (Vec::new(), "raw, as the source sends".to_string()),
        Choice::Raw { width, height, fps } => {
            filter.set_property("caps", caps("video/x-raw", width, height, fps));
            (
                vec![filter],
                format!("raw {width}×{height} at {fps:.0} fps"),
            )
        }
        Choice::Mjpeg { width, height, fps } => {
            filter.set_property("caps", caps("image/jpeg", width, height, fps));
            let decode = make(decoder, &format!("{name}-jpegdec"))?;
            let kind = if hardware { "hardware" } else { "software" };
            (
                vec![filter, decode],
                format!("MJPEG {width}×{height} at {fps:.0} fps, {kind} {decoder}"),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MJPEG branch as built for a camera takes its JPEG pictures at the chosen size
    /// and rate and decodes them into raw ones (software `jpegdec` when the board's
    /// decoders are not installed).
    #[test]
    fn the_mjpeg_branch_decodes_a_cameras_pictures() {
        gst::init().unwrap();
        let (decoder, hardware) = jpeg_decoder(&["no-such-decoder".to_string()]);
        assert_eq!((decoder.as_str(), hardware), ("jpegdec", false));
        let choice = Choice::Mjpeg {
            width: 320,
            height: 240,
            fps: 29.97,
        };
        let (branch, said) = elements("cam", choice, &decoder, hardware).unwrap();
        assert_eq!(said, "MJPEG 320×240 at 30 fps, software jpegdec");
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("videotestsrc")
            .property("num-buffers", 5)
            .build()
            .unwrap();
        let camera = make("capsfilter", "camera").unwrap();
        camera.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("width", 320)
                .field("height", 240)
                .field("framerate", gst::Fraction::new(30000, 1001))
                .build(),
        );
        let enc = make("jpegenc", "enc").unwrap();
        let sink = gst_app::AppSink::builder().sync(false).build();
        let mut all = vec![src, camera, enc];
        all.extend(branch);
        all.push(sink.clone().upcast());
        pipeline.add_many(&all).unwrap();
        gst::Element::link_many(&all).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let sample = sink.pull_sample().expect("a decoded picture");
        let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(s.name(), "video/x-raw");
        assert_eq!(s.get::<i32>("width").unwrap(), 320);
        // A 640-wide camera does not fit the branch's caps: they really pin the size.
        let (branch, _) = elements("cam2", choice, &decoder, hardware).unwrap();
        let wide = make("capsfilter", "wide").unwrap();
        wide.set_property(
            "caps",
            gst::Caps::builder("image/jpeg").field("width", 640).build(),
        );
        let p2 = gst::Pipeline::new();
        p2.add_many([&wide, &branch[0]]).unwrap();
        assert!(wide.link(&branch[0]).is_err());
    }

    #[test]
    fn mjpeg_asked_of_a_device_that_is_not_there_names_it() {
        gst::init().unwrap();
        let ask = Ask {
            preference: Preference::Mjpeg,
            want: Want {
                width: 320,
                height: 240,
                fps: 30.0,
            },
            jpeg_decoders: Vec::new(),
        };
        let e = chain("cam", Path::new("/nonexistent/video9"), &ask).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/video9"), "{e}");
        let auto = Ask {
            preference: Preference::Auto,
            ..ask
        };
        let (branch, _) = chain("cam", Path::new("/nonexistent/video9"), &auto).unwrap();
        assert!(
            branch.is_empty(),
            "followed as it is: v4l2src names what is wrong"
        );
    }
}
