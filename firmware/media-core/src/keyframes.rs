//! Keyframes, pure: when the ladder forces one (so that segments line up across rungs and
//! every segment starts with one), and the gate an outlet passes its encoded video through
//! (after a drop, or when a peer joins, it resumes at a keyframe, never mid-GOP).

/// Media an outlet may have queued in front of its sink before new frames are dropped.
pub const MAX_QUEUED_NS: u64 = 2_000_000_000;

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

/// What the gate does with an encoded video frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it (then call [`KeyframeGate::passed`]).
    Pass,
    /// Drop it: waiting for the first keyframe, nothing sent yet.
    Wait,
    /// Drop it and count it as lost: the outlet is behind, or recovering from being behind.
    Drop,
}

/// Encoded video resumes at a keyframe: at the start, after a drop, or when a peer joins.
#[derive(Debug, Clone)]
pub struct KeyframeGate {
    need_keyframe: bool,
}

impl Default for KeyframeGate {
    fn default() -> Self {
        KeyframeGate {
            need_keyframe: true,
        }
    }
}

impl KeyframeGate {
    /// A frame arrives; `queued_ns` is what waits in front of the outlet's sink, `started`
    /// whether the outlet has sent media before (then a drop is a loss, counted).
    pub fn admit(&mut self, keyframe: bool, queued_ns: u64, started: bool) -> Admit {
        if queued_ns > MAX_QUEUED_NS {
            self.need_keyframe = true;
            return Admit::Drop;
        }
        if self.need_keyframe && !keyframe {
            return if started { Admit::Drop } else { Admit::Wait };
        }
        Admit::Pass
    }

    /// The admitted frame was sent.
    pub fn passed(&mut self) {
        self.need_keyframe = false;
    }

    /// Start again at the next keyframe (a new peer joined).
    pub fn resume(&mut self) {
        self.need_keyframe = true;
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

    /// Frames of a 30 fps stream with a keyframe every `gop`, through the gate with the
    /// queue depth `queued(n)`; returns (sent, dropped-and-counted).
    fn run(
        gate: &mut KeyframeGate,
        frames: u64,
        gop: u64,
        queued: impl Fn(u64) -> u64,
    ) -> (Vec<u64>, u64) {
        let mut sent = Vec::new();
        let mut lost = 0;
        for n in 0..frames {
            match gate.admit(n % gop == 0, queued(n), !sent.is_empty()) {
                Admit::Pass => {
                    gate.passed();
                    sent.push(n);
                }
                Admit::Drop => lost += 1,
                Admit::Wait => {}
            }
        }
        (sent, lost)
    }

    #[test]
    fn an_outlet_starts_at_the_first_keyframe_without_counting_what_came_before() {
        let mut gate = KeyframeGate::default();
        // Joining mid-GOP: frames 10..59 are delta frames of a GOP that began earlier.
        let mut sent = Vec::new();
        let mut lost = 0;
        for n in 10..130u64 {
            match gate.admit(n % 60 == 0, 0, !sent.is_empty()) {
                Admit::Pass => {
                    gate.passed();
                    sent.push(n);
                }
                Admit::Drop => lost += 1,
                Admit::Wait => {}
            }
        }
        assert_eq!(sent.first(), Some(&60));
        assert_eq!(sent.len(), 70);
        assert_eq!(lost, 0);
    }

    #[test]
    fn a_slow_outlet_loses_frames_up_to_the_next_keyframe_and_counts_them() {
        let mut gate = KeyframeGate::default();
        // The queue is over 2 s deep at frames 70..=72, then drains.
        let (sent, lost) = run(&mut gate, 180, 60, |n| {
            if (70..=72).contains(&n) {
                3 * MAX_QUEUED_NS / 2
            } else {
                0
            }
        });
        assert!(sent.contains(&69) && !sent.contains(&70));
        // Resumes at the keyframe at 120: 70..119 lost.
        assert_eq!(sent.iter().find(|&&n| n > 69), Some(&120));
        assert_eq!(lost, 50);
    }

    #[test]
    fn a_new_peer_resumes_at_a_keyframe() {
        let mut gate = KeyframeGate::default();
        assert_eq!(gate.admit(true, 0, false), Admit::Pass);
        gate.passed();
        assert_eq!(gate.admit(false, 0, true), Admit::Pass);
        gate.resume();
        assert_eq!(gate.admit(false, 0, true), Admit::Drop);
        assert_eq!(gate.admit(true, 0, true), Admit::Pass);
    }
}
