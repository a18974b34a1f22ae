//! The ladder pipeline: program frames in, one encoder per rung, AAC once, an HLS segmenter
//! per rung.
//!
//! ```text
//! appsrc(video) ─ tee ─┬─ queue ─ scale ─ H.264 enc ─ h264parse ─┐
//!                      └─ …one branch per rung…                   ├─ mpegtsmux ─ appsink: TS segments per rung
//!                                                                 └─ mp4mux(fragmented) ─ appsink: LL-HLS
//!   (a rung half the size of another is scaled from that rung's picture: `scale_sources`)
//! appsrc(audio) ─ AAC enc ─ aacparse ─ tee ───────────────────────┘
//! ```
//! With low-latency HLS on, each rung's frames and the AAC also go to a fragmented `mp4mux`
//! (a fragment per part target, cut at keyframes) whose stream the low-latency origin cuts
//! into parts and segments.
//! Each rung's encoded frames and the AAC also go to an appsink tap feeding the
//! destinations (`tap`), so an uplink never needs an encoder of its own.
//! Keyframes are forced at the same running time on every rung (see `Bridge`), and each
//! rung's segmenter (`ts_segmenter`) cuts at every keyframe, so segment boundaries line up
//! across rungs. The
//! pipeline runs on the engine's base time, so buffer timestamps are its running time.

pub(crate) mod encoder;
pub(crate) mod scaler;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use fourcast_config::Config;
use gst::prelude::*;

use crate::gst_util::{bounded_queue, tee_to};
use crate::outputs::hls_origin::HlsOrigin;
use crate::outputs::low_latency::LowLatencyOrigin;
use crate::outputs::tap::TapHub;
use crate::outputs::ts_segmenter::TsSegmenter;
use crate::stats::FrameCounter;
use crate::{EngineError, EventSink, make};

/// One running rung.
pub struct RungRuntime {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub encoder: gst::Element,
    /// Encoded frames and bytes leaving the encoder.
    pub frames: Arc<FrameCounter>,
}

pub struct Ladder {
    pipeline: gst::Pipeline,
    pub video_src: gst_app::AppSrc,
    pub audio_src: gst_app::AppSrc,
    pub rungs: Vec<RungRuntime>,
    bus_thread: Option<crate::BusWatch>,
    eos: mpsc::Receiver<()>,
}

impl Ladder {
    #[allow(clippy::too_many_lines)] // builds the whole ladder pipeline inline; to split per rung segmenter
    pub fn build(
        config: &Config,
        encoder_name: &str,
        aac_name: &str,
        epoch: gst::ClockTime,
        (origin, low_latency): (Arc<HlsOrigin>, Arc<LowLatencyOrigin>),
        taps: Arc<TapHub>,
        events: EventSink,
    ) -> Result<Ladder, EngineError> {
        let p = &config.program;
        let pipeline = gst::Pipeline::with_name("ladder");
        // One timeline for the whole engine: running time here is the engine's.
        pipeline.use_clock(Some(&gst::SystemClock::obtain()));
        pipeline.set_start_time(gst::ClockTime::NONE);
        pipeline.set_base_time(epoch);

        let video_caps = crate::program::video_caps(config);
        let video_src = gst_app::AppSrc::builder()
            .name("program-video-in")
            .caps(&video_caps)
            .is_live(true)
            .format(gst::Format::Time)
            .block(false)
            .build();
        let audio_src = gst_app::AppSrc::builder()
            .name("program-audio-in")
            .caps(&crate::program::audio_caps(config))
            .is_live(true)
            .format(gst::Format::Time)
            .block(false)
            .build();
        let video_tee = make("tee", "video-tee")?;
        let aenc = make(aac_name, "aac")?;
        encoder::configure_aac(&aenc, config.audio.bitrate_kbps);
        let aconv = make("audioconvert", "aac-convert")?;
        let aparse = make("aacparse", "aac-parse")?;
        let audio_tee = make("tee", "audio-tee")?;
        pipeline.add_many([video_src.upcast_ref(), &video_tee])?;
        pipeline.add_many([audio_src.upcast_ref(), &aconv, &aenc, &aparse, &audio_tee])?;
        video_src.link(&video_tee)?;
        gst::Element::link_many([audio_src.upcast_ref(), &aconv, &aenc, &aparse, &audio_tee])?;

        let audio_taps = taps.clone();
        add_tap(&pipeline, &audio_tee, "tap-audio", move |sample| {
            audio_taps.audio(sample)
        })?;

        let segment_ns = u64::from(config.outputs.hls.segment_seconds) * 1_000_000_000;
        let frame_ns = 1_000_000_000 / u64::from(p.fps);
        let mut rungs = Vec::new();
        let chains = rung_chains(&pipeline, &video_tee, config, encoder_name)?;
        for (rung, chain) in config.ladder.rungs.iter().zip(chains) {
            let n = &rung.name;
            let RungChain { enc, h264, .. } = chain;

            let frames = Arc::new(FrameCounter::default());
            watch_encoded(&h264, n, &frames, frame_ns, &origin, &low_latency);

            let (mux, aqueue) = segmenter_branch(
                &pipeline,
                n,
                TsSegmenter::new(n, segment_ns, origin.clone(), events.clone()),
            )?;
            // The rung's encoded frames go to the segmenter and to the tap.
            let out = make("tee", &format!("{n}-out"))?;
            let hls_queue = make("queue", &format!("{n}-hls-queue"))?;
            pipeline.add_many([&out, &hls_queue])?;
            h264.link(&out)?;
            tee_to(&out, &hls_queue)?;
            hls_queue.link(&mux)?;
            let taps_for_rung = taps.clone();
            let rung_name = n.clone();
            add_tap(&pipeline, &out, &format!("tap-{n}"), move |sample| {
                taps_for_rung.rung_video(&rung_name, sample)
            })?;
            if config.outputs.hls.low_latency {
                low_latency_branch(
                    &pipeline,
                    (&out, &audio_tee),
                    n,
                    config.outputs.hls.part_ms,
                    low_latency.clone(),
                )?;
            }
            tee_to(&audio_tee, &aqueue)?;

            rungs.push(RungRuntime {
                name: n.clone(),
                width: rung.width,
                height: rung.height,
                bitrate_kbps: rung.bitrate_kbps,
                encoder: enc,
                frames,
            });
        }

        let (eos_tx, eos) = mpsc::channel();
        let eos_tx = Mutex::new(eos_tx);
        let bus_thread = Some(crate::watch_bus_with(
            &pipeline,
            "ladder",
            events,
            move |msg| {
                if let gst::MessageView::Eos(_) = msg.view() {
                    let _ = eos_tx.lock().map(|tx| tx.send(()));
                }
            },
        )?);

        Ok(Ladder {
            pipeline,
            video_src,
            audio_src,
            rungs,
            bus_thread,
            eos,
        })
    }

