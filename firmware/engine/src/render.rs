//! Offline mode: the program and its ladder rendered from files as fast as the machine can,
//! not paced by a clock. Same scaler, mixer, rung chains and keyframe clock as the live
//! engine; made for benchmarks and for checking a config against known input.
//!
//! ```text
//! file ─ [decode] ─ [scaler to tile] ─┐
//! …one per input…                      ├─ compositor ─ tee ─ rung chain ─ hlssink2 (per rung)
//! ```
//! Video only: the standard workload has no audio.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fourcast_config::Config;
use gst::prelude::*;

use crate::bridge::KeyframeClock;
use crate::ladder::{RungChain, rung_chain, tee_to};
use crate::{EngineError, encoder, layout, make};

/// One input file. Raw I420 frames need their size (a `.yuv` file has no header).
#[derive(Debug, Clone)]
pub struct RenderInput {
    pub path: PathBuf,
    pub raw_size: Option<(u32, u32)>,
}

#[derive(Debug, Clone)]
pub struct RenderedRung {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub playlist: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RenderReport {
    pub frames: u64,
    pub media_seconds: f64,
    pub wall: Duration,
    pub encoder: String,
    pub rungs: Vec<RenderedRung>,
}

/// Renders `inputs` in the program's grid at the program's size and rate, through the
/// config's ladder, into an HLS folder per rung under `out` (with a multivariant playlist).
pub fn render(
    config: &Config,
    inputs: &[RenderInput],
    out: &Path,
) -> Result<RenderReport, EngineError> {
    gst::init()?;
    if inputs.is_empty() {
        return Err(EngineError::Render("no input files".into()));
    }
    let p = &config.program;
    let board = fourcast_board::profile(&config.board)
        .map(|b| b.encoders)
        .unwrap_or_default();
    let encoder_name = encoder::choose_video(&config.ladder.encoder, &board)?;
    std::fs::create_dir_all(out)
        .map_err(|e| EngineError::Render(format!("{}: {e}", out.display())))?;

    let pipeline = gst::Pipeline::with_name("render");
    let compositor = make("compositor", "mixer")?;
    compositor.set_property_from_str("background", "black");
    let program_caps = make("capsfilter", "program-caps")?;
    program_caps.set_property("caps", crate::program::video_caps(config));
    let tee = make("tee", "program-tee")?;
    pipeline.add_many([&compositor, &program_caps, &tee])?;
    gst::Element::link_many([&compositor, &program_caps, &tee])?;

    let tiles = layout::grid(inputs.len(), p.width, p.height);
    for (n, feed) in feeds(inputs, &tiles).iter().enumerate() {
        let src = input_chain(&pipeline, n, &inputs[feed.input], p.fps)?;
        let by_size = fan_out(&pipeline, &src, &format!("source{n}"), feed.sizes.len())?;
        for (k, ((size, shown), from)) in feed.sizes.iter().zip(by_size).enumerate() {
            let mut chain = vec![from];
            chain.extend(crate::scaler(&format!("source{n}-{k}-"), size.0, size.1)?);
            pipeline.add_many(&chain[1..])?;
            gst::Element::link_many(&chain)?;
            let scaled = chain.last().cloned().ok_or(EngineError::Link("scaler"))?;
            let by_tile = fan_out(&pipeline, &scaled, &format!("source{n}-{k}"), shown.len())?;
            for (&t, from) in shown.iter().zip(by_tile) {
                let pad = compositor
                    .request_pad_simple("sink_%u")
                    .ok_or(EngineError::Link("compositor sink pad"))?;
                pad.set_property("xpos", tiles[t].x as i32);
                pad.set_property("ypos", tiles[t].y as i32);
                from.static_pad("src")
                    .ok_or(EngineError::Link("input src"))?
                    .link(&pad)
                    .map_err(|_| EngineError::Link("input to mixer"))?;
            }
        }
    }

    // Keyframes on the live engine's segment clock, so segments are one GOP each.
    let segment_ns = u64::from(config.outputs.hls.segment_seconds) * 1_000_000_000;
    let frames = Arc::new(AtomicU64::new(0));
    force_keyframes(&program_caps, segment_ns, frames.clone());

    let gop_frames = config.outputs.hls.segment_seconds * p.fps;
    let mut rungs = Vec::new();
    for rung in &config.ladder.rungs {
        let RungChain { queue, h264, .. } = rung_chain(
            &pipeline,
            rung,
            (p.width, p.height),
            &encoder_name,
            gop_frames * 2,
            &config.ladder.x264_preset,
            encoder::x264_threads(config.ladder.rungs.len(), encoder::cores()),
        )?;
        tee_to(&tee, &queue)?;
        let dir = out.join(&rung.name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::Render(format!("{}: {e}", dir.display())))?;
        let sink = make("hlssink2", &format!("{}-hls", rung.name))?;
        let playlist = dir.join(crate::origin::MEDIA);
        sink.set_property(
            "location",
            dir.join("segment%05d.ts").to_string_lossy().as_ref(),
        );
        sink.set_property("playlist-location", playlist.to_string_lossy().as_ref());
        sink.set_property("target-duration", config.outputs.hls.segment_seconds);
        sink.set_property("playlist-length", 0u32);
        sink.set_property("max-files", 0u32);
        sink.set_property("send-keyframe-requests", false);
        pipeline.add(&sink)?;
        let vpad = sink
            .request_pad_simple("video")
            .ok_or(EngineError::Link("hlssink2 video"))?;
        h264.static_pad("src")
            .ok_or(EngineError::Link("rung src"))?
            .link(&vpad)
            .map_err(|_| EngineError::Link("rung to hlssink2"))?;
        rungs.push(RenderedRung {
            name: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            playlist,
        });
    }
    write_multivariant(config, out)?;

    let started = Instant::now();
    run_to_eos(&pipeline)?;
    let wall = started.elapsed();
    let frames = frames.load(Ordering::Relaxed);
    Ok(RenderReport {
        frames,
        media_seconds: frames as f64 / f64::from(p.fps),
        wall,
        encoder: encoder_name,
        rungs,
    })
}

/// One source opened once however many tiles show it, scaled once per distinct tile size.
#[derive(Debug, Clone, PartialEq)]
struct Feed {
    /// The first input naming this source.
    input: usize,
    /// Each tile size wanted, with the tiles (indices) of that size.
    sizes: Vec<((u32, u32), Vec<usize>)>,
}

/// Groups the inputs by source (same file, same raw size) and their tiles by size: reading
/// and scaling a source is then done once, not once per tile.
fn feeds(inputs: &[RenderInput], tiles: &[layout::Rect]) -> Vec<Feed> {
    let mut feeds: Vec<Feed> = Vec::new();
    for (i, (input, tile)) in inputs.iter().zip(tiles).enumerate() {
        let size = (tile.width, tile.height);
        let same = |f: &&mut Feed| {
            let first = &inputs[f.input];
            first.path == input.path && first.raw_size == input.raw_size
        };
        match feeds.iter_mut().find(|f| same(f)) {
            Some(feed) => match feed.sizes.iter_mut().find(|(s, _)| *s == size) {
                Some((_, shown)) => shown.push(i),
                None => feed.sizes.push((size, vec![i])),
            },
            None => feeds.push(Feed {
                input: i,
                sizes: vec![(size, vec![i])],
            }),
        }
    }
    feeds
}

/// `count` outputs of `element`: itself if one, else a tee with a small queue per branch.
fn fan_out(
    pipeline: &gst::Pipeline,
    element: &gst::Element,
    name: &str,
    count: usize,
) -> Result<Vec<gst::Element>, EngineError> {
    if count <= 1 {
        return Ok(vec![element.clone()]);
    }
    let tee = make("tee", &format!("{name}-tee"))?;
    pipeline.add(&tee)?;
    element.link(&tee)?;
    (0..count)
        .map(|k| {
            let queue = make("queue", &format!("{name}-branch{k}"))?;
            queue.set_property("max-size-buffers", 2u32);
            queue.set_property("max-size-bytes", 0u32);
            queue.set_property("max-size-time", 0u64);
            pipeline.add(&queue)?;
            tee_to(&tee, &queue)?;
            Ok(queue)
        })
        .collect()
}

/// The input's frames as I420 at the program rate: raw frames are parsed, anything else is
/// decoded and converted.
fn input_chain(
    pipeline: &gst::Pipeline,
    i: usize,
    input: &RenderInput,
    fps: u32,
) -> Result<gst::Element, EngineError> {
    let filesrc = make("filesrc", &format!("input{i}-file"))?;
    filesrc.set_property("location", input.path.to_string_lossy().as_ref());
    let caps = make("capsfilter", &format!("input{i}-caps"))?;
    let i420 = gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::I420)
        .framerate(gst::Fraction::new(fps as i32, 1));
    match input.raw_size {
        Some((w, h)) => {
            // One frame per read, so buffers need no re-chunking.
            let frame = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
                .build()
                .map_err(|_| EngineError::Link("raw frame size"))?
                .size();
            filesrc.set_property("blocksize", frame as u32);
            let parse = make("rawvideoparse", &format!("input{i}-parse"))?;
            parse.set_property("width", w as i32);
            parse.set_property("height", h as i32);
            parse.set_property_from_str("format", "i420");
            parse.set_property("framerate", gst::Fraction::new(fps as i32, 1));
            caps.set_property("caps", i420.width(w as i32).height(h as i32).build());
            pipeline.add_many([&filesrc, &parse, &caps])?;
            gst::Element::link_many([&filesrc, &parse, &caps])?;
        }
        None => {
            let decode = make("decodebin", &format!("input{i}-decode"))?;
            let convert = make("videoconvert", &format!("input{i}-convert"))?;
            let rate = make("videorate", &format!("input{i}-rate"))?;
            caps.set_property("caps", i420.build());
            pipeline.add_many([&filesrc, &decode, &convert, &rate, &caps])?;
            filesrc.link(&decode)?;
            gst::Element::link_many([&convert, &rate, &caps])?;
            let target = convert
                .static_pad("sink")
                .ok_or(EngineError::Link("videoconvert"))?;
            decode.connect_pad_added(move |_, pad| {
                let is_video = pad
                    .current_caps()
                    .unwrap_or_else(|| pad.query_caps(None))
                    .structure(0)
                    .is_some_and(|s| s.name().starts_with("video/"));
                if is_video && !target.is_linked() {
                    let _ = pad.link(&target);
                }
            });
        }
    }
    Ok(caps)
}

