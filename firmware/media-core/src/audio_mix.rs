//! The audio mixer's policy, pure: which inputs are heard and how loud (gain in dB, mute,
//! solo, audio-follows-video, master gain), and level metering in dBFS for the meters.
//! The meters are live (per input and for the program, in status and metrics); the gains
//! are set live as the `audiomixer` pads' `volume` (see [`MixState`]).

use std::sync::Mutex;

/// The quietest level reported; silence reads as this, not minus infinity.
pub const FLOOR_DBFS: f64 = -96.0;

/// One input's strip on the mixer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strip {
    pub gain_db: f64,
    pub mute: bool,
    pub solo: bool,
}

impl Default for Strip {
    fn default() -> Self {
        Self {
            gain_db: 0.0,
            mute: false,
            solo: false,
        }
    }
}

/// Linear gain per input. A muted input is silent. If any input is soloed, only soloed
/// inputs are heard. With `follow_video`, an input not on the program is silent (unless
/// soloed: solo is how a technician listens to a source off air). The master gain applies
/// to all. Gains are clamped to −96…+20 dB (the mixer's volume goes up to ×10).
pub fn gains(
    strips: &[Strip],
    on_program: &[bool],
    follow_video: bool,
    master_db: f64,
) -> Vec<f64> {
    let any_solo = strips.iter().any(|s| s.solo && !s.mute);
    strips
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let shown = on_program.get(i).copied().unwrap_or(false);
            let heard = !s.mute
                && if any_solo {
                    s.solo
                } else {
                    !follow_video || shown
                };
            if heard {
                db_to_linear(
                    (s.gain_db.clamp(FLOOR_DBFS, 20.0) + master_db.clamp(FLOOR_DBFS, 20.0))
                        .min(20.0),
                )
            } else {
                0.0
            }
        })
        .collect()
}

/// The live audio mix: a strip per input (config order), audio-follows-video and master.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MixState {
    pub follow_video: bool,
    pub master_gain_db: f64,
    pub inputs: Vec<StripState>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StripState {
    pub name: String,
    pub gain_db: f64,
    pub mute: bool,
    pub solo: bool,
    /// A sound-only input (the desk): always the program's sound, never followed away.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sound_only: bool,
}

/// A change to the live mix; what is `None` stays.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixChange {
    pub follow_video: Option<bool>,
    pub master_gain_db: Option<f64>,
    #[serde(default)]
    pub inputs: std::collections::BTreeMap<String, StripChange>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripChange {
    pub gain_db: Option<f64>,
    pub mute: Option<bool>,
    pub solo: Option<bool>,
}

impl MixState {
    /// The config's mix (nothing soloed).
    pub fn from_config(c: &fourcast_config::Config) -> MixState {
        MixState {
            follow_video: c.audio.follow_video,
            master_gain_db: c.audio.master_gain_db,
            inputs: c
                .inputs
                .iter()
                .map(|i| StripState {
                    name: i.name.clone(),
                    gain_db: i.gain_db,
                    mute: i.mute,
                    solo: false,
                    sound_only: !i.has_picture(),
                })
                .collect(),
        }
    }

    /// `change` applied, or every problem with it (field paths as in the request).
    pub fn changed(&self, change: &MixChange) -> Result<MixState, fourcast_config::ConfigErrors> {
        let mut next = self.clone();
        let mut errs = Vec::new();
        if let Some(f) = change.follow_video {
            next.follow_video = f;
        }
        if let Some(db) = change.master_gain_db {
            match fourcast_config::check_gain_db(db) {
                Ok(()) => next.master_gain_db = db,
                Err(m) => errs.push(fourcast_config::FieldError::new("master_gain_db", m)),
            }
        }
        for (name, c) in &change.inputs {
            let Some(strip) = next.inputs.iter_mut().find(|s| s.name == *name) else {
                errs.push(fourcast_config::FieldError::new(
                    format!("inputs.{name}"),
                    format!("{name}: no such input"),
                ));
                continue;
            };
            if let Some(db) = c.gain_db {
                match fourcast_config::check_gain_db(db) {
                    Ok(()) => strip.gain_db = db,
                    Err(m) => errs.push(fourcast_config::FieldError::new(
                        format!("inputs.{name}.gain_db"),
                        m,
                    )),
                }
            }
            strip.mute = c.mute.unwrap_or(strip.mute);
            strip.solo = c.solo.unwrap_or(strip.solo);
        }
        if errs.is_empty() {
            Ok(next)
        } else {
            Err(fourcast_config::ConfigErrors(errs))
        }
    }

