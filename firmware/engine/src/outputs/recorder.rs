//! The program recorder: the top rung's encoded frames and the AAC (from the taps, so
//! nothing is encoded twice) into MPEG-TS files, split by duration or size.
//!
//! ```text
//! tap ─▶ appsrc(H.264) ─ h264parse ─┐
//! tap ─▶ appsrc(AAC) ─ aacparse ────┴─ mpegtsmux ─ appsink ─▶ FileWriter ─▶ 20261121-173045.ts …
//! ```
//! MPEG-TS is written front to back with no index to finish, so a power cut leaves a file
//! that plays up to its last whole packet on the disk. The writer puts every muxed buffer
//! straight into the file (the kernel has it the moment `write` returns, so `kill -9` loses
//! only what is still in the pipeline) and syncs the file's data every [`SYNC_EVERY`], so a
//! power cut loses at most that much (without it, ext4's delayed allocation lost the whole
//! file: found by the HIL power-cut scenario). It starts a new file on a keyframe once the split time or size
//! is reached, opening it with the latest PAT and PMT so it plays on its own.
//! (`splitmuxsink` is not used: it holds a whole GOP before writing, up to 2 s lost.) The recorder is its own pipeline fed through a
//! bounded outlet: a full or pulled disk stops the recorder with an event, never the
//! program, HLS or the uplinks. A thread watches free space and keeps it above the floor,
//! deleting the oldest finished file or stopping before the disk fills.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use gst::prelude::*;
use serde::Serialize;

use crate::outputs::tap::{Feed, Outlet, TapHub};
use crate::recording::{Split, Tables};
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
        let writer = Arc::new(Mutex::new(FileWriter::new(&spec, events.clone())));
        let (pipeline, outlet) = build(&spec, writer.clone())?;
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
            writer,
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

fn build(
    spec: &RecorderSpec,
    writer: Arc<Mutex<FileWriter>>,
) -> Result<(gst::Pipeline, Arc<Outlet>), EngineError> {
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
    vparse.set_property("config-interval", -1i32);
    let aparse = make("aacparse", "rec-audio-parse")?;
    let mux = make("mpegtsmux", "rec-mux")?;
    // One output buffer per muxed frame, flagged like the frame: a split on a keyframe
    // buffer starts the file exactly at that frame's first packet.
    mux.set_property("alignment", 0i32);
    let sink =
        crate::gst_util::writer_sink("rec-out", writer, FileWriter::write, FileWriter::close);
    pipeline.add_many([
        video.upcast_ref::<gst::Element>(),
        audio.upcast_ref(),
        &vparse,
        &aparse,
        &mux,
        sink.upcast_ref(),
    ])?;
    video.link(&vparse)?;
    audio.link(&aparse)?;
    vparse.link(&mux)?;
    aparse.link(&mux)?;
    mux.link(&sink)?;
    let outlet = Arc::new(Outlet::new(
        "(recorder)",
        Feed::Rung(spec.rung.clone()),
        video,
        audio,
    ));
    Ok((pipeline, outlet))
}

/// How often the open file's data is synced to the disk: what a power cut may lose.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Writes the muxed stream into files, splitting on keyframes.
pub(crate) struct FileWriter {
    dir: PathBuf,
    split: Split,
    tables: Tables,
    current: Option<OpenFile>,
    /// The first write error; the recorder stops on it.
    error: Option<String>,
    events: EventSink,
}

struct OpenFile {
    file: std::fs::File,
    path: PathBuf,
    opened: Instant,
    bytes: u64,
    synced: Instant,
}

impl FileWriter {
    fn new(spec: &RecorderSpec, events: EventSink) -> Self {
        Self {
            dir: spec.dir.clone(),
            split: Split::new(
                u64::from(spec.split_seconds) * 1_000_000_000,
                spec.split_mb.map(|mb| u64::from(mb) << 20),
            ),
            tables: Tables::default(),
            current: None,
            error: None,
            events,
        }
    }

