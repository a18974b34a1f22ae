//! Inputs that are decoded in a pipeline of their own: a `file`, an `srt` listener, an
//! `rtmp` publish from the ingest server. Their frames reach the program through live
//! appsrcs, so whatever happens to a feed (a sender that leaves, a broken stream, a file
//! that ends) never stops the program: the mixer shows the input's slate instead.
//!
//! Each feed has a supervisor thread that builds the pipeline, watches its bus and, when it
//! fails or its source ends, tears it down and builds it again: at once when a listener's
//! sender just left, after a backoff (1 s doubling to 30 s, see [`crate::retry`]) on an
//! error. A file played once ends for good.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fourcast_config::{CaptureFormat, Input, Source};
use fourcast_media_core::capture_format::{Preference, Want};
use fourcast_media_core::drift::{Drift, DriftReport};
use fourcast_media_core::signal::{Act, Monitor, Probe, Signal};
use gst::prelude::*;

use crate::continuity::Continuity;
use crate::inputs::rtmp_hub::IngestPort;
use crate::layout::Rect;
use crate::{EngineError, EngineEvent, EventSink, lock, make};

/// How long a listener's sender may send nothing before it counts as gone.
const SILENT_MS: u64 = 1_000;

/// What a feed's supervisor knows about its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// The pipeline runs (frames flow, or a listener waits for its sender).
    Running,
    /// The pipeline failed; it is built again after a backoff.
    Retrying,
    /// A file played once has ended.
    Ended,
    /// A capture device's signal is not usable (its frames are held back, its slate shows).
    Held(Signal),
}

/// A feed's state and last error, shared with the status.
#[derive(Debug)]
pub struct Health {
    inner: Mutex<(FeedState, Option<String>)>,
    /// A capture's sound against the program's clock (see `fourcast_media_core::drift`).
    audio_clock: Mutex<Option<DriftReport>>,
    /// The format, size and rate a capture device was asked for, in words.
    capture_format: Mutex<Option<String>>,
    /// When sound last came from the device (a sound-only input is live while it does).
    sound_at: Mutex<Option<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            inner: Mutex::new((FeedState::Running, None)),
            audio_clock: Mutex::new(None),
            capture_format: Mutex::new(None),
            sound_at: Mutex::new(None),
        }
    }
}

impl Health {
    pub fn state(&self) -> FeedState {
        lock(&self.inner).0
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.inner).1.clone()
    }

    /// How far a capture's sound runs from the pictures and the correction applied.
    pub fn audio_clock(&self) -> Option<DriftReport> {
        *lock(&self.audio_clock)
    }

    /// What a capture device was asked for (`MJPEG 1920×1080 at 30 fps, hardware …`).
    pub fn capture_format(&self) -> Option<String> {
        lock(&self.capture_format).clone()
    }

    /// Sound came from the device within the last second.
    pub fn sounding(&self) -> bool {
        lock(&self.sound_at).is_some_and(|t| t.elapsed() < Duration::from_secs(1))
    }

    fn set(&self, state: FeedState) {
        lock(&self.inner).0 = state;
    }

    fn failed(&self, error: String) {
        *lock(&self.inner) = (FeedState::Retrying, Some(error));
    }

    /// What a capture device's monitor says: held back, or running again.
    fn signal(&self, signal: Signal) {
        lock(&self.inner).0 = match signal {
            Signal::Live => FeedState::Running,
            held => FeedState::Held(held),
        };
    }
}

/// Where a feed's media comes from.
#[derive(Clone)]
enum Origin {
    File {
        path: String,
        looped: bool,
    },
    Srt(SrtListen),
    Rtmp(Arc<IngestPort>),
    V4l2 {
        device: std::path::PathBuf,
        audio: Option<String>,
        ask: crate::inputs::capture::Ask,
        signal: fourcast_config::SignalSource,
    },
    /// Sound only, from an ALSA device.
    Alsa(String),
}

impl Origin {
    /// A device on the board (a camera, a sound card): looked at again soon after it
    /// fails, and its sound kept on the program's clock.
    fn on_board(&self) -> bool {
        matches!(self, Origin::V4l2 { .. } | Origin::Alsa(_))
    }