    /// Linear gain per input given which inputs (names) are on program.
    pub fn gains(&self, on_program: &[&str]) -> Vec<f64> {
        let strips: Vec<Strip> = self
            .inputs
            .iter()
            .map(|s| Strip {
                gain_db: s.gain_db,
                mute: s.mute,
                solo: s.solo,
            })
            .collect();
        let shown: Vec<bool> = self
            .inputs
            .iter()
            .map(|s| s.sound_only || on_program.contains(&s.name.as_str()))
            .collect();
        gains(&strips, &shown, self.follow_video, self.master_gain_db)
    }
}

pub fn db_to_linear(db: f64) -> f64 {
    if db <= FLOOR_DBFS {
        0.0
    } else {
        10f64.powf(db / 20.0)
    }
}

pub fn linear_to_db(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        FLOOR_DBFS
    } else {
        (20.0 * v.log10()).max(FLOOR_DBFS)
    }
}

/// Peak and RMS of a stretch of samples, in dBFS (full scale = a square wave at ±32767).
#[derive(Debug, Default, Clone, Copy)]
pub struct Meter {
    peak: u32,
    sum_squares: f64,
    count: u64,
}

impl Meter {
    pub fn add(&mut self, samples: &[i16]) {
        for &s in samples {
            let a = u32::from(s.unsigned_abs());
            self.peak = self.peak.max(a);
            self.sum_squares += f64::from(s) * f64::from(s);
        }
        self.count += samples.len() as u64;
    }

    /// (peak, RMS) in dBFS since the last `take`, and starts again.
    pub fn take(&mut self) -> (f64, f64) {
        let full = 32767.0;
        let peak = linear_to_db(f64::from(self.peak) / full);
        let rms = if self.count == 0 {
            FLOOR_DBFS
        } else {
            linear_to_db((self.sum_squares / self.count as f64).sqrt() / full)
        };
        *self = Meter::default();
        (peak, rms)
    }
}

impl Meter {
    /// Interleaved S16LE samples, as the program's audio caps carry them.
    pub fn add_s16le(&mut self, bytes: &[u8]) {
        for pair in bytes.chunks_exact(2) {
            let s = i16::from_le_bytes([pair[0], pair[1]]);
            let a = u32::from(s.unsigned_abs());
            self.peak = self.peak.max(a);
            self.sum_squares += f64::from(s) * f64::from(s);
        }
        self.count += (bytes.len() / 2) as u64;
    }
}

/// The last second's levels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Levels {
    pub peak_dbfs: f64,
    pub rms_dbfs: f64,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            peak_dbfs: FLOOR_DBFS,
            rms_dbfs: FLOOR_DBFS,
        }
    }
}

/// A meter fed from a streaming thread and read out once a second by the stats tick.
#[derive(Default)]
pub struct LevelMeter {
    inner: Mutex<(Meter, Levels)>,
}

impl LevelMeter {
    pub fn add_s16le(&self, bytes: &[u8]) {
        self.lock().0.add_s16le(bytes);
    }

    /// Closes the current second.
    pub fn tick(&self) {
        let mut g = self.lock();
        let (peak, rms) = g.0.take();
        g.1 = Levels {
            peak_dbfs: (peak * 10.0).round() / 10.0,
            rms_dbfs: (rms * 10.0).round() / 10.0,
        };
    }

