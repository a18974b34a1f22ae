//! Counters the streaming threads bump and the rates a once-a-second tick derives from them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Frames, bytes and gaps seen at one point of the graph.
#[derive(Debug, Default)]
pub struct FrameCounter {
    frames: AtomicU64,
    bytes: AtomicU64,
    /// Frames missing from the timeline (a PTS gap longer than one frame).
    dropped: AtomicU64,
    last_pts_ns: AtomicU64,
    // Filled by `tick`.
    fps_milli: AtomicU64,
    bps: AtomicU64,
    tick_frames: AtomicU64,
    tick_bytes: AtomicU64,
    tick_ns: AtomicU64,
}

impl FrameCounter {
    /// Counts one frame at `pts_ns` of `bytes`; `frame_ns` is the expected frame spacing.
    pub fn frame(&self, pts_ns: Option<u64>, frame_ns: u64, bytes: u64) {
        self.frames.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        let Some(pts) = pts_ns else { return };
        let last = self.last_pts_ns.swap(pts, Relaxed);
        if last != 0 && frame_ns > 0 && pts > last {
            let missing = missing_frames(pts - last, frame_ns);
            if missing > 0 {
                self.dropped.fetch_add(missing, Relaxed);
            }
        }
    }

    /// Frames dropped on purpose upstream of this point (a full queue).
    pub fn drop_frame(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }

    /// Derives fps and bit rate from what was counted since the last tick, `now_ns` monotonic.
    pub fn tick(&self, now_ns: u64) {
        let frames = self.frames.load(Relaxed);
        let bytes = self.bytes.load(Relaxed);
        let then = self.tick_ns.swap(now_ns, Relaxed);
        let f0 = self.tick_frames.swap(frames, Relaxed);
        let b0 = self.tick_bytes.swap(bytes, Relaxed);
        if then == 0 || now_ns <= then {
            return;
        }
        let secs = (now_ns - then) as f64 / 1e9;
        self.fps_milli.store(
            ((frames - f0) as f64 / secs * 1000.0).round() as u64,
            Relaxed,
        );
        self.bps
            .store(((bytes - b0) as f64 * 8.0 / secs).round() as u64, Relaxed);
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    pub fn fps(&self) -> f64 {
        self.fps_milli.load(Relaxed) as f64 / 1000.0
    }

    pub fn bits_per_second(&self) -> u64 {
        self.bps.load(Relaxed)
    }
}

/// Frames missing in a PTS step of `delta_ns` at `frame_ns` spacing (jitter up to half a
/// frame is not a drop).
pub fn missing_frames(delta_ns: u64, frame_ns: u64) -> u64 {
    let steps = (delta_ns as f64 / frame_ns as f64).round() as u64;
    steps.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u64 = 33_333_333;

    #[test]
    fn steady_frames_drop_nothing() {
        let c = FrameCounter::default();
        for i in 1..100 {
            c.frame(Some(i * F + (i % 3) * 1_000_000), F, 1000);
        }
        assert_eq!((c.frames(), c.dropped()), (99, 0));
    }

    #[test]
    fn a_gap_counts_the_frames_missing_from_it() {
        let c = FrameCounter::default();
        c.frame(Some(F), F, 0);
        c.frame(Some(2 * F), F, 0);
        c.frame(Some(5 * F), F, 0);
        assert_eq!(c.dropped(), 2);
        c.drop_frame();
        assert_eq!(c.dropped(), 3);
    }

    #[test]
    fn tick_turns_counts_into_rates() {
        let c = FrameCounter::default();
        c.tick(1_000_000_000);
        for i in 1..=30 {
            c.frame(Some(i * F), F, 1000);
        }
        c.tick(2_000_000_000);
        assert_eq!(c.fps(), 30.0);
        assert_eq!(c.bits_per_second(), 240_000);
    }
}
