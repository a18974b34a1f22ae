//! Offline mode: the program and its ladder rendered from files as fast as the machine can,
//! not paced by a clock. Same scaler, mixer, rung chains and keyframe clock as the live
//! engine; made for benchmarks and for checking a config against known input.
//!
//! ```text
//! file ─ [decode] ─┐
//! …one per source…  ├─ fourcastmix (scales into the tiles) ─ tee ─ rung chain ─ hlssink2 (per rung)
//! ```
//! Video only: the standard workload has no audio.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fourcast_config::Config;
use gst::prelude::*;

use crate::keyframes::KeyframeClock;
use crate::ladder::encoder;
use crate::ladder::{RungChain, rung_chains};
use crate::{EngineError, layout, make};

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
    let mixer = crate::mixer("mixer")?;
    let program_caps = make("capsfilter", "program-caps")?;
    program_caps.set_property("caps", crate::program::video_caps(config));
    let tee = make("tee", "program-tee")?;
    pipeline.add_many([mixer.upcast_ref(), &program_caps, &tee])?;
    gst::Element::link_many([mixer.upcast_ref(), &program_caps, &tee])?;

    // One mixer input per distinct source; the mixer scales each straight into its tiles,
    // once per tile size.
    let (firsts, source_of) = sources(inputs);
    for (n, &first) in firsts.iter().enumerate() {
        let src = input_chain(&pipeline, n, &inputs[first], p.fps)?;
        let pad = mixer
            .request_pad_simple(&format!("sink_{n}"))
            .ok_or(EngineError::Link("mixer sink pad"))?;
        src.static_pad("src")
            .ok_or(EngineError::Link("input src"))?
            .link(&pad)
            .map_err(|_| EngineError::Link("input to mixer"))?;
    }
    let scene = layout::grid(inputs.len(), p.width, p.height)
        .into_iter()
        .zip(&source_of)
        .map(|(rect, &input)| layout::Placement { input, rect, z: 0 })
        .collect();
    mixer.set_scene(scene, 0);

    // Keyframes on the live engine's segment clock, so segments are one GOP each.
    let segment_ns = u64::from(config.outputs.hls.segment_seconds) * 1_000_000_000;
    let frames = Arc::new(AtomicU64::new(0));
    force_keyframes(&program_caps, segment_ns, frames.clone());

    let mut rungs = Vec::new();
    let chains = rung_chains(&pipeline, &tee, config, &encoder_name)?;
    for (rung, RungChain { h264, .. }) in config.ladder.rungs.iter().zip(chains) {
        let dir = out.join(&rung.name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::Render(format!("{}: {e}", dir.display())))?;
        let sink = make("hlssink2", &format!("{}-hls", rung.name))?;
        let playlist = dir.join(crate::outputs::hls_origin::MEDIA);
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

/// The distinct sources among `inputs` (same file, same raw size): the first input of each,
/// and which source each input is. A source shown in several tiles is read once.
fn sources(inputs: &[RenderInput]) -> (Vec<usize>, Vec<usize>) {
    let mut firsts: Vec<usize> = Vec::new();
    let mut source_of = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let same =
            |&&f: &&usize| inputs[f].path == input.path && inputs[f].raw_size == input.raw_size;
        match firsts.iter().position(|f| same(&f)) {
            Some(n) => source_of.push(n),
            None => {
                source_of.push(firsts.len());
                firsts.push(i);
            }
        }
    }
    (firsts, source_of)
}

