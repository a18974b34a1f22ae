//! A download that respects the live uplink: resumed where it stopped (HTTP ranges), and
//! paced by a token bucket to a cap that is absolute and relative to what the uplinks send,
//! so an update fetched during a show does not starve the SRT uplink.

/// The cap: at most `max_kbps`, and while uplinks are live at most `uplink_share` of their
/// combined bitrate (0.25: a quarter), never below `floor_kbps` (the download must end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cap {
    pub max_kbps: Option<u32>,
    pub uplink_share: Option<f64>,
    pub floor_kbps: u32,
}

impl Cap {
    /// The rate allowed now, kbit/s (`None`: unlimited).
    pub fn kbps(&self, uplinks_live_kbps: u32) -> Option<u32> {
        let relative = self
            .uplink_share
            .filter(|_| uplinks_live_kbps > 0)
            .map(|s| {
                ((f64::from(uplinks_live_kbps) * s.clamp(0.0, 10.0)) as u32).max(self.floor_kbps)
            });
        match (self.max_kbps, relative) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A token bucket in bytes: one second's worth at most, so a pause does not become a burst.
#[derive(Debug, Clone)]
pub struct Pacer {
    tokens: f64,
    last_ms: u64,
}

impl Pacer {
    pub fn new(now_ms: u64) -> Pacer {
        Pacer {
            tokens: 0.0,
            last_ms: now_ms,
        }
    }

    /// `bytes` are about to be read at `rate_kbps` (None: unlimited): how long to wait
    /// first, ms.
    pub fn wait_ms(&mut self, bytes: usize, rate_kbps: Option<u32>, now_ms: u64) -> u64 {
        let Some(kbps) = rate_kbps.filter(|k| *k > 0) else {
            self.last_ms = now_ms;
            return 0;
        };
        let per_ms = f64::from(kbps) * 1000.0 / 8.0 / 1000.0;
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64;
        self.tokens = (self.tokens + elapsed * per_ms).min(per_ms * 1000.0);
        self.last_ms = now_ms;
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            0
        } else {
            (-self.tokens / per_ms).ceil() as u64
        }
    }
}

/// The `Range` header that resumes a download of which `have` bytes are on disk.
pub fn resume_range(have: u64) -> Option<String> {
    (have > 0).then(|| format!("bytes={have}-"))
}

/// The whole size from a `Content-Range: bytes 100-199/1000` answer (`None` if `*`).
pub fn total_of_content_range(value: &str) -> Option<u64> {
    value
        .trim()
        .strip_prefix("bytes ")?
        .rsplit_once('/')?
        .1
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_give_the_whole_size() {
        assert_eq!(total_of_content_range("bytes 100-199/1000"), Some(1000));
        assert_eq!(total_of_content_range("bytes 100-199/*"), None);
        assert_eq!(total_of_content_range("items 1-2/3"), None);
    }

    #[test]
    fn the_cap_follows_the_uplink_and_keeps_a_floor() {
        let cap = Cap {
            max_kbps: Some(20_000),
            uplink_share: Some(0.25),
            floor_kbps: 256,
        };
        assert_eq!(cap.kbps(0), Some(20_000), "nothing live: the absolute cap");
        assert_eq!(
            cap.kbps(4_000),
            Some(1_000),
            "a quarter of a 4 Mbit/s uplink"
        );
        assert_eq!(cap.kbps(400), Some(256), "never below the floor");
        assert_eq!(
            Cap {
                max_kbps: None,
                uplink_share: None,
                floor_kbps: 0
            }
            .kbps(5_000),
            None
        );
    }

    #[test]
    fn the_pacer_holds_the_rate_over_time() {
        // 800 kbit/s = 100 bytes per ms.
        let mut p = Pacer::new(0);
        let mut now = 0;
        let mut sent = 0;
        while now < 10_000 {
            now += p.wait_ms(16_384, Some(800), now);
            sent += 16_384;
        }
        let rate = sent as f64 / now as f64;
        assert!((95.0..=105.0).contains(&rate), "{rate} bytes/ms");
        assert_eq!(p.wait_ms(1 << 20, None, now), 0);
        assert_eq!(resume_range(0), None);
        assert_eq!(resume_range(4096).as_deref(), Some("bytes=4096-"));
    }
}
