//! The join between the program pipeline and the ladder pipeline.
//!
//! Raw program frames leave the program through an appsink and enter the ladder through an
//! appsrc; buffers are passed by reference (no copy). The join is where "live means
//! bounded" is enforced: if the ladder falls behind, frames are dropped here and counted, so
//! latency cannot grow. Dropping in one place before the tee keeps every rung on the same
//! frames, so keyframes stay aligned.

use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::keyframes::KeyframeClock;
use crate::outputs::tap::TapHub;
use crate::stats::FrameCounter;

/// Frames the ladder may have queued before new ones are dropped.
const MAX_QUEUED_VIDEO: u64 = 4;
/// Audio buffers (10 ms each) the ladder may have queued.
const MAX_QUEUED_AUDIO: u64 = 50;

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
