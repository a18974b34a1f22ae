//! Board profiles.
//!
//! A profile names the SoC, the H.264 encoder elements to prefer (probed in order by the
//! media engine, hardware first, `x264enc` last), the capture devices and the default
//! program and ladder. Profiles are TOML files in `board/profiles/`, compiled in so the
//! daemon needs nothing from disk to start.

pub mod panel;

use serde::Deserialize;

/// The profile the daemon uses when nothing else is said: the development board.
pub const DEFAULT_BOARD: &str = "virtual";

const PROFILES: &[(&str, &str)] = &[
    ("virtual", include_str!("../profiles/virtual.toml")),
    ("rk3588", include_str!("../profiles/rk3588.toml")),
    ("imx8mp", include_str!("../profiles/imx8mp.toml")),
    ("jetson", include_str!("../profiles/jetson.toml")),
    ("x86-vaapi", include_str!("../profiles/x86-vaapi.toml")),
    ("rpi5", include_str!("../profiles/rpi5.toml")),
    ("vboard", include_str!("../profiles/vboard.toml")),
];

/// One board's facts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub soc: String,
    /// Encoder elements in order of preference.
    pub encoders: Vec<String>,
    /// Hardware JPEG decoders for MJPEG cameras, in order of preference (none: software
    /// `jpegdec`, and USB cameras are taken raw unless MJPEG is all they offer).
    #[serde(default)]
    pub jpeg_decoders: Vec<String>,
    pub program: ProgramDefaults,
    pub capture: Vec<Capture>,
    /// Default ladder, largest rung first.
    pub ladder: Vec<RungDefaults>,
    /// The front panel's wiring (none on the virtual board: the web UI shows its panel).
    #[serde(default)]
    pub panel: panel::PanelProfile,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProgramDefaults {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// A capture device: `test:<pattern>` on the virtual board, a V4L2 node on real boards.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub name: String,
    pub label: String,
    pub device: String,
    /// Where its signal is read: `node` (the default), `subdev:NAME` (a bridge chip's own
    /// node, by its sysfs name) or `frames` (grabbers that report nothing).
    #[serde(default)]
    pub signal: Option<String>,
}

impl Capture {
    /// The test pattern this capture stands for, if it is a virtual camera.
    pub fn test_pattern(&self) -> Option<&str> {
        self.device.strip_prefix("test:")
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RungDefaults {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

/// Why a profile could not be had.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// No profile of that name is compiled in.
    #[error("unknown board \"{0}\" (known: {known})", known = names().join(", "))]
    Unknown(String),
    /// A compiled-in profile does not parse (a build defect, caught by the tests).
    #[error("board profile \"{name}\" is malformed: {source}")]
    Malformed {
        name: String,
        source: toml::de::Error,
    },
}

/// Names of all compiled-in profiles.
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|(name, _)| *name).collect()
}

/// The profile called `name`.
pub fn profile(name: &str) -> Result<Profile, BoardError> {
    let (_, text) = PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| BoardError::Unknown(name.to_string()))?;
    toml::from_str(text).map_err(|source| BoardError::Malformed {
        name: name.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_parses_and_is_named_after_its_file() {
        for name in names() {
            let p = profile(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
            assert!(!p.encoders.is_empty(), "{name}: no encoders");
            assert_eq!(p.encoders.last().map(String::as_str), Some("x264enc"));
            assert!(p.capture.len() <= 4, "{name}: more than four captures");
            assert!(!p.ladder.is_empty(), "{name}: empty ladder");
            for r in &p.ladder {
                assert!(r.width <= p.program.width && r.height <= p.program.height);
            }
        }
    }

    #[test]
    fn real_boards_default_to_the_product_ladder() {
        for name in ["rk3588", "imx8mp", "jetson", "x86-vaapi"] {
            let ladder: Vec<_> = profile(name)
                .unwrap()
                .ladder
                .iter()
                .map(|r| (r.height, r.bitrate_kbps))
                .collect();
            assert_eq!(ladder, [(1080, 5000), (720, 2800), (480, 1400), (360, 800)]);
        }
    }

    #[test]
    fn unknown_board_is_named_in_the_error() {
        let err = profile("pi5").unwrap_err().to_string();
        assert!(err.contains("\"pi5\"") && err.contains("virtual"), "{err}");
    }
}