/// The input's frames as I420 at the program rate: raw frames are parsed, anything else is
/// decoded and converted.
fn input_chain(
    pipeline: &gst::Pipeline,
    i: usize,
    input: &RenderInput,
    fps: u32,
) -> Result<gst::Element, EngineError> {
    if let Some(size) = input.raw_size {
        return raw_frames(pipeline, i, &input.path, size, fps);
    }
    let filesrc = make("filesrc", &format!("input{i}-file"))?;
    filesrc.set_property("location", input.path.to_string_lossy().as_ref());
    let caps = make("capsfilter", &format!("input{i}-caps"))?;
    let i420 = gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::I420)
        .framerate(gst::Fraction::new(fps as i32, 1));
    {
        {
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

/// Raw I420 frames read straight into a small pool of frame buffers (no parser copying
/// each frame, no fresh memory per frame), stamped at the program rate.
fn raw_frames(
    pipeline: &gst::Pipeline,
    i: usize,
    path: &Path,
    (w, h): (u32, u32),
    fps: u32,
) -> Result<gst::Element, EngineError> {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
        .fps(gst::Fraction::new(fps as i32, 1))
        .build()
        .map_err(|_| EngineError::Render(format!("{w}x{h}: not a frame size")))?;
    let caps = info
        .to_caps()
        .map_err(|_| EngineError::Render(format!("{w}x{h}: not a frame size")))?;
    let mut file = std::fs::File::open(path)
        .map_err(|e| EngineError::Render(format!("{}: {e}", path.display())))?;
    let pool = gst::BufferPool::new();
    let mut pool_config = pool.config();
    pool_config.set_params(Some(&caps), info.size() as u32, 4, 8);
    pool.set_config(pool_config)
        .and_then(|_| pool.set_active(true))
        .map_err(|_| EngineError::Render("raw frame pool".into()))?;
    let src = gst_app::AppSrc::builder()
        .name(format!("input{i}-raw"))
        .caps(&caps)
        .format(gst::Format::Time)
        .block(true)
        .max_buffers(4)
        .build();
    pipeline.add(&src)?;
    let frame_ns = 1_000_000_000 / u64::from(fps.max(1));
    let what = path.display().to_string();
    let feeder = src.clone();
    std::thread::Builder::new()
        .name(format!("raw-reader-{i}"))
        .spawn(move || {
            use std::io::Read;
            let mut n = 0u64;
            while let Ok(mut buffer) = pool.acquire_buffer(None) {
                let Some(b) = buffer.get_mut() else { break };
                let read = match b.map_writable() {
                    Ok(mut map) => file.read_exact(map.as_mut_slice()),
                    Err(_) => break,
                };
                match read {
                    Ok(()) => {}
                    // A partial last frame is not a frame.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && n > 0 => break,
                    Err(e) => {
                        let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            format!("{what}: holds no whole {w}x{h} I420 frame")
                        } else {
                            format!("{what}: {e}")
                        };
                        gst::element_error!(feeder, gst::ResourceError::Read, ["{}", why]);
                        break;
                    }
                }
                b.set_pts(gst::ClockTime::from_nseconds(n * frame_ns));
                b.set_duration(gst::ClockTime::from_nseconds(frame_ns));
                if feeder.push_buffer(buffer).is_err() {
                    break;
                }
                n += 1;
            }
            let _ = feeder.end_of_stream();
            let _ = pool.set_active(false);
        })
        .map_err(|e| EngineError::Render(format!("raw reader: {e}")))?;
    Ok(src.upcast())
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
            uri: format!("{}/{}", r.name, crate::outputs::hls_origin::MEDIA),
            bandwidth: u64::from(r.bitrate_kbps) * 1100,
            average_bandwidth: u64::from(r.bitrate_kbps) * 1000,
            codecs: "avc1.64001f".into(),
            width: r.width,
            height: r.height,
            frame_rate: f64::from(config.program.fps),
        })
        .collect();
    let path = out.join(crate::outputs::hls_origin::MASTER);
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
    fn one_clip_in_four_tiles_is_read_once() {
        let inputs = vec![input("a.yuv"); 4];
        assert_eq!(sources(&inputs), (vec![0], vec![0, 0, 0, 0]));
    }

    #[test]
    fn different_clips_or_sizes_are_kept_apart() {
        let mut inputs = vec![
            input("a.yuv"),
            input("b.yuv"),
            input("a.yuv"),
            input("b.yuv"),
        ];
        inputs[2].raw_size = Some((1280, 720));
        assert_eq!(sources(&inputs), (vec![0, 1, 2], vec![0, 1, 2, 1]));
    }
}