    pub fn levels(&self) -> Levels {
        self.lock().1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Meter, Levels)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(gain_db: f64, mute: bool, solo: bool) -> Strip {
        Strip {
            gain_db,
            mute,
            solo,
        }
    }

    #[test]
    fn unity_gain_is_one_and_mute_is_silence() {
        let g = gains(
            &[Strip::default(), strip(0.0, true, false)],
            &[true, true],
            false,
            0.0,
        );
        assert_eq!(g, [1.0, 0.0]);
    }

    #[test]
    fn gain_and_master_add_in_db() {
        let g = gains(&[strip(-6.0, false, false)], &[true], false, -6.0);
        assert!((linear_to_db(g[0]) + 12.0).abs() < 1e-9);
    }

    #[test]
    fn solo_silences_everyone_else_even_off_air() {
        let strips = [
            strip(0.0, false, false),
            strip(0.0, false, true),
            Strip::default(),
        ];
        assert_eq!(
            gains(&strips, &[true, false, true], true, 0.0),
            [0.0, 1.0, 0.0]
        );
        // A muted solo does not count as a solo.
        let strips = [Strip::default(), strip(0.0, true, true)];
        assert_eq!(gains(&strips, &[true, true], false, 0.0), [1.0, 0.0]);
    }

    #[test]
    fn audio_follows_video_hears_only_what_is_on_screen() {
        let strips = [Strip::default(); 4];
        let on = [true, false, true, false];
        assert_eq!(gains(&strips, &on, true, 0.0), [1.0, 0.0, 1.0, 0.0]);
        assert_eq!(gains(&strips, &on, false, 0.0), [1.0; 4]);
        // An input the program does not know of is off screen.
        assert_eq!(gains(&strips, &on[..2], true, 0.0), [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn the_desk_stays_heard_when_audio_follows_video() {
        let mut c = fourcast_config::default_for_board("virtual").unwrap();
        c.audio.follow_video = true;
        c.inputs.push(fourcast_config::Input::new(
            "desk",
            fourcast_config::Source::Alsa {
                device: "hw:CARD=USB,DEV=0".into(),
            },
        ));
        let mix = MixState::from_config(&c);
        // cam1 on the program: the other cameras are followed away, the desk is not.
        assert_eq!(mix.gains(&["cam1"]), [1.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn absurd_gains_are_clamped() {
        let g = gains(
            &[
                strip(1000.0, false, false),
                strip(f64::NEG_INFINITY, false, false),
            ],
            &[true, true],
            false,
            0.0,
        );
        assert!((linear_to_db(g[0]) - 20.0).abs() < 1e-9);
        assert_eq!(g[1], 0.0);
    }

    #[test]
    fn a_full_scale_square_wave_is_0_dbfs_and_a_sine_is_3_db_lower_in_rms() {
        let mut m = Meter::default();
        m.add(&[32767, -32767, 32767, -32767]);
        let (peak, rms) = m.take();
        assert!(peak.abs() < 1e-6 && rms.abs() < 1e-6, "{peak} {rms}");
        let sine: Vec<i16> = (0..48000)
            .map(|i| (16384.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 48000.0).sin()) as i16)
            .collect();
        m.add(&sine);
        let (peak, rms) = m.take();
        assert!((peak - -6.02).abs() < 0.05, "{peak}");
        assert!((rms - -9.03).abs() < 0.05, "{rms}");
        assert_eq!(m.take(), (FLOOR_DBFS, FLOOR_DBFS), "silence after take");
    }

    #[test]
    fn the_level_meter_reads_s16le_and_reports_the_last_second() {
        let l = LevelMeter::default();
        assert_eq!(l.levels(), Levels::default());
        let bytes: Vec<u8> = [16384i16, -16384]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        l.add_s16le(&bytes);
        l.tick();
        assert_eq!(l.levels().peak_dbfs, -6.0);
        assert_eq!(l.levels().rms_dbfs, -6.0);
        l.tick();
        assert_eq!(l.levels(), Levels::default());
    }
}