/// Forces a keyframe on every rung at the first frame of each segment, as the live bridge
/// does, and counts program frames.
fn force_keyframes(element: &gst::Element, interval_ns: u64, frames: Arc<AtomicU64>) {
    let Some(pad) = element.static_pad("src") else {
        return;
    };
    let clock = std::sync::Mutex::new(KeyframeClock::new(interval_ns));
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        frames.fetch_add(1, Ordering::Relaxed);
        if let Some(pts) = info.buffer().and_then(|b| b.pts())
            && clock
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .due(pts.nseconds())
        {
            let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            pad.push_event(event);
        }
        gst::PadProbeReturn::Ok
    });
}

fn write_multivariant(config: &Config, out: &Path) -> Result<(), EngineError> {
    let variants: Vec<fourcast_hls::Variant> = config
        .ladder
        .rungs
        .iter()
        .map(|r| fourcast_hls::Variant {
            uri: format!("{}/{}", r.name, crate::origin::MEDIA),
            bandwidth: u64::from(r.bitrate_kbps) * 1100,
            average_bandwidth: u64::from(r.bitrate_kbps) * 1000,
            codecs: "avc1.64001f".into(),
            width: r.width,
            height: r.height,
            frame_rate: f64::from(config.program.fps),
        })
        .collect();
    let path = out.join(crate::origin::MASTER);
    std::fs::write(&path, fourcast_hls::render_multivariant(&variants))
        .map_err(|e| EngineError::Render(format!("{}: {e}", path.display())))
}

