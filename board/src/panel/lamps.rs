//! Tally and status lamps: what each shows (pure) and the pins that show it
//! (`embedded-hal` `OutputPin`).

use embedded_hal::digital::OutputPin;
use serde::Serialize;

/// An input's tally: red when it is on program, green when it is in the previewed scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tally {
    Off,
    Preview,
    Program,
}

/// The tally of `input` given the inputs on program and in the preview.
pub fn tally(input: &str, program: &[String], preview: &[String]) -> Tally {
    if program.iter().any(|i| i == input) {
        Tally::Program
    } else if preview.iter().any(|i| i == input) {
        Tally::Preview
    } else {
        Tally::Off
    }
}

/// The status lamps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusLamps {
    pub live: bool,
    pub rec: bool,
    pub error: bool,
}

/// One input's tally lamp: a red pin and maybe a green one.
pub struct TallyLamp<P> {
    pub red: P,
    pub green: Option<P>,
}

impl<P: OutputPin> TallyLamp<P> {
    pub fn show(&mut self, tally: Tally) -> Result<(), P::Error> {
        self.red.set_state((tally == Tally::Program).into())?;
        if let Some(g) = self.green.as_mut() {
            g.set_state((tally == Tally::Preview).into())?;
        }
        Ok(())
    }
}

/// The live, rec and error lamps.
pub struct StatusPins<P> {
    pub live: P,
    pub rec: P,
    pub error: P,
}

impl<P: OutputPin> StatusPins<P> {
    pub fn show(&mut self, lamps: StatusLamps) -> Result<(), P::Error> {
        self.live.set_state(lamps.live.into())?;
        self.rec.set_state(lamps.rec.into())?;
        self.error.set_state(lamps.error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction};

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn program_wins_over_preview() {
        let program = names(&["cam1", "cam2"]);
        let preview = names(&["cam2", "cam3"]);
        assert_eq!(tally("cam1", &program, &preview), Tally::Program);
        assert_eq!(tally("cam2", &program, &preview), Tally::Program);
        assert_eq!(tally("cam3", &program, &preview), Tally::Preview);
        assert_eq!(tally("cam4", &program, &preview), Tally::Off);
    }

    #[test]
    fn a_tally_lamp_drives_red_for_program_and_green_for_preview() {
        let mut red = Mock::new(&[Transaction::set(State::High), Transaction::set(State::Low)]);
        let mut green = Mock::new(&[Transaction::set(State::Low), Transaction::set(State::High)]);
        let mut lamp = TallyLamp {
            red: red.clone(),
            green: Some(green.clone()),
        };
        lamp.show(Tally::Program).unwrap();
        lamp.show(Tally::Preview).unwrap();
        red.done();
        green.done();
    }

    #[test]
    fn status_pins_follow_the_lamps() {
        let mut live = Mock::new(&[Transaction::set(State::High)]);
        let mut rec = Mock::new(&[Transaction::set(State::Low)]);
        let mut error = Mock::new(&[Transaction::set(State::High)]);
        let mut pins = StatusPins {
            live: live.clone(),
            rec: rec.clone(),
            error: error.clone(),
        };
        pins.show(StatusLamps {
            live: true,
            rec: false,
            error: true,
        })
        .unwrap();
        live.done();
        rec.done();
        error.done();
    }
}
