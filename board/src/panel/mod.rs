//! The front panel: tally lamps per input, status lamps, buttons, a 128×64 OLED status
//! screen and a fan. The drivers are generic over `embedded-hal` 1.0 ([`ssd1306`],
//! [`lamps`], [`fan`]); what a button does and what the lamps show are pure rules
//! ([`switcher`], [`lamps::tally`]); [`linux`] has the back ends a board uses (`/dev/i2c-N`,
//! sysfs LEDs and PWM, evdev buttons). Which lines a board wires where is in its profile's
//! `[panel]`.

pub mod fan;
pub mod lamps;
pub mod linux;
pub mod screen;
pub mod ssd1306;
pub mod switcher;

use serde::Deserialize;

/// A board's panel wiring; every part is optional (a board without a screen has none).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PanelProfile {
    pub display: Option<DisplayWiring>,
    pub buttons: Option<ButtonWiring>,
    #[serde(default)]
    pub tally: Vec<TallyWiring>,
    pub lamps: Option<LampWiring>,
    pub fan: Option<FanWiring>,
}

/// An SSD1306 on an I2C bus.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DisplayWiring {
    /// `/dev/i2c-N`, or the adapter's name as in `/sys/class/i2c-dev/*/name`.
    pub i2c: String,
    #[serde(default = "default_address")]
    pub address: u8,
}

fn default_address() -> u8 {
    ssd1306::DEFAULT_ADDRESS
}

/// Buttons as an input device (`gpio-keys` in the device tree) and the key code of each.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ButtonWiring {
    /// The input device's name (`/sys/class/input/eventN/device/name`).
    pub device: String,
    /// Linux key codes (`linux/input-event-codes.h`).
    pub go_live: u16,
    pub record: u16,
    pub next_scene: u16,
    pub cut: u16,
}

impl ButtonWiring {
    /// The button a key code stands for.
    pub fn button(&self, code: u16) -> Option<switcher::Button> {
        use switcher::Button;
        [
            (self.go_live, Button::GoLive),
            (self.record, Button::Record),
            (self.next_scene, Button::NextScene),
            (self.cut, Button::Cut),
        ]
        .into_iter()
        .find_map(|(c, b)| (c == code).then_some(b))
    }
}

/// An input's tally lamps: sysfs LED names (`leds-gpio` in the device tree).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TallyWiring {
    pub input: String,
    pub red: String,
    pub green: Option<String>,
}

/// The status lamps (sysfs LED names).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LampWiring {
    pub live: String,
    pub rec: String,
    pub error: String,
}

/// A fan on a hwmon PWM (0–255), driven by a thermal zone.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FanWiring {
    pub pwm: String,
    pub thermal: String,
    /// Below this the fan is off (it starts again 3 °C above it).
    pub start_c: i32,
    /// At and above this the fan runs full.
    pub full_c: i32,
    /// The slowest the fan turns once on, percent.
    pub min_pct: u8,
}

impl FanWiring {
    pub fn curve(&self) -> fan::Curve {
        fan::Curve {
            start_c: self.start_c,
            full_c: self.full_c,
            min_pct: self.min_pct,
        }
    }
}
