//! The front panel's 128×64 status screen: what it says ([`Status`]), how it is drawn
//! ([`render`], with `embedded-graphics`) and the picture itself ([`Frame`]), kept in the
//! SSD1306's own memory order so the driver sends it as it is.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_10X20};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use serde::{Deserialize, Serialize};

pub const WIDTH: usize = 128;
pub const HEIGHT: usize = 64;
/// Bytes in a frame: 8 pages of 128 columns, a byte holding 8 rows (bit 0 on top).
pub const FRAME_BYTES: usize = WIDTH * HEIGHT / 8;

/// What the screen shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The box's address on the venue network.
    pub address: Option<String>,
    /// An uplink is live.
    pub live: bool,
    /// The recorder runs.
    pub recording: bool,
    /// Something needs a technician (the words are on the web UI).
    pub error: bool,
    /// The program's measured bit rate (the top rung), kbit/s.
    pub program_kbps: Option<u32>,
    /// The SoC's temperature, °C.
    pub temp_c: Option<i32>,
    /// The code that claims an unclaimed box.
    pub setup_code: Option<String>,
    /// The scene the Cut button takes.
    pub next_scene: Option<String>,
}

/// A 1-bit picture in SSD1306 page order.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: [u8; FRAME_BYTES],
}

impl std::fmt::Debug for Frame {
    /// The picture as text, a `#` per lit pixel: an assertion's diff shows what differs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f)?;
        for y in 0..HEIGHT {
            let row: String = (0..WIDTH)
                .map(|x| if self.pixel(x, y) { '#' } else { '.' })
                .collect();
            writeln!(f, "{row}")?;
        }
        Ok(())
    }
}

impl Default for Frame {
    fn default() -> Self {
        Frame {
            bytes: [0; FRAME_BYTES],
        }
    }
}

impl Frame {
    /// A frame from the bytes an SSD1306 was sent (horizontal addressing, whole screen).
    pub fn from_bytes(bytes: &[u8]) -> Option<Frame> {
        Some(Frame {
            bytes: bytes.try_into().ok()?,
        })
    }

    pub fn bytes(&self) -> &[u8; FRAME_BYTES] {
        &self.bytes
    }

    pub fn pixel(&self, x: usize, y: usize) -> bool {
        x < WIDTH && y < HEIGHT && self.bytes[(y / 8) * WIDTH + x] & (1 << (y % 8)) != 0
    }

    fn set(&mut self, x: usize, y: usize, on: bool) {
        if x < WIDTH && y < HEIGHT {
            let byte = &mut self.bytes[(y / 8) * WIDTH + x];
            if on {
                *byte |= 1 << (y % 8);
            } else {
                *byte &= !(1 << (y % 8));
            }
        }
    }

    /// The picture as a PNG (8-bit grey, lit pixels white), for the web UI and snapshots.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels: Vec<u8> = (0..HEIGHT)
            .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
            .map(|(x, y)| if self.pixel(x, y) { 255 } else { 0 })
            .collect();
        let written = {
            let mut encoder = png::Encoder::new(&mut out, WIDTH as u32, HEIGHT as u32);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.write_header().and_then(|mut writer| {
                writer.write_image_data(&pixels)?;
                writer.finish()
            })
        };
        // Writing into a Vec fails only on a wrong size, which the constants rule out.
        if written.is_err() {
            out.clear();
        }
        out
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(WIDTH as u32, HEIGHT as u32)
    }
}

impl DrawTarget for Frame {
    type Color = BinaryColor;
    type Error = std::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, color) in pixels {
            if let (Ok(x), Ok(y)) = (usize::try_from(p.x), usize::try_from(p.y)) {
                self.set(x, y, color.is_on());
            }
        }
        Ok(())
    }
}

