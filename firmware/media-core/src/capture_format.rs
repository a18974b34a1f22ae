//! Which of a capture device's formats the box takes. An HDMI receiver sends what its
//! source sends, at the source's size: the box follows it and never pins a size. A USB
//! camera offers a list, and over USB 2 its raw pictures are small or slow (1080p raw at
//! 5 fps is common) while its MJPEG reaches full size at full rate; MJPEG then costs a JPEG
//! decode, cheap where the board has a hardware decoder. So: raw when raw reaches the
//! program's size at its rate, else MJPEG where offered and decodable, else the best raw.

/// What the config asks for (`format` on a `v4l2` input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    Auto,
    Raw,
    Mjpeg,
}

/// One size a device offers in one format, at one of its rates there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offer {
    /// Motion-JPEG (`MJPG`/`JPEG`); anything else compressed is never offered here.
    pub mjpeg: bool,
    pub width: u32,
    pub height: u32,
    /// Frames per second (0: the driver did not say).
    pub fps: f64,
}

/// What the box would like: the program's size and rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Want {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

/// What to ask the device for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice {
    /// Raw pictures at whatever size the source sends (HDMI receivers, or a driver that
    /// lists nothing): no size in the caps.
    Follow,
    Raw {
        width: u32,
        height: u32,
        fps: f64,
    },
    Mjpeg {
        width: u32,
        height: u32,
        fps: f64,
    },
}

impl Choice {
    fn of(o: &Offer) -> Choice {
        let (width, height, fps) = (o.width, o.height, o.fps);
        if o.mjpeg {
            Choice::Mjpeg { width, height, fps }
        } else {
            Choice::Raw { width, height, fps }
        }
    }
}

/// Why the asked-for format cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    NoMjpeg,
    NoRaw,
    Receiver,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FormatError::NoMjpeg => {
                "the device offers no MJPEG (its formats are raw only): use format = \"raw\" or \"auto\""
            }
            FormatError::NoRaw => {
                "the device offers only MJPEG: use format = \"mjpeg\" or \"auto\""
            }
            FormatError::Receiver => {
                "the device sends what its source sends (an HDMI receiver): only format = \"raw\" or \"auto\" apply"
            }
        })
    }
}

impl std::error::Error for FormatError {}

/// A rate within half a frame per second of the program's counts (29.97 for 30).
fn reaches_rate(o: &Offer, want: &Want) -> bool {
    o.fps + 0.5 >= want.fps
}

fn covers(o: &Offer, want: &Want) -> bool {
    o.width >= want.width && o.height >= want.height
}

fn area(o: &Offer) -> u64 {
    u64::from(o.width) * u64::from(o.height)
}

/// The best of `offers` for `want`: the smallest that covers the program's size at its
/// rate; if none covers it, the largest at the rate; if none reaches the rate, the fastest
/// (largest among equals). Of the rates that reach the program's, the lowest: a camera
/// sending more pictures than the program shows costs for nothing.
fn best<'a>(offers: impl Iterator<Item = &'a Offer>, want: &Want) -> Option<Offer> {
    let offers: Vec<&Offer> = offers.collect();
    let at_rate = offers.iter().filter(|o| reaches_rate(o, want));
    if let Some(o) = at_rate
        .clone()
        .filter(|o| covers(o, want))
        .min_by(|a, b| area(a).cmp(&area(b)).then(a.fps.total_cmp(&b.fps)))
    {
        return Some(**o);
    }
    if let Some(o) = at_rate.max_by(|a, b| area(a).cmp(&area(b)).then(b.fps.total_cmp(&a.fps))) {
        return Some(**o);
    }
    offers
        .iter()
        .max_by(|a, b| a.fps.total_cmp(&b.fps).then(area(a).cmp(&area(b))))
        .map(|o| **o)
}

/// Whether `o` serves `want` fully: its size at its rate.
fn serves(o: &Offer, want: &Want) -> bool {
    reaches_rate(o, want) && covers(o, want)
}

