//! Multiview thumbnails: a small JPEG of every input and of the program, a few times a
//! second, for the web UI.
//!
//! Cheap by design: a pad probe takes a reference to a frame (no copy) only when that
//! source's thumbnail is due, and hands it to one worker thread through a bounded channel
//! (a busy worker means the frame is skipped, never queued). The worker scales the frame
//! with the engine's scaler straight to thumbnail size and encodes a JPEG. Nothing on the
//! media path waits for it.

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::*;

use crate::scale::{Plane, PlaneMut, PlaneScaler, Scratch};

/// The program's thumbnail is kept under this name (input names are the inputs').
pub const PROGRAM: &str = "program";
/// Thumbnail width in pixels; the height keeps the source's aspect (even).
pub const THUMB_WIDTH: usize = 320;
/// JPEG quality (1–100).
const QUALITY: u8 = 70;
/// Frames waiting for the worker, at most.
const PENDING: usize = 4;

/// The latest thumbnail of one source.
#[derive(Clone)]
pub struct Thumbnail {
    pub jpeg: Arc<Vec<u8>>,
    pub width: usize,
    pub height: usize,
    pub taken: Instant,
    /// Counts thumbnails of this source.
    pub seq: u64,
}

struct Job {
    source: String,
    buffer: gst::Buffer,
    info: gst_video::VideoInfo,
}

/// Every source's latest thumbnail and the worker that makes them.
pub struct Thumbs {
    /// How often each source's thumbnail is made; `None`: never.
    every: Mutex<Option<Duration>>,
    latest: Mutex<HashMap<String, Thumbnail>>,
    due: Mutex<HashMap<String, Instant>>,
    jobs: Mutex<Option<SyncSender<Job>>>,
}

impl Thumbs {
    /// Thumbnails at `fps` per source (0: none).
    pub fn new(fps: u32) -> Arc<Thumbs> {
        let thumbs = Arc::new(Thumbs {
            every: Mutex::new(None),
            latest: Mutex::default(),
            due: Mutex::default(),
            jobs: Mutex::new(None),
        });
        thumbs.set_fps(fps);
        {
            let (tx, rx) = sync_channel::<Job>(PENDING);
            let weak = Arc::downgrade(&thumbs);
            let spawned = std::thread::Builder::new()
                .name("thumbnails".into())
                .spawn(move || {
                    let mut worker = Worker::default();
                    while let Ok(job) = rx.recv() {
                        let Some(thumbs) = weak.upgrade() else { return };
                        if let Some(t) = worker.make(&job) {
                            thumbs.store(&job.source, t);
                        }
                    }
                });
            match spawned {
                Ok(_) => *lock(&thumbs.jobs) = Some(tx),
                Err(e) => tracing::error!("thumbnails: no worker thread: {e}"),
            }
        }
        thumbs
    }

    /// Thumbnails at `fps` per source from now on (0: none; the last ones are forgotten).
    pub fn set_fps(&self, fps: u32) {
        *lock(&self.every) = (fps > 0).then(|| Duration::from_secs(1) / fps);
        if fps == 0 {
            lock(&self.latest).clear();
        }
    }

    /// The latest thumbnail of `source` (an input's name, or `program`).
    pub fn get(&self, source: &str) -> Option<Thumbnail> {
        lock(&self.latest).get(source).cloned()
    }

    fn store(&self, source: &str, mut t: Thumbnail) {
        let mut latest = lock(&self.latest);
        t.seq = latest.get(source).map_or(1, |old| old.seq + 1);
        latest.insert(source.to_string(), t);
    }

