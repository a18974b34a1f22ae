//! A capture input's signal, as a pure state machine with time passed in: what the HDMI
//! receiver's driver says when asked for the incoming timings (`VIDIOC_QUERY_DV_TIMINGS`),
//! what a source-change event or an unplug says, and whether frames arrive at all (a USB
//! camera has no timings to ask). GStreamer 1.22's `v4l2src` reports only part of this (it
//! keeps streaming the receiver's noise picture on no-signal, and says nothing on no-lock
//! or out-of-range), so the box asks the driver itself and decides here.

/// What one look at the driver found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A signal with these timings: width, height, frame rate in millihertz.
    Timings { width: u32, height: u32, mhz: u32 },
    /// `ENOLINK`: nothing on the cable.
    NoLink,
    /// `ENOLCK`: a signal the receiver cannot lock to.
    NoLock,
    /// `ERANGE`: timings the receiver cannot take.
    OutOfRange,
    /// `ENODEV`: the device is gone (unplugged; the node may linger until closed).
    Gone,
    /// The driver has no timings to ask (a USB camera): frames alone say.
    Unsupported,
}

impl Probe {
    /// The result of the timings query, from the `errno` it failed with.
    pub fn from_errno(errno: i32) -> Probe {
        match errno {
            67 => Probe::NoLink,     // ENOLINK
            37 => Probe::NoLock,     // ENOLCK
            34 => Probe::OutOfRange, // ERANGE
            19 | 6 => Probe::Gone,   // ENODEV, ENXIO
            _ => Probe::Unsupported, // ENOTTY, EINVAL, ENODATA: no DV timings here
        }
    }
}

/// What the program shows of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Live,
    NoSignal,
    NoLock,
    OutOfRange,
    Unplugged,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Live => "live",
            Signal::NoSignal => "no-signal",
            Signal::NoLock => "no-lock",
            Signal::OutOfRange => "out-of-range",
            Signal::Unplugged => "unplugged",
        }
    }
}

/// What the capture branch must do after a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Nothing changed.
    Keep,
    /// Frames must not reach the program (they are the receiver's noise, or none come).
    Hold(Signal),
    /// The signal is back or its timings changed: rebuild the branch so the capture
    /// renegotiates at the new size (never pinned in caps).
    Rebuild { width: u32, height: u32, mhz: u32 },
}

/// No frame for this long: a source without timings counts as without signal, ms.
pub const FRAME_TIMEOUT_MS: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct Monitor {
    signal: Signal,
    /// The timings the running branch was built for.
    timings: Option<(u32, u32, u32)>,
    has_timings: bool,
    last_frame_ms: Option<u64>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            signal: Signal::NoSignal,
            timings: None,
            has_timings: true,
            last_frame_ms: None,
        }
    }
}

impl Monitor {
    /// The signal as shown now.
    pub fn signal(&self, now_ms: u64) -> Signal {
        if !self.has_timings && self.signal == Signal::Live {
            let fresh = self
                .last_frame_ms
                .is_some_and(|t| now_ms.saturating_sub(t) < FRAME_TIMEOUT_MS);
            if !fresh {
                return Signal::NoSignal;
            }
        }
        self.signal
    }

    /// A frame arrived.
    pub fn frame(&mut self, now_ms: u64) {
        self.last_frame_ms = Some(now_ms);
        if !self.has_timings && self.signal != Signal::Unplugged {
            self.signal = Signal::Live;
        }
    }

    /// The capture branch was built (again) for these timings.
    pub fn built(&mut self, timings: Option<(u32, u32, u32)>) {
        self.timings = timings;
    }

    /// One look at the driver (every few hundred ms, and on every source-change event).
    pub fn probe(&mut self, p: Probe) -> Act {
        let held = |s: &mut Monitor, signal: Signal| {
            let changed = s.signal != signal;
            s.signal = signal;
            if changed {
                Act::Hold(signal)
            } else {
                Act::Keep
            }
        };
        match p {
            Probe::Unsupported => {
                self.has_timings = false;
                Act::Keep
            }
            Probe::NoLink => held(self, Signal::NoSignal),
            Probe::NoLock => held(self, Signal::NoLock),
            Probe::OutOfRange => held(self, Signal::OutOfRange),
            Probe::Gone => held(self, Signal::Unplugged),
            Probe::Timings { width, height, mhz } => {
                self.has_timings = true;
                let was = self.signal;
                self.signal = Signal::Live;
                let now = Some((width, height, mhz));
                if was != Signal::Live || self.timings != now {
                    Act::Rebuild { width, height, mhz }
                } else {
                    Act::Keep
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P720: Probe = Probe::Timings {
        width: 1280,
        height: 720,
        mhz: 60_000,
    };

    #[test]
    fn loss_holds_the_noise_and_return_rebuilds_at_the_new_size() {
        let mut m = Monitor::default();
        assert_eq!(
            m.probe(P720),
            Act::Rebuild {
                width: 1280,
                height: 720,
                mhz: 60_000
            }
        );
        m.built(Some((1280, 720, 60_000)));
        assert_eq!(m.probe(P720), Act::Keep);
        assert_eq!(m.signal(0), Signal::Live);
        for (p, s) in [
            (Probe::NoLink, Signal::NoSignal),
            (Probe::NoLock, Signal::NoLock),
            (Probe::OutOfRange, Signal::OutOfRange),
        ] {
            assert_eq!(m.probe(p), Act::Hold(s));
            assert_eq!(m.probe(p), Act::Keep, "said once");
            assert_eq!(m.signal(0), s);
        }
        assert!(matches!(m.probe(P720), Act::Rebuild { .. }), "back");
        m.built(Some((1280, 720, 60_000)));
        let p1080 = Probe::Timings {
            width: 1920,
            height: 1080,
            mhz: 30_000,
        };
        assert_eq!(
            m.probe(p1080),
            Act::Rebuild {
                width: 1920,
                height: 1080,
                mhz: 30_000
            },
            "a new size is followed"
        );
    }

    #[test]
    fn an_unplug_is_its_own_state() {
        let mut m = Monitor::default();
        m.probe(P720);
        assert_eq!(m.probe(Probe::from_errno(19)), Act::Hold(Signal::Unplugged));
        assert_eq!(m.signal(0).as_str(), "unplugged");
    }

    #[test]
    fn without_timings_frames_alone_decide() {
        let mut m = Monitor::default();
        assert_eq!(m.probe(Probe::from_errno(25)), Act::Keep, "ENOTTY");
        m.frame(1_000);
        assert_eq!(m.signal(1_500), Signal::Live);
        assert_eq!(m.signal(2_100), Signal::NoSignal, "no frame for a second");
        m.frame(2_200);
        assert_eq!(m.signal(2_300), Signal::Live);
    }

    #[test]
    fn errnos_map_to_what_receivers_mean() {
        assert_eq!(Probe::from_errno(67), Probe::NoLink);
        assert_eq!(Probe::from_errno(37), Probe::NoLock);
        assert_eq!(Probe::from_errno(34), Probe::OutOfRange);
        assert_eq!(Probe::from_errno(22), Probe::Unsupported);
    }
}