    pub fn start(&self) -> Result<(), EngineError> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| EngineError::State("ladder"))
            .map(|_| ())
    }

    /// Sets new bitrates on running encoders; false if one of them cannot change live.
    pub fn set_bitrates(&mut self, changes: &[(String, u32)]) -> bool {
        for (name, kbps) in changes {
            let Some(rung) = self.rungs.iter_mut().find(|r| &r.name == name) else {
                return false;
            };
            if !encoder::set_bitrate(&rung.encoder, *kbps) {
                return false;
            }
            rung.bitrate_kbps = *kbps;
        }
        true
    }

    /// Ends the stream so every segmenter closes its last segment, then tears down.
    pub fn stop(mut self, timeout: Duration) {
        let _ = self.video_src.end_of_stream();
        let _ = self.audio_src.end_of_stream();
        if self.eos.recv_timeout(timeout).is_err() {
            tracing::warn!("ladder did not drain within {timeout:?}; its last segment is dropped");
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        crate::stop_bus_watch(self.bus_thread.take());
    }
}

/// One rung's video chain, frames in, H.264 access units out:
/// `queue ! [scaler] ! [tee ! queue] ! encoder ! h264parse ! capsfilter`. The live ladder and
/// the offline render build their rungs with this (through [`rung_chains`]), so both scale
/// and encode alike.
pub(crate) struct RungChain {
    pub queue: gst::Element,
    /// The rung's scaled picture, for smaller rungs scaled from it (see [`scale_sources`]).
    pub scaled: Option<gst::Element>,
    pub enc: gst::Element,
    pub h264: gst::Element,
}

/// The encoder settings every rung shares.
struct RungEncoding<'a> {
    pub encoder: &'a str,
    pub max_gop_frames: u32,
    pub x264_preset: &'a str,
    pub threads: u32,
}

/// Which picture each rung is scaled from: `None` is the program; `Some(k)` is rung `k`'s
/// scaled picture when it is exactly twice as wide and as tall (the smallest such). Halving
/// 720p for 360p reads a 720p frame instead of a 1080p one, with the sharper halving filter
/// instead of a 3×3 box. Other ratios are scaled from the program: cascading 1080p → 720p
/// → 480p measured 0.16 dB worse at 480p than scaling from the program.
pub(crate) fn scale_sources(program: (u32, u32), rungs: &[(u32, u32)]) -> Vec<Option<usize>> {
    let big_enough = |from: (u32, u32), to: (u32, u32)| from == (to.0 * 2, to.1 * 2);
    rungs
        .iter()
        .map(|&to| {
            if to == program {
                return None;
            }
            rungs
                .iter()
                .enumerate()
                .filter(|&(_, &from)| from != program && big_enough(from, to))
                .min_by_key(|&(_, &(w, h))| u64::from(w) * u64::from(h))
                .map(|(k, _)| k)
        })
        .collect()
}

