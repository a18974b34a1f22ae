//! The program pipeline: every input, the mixer (`fourcastmix`, painting the current shot)
//! and the audio mix.
//!
//! It ends in two appsinks whose frames go through the [`Bridge`] to the ladder, so the
//! program can be rebuilt (inputs changed) while the encoders keep running, and the
//! encoders rebuilt while the inputs keep running. Each program pipeline runs on its own
//! base time; its frames are re-stamped onto the engine's running time (which starts when
//! the engine starts and never goes back), so the ladder sees one continuous timeline.

pub(crate) mod bridge;
pub mod graphics;
pub mod mixer;

use std::sync::Arc;

use fourcast_config::{Config, Input, InputKind, Pattern, Source};
use gst::prelude::*;
use gst_video::prelude::*;

use crate::audio_mix::LevelMeter;
use crate::gst_util::leaky_queue;
use crate::inputs::decoded::{Feed, FeedState, Health};
use crate::layout::{self, Rect};
use crate::program::bridge::Bridge;
use crate::stats::FrameCounter;
use crate::{EngineError, EventSink, make};

/// Counters of one input, kept by name across program rebuilds.
pub struct InputCounter {
    pub name: String,
    pub kind: InputKind,
    pub frames: Arc<FrameCounter>,
    /// The input's audio as it enters the mixer.
    pub levels: Arc<LevelMeter>,
    /// The mixer pad the input's pictures arrive on (their caps give its size).
    pub pad: glib::WeakRef<gst::Pad>,
    /// A feed's own state (inputs decoded in a pipeline of their own).
    pub health: Option<Arc<Health>>,
}

/// What an input shows the technician.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputState {
    /// Pictures arrive.
    Live,
    /// No pictures: its tile shows the "no signal" slate.
    NoSignal,
    /// Its feed failed and is built again after a backoff.
    Retrying,
    /// A file played once has ended.
    Ended,
    /// A capture device's receiver sees a signal it cannot lock to.
    NoLock,
    /// A capture device's receiver sees timings it cannot take.
    OutOfRange,
    /// A capture device is gone (unplugged).
    Unplugged,
}

impl InputCounter {
    pub fn state(&self) -> InputState {
        use fourcast_media_core::signal::Signal;
        match self.health.as_ref().map(|h| h.state()) {
            Some(FeedState::Retrying) => InputState::Retrying,
            Some(FeedState::Ended) => InputState::Ended,
            Some(FeedState::Held(Signal::NoLock)) => InputState::NoLock,
            Some(FeedState::Held(Signal::OutOfRange)) => InputState::OutOfRange,
            Some(FeedState::Held(Signal::Unplugged)) => InputState::Unplugged,
            Some(FeedState::Held(_)) => InputState::NoSignal,
            // A sound-only input is live while its sound arrives.
            _ if self.kind == fourcast_config::InputKind::Alsa => {
                match self.health.as_ref().is_some_and(|h| h.sounding()) {
                    true => InputState::Live,
                    false => InputState::NoSignal,
                }
            }
            _ if self.frames.fps() > 0.0 => InputState::Live,
            _ => InputState::NoSignal,
        }
    }

    /// The picture size arriving now.
    pub fn resolution(&self) -> Option<(u32, u32)> {
        let caps = self.pad.upgrade()?.current_caps()?;
        let s = caps.structure(0)?;
        Some((
            s.get::<i32>("width").ok()? as u32,
            s.get::<i32>("height").ok()? as u32,
        ))
    }
}

/// See where the audio mixer is made.
const AUDIO_MIX_LATENCY_NS: u64 = 100_000_000;

/// How long an input's tile keeps its last picture before its slate replaces it.
pub const SLATE_AFTER: gst::ClockTime = gst::ClockTime::from_mseconds(500);

/// What watches the program's output, kept across rebuilds.
pub struct ProgramMeters {
    pub frames: Arc<FrameCounter>,
    pub levels: Arc<LevelMeter>,
    pub thumbs: Arc<crate::outputs::thumbs::Thumbs>,
    pub ingest: Arc<crate::inputs::rtmp_hub::IngestHub>,
}

pub struct Program {
    pipeline: gst::Pipeline,
    mixer: crate::program::mixer::FourcastMix,
    /// The audio mixer's input pads, in input order: their `volume` is each input's gain.
    audio_pads: Vec<gst::Pad>,
    feeds: Vec<(String, Feed, crate::inputs::decoded::Supervisor)>,
    running: Vec<Feed>,
    clock: Option<gst::Element>,
    bus_thread: Option<crate::BusWatch>,
    pub inputs: Vec<Arc<InputCounter>>,
}