    /// Its sound runs on a clock of its own (an ALSA device's crystal).
    fn own_sound_clock(&self) -> bool {
        matches!(self, Origin::V4l2 { audio: Some(_), .. } | Origin::Alsa(_))
    }
}

#[derive(Clone)]
struct SrtListen {
    port: u16,
    passphrase: Option<String>,
    streamid: Option<String>,
    latency_ms: u32,
}

/// How a pipeline run ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The feed is being stopped.
    Stop,
    /// The source ended normally (a sender left, a publish ended, a file played once).
    Ended,
    /// A capture's signal came back or changed size: build it again at once.
    Rebuild,
    Failed(String),
}

/// What the program side gives a feed: the appsrcs its frames go to.
struct Sinks {
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    audio_caps: gst::Caps,
    /// Files are scaled and paced to this size and rate; live feeds keep their own.
    file_caps: gst::Caps,
    /// Frames pass to the program only while this holds (a capture without signal sends
    /// its receiver's noise picture, which must never reach the program).
    gate: Arc<AtomicBool>,
    /// Where a capture's audio clock is reported.
    health: Arc<Health>,
}

/// A feed's supervisor loop, to run on its own thread once the program plays.
pub(crate) type Supervisor = Box<dyn FnOnce() + Send>;

pub(crate) struct Feed {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub health: Arc<Health>,
}

impl Feed {
    /// Builds the program-side appsrcs for `input` in `program` and the feed's supervisor
    /// (started by [`Feed::start`]); returns the video and audio pads to link to the mixers.
    pub(crate) fn build(
        program: &gst::Pipeline,
        input: &Input,
        tile: Rect,
        config: &fourcast_config::Config,
        audio_caps: &gst::Caps,
        ingest: Option<Arc<IngestPort>>,
        events: EventSink,
    ) -> Result<(Feed, Supervisor, gst::Pad, gst::Pad), EngineError> {
        let n = &input.name;
        let fps = config.program.fps;
        let origin = match &input.source {
            Source::File { path, looped } => Origin::File {
                path: path.to_string_lossy().into_owned(),
                looped: *looped,
            },
            Source::Srt(srt) => Origin::Srt(SrtListen {
                port: srt.listen_port,
                passphrase: srt.passphrase.as_ref().map(|p| p.expose().to_string()),
                streamid: srt.streamid.clone(),
                latency_ms: srt.latency_ms,
            }),
            Source::Rtmp { .. } => {
                Origin::Rtmp(ingest.ok_or(EngineError::Link("rtmp ingest port"))?)
            }
            Source::V4l2(c) => Origin::V4l2 {
                device: c.device.clone(),
                audio: c.audio.clone(),
                ask: crate::inputs::capture::Ask {
                    preference: match c.format {
                        CaptureFormat::Auto => Preference::Auto,
                        CaptureFormat::Raw => Preference::Raw,
                        CaptureFormat::Mjpeg => Preference::Mjpeg,
                    },
                    want: Want {
                        width: config.program.width,
                        height: config.program.height,
                        fps: f64::from(fps),
                    },
                    jpeg_decoders: fourcast_board::profile(&config.board)
                        .map(|p| p.jpeg_decoders)
                        .unwrap_or_default(),
                },
                signal: c.signal.clone(),
            },
            Source::Alsa { device } => Origin::Alsa(device.clone()),
            Source::Test { .. } => return Err(EngineError::Link("a test input is not a feed")),
        };
        let file_caps = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(tile.width as i32)
            .height(tile.height as i32)
            .framerate(gst::Fraction::new(fps as i32, 1))
            .pixel_aspect_ratio(gst::Fraction::new(1, 1))
            .build();
        // Program side: live appsrcs stamped on arrival with the program's running time.
        let video = program_appsrc(&format!("{n}-feed-video"), &file_caps, 3);
        let audio = program_appsrc(&format!("{n}-feed-audio"), audio_caps, 20);
        if !matches!(origin, Origin::File { .. }) {
            // Live audio comes in bursts: it is stamped for continuity (see `Continuity`).
            audio.set_do_timestamp(false);
        }
        let vqueue = crate::gst_util::leaky_queue(&format!("{n}-feed-video-queue"), 3)?;
        let aqueue = crate::gst_util::leaky_queue(&format!("{n}-feed-audio-queue"), 20)?;
        program.add_many([
            video.upcast_ref::<gst::Element>(),
            audio.upcast_ref(),
            &vqueue,
            &aqueue,
        ])?;
        video.link(&vqueue)?;
        audio.link(&aqueue)?;
        let vpad = vqueue.static_pad("src").ok_or(EngineError::Link("queue"))?;
        let apad = aqueue.static_pad("src").ok_or(EngineError::Link("queue"))?;

        let stop = Arc::new(AtomicBool::new(false));
        let health = Arc::new(Health::default());
        let sinks = Sinks {
            video,
            audio,
            audio_caps: audio_caps.clone(),
            file_caps,
            gate: Arc::new(AtomicBool::new(true)),
            health: health.clone(),
        };
        let (name, flag, h) = (n.clone(), stop.clone(), health.clone());
        let start: Supervisor = Box::new(move || {
            supervise(&name, &origin, &sinks, &flag, &h, &events);
        });
        Ok((
            Feed {
                stop,
                thread: None,
                health,
            },
            start,
            vpad,
            apad,
        ))
    }