    fn write(&mut self, buffer: &gst::BufferRef) {
        if self.error.is_some() {
            return;
        }
        let Ok(map) = buffer.map_readable() else {
            return;
        };
        let data = map.as_slice();
        self.tables.learn(data);
        let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let pts = buffer.pts().map(|t| t.nseconds());
        if self.split.due(pts, keyframe) {
            self.close();
            if let Err(e) = self.open() {
                self.error = Some(e);
                return;
            }
        }
        let Some(f) = self.current.as_mut() else {
            return;
        };
        match f.file.write_all(data) {
            Ok(()) => {
                f.bytes += data.len() as u64;
                self.split.wrote(pts, data.len() as u64);
            }
            Err(e) => self.error = Some(format!("{}: {e}", f.path.display())),
        }
        if f.synced.elapsed() >= SYNC_EVERY {
            f.synced = Instant::now();
            if let Err(e) = f.file.sync_data() {
                self.error = Some(format!("{}: {e}", f.path.display()));
            }
        }
    }

    fn open(&mut self) -> Result<(), String> {
        let stamp = file_stamp(SystemTime::now());
        let mut path = self.dir.join(format!("{stamp}.ts"));
        let mut n = 1;
        while path.exists() {
            path = self.dir.join(format!("{stamp}-{n}.ts"));
            n += 1;
        }
        let mut file = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut bytes = 0;
        for table in [&self.tables.pat, &self.tables.pmt].into_iter().flatten() {
            file.write_all(table)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            bytes += table.len() as u64;
        }
        // The new name must survive a power cut too.
        if let Err(e) = std::fs::File::open(&self.dir).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %self.dir.display(), "recording folder not synced: {e}");
        }
        tracing::info!(file = %path.display(), "recording file opened");
        (self.events)(EngineEvent::RecordingFileOpened {
            path: path.display().to_string(),
        });
        self.split.opened();
        self.split.wrote(None, bytes);
        self.current = Some(OpenFile {
            file,
            path,
            opened: Instant::now(),
            bytes,
            synced: Instant::now(),
        });
        Ok(())
    }

    /// Finishes the open file (synced to disk) and reports it.
    fn close(&mut self) {
        self.split.closed();
        if let Some(f) = self.current.take() {
            let _ = f.file.sync_all();
            (self.events)(EngineEvent::RecordingFileClosed {
                path: f.path.display().to_string(),
                bytes: f.bytes,
            });
        }
    }
}

struct Supervisor {
    spec: RecorderSpec,
    pipeline: gst::Pipeline,
    outlet: Arc<Outlet>,
    writer: Arc<Mutex<FileWriter>>,
    taps: Arc<TapHub>,
    events: EventSink,
    shared: Arc<Mutex<RecorderStatus>>,
    stop: Arc<AtomicBool>,
}

const TICK: Duration = Duration::from_millis(250);

impl Supervisor {
    fn run(self) {
        let mut last_space = Instant::now() - Duration::from_secs(10);
        let mut end: Option<(&'static str, String)> = None;
        let bus = self.pipeline.bus();
        while end.is_none() {
            if self.stop.load(Ordering::Relaxed) {
                end = Some(("stopped", "stopped by command".into()));
                break;
            }
            if let Some(msg) = bus.as_ref().and_then(|b| {
                b.timed_pop_filtered(
                    gst::ClockTime::from_mseconds(TICK.as_millis() as u64),
                    &[gst::MessageType::Error],
                )
            }) && let gst::MessageView::Error(e) = msg.view()
            {
                end = Some(("failed", format!("recorder: {}", e.error())));
            }
            let (writing, error) = {
                let w = crate::lock(&self.writer);
                let mut st = crate::lock(&self.shared);
                if let Some(f) = &w.current {
                    st.file = Some(f.path.display().to_string());
                    st.file_duration_s = f.opened.elapsed().as_secs_f64();
                    st.file_bytes = f.bytes;
                }
                (w.current.as_ref().map(|f| f.path.clone()), w.error.clone())
            };
            if let Some(e) = error {
                end = Some(("failed", format!("writing {e}")));
            }
            if end.is_none() && last_space.elapsed() >= Duration::from_secs(1) {
                last_space = Instant::now();
                if let Some(reason) = self.keep_free_space(writing.as_deref()) {
                    end = Some(("stopped", reason));
                }
            }
        }
        let (state, reason) = end.unwrap_or(("stopped", String::new()));
        self.taps.remove(&self.outlet.name);
        if state == "stopped" {
            // Let what is in the pipeline reach the file, then close it.
            self.finish();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        crate::lock(&self.writer).close();
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

    fn finish(&self) {
        let _ = self.outlet.end_of_stream();
        let Some(bus) = self.pipeline.bus() else {
            return;
        };
        let _ = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(3),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
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