fn run_to_eos(pipeline: &gst::Pipeline) -> Result<(), EngineError> {
    let bus = pipeline.bus().ok_or(EngineError::Link("render bus"))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| EngineError::State("render"))?;
    let result = loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(1)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(EngineError::Render(format!(
                    "{}: {}",
                    e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                    e.error()
                )));
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str) -> RenderInput {
        RenderInput {
            path: PathBuf::from(path),
            raw_size: Some((1920, 1080)),
        }
    }

    #[test]
    fn one_clip_in_four_tiles_is_read_and_scaled_once() {
        let inputs = vec![input("a.yuv"); 4];
        let tiles = layout::grid(4, 1920, 1080);
        assert_eq!(
            feeds(&inputs, &tiles),
            vec![Feed {
                input: 0,
                sizes: vec![((960, 540), vec![0, 1, 2, 3])]
            }]
        );
    }

    #[test]
    fn different_clips_or_sizes_are_kept_apart() {
        let mut inputs = vec![input("a.yuv"), input("b.yuv"), input("a.yuv")];
        inputs[2].raw_size = Some((1280, 720));
        let tiles = layout::grid(3, 1920, 1080);
        let f = feeds(&inputs, &tiles);
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(
            f.iter()
                .all(|f| f.sizes.len() == 1 && f.sizes[0].1.len() == 1)
        );
    }
}