    /// Starts the supervisor (once the program plays).
    pub(crate) fn start(&mut self, name: &str, run: Supervisor) -> Result<(), EngineError> {
        let thread = std::thread::Builder::new()
            .name(format!("feed-{name}"))
            .spawn(run)
            .map_err(|_| EngineError::State("feed"))?;
        self.thread = Some(thread);
        Ok(())
    }

    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn supervise(
    name: &str,
    origin: &Origin,
    sinks: &Sinks,
    stop: &AtomicBool,
    health: &Health,
    events: &EventSink,
) {
    let mut backoff = crate::retry::Connection::new(seed(name));
    let started = Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let mut monitor = Monitor::default();
    while !stop.load(Ordering::Relaxed) {
        backoff.should_connect(now_ms());
        let built = match origin {
            Origin::Alsa(_) => sound_only(name, origin, sinks).map(|p| (p, None)),
            _ => build(name, origin, sinks),
        };
        let outcome = match built {
            Ok((pipeline, ingest_src)) => {
                let outcome = match origin {
                    Origin::V4l2 { device, signal, .. } => {
                        let node = (device.as_path(), signal);
                        capture(&pipeline, node, sinks, &mut monitor, stop, health)
                    }
                    _ => run(&pipeline, origin, stop, health, || {
                        backoff.connected(now_ms())
                    }),
                };
                if let (Origin::Rtmp(port), Some(src)) = (origin, &ingest_src) {
                    port.detach(src);
                }
                let _ = pipeline.set_state(gst::State::Null);
                outcome
            }
            Err(e) => Outcome::Failed(e.to_string()),
        };
        match outcome {
            Outcome::Stop => break,
            Outcome::Ended if matches!(origin, Origin::File { .. }) => {
                tracing::info!(input = %name, "file played to its end");
                health.set(FeedState::Ended);
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                break;
            }
            Outcome::Rebuild => {}
            Outcome::Failed(message) if origin.on_board() => {
                // A device on the board that failed is looked at again soon: an unplugged
                // camera must be back within a couple of seconds of returning.
                tracing::info!(input = %name, "capture stopped: {message}");
                if !matches!(health.state(), FeedState::Held(_)) {
                    health.failed(message);
                }
                let until = Instant::now() + Duration::from_millis(500);
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Outcome::Ended => {
                // A sender left: listen again at once for the next one.
                tracing::info!(input = %name, "sender left; waiting for the next one");
                backoff.waiting();
                health.set(FeedState::Running);
            }
            Outcome::Failed(message) => {
                let delay = backoff.failed(now_ms(), message.clone());
                tracing::warn!(input = %name, retry_in_ms = delay, "{message}");
                events(EngineEvent::Warning {
                    source: format!("input {name}"),
                    message: format!("{message} (retrying in {:.1} s)", delay as f64 / 1000.0),
                });
                health.failed(message);
                let until = Instant::now() + Duration::from_millis(delay);
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Plays `pipeline` until it fails, its source ends, or `stop`.
fn run(
    pipeline: &gst::Pipeline,
    origin: &Origin,
    stop: &AtomicBool,
    health: &Health,
    mut connected: impl FnMut(),
) -> Outcome {
    let looped = matches!(origin, Origin::File { looped: true, .. });
    if let Origin::File { .. } = origin {
        if pipeline.set_state(gst::State::Paused).is_err() {
            return Outcome::Failed("the file could not be opened".into());
        }
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        if looped {
            // A segment seek makes the end of the file post SEGMENT_DONE instead of EOS.
            let _ = pipeline.seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::SEGMENT,
                gst::ClockTime::ZERO,
            );
        }
    }
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Outcome::Failed(bus_error(pipeline).unwrap_or_else(|| "did not start".into()));
    }
    health.set(FeedState::Running);
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed("no bus".into());
    };
    let mut flowing = false;
    // A listener whose sender vanished without saying so (killed, unplugged) would hold the
    // dead connection until SRT's peer timeout; after SILENT_MS without data it listens
    // again, so the sender can come straight back.
    let last_data = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clock = Instant::now();
    if let Origin::Srt(_) = origin
        && let Some(pad) = pipeline
            .by_name(&format!(
                "{}-srtsrc",
                pipeline.name().trim_end_matches("-feed")
            ))
            .and_then(|e| e.static_pad("src"))
    {
        let last = last_data.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            last.store(clock.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    while !stop.load(Ordering::Relaxed) {
        let seen = last_data.load(Ordering::Relaxed);
        if seen > 0 && clock.elapsed().as_millis() as u64 > seen + SILENT_MS {
            return Outcome::Ended;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Error(e) => {
                return Outcome::Failed(e.error().to_string());
            }
            gst::MessageView::Eos(_) => return Outcome::Ended,
            gst::MessageView::SegmentDone(_)
                if pipeline
                    .seek_simple(gst::SeekFlags::SEGMENT, gst::ClockTime::ZERO)
                    .is_err() =>
            {
                return Outcome::Failed("the loop's seek failed".into());
            }
            gst::MessageView::StreamStart(_) if !flowing => {
                flowing = true;
                connected();
            }
            _ => {}
        }
    }
    Outcome::Stop
}

/// How often a capture device is asked about its signal.
const PROBE_MS: u64 = 250;

/// Plays a capture pipeline while its device's signal holds, asking the driver every
/// [`PROBE_MS`]: frames are held back while there is no usable signal, and the branch is
/// built again when the signal returns or changes size (the capture renegotiates then; its
/// size is never pinned in caps).
fn capture(
    pipeline: &gst::Pipeline,
    (device, signal): (&std::path::Path, &fourcast_config::SignalSource),
    sinks: &Sinks,
    monitor: &mut Monitor,
    stop: &AtomicBool,
    health: &Health,
) -> Outcome {
    let look = |monitor: &mut Monitor| {
        let probe = super::v4l2::look(device, signal);
        (probe, monitor.probe(probe))
    };
    // Built for what the receiver sees now.
    let (first, _) = look(monitor);
    tracing::info!(device = %device.display(), probe = ?first, "capture: first look");
    match first {
        Probe::Timings { width, height, mhz } => monitor.built(Some((width, height, mhz))),
        Probe::Unsupported => monitor.built(None),
        _ => {}
    }
    let usable = matches!(first, Probe::Timings { .. } | Probe::Unsupported);
    sinks.gate.store(usable, Ordering::Relaxed);
    health.signal(if usable {
        Signal::Live
    } else {
        monitor.signal(0)
    });
    if matches!(first, Probe::Gone) {
        return Outcome::Failed("the device is gone".into());
    }
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Outcome::Failed(bus_error(pipeline).unwrap_or_else(|| "did not start".into()));
    }
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed("no bus".into());
    };
    let mut next_look = Instant::now() + Duration::from_millis(PROBE_MS);
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_look {
            next_look = Instant::now() + Duration::from_millis(PROBE_MS);
            match look(monitor).1 {
                Act::Keep => {}
                Act::Hold(signal) => {
                    sinks.gate.store(false, Ordering::Relaxed);
                    health.signal(signal);
                    tracing::info!(device = %device.display(), "capture: {}", signal.as_str());
                }
                Act::Rebuild { width, height, mhz } => {
                    tracing::info!(
                        device = %device.display(),
                        "capture: signal {width}×{height} at {:.2} Hz",
                        f64::from(mhz) / 1000.0
                    );
                    return Outcome::Rebuild;
                }
            }
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Error(e) => {
                if matches!(look(monitor).0, Probe::Gone) {
                    health.signal(Signal::Unplugged);
                }
                return Outcome::Failed(e.error().to_string());
            }
            gst::MessageView::Eos(_) => return Outcome::Failed("the capture ended".into()),
            _ => {}
        }
    }
    Outcome::Stop
}

fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let msg = pipeline.bus()?.timed_pop_filtered(
        gst::ClockTime::from_mseconds(100),
        &[gst::MessageType::Error],
    )?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(e.error().to_string()),
        _ => None,
    }
}

