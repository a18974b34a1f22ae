//! The media engine: turns a [`Config`] into running GStreamer pipelines and keeps them
//! there with the smallest change each time the config changes.
//!
//! Two pipelines joined by a [`program::bridge::Bridge`]: the *program* (inputs → the engine's own
//! vision mixer, `fourcastmix`, + audiomixer) and the *ladder* (one encoder per rung, AAC
//! once, an HLS segmenter per rung).
//! A new input set rebuilds only the program; a new ladder only the ladder; new bitrates
//! only touch encoder properties. Events and counters flow out; the engine knows nothing of
//! HTTP, MQTT or the store.

// The pure cores live in fourcast-media-core; re-exported so engine paths stay as they were.
pub use fourcast_media_core::{
    adaptive, audio_mix, compose, continuity, flv, keyframes, layout, link, plan, recording, retry,
    scale, stamp, stats, ts_scan,
};
// The GStreamer wiring, by plane: what comes in, what is mixed, what is encoded, what goes out.
mod event;
mod gst_util;
pub mod inputs;
pub mod ladder;
pub mod outputs;
pub mod packages;
pub mod program;
pub mod render;
mod requirements;
mod status;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fourcast_config::{Config, ConfigErrors};
use gst::prelude::*;

pub use crate::event::{EngineError, EngineEvent, EventSink};
pub(crate) use crate::gst_util::{
    BusWatch, lock, make, mixer, scaler, stop_bus_watch, watch_bus, watch_bus_with,
};
use crate::ladder::{Ladder, encoder};
use crate::outputs::hls_origin::HlsOrigin;
pub use crate::outputs::low_latency::LowLatencyOrigin;
use crate::outputs::tap::TapHub;
use crate::outputs::uplink::Uplink;
use crate::outputs::{recorder, thumbs};
use crate::plan::{LadderChange, Plan};
use crate::program::Program;
use crate::program::bridge::Bridge;
use crate::stats::FrameCounter;
pub use crate::status::{EngineStatus, InputStatus, RungStatus};

/// How long the ladder may take to close its last segments on a rebuild or shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters that outlive pipeline rebuilds, shared with the stats tick.
struct Shared {
    program_frames: Arc<FrameCounter>,
    bridge: Arc<Bridge>,
    taps: Arc<TapHub>,
    inputs: Mutex<Vec<Arc<program::InputCounter>>>,
    ingest: Arc<inputs::rtmp_hub::IngestHub>,
    program_levels: Arc<audio_mix::LevelMeter>,
    rungs: Mutex<Vec<RungMeta>>,
    encoder: Mutex<String>,
    stop: AtomicBool,
    thumbs: Arc<thumbs::Thumbs>,
}

#[derive(Clone)]
struct RungMeta {
    name: String,
    width: u32,
    height: u32,
    bitrate_kbps: u32,
    frames: Arc<FrameCounter>,
}

pub struct Engine {
    config: Option<Config>,
    epoch: gst::ClockTime,
    program: Option<Program>,
    ladder: Option<Ladder>,
    uplinks: Vec<Uplink>,
    recorder: Option<recorder::Recorder>,
    origin: Arc<HlsOrigin>,
    low_latency: Arc<LowLatencyOrigin>,
    shared: Arc<Shared>,
    events: EventSink,
    ticker: Option<JoinHandle<()>>,
    program_builds: u64,
    ladder_builds: u64,
    /// What the program shows when switched live (`take`); `None`: the config's shot.
    shot: Option<fourcast_config::Shot>,
    /// The live audio mix (set from the config, changed by `set_mix`).
    mix: Option<audio_mix::MixState>,
}

/// How a take changes the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Cut,
    /// A cross-fade over this many milliseconds.
    Fade {
        ms: u32,
    },
}

/// Longest fade a take may ask for.
pub const MAX_FADE_MS: u32 = 10_000;

