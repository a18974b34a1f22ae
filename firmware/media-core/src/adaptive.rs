//! Network-adaptive bitrate for an SRT uplink. Pure: link statistics and the time go in, a
//! target bitrate comes out; the caller sets it on the uplink's own encoder.
//!
//! - **Down fast.** Congestion is the smoothed RTT rising above the link's baseline (its
//!   lowest recent RTT) by more than a margin, packets reported lost, or the send queue
//!   growing. Each congested tick (every 250 ms at most) cuts the target by a quarter, so
//!   6 → 2 Mbit/s takes about 1 s; a severe spike cuts to 60 % at once.
//! - **Up fast.** After 1 s without congestion the target climbs 20 % every 500 ms
//!   (1 → 6 Mbit/s in about 6 s), but only to 80 % of the lowest level where the link
//!   congested lately, and holds there: a link with a hard cap settles under it instead of
//!   sawing. That memory fades 8 s after the last congestion, and the climb resumes.
//! - **Cut while it grows.** Within one congestion episode a further cut is made only while
//!   the RTT still rises; once it falls, the last cut is working and the queue drains.
//! - **The margin never collapses.** It is `max(4 × RTT jitter, 25 ms, 25 % of baseline)`:
//!   with perfectly steady RTT (zero jitter) the link still reads as clear and the bitrate
//!   recovers (the bug to avoid: a threshold of `k × jitter` that a zero-jitter link can
//!   never get under).

/// One observation of the link, taken by the caller from the SRT socket.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkSample {
    /// Milliseconds on a monotonic clock.
    pub now_ms: u64,
    /// Smoothed round-trip time as SRT reports it.
    pub rtt_ms: f64,
    /// Media waiting to be sent, in milliseconds (our queue in front of the socket).
    pub send_buffer_ms: f64,
    /// Packets sent since the previous sample.
    pub packets_sent: u64,
    /// Packets the receiver reported lost since the previous sample.
    pub packets_lost: u64,
}

const DECREASE_EVERY_MS: u64 = 250;
const INCREASE_EVERY_MS: u64 = 500;
const HOLD_AFTER_CONGESTION_MS: u64 = 1_000;
const CEILING_MEMORY_MS: u64 = 8_000;
const CUT: f64 = 0.75;
const SEVERE_CUT: f64 = 0.6;
const CLIMB: f64 = 1.2;
const HOLD_BELOW_CEILING: f64 = 0.8;
const MIN_MARGIN_MS: f64 = 25.0;
const MAX_JITTER_MARGIN_MS: f64 = 200.0;
const SEND_BUFFER_LIMIT_MS: f64 = 250.0;
const LOSS_LIMIT: f64 = 0.02;
/// Baseline RTT drifts up this fraction of the gap per sample, so a route that got longer
/// for good is learnt within about a minute of 250 ms samples.
const BASELINE_DRIFT: f64 = 0.004;

#[derive(Debug, Clone)]
pub struct Adaptive {
    min_kbps: u32,
    max_kbps: u32,
    target: f64,
    baseline_ms: Option<f64>,
    srtt_ms: Option<f64>,
    jitter_ms: f64,
    last_change_ms: u64,
    last_congestion_ms: Option<u64>,
    /// Where the link last congested, while remembered.
    ceiling_kbps: Option<f64>,
    /// Smoothed RTT when the last cut was made (within a congestion episode).
    rtt_at_cut_ms: Option<f64>,
}

impl Adaptive {
    /// Starts at the top of the range: the link is presumed good until it says otherwise.
    pub fn new(min_kbps: u32, max_kbps: u32) -> Self {
        let max_kbps = max_kbps.max(min_kbps);
        Self {
            min_kbps,
            max_kbps,
            target: f64::from(max_kbps),
            baseline_ms: None,
            srtt_ms: None,
            jitter_ms: 0.0,
            last_change_ms: 0,
            last_congestion_ms: None,
            ceiling_kbps: None,
            rtt_at_cut_ms: None,
        }
    }

    pub fn target_kbps(&self) -> u32 {
        self.target.round() as u32
    }

