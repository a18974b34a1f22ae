//! Graphics over the program: a logo, a lower third and a clock. Each can be shown and
//! hidden live; the config says what they look like and whether they show at start.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Config, Corner, FieldError};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Overlays {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<Logo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_third: Option<LowerThird>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// The overlays by name, as commands and scenes name them.
pub const OVERLAY_NAMES: [&str; 3] = ["logo", "lower_third", "clock"];

/// A PNG (with its alpha) at a place and size on the program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logo {
    pub path: PathBuf,
    /// Left edge, program pixels.
    pub x: u32,
    /// Top edge, program pixels.
    pub y: u32,
    /// Width in program pixels; the height follows the image's aspect ratio.
    pub width: u32,
    /// 0 (invisible) to 1 (as the image is).
    #[serde(default = "one")]
    pub opacity: f64,
    #[serde(default = "yes")]
    pub visible: bool,
}

/// A caption band near the bottom: a title and an optional subtitle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowerThird {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subtitle: String,
    /// Title height in program pixels (the subtitle is 70 % of it); 0: a size that suits
    /// the program (1/18 of its height).
    #[serde(default)]
    pub size: u32,
    /// `#rrggbb`.
    #[serde(default = "white")]
    pub text_color: String,
    /// `#rrggbb`.
    #[serde(default = "navy")]
    pub background: String,
    /// 0–1.
    #[serde(default = "band_opacity")]
    pub background_opacity: f64,
    /// How long showing and hiding fade, ms (0–2000).
    #[serde(default = "fade_ms")]
    pub fade_ms: u32,
    #[serde(default)]
    pub visible: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockMode {
    /// The box's wall clock.
    #[default]
    Clock,
    /// The program's running time as HH:MM:SS:FF.
    Timecode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    #[serde(default)]
    pub mode: ClockMode,
    /// `clock` only: strftime format.
    #[serde(default = "clock_format")]
    pub format: String,
    #[serde(default = "top_right")]
    pub corner: Corner,
    #[serde(default = "yes")]
    pub visible: bool,
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn white() -> String {
    "#ffffff".into()
}
fn navy() -> String {
    "#14285a".into()
}
fn band_opacity() -> f64 {
    0.85
}
fn fade_ms() -> u32 {
    300
}
fn clock_format() -> String {
    "%H:%M:%S".into()
}
fn top_right() -> Corner {
    Corner::TopRight
}

impl Overlays {
    /// Whether the named overlay is configured, and shown.
    pub fn visible(&self, name: &str) -> Option<bool> {
        match name {
            "logo" => self.logo.as_ref().map(|o| o.visible),
            "lower_third" => self.lower_third.as_ref().map(|o| o.visible),
            "clock" => self.clock.as_ref().map(|o| o.visible),
            _ => None,
        }
    }

    /// Shows or hides the named overlay; false if there is no such overlay configured.
    pub fn set_visible(&mut self, name: &str, visible: bool) -> bool {
        let slot = match name {
            "logo" => self.logo.as_mut().map(|o| &mut o.visible),
            "lower_third" => self.lower_third.as_mut().map(|o| &mut o.visible),
            "clock" => self.clock.as_mut().map(|o| &mut o.visible),
            _ => None,
        };
        match slot {
            Some(v) => {
                *v = visible;
                true
            }
            None => false,
        }
    }
}

/// `#rrggbb` as (r, g, b).
pub fn parse_color(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some(((v >> 16) as u8, (v >> 8) as u8, v as u8))
}

pub(crate) fn check(c: &Config, errs: &mut Vec<FieldError>) {
    let (pw, ph) = (c.program.width, c.program.height);
    let o = &c.overlays;
    if let Some(logo) = &o.logo {
        let at = |f: &str| format!("overlays.logo.{f}");
        if let Err(e) = is_png(&logo.path) {
            errs.push(FieldError::new(at("path"), e));
        }
        // Checked: both come from the user, and their sum may not fit in a u32.
        if logo.width < 2
            || logo
                .x
                .checked_add(logo.width)
                .is_none_or(|right| right > pw)
        {
            errs.push(FieldError::new(
                at("width"),
                format!(
                    "x {} + width {}: the logo must fit in the {pw}-pixel-wide program",
                    logo.x, logo.width
                ),
            ));
        }
        if logo.y > ph.saturating_sub(2) {
            errs.push(FieldError::new(
                at("y"),
                format!("{}: outside the {ph}-pixel-high program", logo.y),
            ));
        }
        unit(errs, &at("opacity"), logo.opacity);
    }
    if let Some(l) = &o.lower_third {
        let at = |f: &str| format!("overlays.lower_third.{f}");
        if l.title.trim().is_empty() {
            errs.push(FieldError::new(at("title"), "a lower third needs a title"));
        }
        for (field, text) in [("title", &l.title), ("subtitle", &l.subtitle)] {
            if text.chars().count() > 80 {
                errs.push(FieldError::new(at(field), "at most 80 characters"));
            }
        }
        if l.size != 0 && !(8..=ph / 6).contains(&l.size) {
            errs.push(FieldError::new(
                at("size"),
                format!(
                    "{}: must be 8–{} pixels (or 0 for automatic)",
                    l.size,
                    ph / 6
                ),
            ));
        }
        for (field, color) in [("text_color", &l.text_color), ("background", &l.background)] {
            if parse_color(color).is_none() {
                errs.push(FieldError::new(
                    at(field),
                    format!("{color:?}: use #rrggbb"),
                ));
            }
        }
        unit(errs, &at("background_opacity"), l.background_opacity);
        if l.fade_ms > 2000 {
            errs.push(FieldError::new(
                at("fade_ms"),
                format!("{}: must be 0–2000", l.fade_ms),
            ));
        }
    }
    if let Some(clock) = &o.clock
        && (clock.format.is_empty() || clock.format.len() > 40)
    {
        errs.push(FieldError::new(
            "overlays.clock.format",
            "use a strftime format of 1–40 characters",
        ));
    }
}

/// Whether `path` can be read and starts like a PNG image.
fn is_png(path: &std::path::Path) -> Result<(), String> {
    use std::io::Read;
    let shown = path.display();
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| format!("{shown}: cannot be read: {e}"))?;
    match f.read_exact(&mut head) {
        Ok(()) if head == *b"\x89PNG\r\n\x1a\n" => Ok(()),
        _ => Err(format!(
            "{shown}: not a PNG image (the logo must be a PNG, with alpha for transparency)"
        )),
    }
}

fn unit(errs: &mut Vec<FieldError>, at: &str, v: f64) {
    if !(0.0..=1.0).contains(&v) {
        errs.push(FieldError::new(at, format!("{v}: must be 0–1")));
    }
}
