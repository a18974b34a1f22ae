//! A `file` input: a media file decoded in its own pipeline, paced in real time and looped
//! with segment seeks (no flush, so no gap), its frames handed to the program through
//! appsrcs. A file that fails to decode shows as an input with no frames and an error
//! event; the program keeps running.

use std::sync::Arc;

use fourcast_config::Input;
use gst::prelude::*;

use crate::layout::Rect;
use crate::{EngineError, EventSink, make};

pub struct FilePlayer {
    pipeline: gst::Pipeline,
    bus_thread: Option<crate::BusWatch>,
}

impl FilePlayer {
    /// Builds the player for `input` and the appsrcs it feeds in `program`; returns the
    /// program-side video and audio pads to link to the mixer.
    pub fn build(
        program: &gst::Pipeline,
        input: &Input,
        tile: Rect,
        fps: u32,
        audio_caps: &gst::Caps,
        events: EventSink,
    ) -> Result<(FilePlayer, gst::Pad, gst::Pad), EngineError> {
        let n = &input.name;
        let path = input
            .path
            .as_ref()
            .ok_or(EngineError::Link("file input without path"))?;
        let video_caps = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(tile.width as i32)
            .height(tile.height as i32)
            .framerate(gst::Fraction::new(fps as i32, 1))
            .pixel_aspect_ratio(gst::Fraction::new(1, 1))
            .build();
        // Program side: live appsrcs stamped on arrival with the program's running time.
        let vsrc = program_appsrc(&format!("{n}-file-video"), &video_caps, 3)?;
        let asrc = program_appsrc(&format!("{n}-file-audio"), audio_caps, 20)?;
        let vqueue = crate::program::leaky_queue(&format!("{n}-file-video-queue"), 3)?;
        let aqueue = crate::program::leaky_queue(&format!("{n}-file-audio-queue"), 20)?;
        program.add_many([
            vsrc.upcast_ref::<gst::Element>(),
            asrc.upcast_ref(),
            &vqueue,
            &aqueue,
        ])?;
        vsrc.link(&vqueue)?;
        asrc.link(&aqueue)?;

        // Player side.
        let pipeline = gst::Pipeline::with_name(&format!("{n}-player"));
        let filesrc = make("filesrc", &format!("{n}-filesrc"))?;
        filesrc.set_property("location", path.to_string_lossy().as_ref());
        let decode = make("decodebin", &format!("{n}-decode"))?;
        let vconv = make("videoconvert", &format!("{n}-vconv"))?;
        let vscale = make("videoscale", &format!("{n}-vscale"))?;
        vscale.set_property("add-borders", true);
        let vrate = make("videorate", &format!("{n}-vrate"))?;
        let vfilter = make("capsfilter", &format!("{n}-vcaps"))?;
        vfilter.set_property("caps", &video_caps);
        let vsink = gst_app::AppSink::builder()
            .sync(true)
            .max_buffers(3)
            .build();
        let aconv = make("audioconvert", &format!("{n}-aconv"))?;
        let ares = make("audioresample", &format!("{n}-ares"))?;
        let afilter = make("capsfilter", &format!("{n}-acaps"))?;
        afilter.set_property("caps", audio_caps);
        let asink = gst_app::AppSink::builder()
            .sync(true)
            .max_buffers(20)
            .build();
        pipeline.add_many([
            &filesrc,
            &decode,
            &vconv,
            &vscale,
            &vrate,
            &vfilter,
            vsink.upcast_ref(),
        ])?;
        pipeline.add_many([&aconv, &ares, &afilter, asink.upcast_ref()])?;
        filesrc.link(&decode)?;
        gst::Element::link_many([&vconv, &vscale, &vrate, &vfilter, vsink.upcast_ref()])?;
        gst::Element::link_many([&aconv, &ares, &afilter, asink.upcast_ref()])?;
        let (vconv_sink, aconv_sink) = (
            vconv
                .static_pad("sink")
                .ok_or(EngineError::Link("videoconvert"))?,
            aconv
                .static_pad("sink")
                .ok_or(EngineError::Link("audioconvert"))?,
        );
        decode.connect_pad_added(move |_, pad| {
            let Some(caps) = pad.current_caps().or_else(|| Some(pad.query_caps(None))) else {
                return;
            };
            let Some(name) = caps.structure(0).map(|s| s.name().to_string()) else {
                return;
            };
            let target = if name.starts_with("video/") {
                &vconv_sink
            } else if name.starts_with("audio/") {
                &aconv_sink
            } else {
                return;
            };
            if !target.is_linked() {
                let _ = pad.link(target);
            }
        });
        forward(&vsink, vsrc.clone());
        forward(&asink, asrc.clone());

        let weak = pipeline.downgrade();
        let name = n.clone();
        let bus_thread = Some(crate::watch_bus_with(
            &pipeline,
            &format!("input {n}"),
            events,
            move |msg| {
                // Loop: at the end of each pass, seek back to the start without flushing.
                if let gst::MessageView::SegmentDone(_) = msg.view()
                    && let Some(p) = weak.upgrade()
                    && p.seek_simple(gst::SeekFlags::SEGMENT, gst::ClockTime::ZERO)
                        .is_err()
                {
                    tracing::warn!(input = %name, "loop seek failed");
                }
            },
        )?);
        let vpad = vqueue.static_pad("src").ok_or(EngineError::Link("queue"))?;
        let apad = aqueue.static_pad("src").ok_or(EngineError::Link("queue"))?;
        Ok((
            FilePlayer {
                pipeline,
                bus_thread,
            },
            vpad,
            apad,
        ))
    }

    pub fn start(&self) -> Result<(), EngineError> {
        self.pipeline
            .set_state(gst::State::Paused)
            .map_err(|_| EngineError::State("file input"))?;
        let _ = self.pipeline.state(gst::ClockTime::from_seconds(5));
        // A segment seek makes the end of the file post SEGMENT_DONE instead of EOS.
        let _ = self.pipeline.seek_simple(
            gst::SeekFlags::FLUSH | gst::SeekFlags::SEGMENT,
            gst::ClockTime::ZERO,
        );
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| EngineError::State("file input"))?;
        Ok(())
    }

    pub fn stop(mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        crate::stop_bus_watch(self.bus_thread.take());
    }
}

fn program_appsrc(
    name: &str,
    caps: &gst::Caps,
    max_buffers: u64,
) -> Result<gst_app::AppSrc, EngineError> {
    let src = gst_app::AppSrc::builder()
        .name(name)
        .caps(caps)
        .is_live(true)
        .do_timestamp(true)
        .format(gst::Format::Time)
        .max_buffers(max_buffers)
        .leaky_type(gst_app::AppLeakyType::Downstream)
        // A live source must say how late it may be, or the mixers cannot set a latency.
        .min_latency(0)
        .max_latency(1_000_000_000)
        .build();
    Ok(src)
}

fn forward(sink: &gst_app::AppSink, src: gst_app::AppSrc) {
    let src = Arc::new(src);
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                if let Some(buffer) = sample.buffer_owned() {
                    let mut buffer = buffer;
                    let b = buffer.make_mut();
                    // The program's appsrc stamps it on arrival.
                    b.set_pts(gst::ClockTime::NONE);
                    b.set_dts(gst::ClockTime::NONE);
                    b.set_duration(gst::ClockTime::NONE);
                    let _ = src.push_buffer(buffer);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}
