//! The panel's parts on Linux, as the board's profile wires them. A part that is missing
//! or fails is reported (`parts` in `GET /api/v1/panel`) and tried again later; it never
//! stops the box.

use std::time::{Duration, Instant};

use fourcast_board::panel::fan::Fan;
use fourcast_board::panel::lamps::{StatusLamps, StatusPins, TallyLamp};
use fourcast_board::panel::linux::{self, I2cDev, SysfsLed, SysfsPwm};
use fourcast_board::panel::screen::Frame;
use fourcast_board::panel::ssd1306::Ssd1306;
use fourcast_board::panel::switcher::Button;
use fourcast_board::panel::{ButtonWiring, DisplayWiring, FanWiring, PanelProfile};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::InputTally;

/// How long a part that failed is left alone before it is opened again.
const REOPEN: Duration = Duration::from_secs(5);

/// A part and how it is doing.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PartState {
    /// `display`, `lamps`, `tally:<input>`, `fan` or `buttons`.
    pub part: String,
    /// Where the profile says it is.
    pub at: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub(crate) struct Hardware {
    display: Option<Display>,
    lamps: Option<(String, Result<StatusPins<SysfsLed>, String>)>,
    tally: Vec<(String, String, Result<TallyLamp<SysfsLed>, String>)>,
    fan: Option<(FanWiring, Fan<SysfsPwm>, Option<String>)>,
    buttons: Option<String>,
    last_lamps: Option<StatusLamps>,
}

struct Display {
    wiring: DisplayWiring,
    driver: Option<Ssd1306<I2cDev>>,
    error: Option<String>,
    failed_at: Option<Instant>,
    last: Option<Frame>,
}

impl Hardware {
    pub(crate) fn new(p: &PanelProfile) -> Hardware {
        let lamps = p.lamps.as_ref().map(|l| {
            let pins = (|| {
                Ok::<_, String>(StatusPins {
                    live: SysfsLed::open(&l.live)?,
                    rec: SysfsLed::open(&l.rec)?,
                    error: SysfsLed::open(&l.error)?,
                })
            })();
            (format!("{}, {}, {}", l.live, l.rec, l.error), pins)
        });
        let tally = p
            .tally
            .iter()
            .map(|t| {
                let lamp = (|| {
                    Ok::<_, String>(TallyLamp {
                        red: SysfsLed::open(&t.red)?,
                        green: t.green.as_deref().map(SysfsLed::open).transpose()?,
                    })
                })();
                (t.input.clone(), t.red.clone(), lamp)
            })
            .collect();
        let fan = p.fan.as_ref().map(|f| {
            let fan = Fan::new(SysfsPwm::new(&f.pwm), f.curve());
            (f.clone(), fan, None)
        });
        Hardware {
            display: p.display.clone().map(|wiring| Display {
                wiring,
                driver: None,
                error: None,
                failed_at: None,
                last: None,
            }),
            lamps,
            tally,
            fan,
            buttons: p.buttons.as_ref().map(|b| b.device.clone()),
            last_lamps: None,
        }
    }

    /// The SoC's temperature: the fan's thermal zone, else the first one.
    pub(crate) fn temperature_c(&self) -> Option<i32> {
        let zone = self
            .fan
            .as_ref()
            .map_or("/sys/class/thermal/thermal_zone0/temp", |(w, _, _)| {
                w.thermal.as_str()
            });
        linux::temperature_c(zone)
    }

    /// Sends the picture (when it changed), the lamps, the tallies and the fan's duty.
    pub(crate) fn show(
        &mut self,
        frame: &Frame,
        lamps: StatusLamps,
        tallies: &[InputTally],
        temp_c: Option<i32>,
    ) -> Option<u8> {
        if let Some(d) = self.display.as_mut() {
            d.show(frame);
        }
        if self.last_lamps != Some(lamps) {
            if let Some((_, Ok(pins))) = self.lamps.as_mut()
                && let Err(e) = pins.show(lamps)
            {
                tracing::warn!("panel lamps: {e}");
            }
            self.last_lamps = Some(lamps);
        }
        for (input, _, lamp) in &mut self.tally {
            if let (Ok(lamp), Some(t)) = (lamp, tallies.iter().find(|t| &t.input == input))
                && let Err(e) = lamp.show(t.tally)
            {
                tracing::warn!(input = input.as_str(), "tally lamp: {e}");
            }
        }
        self.fan
            .as_mut()
            .map(|(_, fan, error)| match fan.follow(temp_c) {
                Ok(pct) => {
                    *error = None;
                    pct
                }
                Err(e) => {
                    *error = Some(e.to_string());
                    0
                }
            })
    }