    /// Why the last sample was judged congested, or `None`: for logs and status.
    pub fn update(&mut self, s: LinkSample) -> u32 {
        let rtt = s.rtt_ms.max(0.0);
        let srtt = match self.srtt_ms {
            None => rtt,
            Some(prev) => {
                // Slow, so that the jump congestion causes is not mistaken for jitter.
                self.jitter_ms += ((rtt - prev).abs() - self.jitter_ms) / 16.0;
                0.7 * prev + 0.3 * rtt
            }
        };
        self.srtt_ms = Some(srtt);
        let baseline = match self.baseline_ms {
            None => rtt,
            Some(b) if rtt < b => rtt,
            Some(b) => b + (rtt - b) * BASELINE_DRIFT,
        };
        self.baseline_ms = Some(baseline);

        let margin = (4.0 * self.jitter_ms)
            .clamp(MIN_MARGIN_MS, MAX_JITTER_MARGIN_MS)
            .max(0.25 * baseline);
        let loss = if s.packets_sent > 0 {
            s.packets_lost as f64 / s.packets_sent as f64
        } else {
            0.0
        };
        let rtt_high = srtt > baseline + margin;
        let severe =
            srtt > 2.0 * baseline + 4.0 * margin || s.send_buffer_ms > 4.0 * SEND_BUFFER_LIMIT_MS;
        let congested = rtt_high || loss > LOSS_LIMIT || s.send_buffer_ms > SEND_BUFFER_LIMIT_MS;

        let since_change = s.now_ms.saturating_sub(self.last_change_ms);
        if congested {
            let fresh = self
                .last_congestion_ms
                .is_none_or(|t| s.now_ms.saturating_sub(t) > HOLD_AFTER_CONGESTION_MS);
            if fresh {
                // A new episode: the level that hit the limit, the lowest such level while
                // remembered.
                self.ceiling_kbps = Some(
                    self.ceiling_kbps
                        .map_or(self.target, |c| c.min(self.target)),
                );
            }
            self.last_congestion_ms = Some(s.now_ms);
            // Cut again only while the queue is still growing; once the RTT falls, the
            // last cut is working and the link is draining.
            let draining = self.rtt_at_cut_ms.is_some_and(|r| srtt < r) && !fresh;
            if (since_change >= DECREASE_EVERY_MS || self.last_change_ms == 0) && !draining {
                let cut = if severe { SEVERE_CUT } else { CUT };
                self.set(self.target * cut, s.now_ms);
                self.rtt_at_cut_ms = Some(srtt);
            }
        } else {
            self.rtt_at_cut_ms = None;
            let calm_for = self
                .last_congestion_ms
                .map_or(u64::MAX, |t| s.now_ms.saturating_sub(t));
            if calm_for > CEILING_MEMORY_MS {
                self.ceiling_kbps = None;
            }
            if calm_for >= HOLD_AFTER_CONGESTION_MS
                && since_change >= INCREASE_EVERY_MS
                && self.target < f64::from(self.max_kbps)
            {
                // Below the level that last hit the limit, climb to 80 % of it and hold
                // there until that memory fades; then probe upwards again.
                let limit = self
                    .ceiling_kbps
                    .map_or(f64::from(self.max_kbps), |c| HOLD_BELOW_CEILING * c);
                if self.target < limit {
                    self.set((self.target * CLIMB).min(limit), s.now_ms);
                }
            }
        }
        self.target_kbps()
    }

