//! What an uplink attempt's counters say about the link, once per tick: connected, waiting
//! for a caller, stalled, and how fast it sends. Pure: the supervisor reads the counters of
//! its pipeline and the time, and acts on the verdict (the connection's life and backoff
//! are [`crate::retry`]'s).
//!
//! The rules:
//! - **Connected** when the second buffer has entered the network sink (the first one was
//!   then sent), unless it is a listener that has no caller.
//! - **Waiting**: a listener without callers is not failing; its stall clock does not run.
//! - **Stalled**: a live link into which no buffer has entered for [`STALL_MS`].
//! - **Rate**: bytes into the sink over windows of at least one second.

use crate::retry::State;

/// A live link that accepts no data for this long is declared dead.
pub const STALL_MS: u64 = 6_000;
/// The shortest window the sending rate is measured over.
pub const RATE_WINDOW_MS: u64 = 1_000;

/// One attempt's view of its link. Made when the attempt's pipeline starts.
#[derive(Debug, Clone)]
pub struct Link {
    last_buffers: u64,
    last_progress_ms: u64,
    rate_from: (u64, u64),
}

/// The attempt's counters at one tick.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub now_ms: u64,
    /// Buffers and bytes that entered the network sink since the attempt started.
    pub buffers: u64,
    pub bytes: u64,
    /// A listener with no caller connected.
    pub no_callers: bool,
}

/// What the supervisor should do after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Verdict {
    /// The link just became live.
    pub connected: bool,
    /// A listener waits for its caller.
    pub waiting: bool,
    /// The link is dead: no data accepted for [`STALL_MS`].
    pub stalled: bool,
    /// The sending rate over the window that just closed, kbit/s.
    pub rate_kbps: Option<f64>,
}

impl Link {
    pub fn new(now_ms: u64) -> Link {
        Link {
            last_buffers: 0,
            last_progress_ms: now_ms,
            rate_from: (now_ms, 0),
        }
    }

    /// Judges the counters; `state` is the connection's state before this tick.
    pub fn tick(&mut self, state: State, c: Counters) -> Verdict {
        let mut v = Verdict::default();
        if c.buffers != self.last_buffers {
            self.last_buffers = c.buffers;
            self.last_progress_ms = c.now_ms;
        }
        if c.no_callers {
            v.waiting = true;
            self.last_progress_ms = c.now_ms;
        }
        v.connected = state == State::Connecting && c.buffers >= 2 && !c.no_callers;
        let live = (state == State::Live || v.connected) && !c.no_callers;
        v.stalled = live && c.now_ms.saturating_sub(self.last_progress_ms) > STALL_MS;
        let elapsed = c.now_ms.saturating_sub(self.rate_from.0);
        if elapsed >= RATE_WINDOW_MS {
            let bytes = c.bytes.saturating_sub(self.rate_from.1);
            v.rate_kbps = Some(bytes as f64 * 8.0 / elapsed as f64);
            self.rate_from = (c.now_ms, c.bytes);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now_ms: u64, buffers: u64, bytes: u64) -> Counters {
        Counters {
            now_ms,
            buffers,
            bytes,
            no_callers: false,
        }
    }

    #[test]
    fn the_second_buffer_into_the_sink_means_connected() {
        let mut link = Link::new(0);
        assert!(!link.tick(State::Connecting, at(250, 0, 0)).connected);
        assert!(!link.tick(State::Connecting, at(500, 1, 1316)).connected);
        assert!(link.tick(State::Connecting, at(750, 2, 2632)).connected);
        // Once live, it is not "connected" again.
        assert!(!link.tick(State::Live, at(1000, 3, 3948)).connected);
    }

    #[test]
    fn a_listener_without_callers_waits_and_never_stalls() {
        let mut link = Link::new(0);
        for t in (250..60_000).step_by(250) {
            let v = link.tick(
                State::Live,
                Counters {
                    no_callers: true,
                    ..at(t, 5, 6000)
                },
            );
            assert!(v.waiting && !v.connected && !v.stalled, "at {t} ms: {v:?}");
        }
    }

    #[test]
    fn a_live_link_that_takes_nothing_for_six_seconds_is_stalled() {
        let mut link = Link::new(0);
        link.tick(State::Connecting, at(250, 2, 100));
        // Data until 1 s, then nothing.
        link.tick(State::Live, at(1000, 30, 40_000));
        assert!(
            !link
                .tick(State::Live, at(1000 + STALL_MS, 30, 40_000))
                .stalled
        );
        assert!(
            link.tick(State::Live, at(1000 + STALL_MS + 250, 30, 40_000))
                .stalled
        );
    }

    #[test]
    fn progress_resets_the_stall_clock_and_a_connecting_link_does_not_stall() {
        let mut link = Link::new(0);
        // Connecting with one buffer for a long time: retry's timeout decides, not the stall.
        assert!(!link.tick(State::Connecting, at(20_000, 1, 100)).stalled);
        let mut buffers = 2;
        for t in (20_250..40_000).step_by(5_000) {
            buffers += 1;
            assert!(
                !link
                    .tick(State::Live, at(t, buffers, buffers * 1000))
                    .stalled
            );
        }
    }

    #[test]
    fn the_rate_is_measured_over_windows_of_a_second_or_more() {
        let mut link = Link::new(0);
        assert_eq!(link.tick(State::Live, at(500, 10, 62_500)).rate_kbps, None);
        // 125 000 bytes in 1 s = 1000 kbit/s.
        assert_eq!(
            link.tick(State::Live, at(1000, 20, 125_000)).rate_kbps,
            Some(1000.0)
        );
        // The next window starts where that one ended: another 125 000 bytes in 1 s.
        assert_eq!(
            link.tick(State::Live, at(2000, 30, 250_000)).rate_kbps,
            Some(1000.0)
        );
        assert_eq!(
            link.tick(State::Live, at(3000, 40, 250_000)).rate_kbps,
            Some(0.0)
        );
    }
}