    /// The screen off and the lamps dark, when the daemon stops.
    pub(crate) fn dark(&mut self) {
        if let Some(d) = self.display.as_mut().and_then(|d| d.driver.as_mut()) {
            let _ = d.off();
        }
        if let Some((_, Ok(pins))) = self.lamps.as_mut() {
            let _ = pins.show(StatusLamps::default());
        }
    }

    pub(crate) fn parts(&self) -> Vec<PartState> {
        let mut parts = Vec::new();
        if let Some(d) = &self.display {
            parts.push(PartState {
                part: "display".into(),
                at: format!("{} at {:#04x}", d.wiring.i2c, d.wiring.address),
                ok: d.error.is_none() && d.driver.is_some(),
                error: d.error.clone(),
            });
        }
        if let Some((at, pins)) = &self.lamps {
            parts.push(part("lamps", at, pins.as_ref().err()));
        }
        for (input, at, lamp) in &self.tally {
            parts.push(part(&format!("tally:{input}"), at, lamp.as_ref().err()));
        }
        if let Some((w, _, error)) = &self.fan {
            parts.push(part("fan", &w.pwm, error.as_ref()));
        }
        if let Some(device) = &self.buttons {
            let found = linux::input_by_name(std::path::Path::new("/sys/class/input"), device);
            let error = found
                .is_none()
                .then(|| format!("no input device named {device:?}"));
            parts.push(part("buttons", device, error.as_ref()));
        }
        parts
    }
}

fn part(name: &str, at: &str, error: Option<&String>) -> PartState {
    PartState {
        part: name.into(),
        at: at.into(),
        ok: error.is_none(),
        error: error.cloned(),
    }
}

impl Display {
    /// Sends `frame` when it differs from the last one sent; opens the bus first if needed.
    fn show(&mut self, frame: &Frame) {
        if self.last.as_ref() == Some(frame) && self.error.is_none() {
            return;
        }
        if self.driver.is_none() {
            if self.failed_at.is_some_and(|t| t.elapsed() < REOPEN) {
                return;
            }
            match I2cDev::open(&self.wiring.i2c) {
                Ok(bus) => {
                    let mut d = Ssd1306::new(bus, self.wiring.address);
                    match d.init() {
                        Ok(()) => self.driver = Some(d),
                        Err(e) => return self.failed(e.to_string()),
                    }
                }
                Err(e) => return self.failed(e),
            }
        }
        let Some(d) = self.driver.as_mut() else {
            return;
        };
        match d.show(frame) {
            Ok(()) => {
                self.error = None;
                self.last = Some(frame.clone());
            }
            Err(e) => {
                self.driver = None;
                self.failed(e.to_string())
            }
        }
    }

    fn failed(&mut self, error: String) {
        if self.error.as_ref() != Some(&error) {
            tracing::warn!("panel display: {error}");
        }
        self.error = Some(error);
        self.failed_at = Some(Instant::now());
    }
}

/// Reads the buttons on their own thread: finds the input device by name (again after it
/// went away), and hands each press to the panel.
pub(crate) fn read_buttons(
    wiring: ButtonWiring,
    presses: mpsc::Sender<Button>,
    stop: watch::Receiver<bool>,
) {
    let spawned = std::thread::Builder::new()
        .name("panel-buttons".into())
        .spawn(move || {
            let class = std::path::Path::new("/sys/class/input");
            let mut said = false;
            while !*stop.borrow() {
                let Some(path) = linux::input_by_name(class, &wiring.device) else {
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                };
                let file = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        if !said {
                            tracing::warn!("panel buttons {}: {e}", path.display());
                            said = true;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                };
                tracing::info!("panel buttons on {}", path.display());
                said = false;
                let end = linux::read_presses(file, |code| {
                    if let Some(button) = wiring.button(code)
                        && presses.try_send(button).is_err()
                    {
                        tracing::warn!(button = button.name(), "panel press dropped: busy");
                    }
                    !*stop.borrow()
                });
                if let Err(e) = end {
                    tracing::info!("panel buttons {} went away: {e}", path.display());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    if let Err(e) = spawned {
        tracing::error!("the panel's buttons cannot be read: {e}");
    }
}
