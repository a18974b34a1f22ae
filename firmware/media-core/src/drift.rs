//! Keeping a capture's sound on the program's clock. A camera's ALSA device runs on its own
//! crystal: laid end to end, its samples drift from the pictures (100 ppm is 0.36 s an
//! hour) until a queue overflows or the stamps jump, and either is a click. GStreamer 1.22
//! offers no click-free fix (`alsasrc slave-method=resample` falls back to skew;
//! `audiomixer` drops samples), so the box measures how far the sound's own count has run
//! from its arrival and resamples by the few ppm that closes the gap.
//!
//! [`Drift::observe`] takes the offset of each buffer (its end-to-end stamp minus its
//! arrival, ns) and runs a PI controller on a smoothed offset; [`Drift::resample`] applies
//! the ratio by linear interpolation with the phase carried across buffers, so the output
//! is one continuous stream: no sample is dropped or repeated, the pitch moves by at most
//! [`MAX_PPM`] (a few cents, inaudible).

/// The largest correction, ppm (0.2 %: 3.5 cents; consumer crystals are within 100 ppm).
pub const MAX_PPM: f64 = 2000.0;
/// Smoothing of the offset per buffer (about a second for 10 ms buffers).
const ALPHA: f64 = 0.01;
/// Proportional gain: ppm of correction per ms of smoothed offset. With the integral gain
/// the loop settles in about 20 s (natural frequency 0.2 rad/s, damping 0.75): a ppm moves
/// the offset by only a microsecond a second, so the gains are large.
const KP_PPM_PER_MS: f64 = 300.0;
/// Integral gain: ppm per ms of offset per second.
const KI_PPM_PER_MS_S: f64 = 40.0;

#[derive(Debug, Clone, Default)]
pub struct Drift {
    offset_ms: Option<f64>,
    integral_ppm: f64,
    last_ns: Option<u64>,
    /// The correction now, ppm (positive: the source is fast and is slowed down).
    correction_ppm: f64,
    /// Where the next output sample is read, in input frames after `prev`.
    phase: f64,
    prev: Vec<i16>,
}

/// What the controller sees and does, for status.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct DriftReport {
    /// The smoothed offset of the sound from its arrival, ms (what lip sync moves by).
    pub offset_ms: f64,
    /// The correction applied, ppm: the source's clock error as measured.
    pub correction_ppm: f64,
}

impl Drift {
    /// One buffer's offset (end-to-end stamp − arrival, ns) at `now_ns`.
    pub fn observe(&mut self, offset_ns: i64, now_ns: u64) {
        let ms = offset_ns as f64 / 1e6;
        let smoothed = match self.offset_ms {
            Some(o) => o + ALPHA * (ms - o),
            None => ms,
        };
        self.offset_ms = Some(smoothed);
        let dt = self
            .last_ns
            .map_or(0.0, |l| now_ns.saturating_sub(l) as f64 / 1e9)
            .min(1.0);
        self.last_ns = Some(now_ns);
        self.integral_ppm =
            (self.integral_ppm + KI_PPM_PER_MS_S * smoothed * dt).clamp(-MAX_PPM, MAX_PPM);
        self.correction_ppm =
            (KP_PPM_PER_MS * smoothed + self.integral_ppm).clamp(-MAX_PPM, MAX_PPM);
    }

    pub fn report(&self) -> DriftReport {
        DriftReport {
            offset_ms: self.offset_ms.unwrap_or(0.0),
            correction_ppm: self.correction_ppm,
        }
    }

    /// Forgets the stream (its source restarted); keeps nothing of the old one.
    pub fn reset(&mut self) {
        *self = Drift::default();
    }