impl Engine {
    /// An idle engine serving HLS from `hls_dir` (emptied now).
    pub fn new(hls_dir: &Path, events: EventSink) -> Result<Engine, EngineError> {
        gst::init()?;
        let clock = gst::SystemClock::obtain();
        let epoch = clock.time();
        let epoch_wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let origin = Arc::new(HlsOrigin::new(hls_dir, epoch_wall_ms)?);
        let low_latency = Arc::new(LowLatencyOrigin::new(epoch_wall_ms));
        let taps = Arc::new(TapHub::default());
        let shared = Arc::new(Shared {
            program_frames: Arc::new(FrameCounter::default()),
            bridge: Arc::new(Bridge::new(taps.clone())),
            taps,
            inputs: Mutex::new(Vec::new()),
            ingest: Arc::default(),
            program_levels: Arc::new(audio_mix::LevelMeter::default()),
            rungs: Mutex::new(Vec::new()),
            encoder: Mutex::new(String::new()),
            stop: AtomicBool::new(false),
            thumbs: thumbs::Thumbs::new(0),
        });
        let ticker = Some(spawn_ticker(shared.clone()));
        Ok(Engine {
            config: None,
            epoch,
            program: None,
            ladder: None,
            uplinks: Vec::new(),
            recorder: None,
            origin,
            low_latency,
            shared,
            events,
            ticker,
            program_builds: 0,
            ladder_builds: 0,
            shot: None,
            mix: None,
        })
    }

    /// Brings the running pipelines to `config` with the smallest change. On error the
    /// engine keeps (or restores) what it ran before.
    pub fn apply(&mut self, config: &Config) -> Result<Plan, EngineError> {
        let plan = plan::plan(self.config.as_ref(), config);
        // Decide everything that can fail before anything running is touched.
        let ladder_rebuilt_before = self.ladder_builds;
        let ladder_parts = match &plan.ladder {
            LadderChange::Rebuild => {
                let board = fourcast_board::profile(&config.board)
                    .map(|p| p.encoders)
                    .unwrap_or_default();
                Some((
                    encoder::choose_video(&config.ladder.encoder, &board)?,
                    encoder::choose_aac()?,
                ))
            }
            _ => None,
        };
        let graphics = if plan.overlays {
            Some(overlays(config)?)
        } else {
            None
        };
        self.shared.thumbs.set_fps(config.multiview.fps);
        if plan.shot {
            // The config's own shot replaces a live take.
            self.shot = None;
        }
        if plan.program {
            self.rebuild_program(config)?;
        } else if plan.shot
            && let Some(program) = &self.program
        {
            program.show(layout::shot_tiles(config, &config.program.shot()), 0);
        }
        match (&plan.ladder, ladder_parts) {
            (LadderChange::Rebuild, Some((venc, aenc))) => {
                self.rebuild_ladder(config, &venc, &aenc)?
            }
            (LadderChange::Bitrates(changes), _) => {
                let live = self
                    .ladder
                    .as_mut()
                    .is_some_and(|l| l.set_bitrates(changes));
                if live {
                    for (rung, kbps) in changes {
                        (self.events)(EngineEvent::BitrateChanged {
                            rung: rung.clone(),
                            kbps: *kbps,
                        });
                    }
                    self.publish_rungs();
                } else {
                    let board = fourcast_board::profile(&config.board)
                        .map(|p| p.encoders)
                        .unwrap_or_default();
                    let venc = encoder::choose_video(&config.ladder.encoder, &board)?;
                    self.rebuild_ladder(config, &venc, &encoder::choose_aac()?)?;
                }
            }
            _ => {}
        }
        if let (Some(graphics), Some(program)) = (graphics, &self.program) {
            program.set_graphics(graphics);
            if let Some(c) = &config.overlays.clock {
                program.show_overlay("clock", c.visible);
            }
        }
        self.reconcile_destinations(config, self.ladder_builds != ladder_rebuilt_before);
        self.config = Some(config.clone());
        if plan.mix || self.mix.is_none() {
            self.mix = Some(audio_mix::MixState::from_config(config));
        }
        if plan.program || plan.shot || plan.mix {
            self.apply_gains();
        }
        Ok(plan)
    }