/// The largest picture an input may send (DCI 4K), either way round.
const MAX_WIDTH: i32 = 4096;
const MAX_HEIGHT: i32 = 2160;

fn picture_fits(width: i32, height: i32) -> bool {
    let (long, short) = (width.max(height), width.min(height));
    short > 0 && long <= MAX_WIDTH && short <= MAX_HEIGHT
}

/// What a network or file input may carry, as media types: the containers and codecs a
/// venue's cameras, encoders and playout send. Anything else (a rare codec's decoder is
/// attack surface nobody needs on show day) stops the run with a message naming it.
const ALLOWED_MEDIA: &[&str] = &[
    // containers
    "video/mpegts",
    "video/x-flv",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    // video
    "video/x-h264",
    "video/x-h265",
    "video/mpeg",
    "video/x-vp8",
    "video/x-vp9",
    "video/x-av1",
    "video/x-raw",
    "image/jpeg",
    // audio
    "audio/mpeg",
    "audio/x-opus",
    "audio/x-ac3",
    "audio/x-eac3",
    "audio/x-raw",
];

/// Whether a stream of `media_type` may be decoded.
fn media_allowed(media_type: &str) -> bool {
    ALLOWED_MEDIA.contains(&media_type)
}

/// Only the allowed containers and codecs are decoded, and nothing larger than 4K: a
/// publisher with a valid key could otherwise make the box run any decoder GStreamer has,
/// or decode and scale 8K pictures. The parsers say the type and size before any decoder
/// is plugged; refused, the run fails with a message naming what was sent.
fn refuse_oversized_pictures(decode: &gst::Element) {
    decode.connect("autoplug-continue", false, |args| {
        let decodebin = args[0].get::<gst::Element>().ok()?;
        let caps = args[2].get::<gst::Caps>().ok()?;
        let media_type = caps.structure(0).map(|s| s.name().to_string());
        if let Some(t) = &media_type
            && !media_allowed(t)
        {
            let message = format!(
                "the input carries {t}: the box decodes H.264, H.265, MPEG-2/4, VP8, VP9 and \
                 AV1 video and AAC, MP3, Opus and AC-3 audio, in MPEG-TS, FLV, MP4/MOV or \
                 Matroska/WebM"
            );
            gst::element_error!(decodebin, gst::StreamError::CodecNotFound, ("{message}"));
            return Some(false.to_value());
        }
        let size = caps
            .structure(0)
            .and_then(|s| Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?)));
        if let Some((w, h)) = size
            && !picture_fits(w, h)
        {
            let message = format!(
                "the input's picture is {w}×{h}: the box takes pictures up to \
                 {MAX_WIDTH}×{MAX_HEIGHT}"
            );
            gst::element_error!(decodebin, gst::StreamError::Format, ("{message}"));
            return Some(false.to_value());
        }
        Some(true.to_value())
    });
}

