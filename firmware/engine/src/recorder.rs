//! The program recorder: the top rung's encoded frames and the AAC (from the taps, so
//! nothing is encoded twice) into MPEG-TS files, split by duration or size.
//!
//! ```text
//! tap ─▶ appsrc(H.264) ─ h264parse ─┐
//! tap ─▶ appsrc(AAC) ─ aacparse ────┴─ splitmuxsink(mpegtsmux) ─▶ 20261121-173045.ts …
//! ```
//! MPEG-TS is written front to back with no index to finish, so a power cut leaves a file
//! that plays up to its last whole packet. The recorder is its own pipeline fed through a
//! bounded outlet: a full or pulled disk stops the recorder with an event, never the
//! program, HLS or the uplinks. A thread watches free space and keeps it above the floor,
//! deleting the oldest finished file or stopping before the disk fills.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use gst::prelude::*;
use serde::Serialize;

use crate::tap::{Feed, Outlet, TapHub};
use crate::{EngineError, EngineEvent, EventSink, make};

#[derive(Debug, Clone)]
pub struct RecorderSpec {
    pub dir: PathBuf,
    pub rung: String,
    pub split_seconds: u32,
    pub split_mb: Option<u32>,
    pub floor_bytes: u64,
    pub delete_oldest: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RecorderStatus {
    /// `recording`, `stopped` or `failed`.
    pub state: &'static str,
    pub dir: String,
    /// The file being written.
    pub file: Option<String>,
    /// Seconds in the current file.
    pub file_duration_s: f64,
    pub file_bytes: u64,
    /// Free space where recordings go.
    pub free_bytes: u64,
    pub last_error: Option<String>,
}

pub struct Recorder {
    shared: Arc<Mutex<RecorderStatus>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Free bytes for an unprivileged writer on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// `YYYYMMDD-HHMMSS` (UTC) for a file name.
pub fn file_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let iso = fourcast_hls::iso8601_utc_ms(secs * 1000);
    // 2026-11-21T17:30:45.000Z → 20261121-173045
    let digits: String = iso.chars().filter(|c| c.is_ascii_digit()).collect();
    format!("{}-{}", &digits[..8], &digits[8..14])
}

impl Recorder {
    /// Checks the target and starts writing; errors say what is wrong with the target.
    pub fn start(
        spec: RecorderSpec,
        taps: Arc<TapHub>,
        events: EventSink,
    ) -> Result<Recorder, EngineError> {
        std::fs::create_dir_all(&spec.dir).map_err(|e| {
            EngineError::Recording(format!("{}: cannot be created: {e}", spec.dir.display()))
        })?;
        let probe = spec.dir.join(".fourcast-write-test");
        std::fs::write(&probe, b"ok").map_err(|e| {
            EngineError::Recording(format!("{}: not writable: {e}", spec.dir.display()))
        })?;
        let _ = std::fs::remove_file(&probe);
        let free = free_bytes(&spec.dir).unwrap_or(0);
        if free < spec.floor_bytes {
            return Err(EngineError::Recording(format!(
                "{}: {} MiB free, below the {} MiB floor",
                spec.dir.display(),
                free >> 20,
                spec.floor_bytes >> 20
            )));
        }
        let (pipeline, outlet, sink) = build(&spec)?;
        let shared = Arc::new(Mutex::new(RecorderStatus {
            state: "recording",
            dir: spec.dir.display().to_string(),
            free_bytes: free,
            ..Default::default()
        }));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| EngineError::Recording("the recorder did not start".into()))?;
        taps.add(outlet.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let sup = Supervisor {
            spec,
            pipeline,
            outlet,
            sink,
            taps,
            events,
            shared: shared.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || sup.run())
            .map_err(|_| EngineError::Link("recorder thread"))?;
        Ok(Recorder {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    pub fn status(&self) -> RecorderStatus {
        crate::lock(&self.shared).clone()
    }

    /// True while it still writes (it stops by itself on a full or failed disk).
    pub fn running(&self) -> bool {
        crate::lock(&self.shared).state == "recording"
    }

    /// Ends the current file cleanly and stops.
    pub fn stop(mut self) -> RecorderStatus {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.status()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn build(spec: &RecorderSpec) -> Result<(gst::Pipeline, Arc<Outlet>, gst::Element), EngineError> {
    let pipeline = gst::Pipeline::with_name("recorder");
    let appsrc = |name: &str| {
        gst_app::AppSrc::builder()
            .name(name)
            .is_live(false)
            .format(gst::Format::Time)
            .block(false)
            .max_bytes(64 << 20)
            .build()
    };
    let (video, audio) = (appsrc("rec-video"), appsrc("rec-audio"));
    let vparse = make("h264parse", "rec-video-parse")?;
    let aparse = make("aacparse", "rec-audio-parse")?;
    let sink = make("splitmuxsink", "rec")?;
    sink.set_property("muxer-factory", "mpegtsmux");
    sink.set_property(
        "max-size-time",
        u64::from(spec.split_seconds) * 1_000_000_000,
    );
    if let Some(mb) = spec.split_mb {
        sink.set_property("max-size-bytes", u64::from(mb) << 20);
    }
    sink.set_property("async-finalize", false);
    sink.set_property("send-keyframe-requests", false);
    let dir = spec.dir.clone();
    sink.connect("format-location", false, move |_| {
        let stamp = file_stamp(SystemTime::now());
        let mut path = dir.join(format!("{stamp}.ts"));
        let mut n = 1;
        while path.exists() {
            path = dir.join(format!("{stamp}-{n}.ts"));
            n += 1;
        }
        Some(path.to_string_lossy().to_value())
    });
    pipeline.add_many([
        video.upcast_ref::<gst::Element>(),
        audio.upcast_ref(),
        &vparse,
        &aparse,
        &sink,
    ])?;
    video.link(&vparse)?;
    audio.link(&aparse)?;
    let vpad = sink
        .request_pad_simple("video")
        .ok_or(EngineError::Link("recorder video"))?;
    vparse
        .static_pad("src")
        .ok_or(EngineError::Link("recorder video"))?
        .link(&vpad)
        .map_err(|_| EngineError::Link("recorder video"))?;
    let apad = sink
        .request_pad_simple("audio_%u")
        .ok_or(EngineError::Link("recorder audio"))?;
    aparse
        .static_pad("src")
        .ok_or(EngineError::Link("recorder audio"))?
        .link(&apad)
        .map_err(|_| EngineError::Link("recorder audio"))?;
    let outlet = Arc::new(Outlet::new(
        "(recorder)",
        Feed::Rung(spec.rung.clone()),
        video,
        audio,
    ));
    Ok((pipeline, outlet, sink))
}

struct Supervisor {
    spec: RecorderSpec,
    pipeline: gst::Pipeline,
    outlet: Arc<Outlet>,
    sink: gst::Element,
    taps: Arc<TapHub>,
    events: EventSink,
    shared: Arc<Mutex<RecorderStatus>>,
    stop: Arc<AtomicBool>,
}

const TICK: Duration = Duration::from_millis(250);

impl Supervisor {
    fn run(self) {
        let mut current: Option<(PathBuf, Instant)> = None;
        let mut last_space = Instant::now() - Duration::from_secs(10);
        let mut end: Option<(&'static str, String)> = None;
        let bus = self.pipeline.bus();
        while end.is_none() {
            if self.stop.load(Ordering::Relaxed) {
                end = Some(("stopped", "stopped by command".into()));
                break;
            }
            if let Some(msg) = bus
                .as_ref()
                .and_then(|b| b.timed_pop(gst::ClockTime::from_mseconds(TICK.as_millis() as u64)))
            {
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        end = Some((
                            "failed",
                            format!("writing {}: {}", self.spec.dir.display(), e.error()),
                        ));
                    }
                    gst::MessageView::Element(e) => {
                        let Some(s) = e.structure() else { continue };
                        let Ok(location) = s.get::<String>("location") else {
                            continue;
                        };
                        match s.name().as_str() {
                            "splitmuxsink-fragment-opened" => {
                                if let Some((old, _)) = current.take() {
                                    self.closed(&old);
                                }
                                tracing::info!(file = %location, "recording file opened");
                                (self.events)(EngineEvent::RecordingFileOpened {
                                    path: location.clone(),
                                });
                                current = Some((PathBuf::from(location), Instant::now()));
                            }
                            "splitmuxsink-fragment-closed" => {
                                if current
                                    .as_ref()
                                    .is_some_and(|(p, _)| p.to_string_lossy() == location)
                                {
                                    current = None;
                                }
                                self.closed(Path::new(&location));
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            if last_space.elapsed() >= Duration::from_secs(1) {
                last_space = Instant::now();
                if let Some(reason) = self.keep_free_space(current.as_ref().map(|c| c.0.as_path()))
                {
                    end = Some(("stopped", reason));
                }
            }
            let mut st = crate::lock(&self.shared);
            if let Some((path, since)) = &current {
                st.file = Some(path.display().to_string());
                st.file_duration_s = since.elapsed().as_secs_f64();
                st.file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            }
        }
        let (state, reason) = end.unwrap_or(("stopped", String::new()));
        self.taps.remove(&self.outlet.name);
        if state == "stopped" {
            // Close the last file properly: EOS through the muxer, then tear down.
            self.finish();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some((path, _)) = current.take() {
            self.closed(&path);
        }
        let mut st = crate::lock(&self.shared);
        st.state = state;
        st.file = None;
        if state == "failed" {
            st.last_error = Some(reason.clone());
            tracing::error!("recording failed: {reason}");
            (self.events)(EngineEvent::RecordingFailed { message: reason });
        } else {
            tracing::info!("recording stopped: {reason}");
            (self.events)(EngineEvent::RecordingStopped { reason });
        }
    }

    fn closed(&self, path: &Path) {
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        (self.events)(EngineEvent::RecordingFileClosed {
            path: path.display().to_string(),
            bytes,
        });
    }

    fn finish(&self) {
        let _ = self.outlet.end_of_stream();
        let Some(bus) = self.pipeline.bus() else {
            return;
        };
        let _ = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(3),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let _ = &self.sink;
    }

    /// Keeps free space above the floor; `Some(reason)` when recording must stop.
    fn keep_free_space(&self, writing: Option<&Path>) -> Option<String> {
        let floor = self.spec.floor_bytes;
        loop {
            let free = free_bytes(&self.spec.dir).unwrap_or(0);
            crate::lock(&self.shared).free_bytes = free;
            // Stop one split's worth of margin early: never at 100 %.
            if free >= floor {
                return None;
            }
            if !self.spec.delete_oldest {
                return Some(format!(
                    "free space {} MiB fell below the {} MiB floor",
                    free >> 20,
                    floor >> 20
                ));
            }
            let oldest = oldest_recording(&self.spec.dir, writing);
            match oldest {
                Some(p) => {
                    tracing::warn!(file = %p.display(), "deleting the oldest recording to keep free space");
                    let _ = std::fs::remove_file(&p);
                    (self.events)(EngineEvent::RecordingDeleted {
                        path: p.display().to_string(),
                    });
                }
                None => {
                    return Some(format!(
                        "free space {} MiB below the {} MiB floor and nothing left to delete",
                        free >> 20,
                        floor >> 20
                    ));
                }
            }
        }
    }
}

fn oldest_recording(dir: &Path, writing: Option<&Path>) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ts") && Some(p.as_path()) != writing)
        .collect();
    files.sort();
    files.into_iter().next()
}