impl Program {
    /// Builds (but does not start) the program for `config`, showing `shot`.
    #[allow(clippy::too_many_lines)] // builds the whole program pipeline inline; to split per input kind
    pub fn build(
        config: &Config,
        shot: &fourcast_config::Shot,
        epoch: gst::ClockTime,
        bridge: Arc<Bridge>,
        meters: ProgramMeters,
        events: EventSink,
    ) -> Result<Program, EngineError> {
        let ProgramMeters {
            frames: program_frames,
            levels: program_levels,
            thumbs,
            ingest,
        } = meters;
        let p = &config.program;
        let pipeline = gst::Pipeline::with_name("program");
        let mixer = crate::mixer("mixer")?;
        let compositor: gst::Element = mixer.clone().upcast();
        let video_caps = video_caps(config);
        let video_filter = make("capsfilter", "program-video-caps")?;
        video_filter.set_property("caps", &video_caps);
        let video_sink = gst_app::AppSink::builder()
            .name("program-video")
            .sync(false)
            .max_buffers(2)
            .build();

        let audiomixer = make("audiomixer", "audio-mix")?;
        // Live feeds' sound is stamped as it arrives (end to end, see `Continuity`): the
        // mixer waits this long past a buffer's time before it gives up on it, so a buffer
        // a few milliseconds late is mixed, not cut (a cut is a click). Timestamps do not
        // move: lip sync is unchanged, the program's sound leaves the mixer this much later.
        audiomixer.set_property("latency", AUDIO_MIX_LATENCY_NS);
        let audio_caps = audio_caps(config);
        let audio_filter = make("capsfilter", "program-audio-caps")?;
        audio_filter.set_property("caps", &audio_caps);
        let audio_sink = gst_app::AppSink::builder()
            .name("program-audio")
            .sync(false)
            .max_buffers(50)
            .build();

        let (clock_elements, clock) = clock_chain(config)?;
        let mut video_chain = vec![compositor.clone()];
        video_chain.extend(clock_elements);
        video_chain.extend([video_filter.clone(), video_sink.clone().upcast()]);
        pipeline.add_many(&video_chain)?;
        pipeline.add_many([&audiomixer, &audio_filter, audio_sink.upcast_ref()])?;
        gst::Element::link_many(&video_chain)?;
        house_source(&pipeline, &compositor, p.fps)?;
        if crate::stamp::enabled() {
            stamp_frames(&video_filter);
        }
        if let Some(pad) = video_filter.static_pad("src") {
            thumbs.watch(&pad, crate::outputs::thumbs::PROGRAM);
        }
        gst::Element::link_many([&audiomixer, &audio_filter, audio_sink.upcast_ref()])?;
        if let Some(pad) = audio_filter.static_pad("src") {
            meter_audio(&pad, program_levels);
        }

        // Virtual cameras and file inputs deliver pictures the size of a grid cell (what
        // they cost before the mixer scaled); the mixer scales them to any shot's tiles.
        let tiles = layout::grid(config.inputs.len(), p.width, p.height);
        let mut inputs = Vec::new();
        let mut feeds = Vec::new();
        let mut slates = Vec::new();
        let mut audio_pads = Vec::new();
        for (n, (input, tile)) in config.inputs.iter().zip(tiles).enumerate() {
            let frames = Arc::new(FrameCounter::default());
            let mut health = None;
            let (video_src, audio_src) = match &input.source {
                Source::Test { pattern, tone_hz } => {
                    let look = TestLook {
                        pattern: *pattern,
                        tone_hz: *tone_hz,
                    };
                    test_input(&pipeline, input, look, tile, p.fps, config)?
                }
                source => {
                    let port = match source {
                        Source::Rtmp { key } => Some(ingest.port(&input.name, key.expose())),
                        _ => None,
                    };
                    let (feed, run, v, a) = Feed::build(
                        &pipeline,
                        input,
                        tile,
                        config,
                        &audio_caps,
                        port,
                        events.clone(),
                    )?;
                    health = Some(feed.health.clone());
                    feeds.push((input.name.clone(), feed, run));
                    (v, a)
                }
            };
            match crate::program::graphics::slate(input.label(), "no signal") {
                Ok(no_signal) => {
                    // A file played once ends on a slate that says so.
                    let ended = health
                        .as_ref()
                        .filter(|_| matches!(input.source, Source::File { looped: false, .. }))
                        .and_then(|h| {
                            let p = crate::program::graphics::slate(input.label(), "ended").ok()?;
                            let h = h.clone();
                            let has_ended: crate::program::mixer::HasEnded =
                                Box::new(move || h.state() == FeedState::Ended);
                            Some((p, has_ended))
                        });
                    slates.push(crate::program::mixer::Slate {
                        input: n,
                        no_signal,
                        ended,
                    });
                }
                Err(e) => tracing::warn!(input = %input.name, "no slate: {e}"),
            }
            // Input n is the mixer's sink_n: the shot's tiles name inputs by index.
            let pad = compositor
                .request_pad_simple(&format!("sink_{n}"))
                .ok_or(EngineError::Link("mixer sink pad"))?;
            // A picture not renewed for this long is dropped: the mixer shows the slate.
            pad.set_property("max-last-buffer-repeat", SLATE_AFTER.nseconds());
            count_frames(&pad, &frames);
            thumbs.watch(&pad, &input.name);
            link_pad(&video_src, &pad)?;
            let apad = audiomixer
                .request_pad_simple("sink_%u")
                .ok_or(EngineError::Link("audiomixer sink pad"))?;
            link_pad(&audio_src, &apad)?;
            audio_pads.push(apad.clone());
            let levels = Arc::new(LevelMeter::default());
            meter_audio(&apad, levels.clone());
            inputs.push(Arc::new(InputCounter {
                name: input.name.clone(),
                kind: input.kind(),
                frames,
                levels,
                pad: pad.downgrade(),
                health,
            }));
        }
        mixer.set_slates(slates);
        let keys: Vec<&str> = config
            .inputs
            .iter()
            .filter_map(|i| match &i.source {
                Source::Rtmp { key } => Some(key.expose()),
                _ => None,
            })
            .collect();
        ingest.retain(&keys);

        let frame_ns = 1_000_000_000 / u64::from(p.fps);
        let weak = pipeline.downgrade();
        let video_bridge = bridge.clone();
        video_sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                    let Some(buffer) = restamp(&sample, &weak, epoch) else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    program_frames.frame(buffer.pts().map(|t| t.nseconds()), frame_ns, 0);
                    video_bridge.video(buffer);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        let weak = pipeline.downgrade();
        audio_sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                    if let Some(buffer) = restamp(&sample, &weak, epoch) {
                        bridge.audio(buffer);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );

        mixer.set_scene(layout::shot_tiles(config, shot), 0);
        let bus_thread = Some(crate::watch_bus(&pipeline, "program", events)?);
        Ok(Program {
            pipeline,
            mixer,
            audio_pads,
            feeds,
            running: Vec::new(),
            clock,
            bus_thread,
            inputs,
        })
    }