    /// Sets every input's gain on the running program from the live mix and what is on
    /// program (for audio-follows-video).
    fn apply_gains(&self) {
        let (Some(mix), Some(program), Some(shot)) = (&self.mix, &self.program, self.shot()) else {
            return;
        };
        let Some(config) = &self.config else { return };
        program.set_gains(&mix.gains(&shot.shown(config)));
    }

    /// The live audio mix.
    pub fn mix(&self) -> Option<audio_mix::MixState> {
        self.mix.clone()
    }

    /// Changes the live mix (gain, mute, solo per input; follow-video; master). A bad
    /// change is refused whole, naming each field.
    pub fn set_mix(
        &mut self,
        change: &audio_mix::MixChange,
    ) -> Result<audio_mix::MixState, EngineError> {
        let current = self.mix.as_ref().ok_or(EngineError::State("program"))?;
        let next = current.changed(change).map_err(EngineError::Config)?;
        self.mix = Some(next.clone());
        self.apply_gains();
        Ok(next)
    }

    /// Starts, stops or restarts uplinks so they match `config`; one whose spec is
    /// unchanged keeps running untouched (unless it takes a rung the ladder just rebuilt).
    fn reconcile_destinations(&mut self, config: &Config, ladder_rebuilt: bool) {
        let wanted = outputs::uplink::specs(config);
        let venc = lock(&self.shared.encoder).clone();
        let mut running: Vec<Uplink> = Vec::new();
        for d in self.uplinks.drain(..) {
            let same = wanted.contains(&d.spec);
            let feeds_from_ladder = d.spec.adaptive.is_none();
            if same && !(ladder_rebuilt && feeds_from_ladder) {
                running.push(d);
            } else {
                tracing::info!(destination = %d.spec.name, "stopping destination");
                d.stop();
            }
        }
        for w in wanted {
            let i = running.iter().position(|d| d.spec.name == w.name);
            let d = match i {
                Some(i) => running.remove(i),
                None => {
                    tracing::info!(destination = %w.name, target = %w.target(), "starting destination");
                    Uplink::start(w, &venc, self.shared.taps.clone(), self.events.clone())
                }
            };
            self.uplinks.push(d);
        }
    }

    fn rebuild_program(&mut self, config: &Config) -> Result<(), EngineError> {
        let events = self.events.clone();
        let shot = self.shot_for(config);
        let mut new = Program::build(
            config,
            &shot,
            self.epoch,
            self.shared.bridge.clone(),
            program::ProgramMeters {
                frames: self.shared.program_frames.clone(),
                levels: self.shared.program_levels.clone(),
                thumbs: self.shared.thumbs.clone(),
                ingest: self.shared.ingest.clone(),
            },
            events,
        )?;
        if let Some(old) = self.program.take() {
            old.stop();
        }
        if let Err(e) = new.start() {
            new.stop();
            return Err(e);
        }
        *lock(&self.shared.inputs) = new.inputs.clone();
        self.program = Some(new);
        self.program_builds += 1;
        (self.events)(EngineEvent::ProgramStarted {
            inputs: config.inputs.iter().map(|i| i.name.clone()).collect(),
            width: config.program.width,
            height: config.program.height,
            fps: config.program.fps,
        });
        Ok(())
    }

    fn rebuild_ladder(
        &mut self,
        config: &Config,
        venc: &str,
        aenc: &str,
    ) -> Result<(), EngineError> {
        self.shared.bridge.disconnect();
        if let Some(old) = self.ladder.take() {
            old.stop(DRAIN_TIMEOUT);
        }
        self.origin.configure(config)?;
        self.low_latency.configure(config);
        let ladder = Ladder::build(
            config,
            venc,
            aenc,
            self.epoch,
            (self.origin.clone(), self.low_latency.clone()),
            self.shared.taps.clone(),
            self.events.clone(),
        )?;
        ladder.start()?;
        let segment_ns = u64::from(config.outputs.hls.segment_seconds) * 1_000_000_000;
        self.shared.bridge.connect(
            ladder.video_src.clone(),
            ladder.audio_src.clone(),
            segment_ns,
        );
        *lock(&self.shared.encoder) = venc.to_string();
        (self.events)(EngineEvent::LadderStarted {
            encoder: venc.to_string(),
            rungs: ladder.rungs.iter().map(|r| r.name.clone()).collect(),
        });
        self.ladder = Some(ladder);
        self.ladder_builds += 1;
        self.publish_rungs();
        Ok(())
    }