    /// Watches the raw I420 frames flowing through `pad` as `source`'s thumbnails.
    pub fn watch(self: &Arc<Self>, pad: &gst::Pad, source: &str) {
        let weak = Arc::downgrade(self);
        let source = source.to_string();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
            if let (Some(thumbs), Some(gst::PadProbeData::Buffer(buffer))) =
                (weak.upgrade(), probe.data.as_ref())
            {
                thumbs.offer(pad, &source, buffer);
            }
            gst::PadProbeReturn::Ok
        });
    }

    fn offer(&self, pad: &gst::Pad, source: &str, buffer: &gst::Buffer) {
        let (Some(every), now) = (*lock(&self.every), Instant::now()) else {
            return;
        };
        {
            let mut due = lock(&self.due);
            if due.get(source).is_some_and(|at| now < *at) {
                return;
            }
            due.insert(source.to_string(), now + every);
        }
        let Some(info) = pad
            .current_caps()
            .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
        else {
            return;
        };
        let job = Job {
            source: source.to_string(),
            buffer: buffer.clone(),
            info,
        };
        if let Some(tx) = lock(&self.jobs).as_ref() {
            match tx.try_send(job) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

/// The worker's scalers and buffers, reused from one thumbnail to the next.
#[derive(Default)]
struct Worker {
    /// By (source size, thumbnail size) of a plane.
    scalers: HashMap<[usize; 4], PlaneScaler>,
    scratch: Scratch,
    planes: [Vec<u8>; 3],
    ycbcr: Vec<u8>,
}

impl Worker {
    fn make(&mut self, job: &Job) -> Option<Thumbnail> {
        if job.info.format() != gst_video::VideoFormat::I420 {
            return None;
        }
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(&job.buffer, &job.info).ok()?;
        let (w, h) = (job.info.width() as usize, job.info.height() as usize);
        let (tw, th) = thumb_size(w, h);
        for p in 0..3usize {
            let (sw, sh, dw, dh) = if p == 0 {
                (w, h, tw, th)
            } else {
                (w.div_ceil(2), h.div_ceil(2), tw / 2, th / 2)
            };
            let src = Plane {
                data: frame.plane_data(p as u32).ok()?,
                width: sw,
                height: sh,
                stride: frame.plane_stride()[p] as usize,
            };
            let scaler = self
                .scalers
                .entry([sw, sh, dw, dh])
                .or_insert_with(|| PlaneScaler::new((sw, sh), (dw, dh)));
            self.planes[p].resize(dw * dh, 0);
            let mut dst = PlaneMut {
                data: &mut self.planes[p],
                width: dw,
                height: dh,
                stride: dw,
            };
            scaler.run(src, &mut dst, &mut self.scratch);
        }
        interleave_full_range(&self.planes, tw, th, &mut self.ycbcr);
        let mut jpeg = Vec::with_capacity(16 * 1024);
        let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, QUALITY);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        encoder
            .encode(
                &self.ycbcr,
                tw as u16,
                th as u16,
                jpeg_encoder::ColorType::Ycbcr,
            )
            .ok()?;
        Some(Thumbnail {
            jpeg: Arc::new(jpeg),
            width: tw,
            height: th,
            taken: Instant::now(),
            seq: 0,
        })
    }
}

/// The thumbnail size for a `w`×`h` picture: [`THUMB_WIDTH`] wide (or the picture's own
/// width if smaller), aspect kept, both even.
pub fn thumb_size(w: usize, h: usize) -> (usize, usize) {
    let tw = THUMB_WIDTH.min(w.max(2)) & !1;
    let th = ((h * tw + w / 2) / w.max(1)).max(2) & !1;
    (tw, th)
}

/// I420 planes (video range, as cameras and encoders use) into interleaved full-range
/// YCbCr, as JPEG (JFIF) expects.
fn interleave_full_range(planes: &[Vec<u8>; 3], w: usize, h: usize, out: &mut Vec<u8>) {
    let luma = |y: u8| ((i32::from(y) - 16) * 255 / 219).clamp(0, 255) as u8;
    let chroma = |c: u8| ((i32::from(c) - 128) * 255 / 224 + 128).clamp(0, 255) as u8;
    out.clear();
    out.reserve(w * h * 3);
    let cw = w / 2;
    for y in 0..h {
        for x in 0..w {
            let c = (y / 2) * cw + x / 2;
            out.push(luma(planes[0][y * w + x]));
            out.push(chroma(planes[1][c]));
            out.push(chroma(planes[2][c]));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_the_aspect_and_even_sizes() {
        assert_eq!(thumb_size(1920, 1080), (320, 180));
        assert_eq!(thumb_size(1280, 720), (320, 180));
        assert_eq!(thumb_size(640, 480), (320, 240));
        assert_eq!(thumb_size(720, 576), (320, 256));
        assert_eq!(thumb_size(160, 90), (160, 90));
        assert_eq!(thumb_size(3, 3), (2, 2));
    }

    #[test]
    fn video_range_becomes_full_range() {
        let planes = [vec![16, 235, 126, 16], vec![128], vec![240]];
        let mut out = Vec::new();
        interleave_full_range(&planes, 2, 2, &mut out);
        assert_eq!(&out[0..3], &[0, 128, 255]);
        assert_eq!(out[3], 255);
        assert_eq!(out[6], 128);
    }

    #[test]
    fn a_frame_becomes_a_jpeg_of_thumbnail_size() {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 640, 360)
            .build()
            .unwrap();
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        buffer.get_mut().unwrap().map_writable().unwrap().fill(128);
        let job = Job {
            source: "cam1".into(),
            buffer,
            info,
        };
        let t = Worker::default().make(&job).unwrap();
        assert_eq!((t.width, t.height), (320, 180));
        assert_eq!(&t.jpeg[..2], &[0xFF, 0xD8], "JPEG start of image");
        assert_eq!(
            &t.jpeg[t.jpeg.len() - 2..],
            &[0xFF, 0xD9],
            "JPEG end of image"
        );
    }
}