    /// Shows `tiles` from the next frame on, cut or faded over `fade_frames`.
    pub fn show(&self, tiles: Vec<layout::Placement>, fade_frames: u32) -> u64 {
        self.mixer.set_scene(tiles, fade_frames)
    }

    /// Sets each input's linear gain on the audio mix (input order; the mixer takes 0–10).
    pub fn set_gains(&self, gains: &[f64]) {
        for (pad, g) in self.audio_pads.iter().zip(gains) {
            pad.set_property("volume", g.clamp(0.0, 10.0));
        }
    }

    pub fn last_switch(&self) -> crate::program::mixer::Switch {
        self.mixer.last_switch()
    }

    /// The graphics over the program (logo, lower third).
    pub fn set_graphics(&self, graphics: Vec<crate::program::mixer::Overlay>) {
        self.mixer.set_graphics(graphics);
    }

    /// Shows or hides an overlay; false if it is not configured.
    pub fn show_overlay(&self, name: &str, visible: bool) -> bool {
        match (name, &self.clock) {
            ("clock", Some(clock)) => {
                clock.set_property("silent", !visible);
                true
            }
            ("clock", None) => false,
            _ => self.mixer.show_graphic(name, visible),
        }
    }

    pub fn start(&mut self) -> Result<(), EngineError> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| EngineError::State("program"))?;
        for (name, mut feed, run) in self.feeds.drain(..) {
            feed.start(&name, run)?;
            self.running.push(feed);
        }
        Ok(())
    }

    pub fn stop(mut self) {
        for f in self.running.drain(..) {
            f.stop();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        crate::stop_bus_watch(self.bus_thread.take());
    }
}

