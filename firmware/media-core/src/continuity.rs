//! Timestamps for live audio that arrives in bursts (an SRT or RTMP feed), pure.

/// Stamps live audio that arrives in bursts: each buffer starts where the last ended, so
/// the mixer sees no overlaps or gaps, unless arrival has drifted more than [`SLACK_NS`]
/// from that line; then it starts again from the arrival time.
#[derive(Debug, Default)]
pub struct Continuity {
    next: Option<u64>,
}

pub const SLACK_NS: u64 = 150_000_000;

impl Continuity {
    pub fn stamp(&mut self, arrival_ns: u64, duration_ns: u64) -> u64 {
        let pts = match self.next {
            Some(n) if n.abs_diff(arrival_ns) <= SLACK_NS => n,
            _ => arrival_ns,
        };
        self.next = Some(pts + duration_ns);
        pts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_laid_end_to_end() {
        let mut c = Continuity::default();
        // Three 20 ms buffers arriving together, then one on time.
        assert_eq!(c.stamp(1_000_000_000, 20_000_000), 1_000_000_000);
        assert_eq!(c.stamp(1_000_100_000, 20_000_000), 1_020_000_000);
        assert_eq!(c.stamp(1_000_200_000, 20_000_000), 1_040_000_000);
        assert_eq!(c.stamp(1_061_000_000, 20_000_000), 1_060_000_000);
    }

    #[test]
    fn a_long_silence_starts_again_from_arrival() {
        let mut c = Continuity::default();
        c.stamp(0, 20_000_000);
        assert_eq!(c.stamp(5_000_000_000, 20_000_000), 5_000_000_000);
        // Far ahead of arrival (a burst of several seconds) also starts again.
        let mut c = Continuity::default();
        let mut t = 0;
        for _ in 0..20 {
            t = c.stamp(0, 20_000_000);
        }
        assert!(t <= SLACK_NS);
    }
}
