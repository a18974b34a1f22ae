//! The fan: a curve from the SoC's temperature to a duty cycle, with hysteresis so the fan
//! does not hunt around its start point; driven through `embedded-hal`'s `SetDutyCycle`.

use embedded_hal::pwm::SetDutyCycle;

/// How far below `start_c` the temperature must fall before a running fan stops.
pub const HYSTERESIS_C: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub start_c: i32,
    pub full_c: i32,
    pub min_pct: u8,
}

impl Curve {
    /// The duty, percent, at `temp_c` for a fan that was `running`.
    /// Unknown temperature: full speed (a fan that cannot see should not gamble).
    pub fn duty(&self, temp_c: Option<i32>, running: bool) -> u8 {
        let Some(t) = temp_c else { return 100 };
        let stop_below = if running {
            self.start_c - HYSTERESIS_C
        } else {
            self.start_c
        };
        if t < stop_below {
            return 0;
        }
        if t >= self.full_c || self.full_c <= self.start_c {
            return 100;
        }
        let span = i64::from(self.full_c - self.start_c);
        let above = i64::from((t - self.start_c).max(0));
        let min = i64::from(self.min_pct.min(100));
        let pct = min + (100 - min) * above / span;
        u8::try_from(pct.clamp(0, 100)).unwrap_or(100)
    }
}

/// A fan on a PWM channel, remembering whether it runs (for the hysteresis).
pub struct Fan<P> {
    pwm: P,
    curve: Curve,
    duty: Option<u8>,
}

impl<P: SetDutyCycle> Fan<P> {
    pub fn new(pwm: P, curve: Curve) -> Self {
        Fan {
            pwm,
            curve,
            duty: None,
        }
    }

    /// Sets the duty for `temp_c`; writes only on a change. Returns the duty, percent.
    pub fn follow(&mut self, temp_c: Option<i32>) -> Result<u8, P::Error> {
        let running = self.duty.is_some_and(|d| d > 0);
        let duty = self.curve.duty(temp_c, running);
        if self.duty != Some(duty) {
            self.pwm.set_duty_cycle_percent(duty)?;
            self.duty = Some(duty);
        }
        Ok(duty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::pwm::{Mock, Transaction};

    const CURVE: Curve = Curve {
        start_c: 55,
        full_c: 75,
        min_pct: 30,
    };

    #[test]
    fn the_curve_starts_at_its_minimum_and_is_full_at_the_top() {
        assert_eq!(CURVE.duty(Some(40), false), 0);
        assert_eq!(CURVE.duty(Some(55), false), 30);
        assert_eq!(CURVE.duty(Some(65), false), 65);
        assert_eq!(CURVE.duty(Some(75), false), 100);
        assert_eq!(CURVE.duty(Some(90), true), 100);
        assert_eq!(CURVE.duty(None, false), 100);
    }

    #[test]
    fn a_running_fan_stops_only_below_the_hysteresis() {
        assert_eq!(CURVE.duty(Some(53), true), 30);
        assert_eq!(CURVE.duty(Some(53), false), 0);
        assert_eq!(CURVE.duty(Some(51), true), 0);
    }

    #[test]
    fn the_fan_writes_the_pwm_only_when_the_duty_changes() {
        // The mock's channel has a max duty of 255: percent 30 is 76, 100 is 255.
        let expected = [
            Transaction::max_duty_cycle(255),
            Transaction::set_duty_cycle(76),
            Transaction::max_duty_cycle(255),
            Transaction::set_duty_cycle(0),
        ];
        let mut pwm = Mock::new(&expected);
        let mut fan = Fan::new(pwm.clone(), CURVE);
        assert_eq!(fan.follow(Some(55)).unwrap(), 30);
        assert_eq!(fan.follow(Some(54)).unwrap(), 30); // hysteresis: no write
        assert_eq!(fan.follow(Some(50)).unwrap(), 0);
        pwm.done();
    }
}