/// The clock or timecode burnt into the program, if configured: its elements, and the one
/// that draws it (its `silent` shows and hides it).
fn clock_chain(config: &Config) -> Result<(Vec<gst::Element>, Option<gst::Element>), EngineError> {
    let Some(c) = &config.overlays.clock else {
        return Ok((Vec::new(), None));
    };
    let size = (config.program.height / 24).max(8);
    let (halign, valign) = match c.corner {
        fourcast_config::Corner::TopLeft => ("left", "top"),
        fourcast_config::Corner::TopRight => ("right", "top"),
        fourcast_config::Corner::BottomLeft => ("left", "bottom"),
        fourcast_config::Corner::BottomRight => ("right", "bottom"),
    };
    let (draw, extra) = match c.mode {
        fourcast_config::ClockMode::Clock => {
            let e = make("clockoverlay", "program-clock")?;
            e.set_property("time-format", &c.format);
            (e, None)
        }
        fourcast_config::ClockMode::Timecode => {
            let stamp = make("timecodestamper", "program-timecode")?;
            let e = make("timeoverlay", "program-clock")?;
            e.set_property_from_str("time-mode", "time-code");
            (e, Some(stamp))
        }
    };
    draw.set_property_from_str("halignment", halign);
    draw.set_property_from_str("valignment", valign);
    draw.set_property("font-desc", format!("Monospace Bold {size}"));
    draw.set_property("shaded-background", true);
    draw.set_property("silent", !c.visible);
    let chain = extra.into_iter().chain([draw.clone()]).collect();
    Ok((chain, Some(draw)))
}

/// A black picture the mixer never shows: it keeps the program ticking (and its caps
/// known) when every input has lost its signal.
fn house_source(
    pipeline: &gst::Pipeline,
    mixer: &gst::Element,
    fps: u32,
) -> Result<(), EngineError> {
    let src = make("videotestsrc", "house")?;
    src.set_property("is-live", true);
    src.set_property_from_str("pattern", "black");
    let caps = make("capsfilter", "house-caps")?;
    caps.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(16)
            .height(16)
            .framerate(gst::Fraction::new(fps as i32, 1))
            .build(),
    );
    pipeline.add_many([&src, &caps])?;
    src.link(&caps)?;
    let pad = mixer
        .request_pad_simple(&format!("sink_{HOUSE_PAD}"))
        .ok_or(EngineError::Link("mixer house pad"))?;
    link_pad(
        &caps.static_pad("src").ok_or(EngineError::Link("house"))?,
        &pad,
    )
}

/// The mixer pad of the house source (no input has this index).
const HOUSE_PAD: usize = 99;

/// The program's raw video: what the mixer makes and the ladder takes.
pub fn video_caps(config: &Config) -> gst::Caps {
    let p = &config.program;
    gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::I420)
        .width(p.width as i32)
        .height(p.height as i32)
        .framerate(gst::Fraction::new(p.fps as i32, 1))
        .pixel_aspect_ratio(gst::Fraction::new(1, 1))
        .build()
}

/// The program's raw audio: what the mixer makes and the AAC encoder takes.
pub fn audio_caps(config: &Config) -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("layout", "interleaved")
        .field("rate", config.audio.sample_rate as i32)
        .field("channels", config.audio.channels as i32)
        .build()
}

/// Moves a program buffer onto the engine timeline: its running time in this pipeline plus
/// the time between the engine's start and this pipeline's start.
fn restamp(
    sample: &gst::Sample,
    pipeline: &glib::WeakRef<gst::Pipeline>,
    epoch: gst::ClockTime,
) -> Option<gst::Buffer> {
    let mut buffer = sample.buffer_owned()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let running = segment.to_running_time(buffer.pts()?)?;
    let base = pipeline.upgrade()?.base_time()?;
    let pts = running + base.saturating_sub(epoch);
    let b = buffer.make_mut();
    b.set_pts(pts);
    b.set_dts(gst::ClockTime::NONE);
    Some(buffer)
}

fn count_frames(pad: &gst::Pad, frames: &Arc<FrameCounter>) {
    let frames = frames.clone();
    // Inputs are counted, not gap-checked: a live source's timestamps are its own.
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        frames.frame(None, 0, 0);
        gst::PadProbeReturn::Ok
    });
}

