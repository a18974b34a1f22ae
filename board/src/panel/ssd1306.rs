//! SSD1306 128×64 OLED over I2C, generic over `embedded-hal` 1.0.
//!
//! Every transfer is one I2C write of a control byte and at most 32 bytes: `0x00` then
//! commands, or `0x40` then picture data. On the wire that is exactly an SMBus "I2C block
//! write" (command byte = control byte), so the same driver runs on a full I2C controller
//! and on an SMBus-only adapter (and on the kernel's `i2c-stub`, which the tests use).

use embedded_hal::i2c::I2c;

use super::screen::{FRAME_BYTES, Frame, WIDTH};

/// The panel's usual address (`0x3d` when its SA0 pin is high).
pub const DEFAULT_ADDRESS: u8 = 0x3c;
/// The largest SMBus block.
pub const BLOCK: usize = 32;
const COMMANDS: u8 = 0x00;
const DATA: u8 = 0x40;

/// Power-on set-up for a 128×64 panel with the internal charge pump: display off, clock,
/// 64 rows, no offset, start line 0, charge pump on, horizontal addressing, column 127 at
/// segment 0 and rows scanned bottom-up (the usual module wiring), COM pins, contrast,
/// pre-charge, VCOMH, show RAM, not inverted, display on.
pub const INIT: [u8; 25] = [
    0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0x8D, 0x14, 0x20, 0x00, 0xA1, 0xC8, 0xDA, 0x12,
    0x81, 0xCF, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6, 0xAF,
];
/// Columns 0–127, pages 0–7: the whole screen, so data fills it from the top left.
pub const WHOLE_SCREEN: [u8; 6] = [0x21, 0x00, (WIDTH - 1) as u8, 0x22, 0x00, 0x07];

pub struct Ssd1306<I> {
    i2c: I,
    address: u8,
}

impl<I: I2c> Ssd1306<I> {
    pub fn new(i2c: I, address: u8) -> Self {
        Ssd1306 { i2c, address }
    }

    /// Sets the panel up and turns it on.
    pub fn init(&mut self) -> Result<(), I::Error> {
        self.commands(&INIT)
    }

    /// Sends the whole picture.
    pub fn show(&mut self, frame: &Frame) -> Result<(), I::Error> {
        self.commands(&WHOLE_SCREEN)?;
        let mut block = [0u8; BLOCK + 1];
        block[0] = DATA;
        for chunk in frame.bytes().chunks(BLOCK) {
            block[1..=chunk.len()].copy_from_slice(chunk);
            self.i2c.write(self.address, &block[..=chunk.len()])?;
        }
        Ok(())
    }

    /// Display off (the daemon stopping leaves a dark screen, not a frozen one).
    pub fn off(&mut self) -> Result<(), I::Error> {
        self.commands(&[0xAE])
    }

    fn commands(&mut self, cmds: &[u8]) -> Result<(), I::Error> {
        for chunk in cmds.chunks(BLOCK) {
            let mut block = [0u8; BLOCK + 1];
            block[0] = COMMANDS;
            block[1..=chunk.len()].copy_from_slice(chunk);
            self.i2c.write(self.address, &block[..=chunk.len()])?;
        }
        Ok(())
    }

    pub fn release(self) -> I {
        self.i2c
    }
}

/// The picture a stream of SSD1306 transfers leaves on a screen that was set to the whole
/// screen before each frame: each `(control, data)` pair is one I2C write. Returns every
/// complete frame in order (what a test reads back from the bus).
pub fn frames_from_transfers(transfers: &[(u8, Vec<u8>)]) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    for (control, bytes) in transfers {
        match *control {
            COMMANDS if bytes.starts_with(&WHOLE_SCREEN) => data = Some(Vec::new()),
            DATA => {
                if let Some(d) = data.as_mut() {
                    d.extend_from_slice(bytes);
                    if d.len() == FRAME_BYTES {
                        frames.extend(Frame::from_bytes(d));
                        data = None;
                    }
                }
            }
            _ => {}
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::screen::{Status, render};
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

    fn with_control(control: u8, bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![control];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn init_is_one_command_block_at_the_address() {
        let expected = [Transaction::write(0x3c, with_control(0x00, &INIT))];
        let mut i2c = Mock::new(&expected);
        Ssd1306::new(i2c.clone(), 0x3c).init().unwrap();
        i2c.done();
    }

    #[test]
    fn a_frame_is_the_window_then_32_blocks_of_32_bytes_in_page_order() {
        let frame = render(&Status {
            live: true,
            address: Some("10.0.2.15".into()),
            ..Status::default()
        });
        let mut expected = vec![Transaction::write(0x3d, with_control(0x00, &WHOLE_SCREEN))];
        for chunk in frame.bytes().chunks(32) {
            expected.push(Transaction::write(0x3d, with_control(0x40, chunk)));
        }
        assert_eq!(expected.len(), 1 + 32);
        let mut i2c = Mock::new(&expected);
        Ssd1306::new(i2c.clone(), 0x3d).show(&frame).unwrap();
        i2c.done();
    }

    #[test]
    fn a_bus_error_stops_the_frame_and_is_returned() {
        use embedded_hal::i2c::ErrorKind;
        let expected = [
            Transaction::write(0x3c, with_control(0x00, &WHOLE_SCREEN)),
            Transaction::write(0x3c, with_control(0x40, &[0; 32])).with_error(ErrorKind::Other),
        ];
        let mut i2c = Mock::new(&expected);
        let err = Ssd1306::new(i2c.clone(), 0x3c).show(&Frame::default());
        assert!(err.is_err());
        i2c.done();
    }

    #[test]
    fn transfers_decode_back_into_the_frames_sent() {
        let a = render(&Status {
            live: true,
            ..Status::default()
        });
        let b = render(&Status {
            recording: true,
            ..Status::default()
        });
        let mut transfers = vec![(0x00, INIT.to_vec())];
        // A partial frame first (the trace began mid-frame): not a frame.
        transfers.push((0x40, vec![0xff; 32]));
        for f in [&a, &b] {
            transfers.push((0x00, WHOLE_SCREEN.to_vec()));
            transfers.extend(f.bytes().chunks(32).map(|c| (0x40, c.to_vec())));
        }
        assert_eq!(frames_from_transfers(&transfers), vec![a, b]);
    }
}
