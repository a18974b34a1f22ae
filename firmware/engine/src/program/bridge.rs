//! The join between the program pipeline and the ladder pipeline.
//!
//! Raw program frames leave the program through an appsink and enter the ladder through an
//! appsrc; buffers are passed by reference (no copy). The join is where "live means
//! bounded" is enforced: if the ladder falls behind, frames are dropped here and counted, so
//! latency cannot grow. Dropping in one place before the tee keeps every rung on the same
//! frames, so keyframes stay aligned.

use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::outputs::tap::TapHub;
use crate::stats::FrameCounter;

/// Frames the ladder may have queued before new ones are dropped.
const MAX_QUEUED_VIDEO: u64 = 4;
/// Audio buffers (10 ms each) the ladder may have queued.
const MAX_QUEUED_AUDIO: u64 = 50;

/// Forces a keyframe on the first frame at or after each multiple of the segment duration.
#[derive(Debug, Clone)]
pub struct KeyframeClock {
    interval_ns: u64,
    next_ns: Option<u64>,
}

impl KeyframeClock {
    pub fn new(interval_ns: u64) -> Self {
        Self {
            interval_ns: interval_ns.max(1),
            next_ns: None,
        }
    }

    /// True if the frame at `pts_ns` must be a keyframe.
    pub fn due(&mut self, pts_ns: u64) -> bool {
        match self.next_ns {
            Some(next) if pts_ns < next => false,
            _ => {
                self.next_ns = Some((pts_ns / self.interval_ns + 1) * self.interval_ns);
                true
            }
        }
    }
}

struct Feed {
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    keyframes: KeyframeClock,
}

/// Where program frames go; the ladder plugs in and out without the program noticing.
pub struct Bridge {
    feed: Mutex<Option<Feed>>,
    /// Destinations with their own encoder take raw frames here too.
    taps: Arc<TapHub>,
    /// Frames the ladder could not take.
    pub dropped: FrameCounter,
}

impl Bridge {
    pub fn new(taps: Arc<TapHub>) -> Self {
        Self {
            feed: Mutex::new(None),
            taps,
            dropped: FrameCounter::default(),
        }
    }

    pub fn connect(
        &self,
        video: gst_app::AppSrc,
        audio: gst_app::AppSrc,
        keyframe_interval_ns: u64,
    ) {
        *self.lock() = Some(Feed {
            video,
            audio,
            keyframes: KeyframeClock::new(keyframe_interval_ns),
        });
    }

    pub fn disconnect(&self) {
        self.lock().take();
    }

    /// A program frame, its PTS already in the shared running time.
    pub fn video(&self, buffer: gst::Buffer) {
        self.taps.program_video(&buffer);
        let mut feed = self.lock();
        let Some(feed) = feed.as_mut() else { return };
        let Some(pts) = buffer.pts() else { return };
        if feed.keyframes.due(pts.nseconds()) {
            // appsrc queues the event in order with the frames, so "as soon as possible"
            // reaches every encoder right before this frame. (A running-time request is
            // honoured only once by GStreamer 1.22's video encoder base class here.)
            let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            feed.video.send_event(event);
        }
        if feed.video.current_level_buffers() >= MAX_QUEUED_VIDEO {
            self.dropped.drop_frame();
            return;
        }
        let _ = feed.video.push_buffer(buffer);
    }

    pub fn audio(&self, buffer: gst::Buffer) {
        let feed = self.lock();
        let Some(feed) = feed.as_ref() else { return };
        if feed.audio.current_level_buffers() >= MAX_QUEUED_AUDIO {
            return;
        }
        let _ = feed.audio.push_buffer(buffer);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Feed>> {
        // A panic while holding this lock cannot leave a Feed half-updated: recover it.
        self.feed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn keyframes_fall_on_the_first_frame_of_each_interval() {
        let mut k = KeyframeClock::new(2 * S);
        let frame = S / 30;
        let keyed: Vec<u64> = (0..200u64)
            .map(|i| 10 * S + i * frame + 7)
            .filter(|&pts| k.due(pts))
            .collect();
        assert_eq!(keyed.len(), 4);
        for pair in keyed.windows(2) {
            assert!((pair[1] - pair[0]).abs_diff(2 * S) < frame);
        }
        assert!(keyed[1] >= 12 * S && keyed[1] < 12 * S + frame);
    }

    #[test]
    fn a_late_frame_after_a_gap_is_keyed_once() {
        let mut k = KeyframeClock::new(2 * S);
        assert!(k.due(0));
        assert!(!k.due(S));
        assert!(k.due(7 * S));
        assert!(!k.due(7 * S + 1));
        assert!(k.due(8 * S));
    }
}