/// The run's source element (and, for RTMP, the appsrc the ingest port feeds).
fn source(
    name: &str,
    origin: &Origin,
) -> Result<(gst::Element, Option<gst_app::AppSrc>), EngineError> {
    let mut ingest_src = None;
    let source = match origin {
        Origin::File { path, .. } => {
            let src = make("filesrc", &format!("{name}-filesrc"))?;
            src.set_property("location", path);
            src
        }
        Origin::Srt(srt) => srt_source(name, srt)?,
        Origin::Rtmp(port) => {
            let src = gst_app::AppSrc::builder()
                .name(format!("{name}-ingest"))
                .caps(&gst::Caps::new_empty_simple("video/x-flv"))
                .is_live(true)
                .format(gst::Format::Bytes)
                .max_bytes(8 << 20)
                .leaky_type(gst_app::AppLeakyType::Downstream)
                .build();
            port.attach(src.clone());
            ingest_src = Some(src.clone());
            src.upcast()
        }
        Origin::V4l2 { device, .. } => {
            let src = make("v4l2src", &format!("{name}-v4l2src"))?;
            src.set_property("device", device.to_string_lossy().as_ref());
            src
        }
        Origin::Alsa(device) => {
            let src = make("alsasrc", &format!("{name}-alsasrc"))?;
            src.set_property("device", device);
            src
        }
    };
    Ok((source, ingest_src))
}