    /// Resamples interleaved `input` (`channels` per frame) by the current correction: a
    /// fast source (positive ppm) gives fewer frames out than in.
    pub fn resample(&mut self, input: &[i16], channels: usize) -> Vec<i16> {
        let channels = channels.max(1);
        let n = input.len() / channels;
        if n == 0 {
            return Vec::new();
        }
        if self.prev.len() != channels {
            self.prev = input[..channels].to_vec();
            self.phase = 0.0;
        }
        // Input frames consumed per output frame.
        let step = 1.0 + self.correction_ppm / 1e6;
        // Frame i of [prev, input…]: 0 is prev.
        let frame = |i: usize, c: usize| -> f64 {
            if i == 0 {
                f64::from(self.prev[c])
            } else {
                f64::from(input[(i - 1) * channels + c])
            }
        };
        let mut out = Vec::with_capacity((n as f64 / step) as usize * channels + channels);
        let mut pos = self.phase;
        while pos < n as f64 {
            let i = pos as usize;
            let f = pos - i as f64;
            for c in 0..channels {
                let v = frame(i, c) * (1.0 - f) + frame(i + 1, c) * f;
                out.push(v.round().clamp(-32768.0, 32767.0) as i16);
            }
            pos += step;
        }
        self.phase = pos - n as f64;
        self.prev = input[(n - 1) * channels..n * channels].to_vec();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz tone at 48 kHz, `n` frames from frame `start`, mono.
    fn tone(start: usize, n: usize) -> Vec<i16> {
        (start..start + n)
            .map(|k| {
                (10000.0 * (2.0 * std::f64::consts::PI * 1000.0 * k as f64 / 48000.0).sin()) as i16
            })
            .collect()
    }

    /// The largest departure from a smooth sine: |x[n+1] + x[n−1] − 2cos(ω)x[n]|.
    fn roughness(x: &[i16], hz: f64) -> f64 {
        let c = 2.0 * (2.0 * std::f64::consts::PI * hz / 48000.0).cos();
        x.windows(3)
            .map(|w| (f64::from(w[2]) + f64::from(w[0]) - c * f64::from(w[1])).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn with_no_correction_the_stream_passes_whole_one_frame_late() {
        let mut d = Drift::default();
        let mut out = Vec::new();
        for b in 0..10 {
            out.extend(d.resample(&tone(b * 480, 480), 1));
        }
        assert_eq!(out.len(), 4800);
        assert_eq!(out[1..], tone(0, 4800)[..4799]);
    }

    #[test]
    fn a_fast_source_is_slowed_without_a_click() {
        let mut d = Drift {
            correction_ppm: 1000.0,
            ..Drift::default()
        };
        let mut out = Vec::new();
        for b in 0..100 {
            out.extend(d.resample(&tone(b * 480, 480), 1));
        }
        // 48000 in, 0.1 % fewer out, give or take the one carried.
        assert!((out.len() as i64 - 47952).abs() <= 1, "{}", out.len());
        // Smooth all the way across buffer joins (a dropped sample would be ~2000 here).
        // (The first two frames hold the stream's first sample: its start, not a join.)
        let r = roughness(&out[2..], 1000.0 * 1.001);
        assert!(r < 40.0, "{r}");
    }

    #[test]
    fn a_slow_source_is_stretched_and_stereo_stays_paired() {
        let mut d = Drift {
            correction_ppm: -1000.0,
            ..Drift::default()
        };
        let stereo: Vec<i16> = tone(0, 4800).iter().flat_map(|&s| [s, -s]).collect();
        let out = d.resample(&stereo, 2);
        assert_eq!(out.len() % 2, 0);
        assert!(out.len() / 2 >= 4804, "{}", out.len() / 2);
        assert!(out.chunks(2).all(|f| f[0] == -f[1]));
    }

    /// The loop closed: a source 1000 ppm fast, buffers of 10 ms laid end to end against a
    /// clock; the offset stays within a millisecond or two and the correction finds 1000.
    #[test]
    fn the_controller_finds_the_error_and_holds_the_offset() {
        let mut d = Drift::default();
        let buffer_ns = 10_000_000u64;
        let source_ppm = 1000.0;
        let mut stamped_ns = 0.0f64; // end-to-end stamp of the next output
        let mut worst_late = 0.0f64;
        let mut worst_ever = 0.0f64;
        for k in 0..30_000u64 {
            // A fast source delivers its 10 ms of samples a little early each time.
            let arrival = k as f64 * buffer_ns as f64 / (1.0 + source_ppm / 1e6);
            d.observe((stamped_ns - arrival) as i64, arrival as u64);
            let off_ms = (stamped_ns - arrival).abs() / 1e6;
            worst_ever = worst_ever.max(off_ms);
            if k > 15_000 {
                worst_late = worst_late.max(off_ms);
            }
            // The output lasts (1 − correction) of the input's 10 ms.
            stamped_ns += buffer_ns as f64 / (1.0 + d.report().correction_ppm / 1e6);
        }
        let r = d.report();
        assert!((r.correction_ppm - 1000.0).abs() < 50.0, "{r:?}");
        assert!(worst_late < 1.0, "offset {worst_late} ms");
        // While it locks on, lip sync moves by less than a frame at 60 fps.
        assert!(worst_ever < 16.0, "offset while locking {worst_ever} ms");
    }

    #[test]
    fn the_correction_is_bounded() {
        let mut d = Drift::default();
        for k in 0..1000 {
            d.observe(5_000_000_000, k * 10_000_000);
        }
        assert_eq!(d.report().correction_ppm, MAX_PPM);
        d.reset();
        assert_eq!(d.report(), DriftReport::default());
    }
}