/// Feeds every audio buffer through `pad` (S16LE, the program's audio caps) to `levels`.
fn meter_audio(pad: &gst::Pad, levels: Arc<LevelMeter>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(map) = info.buffer().and_then(|b| b.map_readable().ok()) {
            levels.add_s16le(map.as_slice());
        }
        gst::PadProbeReturn::Ok
    });
}

fn link_pad(src: &gst::Pad, sink: &gst::Pad) -> Result<(), EngineError> {
    src.link(sink)
        .map(|_| ())
        .map_err(|_| EngineError::Link("input to mixer"))
}

/// What a test camera shows and plays.
#[derive(Clone, Copy)]
struct TestLook {
    pattern: Pattern,
    tone_hz: u32,
}

/// A virtual camera: moving pattern, its label, a burnt-in clock, and its own tone.
fn test_input(
    pipeline: &gst::Pipeline,
    input: &Input,
    look: TestLook,
    tile: Rect,
    fps: u32,
    config: &Config,
) -> Result<(gst::Pad, gst::Pad), EngineError> {
    let n = &input.name;
    let src = make("videotestsrc", &format!("{n}-pattern"))?;
    src.set_property("is-live", true);
    let pattern = look.pattern.nick();
    src.set_property_from_str("pattern", pattern);
    if pattern != "ball" {
        // Static patterns scroll so that a frozen picture is visible at a glance.
        src.set_property("horizontal-speed", 4i32);
    }
    let caps = make("capsfilter", &format!("{n}-caps"))?;
    caps.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(tile.width as i32)
            .height(tile.height as i32)
            .framerate(gst::Fraction::new(fps as i32, 1))
            .build(),
    );
    let label = make("textoverlay", &format!("{n}-label"))?;
    label.set_property("text", input.label());
    label.set_property_from_str("valignment", "top");
    label.set_property_from_str("halignment", "left");
    label.set_property(
        "font-desc",
        format!("Sans Bold {}", (tile.height / 14).max(8)),
    );
    label.set_property("shaded-background", true);
    let clock = make("clockoverlay", &format!("{n}-clock"))?;
    clock.set_property("time-format", "%H:%M:%S");
    clock.set_property_from_str("valignment", "bottom");
    clock.set_property_from_str("halignment", "right");
    clock.set_property(
        "font-desc",
        format!("Monospace {}", (tile.height / 20).max(8)),
    );
    clock.set_property("shaded-background", true);
    let queue = leaky_queue(&format!("{n}-video-queue"), 3)?;
    pipeline.add_many([&src, &caps, &label, &clock, &queue])?;
    gst::Element::link_many([&src, &caps, &label, &clock, &queue])?;

    let tone = make("audiotestsrc", &format!("{n}-tone"))?;
    tone.set_property("is-live", true);
    tone.set_property("freq", f64::from(look.tone_hz));
    tone.set_property("volume", 0.1f64);
    tone.set_property("samplesperbuffer", (config.audio.sample_rate / 100) as i32);
    let acaps = make("capsfilter", &format!("{n}-audio-caps"))?;
    acaps.set_property("caps", audio_caps(config));
    let aqueue = leaky_queue(&format!("{n}-audio-queue"), 20)?;
    pipeline.add_many([&tone, &acaps, &aqueue])?;
    gst::Element::link_many([&tone, &acaps, &aqueue])?;

    let vpad = queue
        .static_pad("src")
        .ok_or(EngineError::Link("queue src"))?;
    let apad = aqueue
        .static_pad("src")
        .ok_or(EngineError::Link("queue src"))?;
    Ok((vpad, apad))
}

/// Paints the mix time into every program frame (see `stamp`).
fn stamp_frames(filter: &gst::Element) {
    let Some(pad) = filter.static_pad("src") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let Some(caps) = pad.current_caps() else {
            return gst::PadProbeReturn::Ok;
        };
        let Ok(vinfo) = gst_video::VideoInfo::from_caps(&caps) else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(buffer) = info.buffer_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        if let Ok(mut frame) =
            gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), &vinfo)
        {
            let stride = frame.plane_stride()[0] as usize;
            let width = frame.width() as usize;
            if let Ok(y) = frame.plane_data_mut(0) {
                crate::stamp::paint(y, stride, width, ms);
            }
        }
        gst::PadProbeReturn::Ok
    });
}