/// Draws `status`:
///
/// ```text
/// 192.168.1.20        address (or "no network")
/// [LIVE] [REC]        big, white on black when on; "ERROR" under them when there is one
/// PGM 2800 kb/s       the program's bit rate
/// NEXT wide   52°C    the scene Cut takes, the temperature
/// SETUP 123456        only while the box is unclaimed (replaces the NEXT line)
/// ```
pub fn render(status: &Status) -> Frame {
    let mut frame = Frame::default();
    let small = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
    let address = status.address.as_deref().unwrap_or("no network");
    text(&mut frame, &clip(address, 21), 0, 0, small);
    badge(&mut frame, "LIVE", 0, status.live);
    badge(&mut frame, "REC", 66, status.recording);
    if status.error {
        text(&mut frame, "ERROR", 98, 0, small);
    }
    let kbps = status
        .program_kbps
        .map_or_else(|| "PGM -".to_string(), |k| format!("PGM {k} kb/s"));
    text(&mut frame, &kbps, 0, 36, small);
    let bottom = match (&status.setup_code, &status.next_scene) {
        (Some(code), _) => format!("SETUP {code}"),
        (None, Some(scene)) => format!("NEXT {}", clip(scene, 10)),
        (None, None) => String::new(),
    };
    text(&mut frame, &bottom, 0, 50, small);
    if let Some(t) = status.temp_c {
        let t = format!("{t}C");
        let x = WIDTH as i32 - 6 * t.len() as i32;
        text(&mut frame, &t, x, 50, small);
    }
    frame
}

fn clip(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

fn text(frame: &mut Frame, s: &str, x: i32, y: i32, style: MonoTextStyle<'_, BinaryColor>) {
    // Drawing into a Frame cannot fail (its error type is Infallible).
    let _ = Text::with_baseline(s, Point::new(x, y), style, Baseline::Top).draw(frame);
}

/// A word in the big font: white on black (a filled box) when `on`, outlined when off.
fn badge(frame: &mut Frame, word: &str, x: i32, on: bool) {
    let width = 10 * word.len() as u32 + 8;
    let area = Rectangle::new(Point::new(x, 12), Size::new(width, 22));
    let style = if on {
        PrimitiveStyle::with_fill(BinaryColor::On)
    } else {
        PrimitiveStyle::with_stroke(BinaryColor::On, 1)
    };
    let _ = area.into_styled(style).draw(frame);
    let ink = MonoTextStyle::new(&FONT_10X20, BinaryColor::from(!on));
    text(frame, word, x + 4, 13, ink);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show_day() -> Status {
        Status {
            address: Some("192.168.1.20".into()),
            live: true,
            recording: false,
            error: false,
            program_kbps: Some(2790),
            temp_c: Some(52),
            setup_code: None,
            next_scene: Some("wide".into()),
        }
    }

    /// Compares with the PNG in `board/tests/snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites it
    /// (look at the picture before committing it).
    fn snapshot(name: &str, frame: &Frame) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots")
            .join(format!("{name}.png"));
        let png = frame.to_png();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &png).unwrap();
        }
        let want = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 makes it)", path.display()));
        let decoded = decode(&want);
        assert_eq!(
            &decoded, frame,
            "{name}: the screen differs from the snapshot"
        );
        assert_eq!(png, want, "{name}: same picture, different PNG bytes");
    }

    /// A snapshot back into a frame, with the PNG crate's decoder.
    fn decode(png_bytes: &[u8]) -> Frame {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (WIDTH as u32, HEIGHT as u32));
        let mut frame = Frame::default();
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                frame.set(x, y, buf[y * WIDTH + x] > 127);
            }
        }
        frame
    }

    #[test]
    fn the_show_day_screen_matches_its_snapshot() {
        snapshot("status-live", &render(&show_day()));
    }

    #[test]
    fn an_unclaimed_box_shows_its_setup_code_and_says_when_it_has_no_network() {
        let status = Status {
            address: None,
            setup_code: Some("482913".into()),
            recording: true,
            error: true,
            ..show_day()
        };
        let frame = render(&status);
        snapshot("status-unclaimed", &frame);
        assert_ne!(frame, render(&show_day()));
    }

    #[test]
    fn live_fills_its_badge_and_off_only_outlines_it() {
        let live = render(&show_day());
        let idle = render(&Status {
            live: false,
            ..show_day()
        });
        // A pixel inside the LIVE box, left of its letters: lit only when live.
        assert!(live.pixel(2, 20));
        assert!(!idle.pixel(2, 20));
        // The outline is there either way.
        assert!(idle.pixel(0, 20) && live.pixel(0, 20));
    }

    #[test]
    fn a_frame_survives_the_wire_order() {
        let frame = render(&show_day());
        assert_eq!(Frame::from_bytes(frame.bytes()), Some(frame.clone()));
        assert_eq!(Frame::from_bytes(&frame.bytes()[1..]), None);
    }
}