/// What goes between a capture device's `v4l2src` and the converter (nothing for other
/// feeds); what was asked of the device is logged when it changes and kept for status.
fn capture_chain(
    name: &str,
    origin: &Origin,
    health: &Health,
) -> Result<Vec<gst::Element>, EngineError> {
    let Origin::V4l2 { device, ask, .. } = origin else {
        return Ok(Vec::new());
    };
    let (chain, said) = crate::inputs::capture::chain(name, device, ask)?;
    let mut asked = lock(&health.capture_format);
    if asked.as_deref() != Some(said.as_str()) {
        tracing::info!(input = %name, device = %device.display(), "capture: {said}");
        *asked = Some(said);
    }
    Ok(chain)
}

/// One run's pipeline: the source, decodebin, and appsinks handing frames to the program.
fn build(
    name: &str,
    origin: &Origin,
    sinks: &Sinks,
) -> Result<(gst::Pipeline, Option<gst_app::AppSrc>), EngineError> {
    let pipeline = gst::Pipeline::with_name(&format!("{name}-feed"));
    let (source, ingest_src) = source(name, origin)?;
    let live = !matches!(origin, Origin::File { .. });
    let decode = make("decodebin", &format!("{name}-decode"))?;
    let vconv = make("videoconvert", &format!("{name}-vconv"))?;
    let vfilter = make("capsfilter", &format!("{name}-vcaps"))?;
    let mut video_chain = vec![vconv.clone()];
    if live {
        // Any size the sender sends: the mixer scales it into its tile.
        vfilter.set_property(
            "caps",
            gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::I420)
                .build(),
        );
    } else {
        let vscale = make("videoscale", &format!("{name}-vscale"))?;
        vscale.set_property("add-borders", true);
        let vrate = make("videorate", &format!("{name}-vrate"))?;
        vfilter.set_property("caps", &sinks.file_caps);
        video_chain.extend([vscale, vrate]);
    }
    video_chain.push(vfilter);
    // Files are paced by their own timestamps; live feeds come as fast as they arrive.
    let vsink = gst_app::AppSink::builder()
        .sync(!live)
        .max_buffers(3)
        .drop(true)
        .build();
    let aconv = make("audioconvert", &format!("{name}-aconv"))?;
    let ares = make("audioresample", &format!("{name}-ares"))?;
    let afilter = make("capsfilter", &format!("{name}-acaps"))?;
    afilter.set_property("caps", &sinks.audio_caps);
    let asink = gst_app::AppSink::builder()
        .sync(!live)
        .max_buffers(20)
        .drop(true)
        .build();
    let capture = matches!(origin, Origin::V4l2 { .. });
    let capture_chain = capture_chain(name, origin, &sinks.health)?;
    pipeline.add(&source)?;
    pipeline.add_many(&capture_chain)?;
    if !capture {
        pipeline.add(&decode)?;
    }
    pipeline.add_many(&video_chain)?;
    pipeline.add(vsink.upcast_ref::<gst::Element>())?;
    // A capture without an ALSA device has no sound: no audio branch (an appsink nothing
    // feeds would keep the live pipeline from settling in PLAYING).
    let sound = !matches!(origin, Origin::V4l2 { audio: None, .. });
    if sound {
        pipeline.add_many([&aconv, &ares, &afilter, asink.upcast_ref()])?;
    }
    if capture {
        // Raw pictures (or MJPEG through the board's JPEG decoder) into the converter.
        let chain = [vec![source.clone()], capture_chain, vec![vconv.clone()]].concat();
        gst::Element::link_many(&chain)?;
    } else {
        source.link(&decode)?;
    }
    gst::Element::link_many(&video_chain)?;
    video_chain
        .last()
        .ok_or(EngineError::Link("video chain"))?
        .link(&vsink)?;
    if sound {
        gst::Element::link_many([&aconv, &ares, &afilter, asink.upcast_ref()])?;
    }
    if let Origin::V4l2 {
        audio: Some(alsa), ..
    } = origin
    {
        // The camera's sound comes from its own ALSA device, on the capture's clock.
        let asrc = make("alsasrc", &format!("{name}-alsasrc"))?;
        asrc.set_property("device", alsa);
        pipeline.add(&asrc)?;
        asrc.link(&aconv)?;
    }
    let vconv_sink = vconv
        .static_pad("sink")
        .ok_or(EngineError::Link("videoconvert"))?;
    let aconv_sink = aconv
        .static_pad("sink")
        .ok_or(EngineError::Link("audioconvert"))?;
    refuse_oversized_pictures(&decode);
    decode.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let Some(kind) = caps.structure(0).map(|s| s.name().to_string()) else {
            return;
        };
        let target = if kind.starts_with("video/") {
            &vconv_sink
        } else if kind.starts_with("audio/") {
            &aconv_sink
        } else {
            return;
        };
        if !target.is_linked() {
            let _ = pad.link(target);
        }
    });
    forward_video(&vsink, sinks.video.clone(), sinks.gate.clone());
    // A capture's own ALSA clock is pulled onto the program's; network feeds keep their
    // sender's pace (their jitter is not a clock error).
    let clock = origin.own_sound_clock().then(|| sinks.health.clone());
    forward_audio(&asink, sinks.audio.clone(), live, clock);
    Ok((pipeline, ingest_src))
}