    fn set(&mut self, kbps: f64, now_ms: u64) {
        self.target = kbps.clamp(f64::from(self.min_kbps), f64::from(self.max_kbps));
        self.last_change_ms = now_ms.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: u64 = 250;

    /// A bottleneck with a queue: RTT grows while the sender exceeds the capacity.
    struct Link {
        capacity_kbps: f64,
        base_rtt_ms: f64,
        queue_ms: f64,
        now_ms: u64,
    }

    impl Link {
        fn new(capacity_kbps: f64) -> Self {
            Self {
                capacity_kbps,
                base_rtt_ms: 20.0,
                queue_ms: 0.0,
                now_ms: 0,
            }
        }

        fn step(&mut self, send_kbps: u32) -> LinkSample {
            self.now_ms += TICK;
            let excess = (f64::from(send_kbps) - self.capacity_kbps) / self.capacity_kbps;
            self.queue_ms = (self.queue_ms + excess * TICK as f64).clamp(0.0, 2_000.0);
            let sent = (f64::from(send_kbps) / 8.0 / 1.316 * TICK as f64 / 1000.0) as u64;
            let lost = if self.queue_ms >= 2_000.0 {
                sent / 5
            } else {
                0
            };
            LinkSample {
                now_ms: self.now_ms,
                rtt_ms: self.base_rtt_ms + self.queue_ms,
                send_buffer_ms: 0.0,
                packets_sent: sent,
                packets_lost: lost,
            }
        }
    }

    fn run(a: &mut Adaptive, link: &mut Link, ms: u64) -> Vec<(u64, u32)> {
        (0..ms / TICK)
            .map(|_| {
                let s = link.step(a.target_kbps());
                (s.now_ms, a.update(s))
            })
            .collect()
    }

    #[test]
    fn a_clear_link_stays_at_the_maximum() {
        let mut a = Adaptive::new(1000, 6000);
        let mut link = Link::new(50_000.0);
        let trace = run(&mut a, &mut link, 30_000);
        assert!(trace.iter().all(|&(_, k)| k == 6000));
    }

    #[test]
    fn a_3_mbit_cap_brings_6_mbit_under_it_within_3_seconds_and_it_stays_there() {
        let mut a = Adaptive::new(500, 6000);
        let mut link = Link::new(3000.0);
        run(&mut a, &mut link, 2_000);
        let trace = run(&mut a, &mut link, 60_000);
        let first_under = trace.iter().find(|&&(_, k)| k < 3000).unwrap().0;
        assert!(first_under <= 3_000, "under the cap after {first_under} ms");
        // Settled: the last 30 s mostly under the cap, and the queue drained.
        let tail = &trace[trace.len() - 120..];
        let under = tail.iter().filter(|&&(_, k)| k <= 3000).count();
        // It probes above the cap every ~10 s (that is how it finds out the cap lifted) but
        // spends most of the time under it, and uses the link.
        assert!(
            under * 10 >= tail.len() * 6,
            "{under}/{}: {tail:?}",
            tail.len()
        );
        let mean = tail.iter().map(|&(_, k)| f64::from(k)).sum::<f64>() / tail.len() as f64;
        assert!((2000.0..3000.0).contains(&mean), "mean {mean}");
        assert!(link.queue_ms < 600.0, "queue {}", link.queue_ms);
    }

    #[test]
    fn six_to_two_mbit_takes_about_a_second_not_two() {
        let mut a = Adaptive::new(500, 6000);
        let mut link = Link::new(1500.0);
        run(&mut a, &mut link, 250);
        // Build a queue fast: the link collapses to 1.5 Mbit/s.
        let trace = run(&mut a, &mut link, 5_000);
        let t = trace.iter().find(|&&(_, k)| k <= 2000).unwrap().0;
        assert!(t <= 1_750, "reached 2 Mbit/s after {t} ms: {trace:?}");
    }

    #[test]
    fn it_climbs_from_one_to_six_mbit_in_well_under_20_seconds() {
        let mut a = Adaptive::new(1000, 6000);
        let mut link = Link::new(900.0);
        run(&mut a, &mut link, 20_000);
        assert_eq!(a.target_kbps(), 1000);
        link.capacity_kbps = 50_000.0;
        let trace = run(&mut a, &mut link, 30_000);
        let t = trace.iter().find(|&&(_, k)| k >= 5700).unwrap().0 - 20_000;
        assert!(t <= 12_000, "took {t} ms to climb back");
    }

    #[test]
    fn zero_jitter_does_not_stop_recovery() {
        // RTT perfectly flat at 30 ms, a little above a 20 ms baseline seen once, no loss.
        let mut a = Adaptive::new(1000, 6000);
        a.update(LinkSample {
            now_ms: 1,
            rtt_ms: 20.0,
            ..Default::default()
        });
        // Congest it down first.
        for i in 1..=8 {
            a.update(LinkSample {
                now_ms: i * TICK,
                rtt_ms: 400.0,
                ..Default::default()
            });
        }
        assert!(a.target_kbps() < 2000, "{}", a.target_kbps());
        let mut reached = None;
        for i in 9..200 {
            let now = i * TICK;
            if a.update(LinkSample {
                now_ms: now,
                rtt_ms: 30.0,
                packets_sent: 100,
                ..Default::default()
            }) == 6000
            {
                reached = Some(now);
                break;
            }
        }
        assert!(reached.is_some(), "never recovered: {}", a.target_kbps());
    }

    #[test]
    fn loss_or_a_growing_send_queue_alone_count_as_congestion() {
        let mut a = Adaptive::new(1000, 6000);
        a.update(LinkSample {
            now_ms: 1,
            rtt_ms: 20.0,
            packets_sent: 100,
            ..Default::default()
        });
        a.update(LinkSample {
            now_ms: 300,
            rtt_ms: 20.0,
            packets_sent: 100,
            packets_lost: 10,
            ..Default::default()
        });
        assert!(a.target_kbps() < 6000);
        let mut b = Adaptive::new(1000, 6000);
        b.update(LinkSample {
            now_ms: 1,
            rtt_ms: 20.0,
            ..Default::default()
        });
        b.update(LinkSample {
            now_ms: 300,
            rtt_ms: 20.0,
            send_buffer_ms: 600.0,
            ..Default::default()
        });
        assert!(b.target_kbps() < 6000);
    }

    #[test]
    fn the_target_never_leaves_the_range() {
        let mut a = Adaptive::new(800, 4000);
        for i in 0..400 {
            let k = a.update(LinkSample {
                now_ms: i * TICK,
                rtt_ms: if (i / 40) % 2 == 0 { 20.0 } else { 3000.0 },
                packets_sent: 10,
                packets_lost: if i % 7 == 0 { 10 } else { 0 },
                send_buffer_ms: 0.0,
            });
            assert!((800..=4000).contains(&k), "{k}");
        }
    }
}