/// Every rung's chain, each linked to `program_tee` or to the rung it is scaled from, with
/// the config's encoder settings (`encoder`: the element chosen for this machine).
pub(crate) fn rung_chains(
    pipeline: &gst::Pipeline,
    program_tee: &gst::Element,
    config: &Config,
    encoder: &str,
) -> Result<Vec<RungChain>, EngineError> {
    let p = &config.program;
    let rungs = &config.ladder.rungs;
    let program = (p.width, p.height);
    let encoding = RungEncoding {
        encoder,
        // Keyframes are forced once per segment; x264's own limit is twice that.
        max_gop_frames: config.outputs.hls.segment_seconds * p.fps * 2,
        x264_preset: &config.ladder.x264_preset,
        threads: encoder::x264_threads(rungs.len(), encoder::cores()),
    };
    let sizes: Vec<(u32, u32)> = rungs.iter().map(|r| (r.width, r.height)).collect();
    let sources = scale_sources(program, &sizes);
    let chains = rungs
        .iter()
        .enumerate()
        .map(|(i, rung)| {
            let from = sources[i].map_or(program, |k| sizes[k]);
            rung_chain(pipeline, rung, from, sources.contains(&Some(i)), &encoding)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (chain, source) in chains.iter().zip(&sources) {
        let tee = match source {
            None => program_tee,
            Some(k) => chains[*k]
                .scaled
                .as_ref()
                .ok_or(EngineError::Link("rung tee"))?,
        };
        tee_to(tee, &chain.queue)?;
    }
    Ok(chains)
}

fn rung_chain(
    pipeline: &gst::Pipeline,
    rung: &fourcast_config::Rung,
    from: (u32, u32),
    feeds_others: bool,
    encoding: &RungEncoding,
) -> Result<RungChain, EngineError> {
    let n = &rung.name;
    // Bounded, not leaky: a slow rung holds the tee back and (live) the bridge drops and
    // counts whole frames for every rung alike.
    let queue = bounded_queue(&format!("{n}-queue"))?;
    let mut chain = vec![queue.clone()];
    if (rung.width, rung.height) != from {
        chain.extend(crate::scaler(&format!("{n}-"), rung.width, rung.height)?);
    }
    let mut scaled = None;
    if feeds_others {
        // queue ! [scaler] ! tee ─┬─ queue ! encoder…  (and the smaller rungs' queues)
        let tee = make("tee", &format!("{n}-scaled"))?;
        chain.push(tee.clone());
        pipeline.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        let to_encoder = bounded_queue(&format!("{n}-encoder-queue"))?;
        chain = vec![to_encoder];
        scaled = Some(tee);
    }
    let enc = make(encoding.encoder, &format!("{n}-encoder"))?;
    encoder::configure_video(
        &enc,
        rung.bitrate_kbps,
        encoding.max_gop_frames,
        encoding.x264_preset,
    );
    encoder::set_threads(&enc, encoding.threads);
    let parse = make("h264parse", &format!("{n}-parse"))?;
    parse.set_property("config-interval", -1i32);
    let h264 = make("capsfilter", &format!("{n}-h264"))?;
    h264.set_property(
        "caps",
        gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build(),
    );
    chain.extend([enc.clone(), parse, h264.clone()]);
    pipeline.add_many(&chain)?;
    gst::Element::link_many(&chain)?;
    if let Some(tee) = &scaled {
        tee_to(tee, &chain[0])?;
    }
    Ok(RungChain {
        queue,
        scaled,
        enc,
        h264,
    })
}

/// A branch off `tee` to an appsink whose every sample goes to `deliver`. Its queue is
/// leaky: if delivering ever stalls, the tap loses frames, never the tee (HLS).
fn add_tap(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    name: &str,
    deliver: impl Fn(&gst::Sample) + Send + Sync + 'static,
) -> Result<(), EngineError> {
    let queue = make("queue", &format!("{name}-queue"))?;
    queue.set_property_from_str("leaky", "downstream");
    queue.set_property("max-size-buffers", 60u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    let sink = gst_app::AppSink::builder()
        .name(name)
        .sync(false)
        .async_(false)
        .max_buffers(4)
        .drop(true)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    if let Ok(sample) = sink.pull_sample() {
                        deliver(&sample);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        )
        .build();
    pipeline.add_many([&queue, sink.upcast_ref()])?;
    queue.link(&sink)?;
    tee_to(tee, &queue)
}

/// A rung's TS segmenter: `mpegtsmux` (a buffer per muxed frame) into an appsink that hands
/// every buffer to `segmenter`. Returns the muxer (the video queue links to it) and the queue
/// the audio goes through.
fn segmenter_branch(
    pipeline: &gst::Pipeline,
    rung: &str,
    segmenter: TsSegmenter,
) -> Result<(gst::Element, gst::Element), EngineError> {
    let mux = make("mpegtsmux", &format!("hls-{rung}-mux"))?;
    mux.set_property("alignment", 0i32);
    let aqueue = make("queue", &format!("{rung}-audio-queue"))?;
    aqueue.set_property("max-size-buffers", 0u32);
    aqueue.set_property("max-size-bytes", 0u32);
    aqueue.set_property("max-size-time", 2_000_000_000u64);
    let sink = crate::gst_util::writer_sink(
        &format!("hls-{rung}"),
        Arc::new(Mutex::new(segmenter)),
        TsSegmenter::write,
        TsSegmenter::finish,
    );
    pipeline.add_many([&mux, &aqueue, sink.upcast_ref()])?;
    aqueue.link(&mux)?;
    mux.link(&sink)?;
    Ok((mux, aqueue))
}

/// Counts encoded frames/bytes and learns the stream's profile and level for CODECS.
fn watch_encoded(
    h264: &gst::Element,
    rung: &str,
    frames: &Arc<FrameCounter>,
    frame_ns: u64,
    origin: &Arc<HlsOrigin>,
    low_latency: &Arc<LowLatencyOrigin>,
) {
    let Some(pad) = h264.static_pad("src") else {
        return;
    };
    let frames = frames.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer() {
            frames.frame(
                buffer.pts().map(|t| t.nseconds()),
                frame_ns,
                buffer.size() as u64,
            );
        }
        gst::PadProbeReturn::Ok
    });
    let origin = origin.clone();
    let low_latency = low_latency.clone();
    let rung = rung.to_string();
    pad.connect_notify(Some("caps"), move |pad, _| {
        let Some(caps) = pad.current_caps() else {
            return;
        };
        let Some(s) = caps.structure(0) else { return };
        if let (Ok(profile), Ok(level)) = (s.get::<&str>("profile"), s.get::<&str>("level")) {
            let codec = fourcast_hls::avc1_codec(profile, level);
            low_latency.set_codec(&rung, codec.clone());
            origin.set_codec(&rung, codec);
        }
    });
}

/// A rung's low-latency branch: its frames (`video` tee) and the AAC (`audio` tee) into a
/// fragmented `mp4mux`, one fragment per part target, whose bytes go to the origin as
/// they come. The queues hold what one segment's worth of muxing may wait for.
fn low_latency_branch(
    pipeline: &gst::Pipeline,
    (video, audio): (&gst::Element, &gst::Element),
    rung: &str,
    part_ms: u32,
    origin: Arc<LowLatencyOrigin>,
) -> Result<(), EngineError> {
    let vqueue = make("queue", &format!("{rung}-ll-queue"))?;
    // The TS branch gets Annex B; the MP4 muxer wants avcC: a parser of its own converts.
    let vparse = make("h264parse", &format!("{rung}-ll-parse"))?;
    let aqueue = make("queue", &format!("{rung}-ll-audio-queue"))?;
    aqueue.set_property("max-size-buffers", 0u32);
    aqueue.set_property("max-size-bytes", 0u32);
    aqueue.set_property("max-size-time", 2_000_000_000u64);
    let aparse = make("aacparse", &format!("{rung}-ll-aac-parse"))?;
    let mux = make("mp4mux", &format!("ll-{rung}"))?;
    mux.set_property("fragment-duration", part_ms);
    mux.set_property("streamable", true);
    let rung_name = rung.to_string();
    let sink = gst_app::AppSink::builder()
        .name(format!("ll-sink-{rung}"))
        .sync(false)
        .async_(false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                    if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                        origin.push(&rung_name, &map);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        )
        .build();
    pipeline.add_many([&vqueue, &vparse, &aqueue, &aparse, &mux, sink.upcast_ref()])?;
    vqueue.link(&vparse)?;
    aqueue.link(&aparse)?;
    let to_mux = |from: &gst::Element, template: &str| -> Result<(), EngineError> {
        let pad = mux
            .request_pad_simple(template)
            .ok_or(EngineError::Link("mp4mux pad"))?;
        from.static_pad("src")
            .ok_or(EngineError::Link("parser src"))?
            .link(&pad)
            .map(|_| ())
            .map_err(|_| EngineError::Link("parser to mp4mux"))
    };
    to_mux(&vparse, "video_%u")?;
    to_mux(&aparse, "audio_%u")?;
    mux.link(&sink)?;
    tee_to(video, &vqueue)?;
    tee_to(audio, &aqueue)
}
