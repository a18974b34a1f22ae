//! Taps: where destinations take media from without touching an encoder.
//!
//! The ladder hands every encoded rung frame and every AAC frame to the hub (an appsink
//! per rung, always there); the bridge hands it every raw program frame. A destination
//! registers an [`Outlet`] (its pipeline's appsrcs) and the hub copies references to it:
//! nothing is encoded twice and nothing is copied. The hub never waits: an outlet whose
//! pipeline is not keeping up (a slow or dead link) loses frames up to the next keyframe
//! and counts them, and everything else goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::keyframes::{Admit, KeyframeGate, MAX_QUEUED_NS};

/// What an outlet eats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// A rung's encoded H.264 and the AAC.
    Rung(String),
    /// Raw program frames and the AAC (the outlet has its own encoder).
    Program,
}

/// Raw frames a destination's own encoder may have queued.
const MAX_QUEUED_RAW: u64 = 4;

/// A destination's way in.
pub struct Outlet {
    pub name: String,
    pub feed: Feed,
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    state: Mutex<OutletState>,
    /// Video frames dropped because the destination was not keeping up.
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct OutletState {
    /// Restamp origin: the destination's stream starts at zero.
    base_ns: Option<u64>,
    /// After a drop (or at the start), encoded video resumes at a keyframe.
    gate: KeyframeGate,
    video_caps: Option<gst::Caps>,
    audio_caps: Option<gst::Caps>,
}

impl Outlet {
    pub fn new(name: &str, feed: Feed, video: gst_app::AppSrc, audio: gst_app::AppSrc) -> Self {
        Self {
            name: name.to_string(),
            feed,
            video,
            audio,
            state: Mutex::new(OutletState::default()),
            dropped: AtomicU64::new(0),
        }
    }

    /// Ends both streams (the pipeline then drains and finishes its file).
    pub fn end_of_stream(&self) -> bool {
        self.video.end_of_stream().is_ok() && self.audio.end_of_stream().is_ok()
    }

    /// Start again at the next keyframe (a new peer joined).
    pub fn resume(&self) {
        self.lock().gate.resume();
    }

    /// Milliseconds of media waiting in front of the destination's sink.
    pub fn queued_ms(&self) -> f64 {
        self.video.current_level_time().nseconds() as f64 / 1e6
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutletState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn encoded_video(&self, sample: &gst::Sample) {
        let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
            return;
        };
        let mut st = self.lock();
        let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let queued_ns = self.video.current_level_time().nseconds();
        let started = st.base_ns.is_some();
        match st.gate.admit(keyframe, queued_ns, started) {
            Admit::Pass => {}
            Admit::Wait => return,
            Admit::Drop => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let Some(t) = Times::of(buffer, sample.segment()) else {
            return;
        };
        st.gate.passed();
        let base = *st.base_ns.get_or_insert_with(|| t.start());
        if st.video_caps.as_ref().map(|c| c.as_ref()) != Some(caps) {
            let caps = caps.to_owned();
            self.video.set_caps(Some(&caps));
            st.video_caps = Some(caps);
        }
        if let Some(b) = restamp(buffer, t, base) {
            let _ = self.video.push_buffer(b);
        }
    }

    fn raw_video(&self, buffer: &gst::Buffer) {
        let mut st = self.lock();
        if self.video.current_level_buffers() >= MAX_QUEUED_RAW {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Program frames already carry the engine's running time.
        let Some(t) = Times::of(buffer, None) else {
            return;
        };
        let base = *st.base_ns.get_or_insert_with(|| t.start());
        if let Some(b) = restamp(buffer, t, base) {
            let _ = self.video.push_buffer(b);
        }
    }

    fn audio(&self, sample: &gst::Sample) {
        let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
            return;
        };
        let mut st = self.lock();
        // Audio starts with the video, never before it.
        let Some(base) = st.base_ns else { return };
        if self.audio.current_level_time().nseconds() > MAX_QUEUED_NS {
            return;
        }
        if st.audio_caps.as_ref().map(|c| c.as_ref()) != Some(caps) {
            let caps = caps.to_owned();
            self.audio.set_caps(Some(&caps));
            st.audio_caps = Some(caps);
        }
        let Some(t) = Times::of(buffer, sample.segment()) else {
            return;
        };
        if let Some(b) = restamp(buffer, t, base) {
            let _ = self.audio.push_buffer(b);
        }
    }
}

/// A buffer's PTS and DTS as running time (encoders may shift their segment, e.g.
/// x264enc's 1000-hour offset, so raw timestamps of audio and video do not compare).
#[derive(Clone, Copy)]
struct Times {
    pts: u64,
    dts: Option<u64>,
}

impl Times {
    fn of(buffer: &gst::BufferRef, segment: Option<&gst::Segment>) -> Option<Times> {
        let seg = segment.and_then(|s| s.downcast_ref::<gst::ClockTime>());
        let rt = |t: gst::ClockTime| match seg {
            Some(seg) => seg.to_running_time(t).map(|t| t.nseconds()),
            None => Some(t.nseconds()),
        };
        let pts = rt(buffer.pts()?)?;
        Some(Times {
            pts,
            dts: buffer.dts().and_then(rt),
        })
    }

    /// The earliest of the two (DTS may precede PTS).
    fn start(&self) -> u64 {
        self.dts.map_or(self.pts, |d| d.min(self.pts))
    }
}

/// A shallow copy (the memory is shared) with timestamps moved to the outlet's zero;
/// `None` for media from before the outlet started.
fn restamp(buffer: &gst::BufferRef, t: Times, base_ns: u64) -> Option<gst::Buffer> {
    let pts = t.pts.checked_sub(base_ns)?;
    let mut copy = buffer.copy();
    let b = copy.make_mut();
    b.set_pts(gst::ClockTime::from_nseconds(pts));
    b.set_dts(
        t.dts
            .and_then(|d| d.checked_sub(base_ns))
            .map(gst::ClockTime::from_nseconds),
    );
    Some(copy)
}

/// Every outlet, by feed.
#[derive(Default)]
pub struct TapHub {
    outlets: Mutex<Vec<Arc<Outlet>>>,
}

impl TapHub {
    pub fn add(&self, outlet: Arc<Outlet>) {
        let mut o = self.lock();
        o.retain(|x| x.name != outlet.name);
        o.push(outlet);
    }

    pub fn remove(&self, name: &str) {
        self.lock().retain(|x| x.name != name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Outlet>>> {
        self.outlets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn each(&self, f: impl Fn(&Outlet)) {
        // Clone the list so a slow outlet never holds the lock against add/remove.
        let outlets = self.lock().clone();
        for o in &outlets {
            f(o);
        }
    }

    /// An encoded frame of `rung`.
    pub fn rung_video(&self, rung: &str, sample: &gst::Sample) {
        self.each(|o| {
            if matches!(&o.feed, Feed::Rung(r) if r == rung) {
                o.encoded_video(sample);
            }
        });
    }

    /// An AAC frame (every outlet takes the one encoded audio).
    pub fn audio(&self, sample: &gst::Sample) {
        self.each(|o| o.audio(sample));
    }

    /// A raw program frame.
    pub fn program_video(&self, buffer: &gst::Buffer) {
        self.each(|o| {
            if o.feed == Feed::Program {
                o.raw_video(buffer);
            }
        });
    }

    /// True if any outlet eats raw program frames (so the bridge can skip the call).
    pub fn wants_program(&self) -> bool {
        self.lock().iter().any(|o| o.feed == Feed::Program)
    }
}