    fn publish_rungs(&self) {
        let Some(ladder) = &self.ladder else { return };
        *lock(&self.shared.rungs) = ladder
            .rungs
            .iter()
            .map(|r| RungMeta {
                name: r.name.clone(),
                width: r.width,
                height: r.height,
                bitrate_kbps: r.bitrate_kbps,
                frames: r.frames.clone(),
            })
            .collect();
    }

    /// Starts recording the top rung to `config.recording_dir()`.
    pub fn start_recording(&mut self, config: &Config) -> Result<(), EngineError> {
        if self.recorder.as_ref().is_some_and(|r| r.running()) {
            return Err(EngineError::Recording("already recording".into()));
        }
        let top = config
            .ladder
            .rungs
            .iter()
            .max_by_key(|r| r.width * r.height)
            .ok_or(EngineError::Recording("the ladder has no rung".into()))?;
        let r = &config.recording;
        let spec = recorder::RecorderSpec {
            dir: config.recording_dir(),
            rung: top.name.clone(),
            split_seconds: r.split_seconds,
            split_mb: r.split_mb,
            floor_bytes: u64::from(r.free_space_floor_mb) << 20,
            delete_oldest: r.delete_oldest,
        };
        self.recorder = Some(recorder::Recorder::start(
            spec,
            self.shared.taps.clone(),
            self.events.clone(),
        )?);
        Ok(())
    }

    /// Stops recording, closing the current file; false if it was not recording.
    pub fn stop_recording(&mut self) -> bool {
        match self.recorder.take() {
            Some(r) => {
                let was = r.running();
                r.stop();
                was
            }
            None => false,
        }
    }

    pub fn recording_status(&self) -> Option<recorder::RecorderStatus> {
        self.recorder.as_ref().map(|r| r.status())
    }

    /// Stops everything; the last segments are closed and every playlist gets ENDLIST.
    pub fn shutdown(&mut self) {
        self.stop_recording();
        for d in self.uplinks.drain(..) {
            d.stop();
        }
        if let Some(p) = self.program.take() {
            p.stop();
        }
        self.shared.bridge.disconnect();
        if let Some(l) = self.ladder.take() {
            l.stop(DRAIN_TIMEOUT);
        }
        self.origin.finish();
        self.low_latency.finish();
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }

    /// The low-latency HLS origin (served from memory by the HTTP server).
    pub fn low_latency(&self) -> Arc<LowLatencyOrigin> {
        self.low_latency.clone()
    }

    pub fn hls_dir(&self) -> PathBuf {
        self.origin.dir().to_path_buf()
    }

    pub fn status(&self) -> EngineStatus {
        status::collect(self)
    }

    /// The shot on program: the last one taken if it still fits `config`, else the
    /// config's own.
    fn shot_for(&self, config: &Config) -> fourcast_config::Shot {
        match &self.shot {
            Some(s) if s.check(config, "shot").is_empty() => s.clone(),
            _ => config.program.shot(),
        }
    }

    /// What the program shows now.
    pub fn shot(&self) -> Option<fourcast_config::Shot> {
        self.config.as_ref().map(|c| self.shot_for(c))
    }

