//! What the program shows: a layout, the inputs in it, and named scenes to switch between.

use serde::{Deserialize, Serialize};

use crate::{Config, FieldError};

/// How the shown inputs are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One input, full frame.
    Single,
    /// Two inputs in equal halves.
    SideBySide,
    /// Up to four in equal cells (three: two on top, one centred below).
    #[default]
    Grid,
    /// The first full frame, the second as an inset (see [`Pip`]).
    Pip,
    /// The first large on the left, up to three small on the right.
    Spotlight,
}

impl Layout {
    /// Most inputs the layout shows.
    pub fn capacity(self) -> usize {
        match self {
            Layout::Single => 1,
            Layout::SideBySide | Layout::Pip => 2,
            Layout::Grid | Layout::Spotlight => 4,
        }
    }

    pub fn nick(self) -> &'static str {
        match self {
            Layout::Single => "single",
            Layout::SideBySide => "side-by-side",
            Layout::Grid => "grid",
            Layout::Pip => "pip",
            Layout::Spotlight => "spotlight",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    #[default]
    BottomRight,
}

/// The picture-in-picture inset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pip {
    pub corner: Corner,
    /// Inset width, % of the program width (5–90).
    pub size_pct: u32,
    /// Gap to the frame's edges, % of the program width (0–20).
    pub margin_pct: u32,
}

impl Default for Pip {
    fn default() -> Self {
        Pip {
            corner: Corner::BottomRight,
            size_pct: 30,
            margin_pct: 3,
        }
    }
}

/// One look of the program: a layout and the inputs shown in it, in layout order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shot {
    #[serde(default)]
    pub layout: Layout,
    /// Input names in layout order (the first is the main picture); empty: every input in
    /// config order, as many as the layout shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub pip: Pip,
}

/// A named shot, switched to by one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    pub name: String,
    #[serde(default)]
    pub layout: Layout,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub pip: Pip,
    /// The overlays shown while this scene is on (`logo`, `lower_third`, `clock`); the
    /// others are hidden. Absent: taking the scene leaves the overlays as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlays: Option<Vec<String>>,
}

impl Scene {
    pub fn shot(&self) -> Shot {
        Shot {
            layout: self.layout,
            inputs: self.inputs.clone(),
            pip: self.pip,
        }
    }
}

const PIP_SIZE_PCT: std::ops::RangeInclusive<u32> = 5..=90;
const PIP_MARGIN_PCT: std::ops::RangeInclusive<u32> = 0..=20;

impl Shot {
    /// Problems with this shot against `config`'s inputs, each at `at.<field>`.
    pub fn check(&self, config: &Config, at: &str) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (k, name) in self.inputs.iter().enumerate() {
            match config.input(name) {
                None => {
                    let known: Vec<&str> = config.inputs.iter().map(|i| i.name.as_str()).collect();
                    errs.push(FieldError::new(
                        format!("{at}.inputs[{k}]"),
                        format!("{name}: no such input (inputs are {})", known.join(", ")),
                    ));
                }
                Some(i) if !i.has_picture() => errs.push(FieldError::new(
                    format!("{at}.inputs[{k}]"),
                    format!("{name}: a sound-only input has no picture to show"),
                )),
                Some(_) => {}
            }
        }
        if self.inputs.len() > self.layout.capacity() {
            errs.push(FieldError::new(
                format!("{at}.inputs"),
                format!(
                    "{} inputs: layout {} shows at most {}",
                    self.inputs.len(),
                    self.layout.nick(),
                    self.layout.capacity()
                ),
            ));
        }
        let pip = &self.pip;
        if !PIP_SIZE_PCT.contains(&pip.size_pct) {
            errs.push(FieldError::new(
                format!("{at}.pip.size_pct"),
                format!("{}: must be 5–90 (% of the program width)", pip.size_pct),
            ));
        }
        if !PIP_MARGIN_PCT.contains(&pip.margin_pct) {
            errs.push(FieldError::new(
                format!("{at}.pip.margin_pct"),
                format!("{}: must be 0–20 (% of the program width)", pip.margin_pct),
            ));
        } else if pip.size_pct.saturating_add(pip.margin_pct) > 100 {
            errs.push(FieldError::new(
                format!("{at}.pip"),
                "size_pct + margin_pct over 100: the inset would reach outside the frame",
            ));
        }
        errs
    }

    /// The names shown, in layout order: the listed ones, or every input with a picture
    /// up to capacity.
    pub fn shown<'a>(&'a self, config: &'a Config) -> Vec<&'a str> {
        if self.inputs.is_empty() {
            config
                .inputs
                .iter()
                .filter(|i| i.has_picture())
                .take(self.layout.capacity())
                .map(|i| i.name.as_str())
                .collect()
        } else {
            self.inputs.iter().map(String::as_str).collect()
        }
    }
}

pub(crate) fn check(c: &Config, errs: &mut Vec<FieldError>) {
    errs.extend(c.program.shot().check(c, "program"));
    let mut names = std::collections::HashSet::new();
    for (k, scene) in c.scenes.iter().enumerate() {
        let at = format!("scenes[{k}]");
        if !crate::name::valid_name(&scene.name) {
            errs.push(FieldError::new(
                format!("{at}.name"),
                format!("{:?}: use 1–32 letters, digits, - or _", scene.name),
            ));
        }
        if !names.insert(scene.name.as_str()) {
            errs.push(FieldError::new(
                format!("{at}.name"),
                format!("{}: another scene has this name", scene.name),
            ));
        }
        errs.extend(scene.shot().check(c, &at));
        for (j, name) in scene.overlays.iter().flatten().enumerate() {
            if !crate::OVERLAY_NAMES.contains(&name.as_str()) {
                errs.push(FieldError::new(
                    format!("{at}.overlays[{j}]"),
                    format!("{name}: no such overlay (use logo, lower_third or clock)"),
                ));
            } else if c.overlays.visible(name).is_none() {
                errs.push(FieldError::new(
                    format!("{at}.overlays[{j}]"),
                    format!("{name}: not configured under [overlays]"),
                ));
            }
        }
    }
}
