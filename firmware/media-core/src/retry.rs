//! A destination's connection life: idle → connecting → live → retrying, or disabled.
//!
//! Pure: the caller passes time in (milliseconds on any monotonic clock) and acts on what
//! comes out. Backoff doubles from 1 s to 30 s with ±20 % jitter so a fleet of boxes that
//! lost the same origin does not call it back in lockstep; it starts again from 1 s once a
//! connection has stayed up for [`STABLE_MS`].

use serde::Serialize;

pub const FIRST_BACKOFF_MS: u64 = 1_000;
pub const MAX_BACKOFF_MS: u64 = 30_000;
/// A connection that stayed up this long resets the backoff.
pub const STABLE_MS: u64 = 10_000;
/// Jitter as a fraction of the delay, either way.
const JITTER: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Idle,
    Connecting,
    Live,
    Retrying,
    Disabled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Connecting => "connecting",
            State::Live => "live",
            State::Retrying => "retrying",
            State::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Connection {
    state: State,
    /// Failures since the last stable connection.
    attempt: u32,
    retry_at_ms: u64,
    live_since_ms: u64,
    /// Times it came back after having been live or having failed.
    pub reconnects: u64,
    pub last_error: Option<String>,
    rng: u64,
}

impl Connection {
    /// `seed` varies the jitter between destinations (and boxes).
    pub fn new(seed: u64) -> Self {
        Self {
            state: State::Idle,
            attempt: 0,
            retry_at_ms: 0,
            live_since_ms: 0,
            reconnects: 0,
            last_error: None,
            rng: seed | 1,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// True when the caller should (re)open the connection now; moves to connecting.
    pub fn should_connect(&mut self, now_ms: u64) -> bool {
        let due = match self.state {
            State::Idle => true,
            State::Retrying => now_ms >= self.retry_at_ms,
            _ => false,
        };
        if due {
            if self.state == State::Retrying {
                self.reconnects += 1;
            }
            self.state = State::Connecting;
        }
        due
    }

    /// Media is flowing to the peer.
    pub fn connected(&mut self, now_ms: u64) {
        if self.state == State::Connecting {
            self.state = State::Live;
            self.live_since_ms = now_ms;
        }
    }

    /// A listener's peer left without an error: back to waiting for the next one.
    pub fn waiting(&mut self) {
        if self.state == State::Live {
            self.state = State::Connecting;
        }
    }

    /// The connection failed or dropped; returns the delay before the next try.
    pub fn failed(&mut self, now_ms: u64, error: impl Into<String>) -> u64 {
        if self.state == State::Disabled {
            return 0;
        }
        if self.state == State::Live && now_ms.saturating_sub(self.live_since_ms) >= STABLE_MS {
            self.attempt = 0;
        }
        let base = FIRST_BACKOFF_MS
            .saturating_mul(1u64 << self.attempt.min(16))
            .min(MAX_BACKOFF_MS);
        let delay = self.jitter(base);
        self.attempt = self.attempt.saturating_add(1);
        self.state = State::Retrying;
        self.retry_at_ms = now_ms + delay;
        self.last_error = Some(error.into());
        delay
    }

    /// When the next try is due (retrying only).
    pub fn retry_at_ms(&self) -> Option<u64> {
        (self.state == State::Retrying).then_some(self.retry_at_ms)
    }

    pub fn disable(&mut self) {
        self.state = State::Disabled;
    }

    /// The longest a retry can wait after `failures` failures in a row: what a test may
    /// hold the box to.
    pub fn bound_ms(failures: u32) -> u64 {
        let base = FIRST_BACKOFF_MS
            .saturating_mul(1u64 << failures.saturating_sub(1).min(16))
            .min(MAX_BACKOFF_MS);
        (base as f64 * (1.0 + JITTER)).ceil() as u64
    }

    fn jitter(&mut self, base: u64) -> u64 {
        // xorshift64: enough to spread retries, no dependency.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        (base as f64 * (1.0 - JITTER + 2.0 * JITTER * unit)).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_connection_goes_idle_connecting_live() {
        let mut c = Connection::new(7);
        assert_eq!(c.state(), State::Idle);
        assert!(c.should_connect(0));
        assert_eq!(c.state(), State::Connecting);
        assert!(!c.should_connect(1));
        c.connected(500);
        assert_eq!(c.state(), State::Live);
        assert_eq!(c.reconnects, 0);
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds_with_bounded_jitter() {
        let mut c = Connection::new(42);
        let mut now = 0;
        let mut delays = Vec::new();
        assert!(c.should_connect(now));
        for failure in 1..=10u32 {
            let d = c.failed(now, "refused");
            let nominal = (1000u64 << (failure - 1)).min(30_000);
            assert!(
                d as f64 >= nominal as f64 * 0.8 && d as f64 <= nominal as f64 * 1.2,
                "failure {failure}: {d} ms vs {nominal}"
            );
            assert!(d <= Connection::bound_ms(failure));
            assert!(!c.should_connect(now + d - 1), "not before the delay");
            now += d;
            assert!(c.should_connect(now));
            delays.push(d);
        }
        assert_eq!(c.reconnects, 10);
        assert!(delays[9] >= 24_000, "capped near 30 s: {delays:?}");
        assert_eq!(c.last_error.as_deref(), Some("refused"));
    }

    #[test]
    fn two_boxes_do_not_retry_in_lockstep() {
        let (mut a, mut b) = (Connection::new(1), Connection::new(2));
        a.should_connect(0);
        b.should_connect(0);
        let da: Vec<u64> = (0..5).map(|_| a.failed(0, "x")).collect();
        let db: Vec<u64> = (0..5).map(|_| b.failed(0, "x")).collect();
        assert_ne!(da, db);
    }

    #[test]
    fn a_stable_connection_resets_the_backoff_a_flapping_one_does_not() {
        let mut c = Connection::new(3);
        c.should_connect(0);
        for _ in 0..4 {
            c.failed(0, "x");
        }
        let t = c.retry_at_ms().unwrap();
        assert!(c.should_connect(t));
        c.connected(t);
        // Drops after 2 s: still flapping, the backoff keeps growing (16 s nominal).
        let d = c.failed(t + 2_000, "dropped");
        assert!(d >= 12_800, "{d}");
        let t = c.retry_at_ms().unwrap();
        c.should_connect(t);
        c.connected(t);
        // Stays up past STABLE_MS: the next failure starts from 1 s again.
        let d = c.failed(t + STABLE_MS, "dropped");
        assert!(d <= 1_200, "{d}");
    }

    #[test]
    fn disabled_stays_disabled() {
        let mut c = Connection::new(5);
        c.disable();
        assert_eq!(c.failed(0, "x"), 0);
        assert!(!c.should_connect(1_000_000));
        assert_eq!(c.state(), State::Disabled);
    }
}