/// A sound-only input's pipeline: the ALSA device into the program's audio, on the
/// program's clock.
fn sound_only(name: &str, origin: &Origin, sinks: &Sinks) -> Result<gst::Pipeline, EngineError> {
    let pipeline = gst::Pipeline::with_name(&format!("{name}-feed"));
    let (source, _) = source(name, origin)?;
    let aconv = make("audioconvert", &format!("{name}-aconv"))?;
    let ares = make("audioresample", &format!("{name}-ares"))?;
    let afilter = make("capsfilter", &format!("{name}-acaps"))?;
    afilter.set_property("caps", &sinks.audio_caps);
    let asink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(20)
        .drop(true)
        .build();
    let chain = [&source, &aconv, &ares, &afilter, asink.upcast_ref()];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;
    forward_audio(
        &asink,
        sinks.audio.clone(),
        true,
        Some(sinks.health.clone()),
    );
    Ok(pipeline)
}

/// `srtsrc` listening for one sender; a sender with another stream id is refused.
fn srt_source(name: &str, srt: &SrtListen) -> Result<gst::Element, EngineError> {
    let src = make("srtsrc", &format!("{name}-srtsrc"))?;
    src.set_property("uri", format!("srt://0.0.0.0:{}?mode=listener", srt.port));
    src.set_property("latency", srt.latency_ms as i32);
    // Wake often: a read waiting on a dead sender otherwise holds a teardown for seconds.
    src.set_property("poll-timeout", 100i32);
    if let Some(p) = &srt.passphrase {
        src.set_property("passphrase", p);
    }
    if let Some(want) = srt.streamid.clone() {
        // Set although documented as the default: 1.22's srtsrc starts with it off and
        // then never asks `caller-connecting`.
        src.set_property("authentication", true);
        let input = name.to_string();
        src.connect("caller-connecting", false, move |args| {
            let given = args
                .get(2)
                .and_then(|v| v.get::<Option<String>>().ok())
                .flatten();
            let ok = given.as_deref() == Some(want.as_str());
            if !ok {
                tracing::warn!(%input, streamid = ?given, "SRT caller refused: wrong stream id");
            }
            Some(ok.to_value())
        });
    }
    Ok(src)
}