    /// Puts `shot` on program from the next frame, with `transition`. Nothing restarts.
    /// A bad shot (unknown input, too many inputs, inset outside the frame) is refused with
    /// errors naming each field, and the program keeps what it showed.
    pub fn take(
        &mut self,
        shot: fourcast_config::Shot,
        transition: Transition,
    ) -> Result<u64, EngineError> {
        let (Some(config), Some(program)) = (&self.config, &self.program) else {
            return Err(EngineError::State("program"));
        };
        let errs = shot.check(config, "shot");
        if !errs.is_empty() {
            return Err(EngineError::Config(ConfigErrors(errs)));
        }
        let fade_frames = match transition {
            Transition::Cut => 0,
            Transition::Fade { ms } => {
                if ms > MAX_FADE_MS {
                    return Err(EngineError::Config(ConfigErrors::one(
                        "duration_ms",
                        format!("{ms}: a fade lasts at most {MAX_FADE_MS} ms"),
                    )));
                }
                (u64::from(ms) * u64::from(config.program.fps)).div_ceil(1000) as u32
            }
        };
        let generation = program.show(layout::shot_tiles(config, &shot), fade_frames);
        self.shot = Some(shot);
        self.apply_gains();
        Ok(generation)
    }

    /// Shows or hides an overlay (`logo`, `lower_third`, `clock`) on the running program,
    /// from the next frame (the lower third fades): live state, like the shot. The config
    /// is the controller's alone and is not changed, so a later change that leaves
    /// `[overlays]` alone keeps what a scene showed, and one that edits them redraws them
    /// as configured.
    pub fn show_overlay(&mut self, name: &str, visible: bool) -> Result<(), EngineError> {
        let program = self.program.as_ref().ok_or(EngineError::State("program"))?;
        if !program.show_overlay(name, visible) {
            return Err(EngineError::Config(ConfigErrors::one(
                "overlay",
                format!("{name}: no such overlay is configured (see [overlays])"),
            )));
        }
        Ok(())
    }

    /// The RTMP ingest server's way in (keys of the configured `rtmp` inputs).
    pub fn ingest(&self) -> Arc<inputs::rtmp_hub::IngestHub> {
        self.shared.ingest.clone()
    }

    /// The multiview thumbnails (an input's by its name, the program's as `program`).
    pub fn thumbs(&self) -> Arc<thumbs::Thumbs> {
        self.shared.thumbs.clone()
    }

    /// The last take and how long it took to reach a program frame.
    pub fn last_switch(&self) -> Option<program::mixer::Switch> {
        self.program.as_ref().map(Program::last_switch)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.ticker.is_some() {
            self.shutdown();
        }
    }
}

/// The logo and lower third of `config`, rendered. A logo that cannot be decoded is an
/// error naming its field, found before anything running is touched.
fn overlays(config: &Config) -> Result<Vec<program::mixer::Overlay>, EngineError> {
    let o = &config.overlays;
    let p = &config.program;
    let mut out = Vec::new();
    if let Some(logo) = &o.logo {
        let graphic = program::graphics::logo(logo)
            .map_err(|e| EngineError::Config(ConfigErrors::one("overlays.logo.path", e)))?;
        out.push(program::mixer::Overlay {
            name: "logo".into(),
            graphic,
            visible: logo.visible,
            fade_frames: 0,
            level: if logo.visible { 255 } else { 0 },
        });
    }
    if let Some(l) = &o.lower_third {
        let graphic = program::graphics::lower_third(l, p.width, p.height)
            .map_err(|e| EngineError::Config(ConfigErrors::one("overlays.lower_third", e)))?;
        out.push(program::mixer::Overlay {
            name: "lower_third".into(),
            graphic,
            visible: l.visible,
            fade_frames: (u64::from(l.fade_ms) * u64::from(p.fps)).div_ceil(1000) as u32,
            level: 0,
        });
    }
    Ok(out)
}

fn spawn_ticker(shared: Arc<Shared>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("engine-stats".into())
        .spawn(move || {
            let start = std::time::Instant::now();
            while !shared.stop.load(Ordering::Relaxed) {
                let now = start.elapsed().as_nanos() as u64 + 1;
                shared.program_frames.tick(now);
                for i in lock(&shared.inputs).iter() {
                    i.frames.tick(now);
                    i.levels.tick();
                }
                shared.program_levels.tick();
                for r in lock(&shared.rungs).iter() {
                    r.frames.tick(now);
                }
                std::thread::sleep(Duration::from_millis(1000));
            }
        })
        .expect("spawning a thread only fails when the process is out of resources")
}