/// Picks the format, size and rate to capture. `receiver`: the device reports DV timings
/// (it sends what its source sends); `hardware_jpeg`: the board decodes MJPEG in hardware.
/// Without one, a software decode at full size costs more than a small raw picture is
/// worth, so MJPEG is taken only when asked for or when the device offers nothing else.
pub fn choose(
    offers: &[Offer],
    receiver: bool,
    want: Want,
    preference: Preference,
    hardware_jpeg: bool,
) -> Result<Choice, FormatError> {
    let raw = best(offers.iter().filter(|o| !o.mjpeg), &want);
    let mjpeg = best(offers.iter().filter(|o| o.mjpeg), &want);
    if receiver {
        return match preference {
            Preference::Mjpeg => Err(FormatError::Receiver),
            _ => Ok(Choice::Follow),
        };
    }
    match preference {
        Preference::Raw => match raw {
            Some(r) => Ok(Choice::of(&r)),
            None if offers.is_empty() => Ok(Choice::Follow),
            None => Err(FormatError::NoRaw),
        },
        Preference::Mjpeg => mjpeg.map(|m| Choice::of(&m)).ok_or(FormatError::NoMjpeg),
        Preference::Auto => Ok(match (raw, mjpeg.filter(|_| hardware_jpeg)) {
            (Some(r), _) if serves(&r, &want) => Choice::of(&r),
            (Some(r), Some(m)) => {
                // Whichever comes closer: the rate first, then the size up to the program's.
                let score = |o: &Offer| {
                    let shown =
                        u64::from(o.width.min(want.width)) * u64::from(o.height.min(want.height));
                    (reaches_rate(o, &want), shown)
                };
                if score(&m) > score(&r) {
                    Choice::of(&m)
                } else {
                    Choice::of(&r)
                }
            }
            (Some(r), None) => Choice::of(&r),
            (None, _) => mjpeg.map_or(Choice::Follow, |m| Choice::of(&m)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(mjpeg: bool, width: u32, height: u32, fps: f64) -> Offer {
        Offer {
            mjpeg,
            width,
            height,
            fps,
        }
    }

    /// A typical USB 2 webcam: raw is 5 fps at 1080p, MJPEG reaches 30 everywhere.
    fn usb2_webcam() -> Vec<Offer> {
        vec![
            offer(false, 640, 480, 30.0),
            offer(false, 1280, 720, 10.0),
            offer(false, 1920, 1080, 5.0),
            offer(true, 640, 480, 30.0),
            offer(true, 1280, 720, 30.0),
            offer(true, 1920, 1080, 30.0),
        ]
    }

    const P1080: Want = Want {
        width: 1920,
        height: 1080,
        fps: 30.0,
    };

    #[test]
    fn a_usb2_camera_gives_full_size_at_full_rate_as_mjpeg() {
        let c = choose(&usb2_webcam(), false, P1080, Preference::Auto, true).unwrap();
        assert_eq!(
            c,
            Choice::Mjpeg {
                width: 1920,
                height: 1080,
                fps: 30.0
            }
        );
    }

    #[test]
    fn without_a_hardware_jpeg_decoder_the_best_raw_at_the_rate_is_taken() {
        let c = choose(&usb2_webcam(), false, P1080, Preference::Auto, false).unwrap();
        assert_eq!(
            c,
            Choice::Raw {
                width: 640,
                height: 480,
                fps: 30.0
            }
        );
    }

    #[test]
    fn raw_is_taken_when_it_serves_a_small_program() {
        let small = Want {
            width: 640,
            height: 360,
            fps: 30.0,
        };
        let c = choose(&usb2_webcam(), false, small, Preference::Auto, true).unwrap();
        assert_eq!(
            c,
            Choice::Raw {
                width: 640,
                height: 480,
                fps: 30.0
            }
        );
    }

    #[test]
    fn the_config_can_insist_and_is_told_what_the_device_cannot_do() {
        let c = choose(&usb2_webcam(), false, P1080, Preference::Raw, true).unwrap();
        assert_eq!(
            c,
            Choice::Raw {
                width: 640,
                height: 480,
                fps: 30.0
            },
            "raw at the rate beats raw at the size"
        );
        let raw_only: Vec<Offer> = usb2_webcam().into_iter().filter(|o| !o.mjpeg).collect();
        assert_eq!(
            choose(&raw_only, false, P1080, Preference::Mjpeg, true),
            Err(FormatError::NoMjpeg)
        );
        let mjpeg_only: Vec<Offer> = usb2_webcam().into_iter().filter(|o| o.mjpeg).collect();
        assert_eq!(
            choose(&mjpeg_only, false, P1080, Preference::Raw, true),
            Err(FormatError::NoRaw)
        );
        assert_eq!(
            choose(&mjpeg_only, false, P1080, Preference::Auto, false),
            Ok(Choice::Mjpeg {
                width: 1920,
                height: 1080,
                fps: 30.0
            }),
            "MJPEG only: decoded in software if that is all there is"
        );
    }

    #[test]
    fn an_hdmi_receiver_is_followed_never_pinned() {
        let hdmi = [offer(false, 1920, 1080, 60.0)];
        assert_eq!(
            choose(&hdmi, true, P1080, Preference::Auto, true),
            Ok(Choice::Follow)
        );
        assert_eq!(
            choose(&hdmi, true, P1080, Preference::Mjpeg, true),
            Err(FormatError::Receiver)
        );
        assert_eq!(
            choose(&[], false, P1080, Preference::Auto, true),
            Ok(Choice::Follow),
            "a driver that lists nothing is followed"
        );
    }

    #[test]
    fn the_lowest_rate_that_keeps_the_programs_is_asked_for() {
        let rates = [
            offer(false, 640, 360, 60.0),
            offer(false, 640, 360, 30.0),
            offer(false, 640, 360, 15.0),
            offer(false, 1280, 720, 30.0),
        ];
        let want = Want {
            width: 320,
            height: 180,
            fps: 25.0,
        };
        assert_eq!(
            choose(&rates, false, want, Preference::Auto, false),
            Ok(Choice::Raw {
                width: 640,
                height: 360,
                fps: 30.0
            })
        );
    }

    #[test]
    fn a_camera_slower_than_the_program_gives_its_fastest() {
        let slow = [offer(false, 1280, 720, 15.0), offer(false, 640, 480, 20.0)];
        assert_eq!(
            choose(&slow, false, P1080, Preference::Auto, true),
            Ok(Choice::Raw {
                width: 640,
                height: 480,
                fps: 20.0
            })
        );
        let ntsc = [offer(false, 1920, 1080, 29.97)];
        assert!(matches!(
            choose(&ntsc, false, P1080, Preference::Auto, true),
            Ok(Choice::Raw { width: 1920, .. })
        ));
    }
}