fn program_appsrc(name: &str, caps: &gst::Caps, max_buffers: u64) -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
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
        .build()
}

/// Hands decoded video to the program's appsrc (which stamps it on arrival), following
/// the sender's picture size when it changes.
fn forward_video(sink: &gst_app::AppSink, src: gst_app::AppSrc, gate: Arc<AtomicBool>) {
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                if !gate.load(Ordering::Relaxed) {
                    return Ok(gst::FlowSuccess::Ok);
                }
                if let Some(caps) = sample.caps()
                    && src.caps().as_ref() != Some(&caps.to_owned())
                {
                    src.set_caps(Some(&caps.to_owned()));
                }
                if let Some(mut buffer) = sample.buffer_owned() {
                    unstamp(buffer.make_mut());
                    let _ = src.push_buffer(buffer);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// Hands decoded audio to the program's appsrc. A file's is paced and stamped on arrival;
/// a live feed's arrives in bursts and is stamped end to end ([`Continuity`]); a capture's
/// (`clock`) is also resampled onto the program's clock ([`Drift`]).
fn forward_audio(
    sink: &gst_app::AppSink,
    src: gst_app::AppSrc,
    live: bool,
    clock: Option<Arc<Health>>,
) {
    let continuity = Mutex::new((Continuity::default(), Drift::default()));
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                let Some(mut buffer) = sample.buffer_owned() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                // The program's audio caps: interleaved S16LE.
                let format = sample.caps().and_then(|c| {
                    let s = c.structure(0)?;
                    let rate = s.get::<i32>("rate").ok()?.max(1) as u64;
                    Some((rate, s.get::<i32>("channels").ok()?.max(1) as usize))
                });
                if let (Some(health), Some((_, channels))) = (&clock, format) {
                    *lock(&health.sound_at) = Some(Instant::now());
                    let (_, drift) = &mut *lock(&continuity);
                    buffer = resampled(&buffer, drift, channels);
                    *lock(&health.audio_clock) = Some(drift.report());
                }
                let duration = format.map(|(rate, ch)| {
                    buffer.size() as u64 / (2 * ch as u64) * 1_000_000_000 / rate
                });
                let b = buffer.make_mut();
                unstamp(b);
                if live {
                    let (Some(now), Some(d)) = (src.current_running_time(), duration) else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let (continuity, drift) = &mut *lock(&continuity);
                    let pts = continuity.stamp(now.nseconds(), d);
                    if clock.is_some() {
                        drift.observe(pts as i64 - now.nseconds() as i64, now.nseconds());
                    }
                    b.set_pts(gst::ClockTime::from_nseconds(pts));
                    b.set_duration(gst::ClockTime::from_nseconds(d));
                }
                let _ = src.push_buffer(buffer);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// `buffer`'s S16LE samples resampled by the drift's correction, in a new buffer.
fn resampled(buffer: &gst::Buffer, drift: &mut Drift, channels: usize) -> gst::Buffer {
    let Ok(map) = buffer.map_readable() else {
        return buffer.clone();
    };
    let samples: Vec<i16> = map
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let out = drift.resample(&samples, channels);
    let bytes: Vec<u8> = out.iter().flat_map(|s| s.to_le_bytes()).collect();
    gst::Buffer::from_mut_slice(bytes)
}

fn unstamp(b: &mut gst::BufferRef) {
    b.set_pts(gst::ClockTime::NONE);
    b.set_dts(gst::ClockTime::NONE);
    b.set_duration(gst::ClockTime::NONE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_up_to_4k_fit_either_way_round() {
        assert!(picture_fits(1920, 1080));
        assert!(picture_fits(4096, 2160));
        assert!(picture_fits(2160, 3840), "portrait 4K");
        assert!(!picture_fits(4200, 2400));
        assert!(!picture_fits(7680, 4320));
        assert!(!picture_fits(0, 0));
    }
}
