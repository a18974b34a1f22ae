//! Linux back ends for the panel: I2C through `/dev/i2c-N` (SMBus block writes, so an
//! SMBus-only adapter works), LEDs and fan PWM through sysfs, buttons through evdev.
//!
//! Tally lamps are LEDs (`leds-gpio` in the device tree) rather than raw GPIO lines: the
//! kernel then owns the lines, their polarity and their state across a daemon restart, and
//! the same sysfs files serve a lamp on a GPIO, on an I2C expander or on a PWM.
//!
//! The one `unsafe` here is the I2C ioctls (no safe wrapper offers SMBus block writes
//! without pulling a second `nix`), fenced in [`I2cDev::block_write`].
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation, SevenBitAddress};

/// An I2C adapter, `/dev/i2c-N`.
pub struct I2cDev {
    file: File,
    path: PathBuf,
}

/// An I2C error with the adapter's words.
#[derive(Debug)]
pub struct I2cError {
    kind: ErrorKind,
    message: String,
}

impl std::fmt::Display for I2cError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl embedded_hal::i2c::Error for I2cError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

const I2C_SLAVE: libc::c_ulong = 0x0703;
const I2C_SMBUS: libc::c_ulong = 0x0720;
const I2C_SMBUS_WRITE: u8 = 0;
const I2C_SMBUS_I2C_BLOCK_DATA: u32 = 8;

/// `struct i2c_smbus_ioctl_data` (linux/i2c-dev.h).
#[repr(C)]
struct SmbusIoctl {
    read_write: u8,
    command: u8,
    size: u32,
    data: *mut [u8; 34],
}

impl I2cDev {
    /// Opens `name`: a `/dev/i2c-N` path, or an adapter's name from
    /// `/sys/class/i2c-dev/*/name`.
    pub fn open(name: &str) -> Result<I2cDev, String> {
        let path = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            adapter_by_name(Path::new("/sys/class/i2c-dev"), name)
                .ok_or_else(|| format!("no I2C adapter named {name:?}"))?
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(I2cDev { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn block_write(&mut self, address: u8, command: u8, data: &[u8]) -> Result<(), I2cError> {
        let fail = |what: &str| I2cError {
            kind: ErrorKind::Other,
            message: format!(
                "{} at {address:#04x}: {what}: {}",
                self.path.display(),
                std::io::Error::last_os_error()
            ),
        };
        let mut block = [0u8; 34];
        block[0] = data.len() as u8;
        block[1..=data.len()].copy_from_slice(data);
        let mut args = SmbusIoctl {
            read_write: I2C_SMBUS_WRITE,
            command,
            size: I2C_SMBUS_I2C_BLOCK_DATA,
            data: &mut block,
        };
        let fd = self.file.as_raw_fd();
        // SAFETY: I2C_SLAVE takes the address by value; I2C_SMBUS reads `args` and the
        // 34-byte block it points to, both alive and exclusively borrowed for the call.
        unsafe {
            if libc::ioctl(fd, I2C_SLAVE, libc::c_ulong::from(address)) < 0 {
                return Err(fail("set address"));
            }
            if libc::ioctl(fd, I2C_SMBUS, &mut args as *mut SmbusIoctl) < 0 {
                return Err(fail("block write"));
            }
        }
        Ok(())
    }
}

/// The `/dev/i2c-N` of the adapter called `name` under `class` (`/sys/class/i2c-dev`).
pub fn adapter_by_name(class: &Path, name: &str) -> Option<PathBuf> {
    let mut found: Vec<String> = std::fs::read_dir(class)
        .ok()?
        .flatten()
        .filter(|e| std::fs::read_to_string(e.path().join("name")).is_ok_and(|n| n.trim() == name))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found.first().map(|n| Path::new("/dev").join(n))
}

impl ErrorType for I2cDev {
    type Error = I2cError;
}

impl I2c<SevenBitAddress> for I2cDev {
    /// Only single writes of 1–33 bytes (a command byte and an SMBus block): what the
    /// panel's drivers send.
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        match operations {
            [Operation::Write(bytes)] if (1..=33).contains(&bytes.len()) => {
                self.block_write(address, bytes[0], &bytes[1..])
            }
            _ => Err(I2cError {
                kind: ErrorKind::Other,
                message: format!(
                    "{}: only single writes of 1–33 bytes go over SMBus",
                    self.path.display()
                ),
            }),
        }
    }
}

/// A sysfs LED (`/sys/class/leds/NAME`) as an output pin.
pub struct SysfsLed {
    brightness: PathBuf,
    on: String,
}

impl SysfsLed {
    pub fn open(name: &str) -> Result<SysfsLed, String> {
        let dir = Path::new("/sys/class/leds").join(name);
        let max = std::fs::read_to_string(dir.join("max_brightness"))
            .map_err(|e| format!("LED {name:?}: {e}"))?;
        Ok(SysfsLed {
            brightness: dir.join("brightness"),
            on: max.trim().to_string(),
        })
    }
}

/// A sysfs write that failed.
#[derive(Debug)]
pub struct SysfsError(pub std::io::Error);

impl std::fmt::Display for SysfsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl embedded_hal::digital::Error for SysfsError {
    fn kind(&self) -> embedded_hal::digital::ErrorKind {
        embedded_hal::digital::ErrorKind::Other
    }
}

impl embedded_hal::pwm::Error for SysfsError {
    fn kind(&self) -> embedded_hal::pwm::ErrorKind {
        embedded_hal::pwm::ErrorKind::Other
    }
}

impl embedded_hal::digital::ErrorType for SysfsLed {
    type Error = SysfsError;
}

impl embedded_hal::digital::OutputPin for SysfsLed {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        std::fs::write(&self.brightness, "0").map_err(SysfsError)
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        std::fs::write(&self.brightness, &self.on).map_err(SysfsError)
    }
}

/// A hwmon PWM file (0–255) as a duty-cycle channel.
pub struct SysfsPwm {
    path: PathBuf,
}

impl SysfsPwm {
    pub fn new(path: &str) -> SysfsPwm {
        SysfsPwm { path: path.into() }
    }
}

impl embedded_hal::pwm::ErrorType for SysfsPwm {
    type Error = SysfsError;
}

impl embedded_hal::pwm::SetDutyCycle for SysfsPwm {
    fn max_duty_cycle(&self) -> u16 {
        255
    }
    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Self::Error> {
        std::fs::File::create(&self.path)
            .and_then(|mut f| f.write_all(duty.min(255).to_string().as_bytes()))
            .map_err(SysfsError)
    }
}

/// A thermal zone's temperature, whole °C.
pub fn temperature_c(path: &str) -> Option<i32> {
    let milli: i64 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    i32::try_from(milli / 1000).ok()
}

/// `struct input_event` on a 64-bit kernel: time (16 bytes), type, code, value.
pub const EVENT_SIZE: usize = 24;
const EV_KEY: u16 = 1;

/// A key going down (`value` 1; releases and auto-repeats are not presses).
pub fn key_press(event: &[u8; EVENT_SIZE]) -> Option<u16> {
    let kind = u16::from_ne_bytes([event[16], event[17]]);
    let code = u16::from_ne_bytes([event[18], event[19]]);
    let value = i32::from_ne_bytes([event[20], event[21], event[22], event[23]]);
    (kind == EV_KEY && value == 1).then_some(code)
}

/// The `/dev/input/eventN` whose device is called `name` (under `class`,
/// `/sys/class/input`).
pub fn input_by_name(class: &Path, name: &str) -> Option<PathBuf> {
    let mut found: Vec<String> = std::fs::read_dir(class)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("event"))
        .filter(|e| {
            std::fs::read_to_string(e.path().join("device/name")).is_ok_and(|n| n.trim() == name)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found.first().map(|n| Path::new("/dev/input").join(n))
}

/// Reads key presses from an evdev node until it fails (the device went away).
pub fn read_presses(mut device: File, mut press: impl FnMut(u16) -> bool) -> std::io::Result<()> {
    let mut event = [0u8; EVENT_SIZE];
    loop {
        device.read_exact(&mut event)?;
        if let Some(code) = key_press(&event)
            && !press(code)
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16, code: u16, value: i32) -> [u8; EVENT_SIZE] {
        let mut e = [0u8; EVENT_SIZE];
        e[16..18].copy_from_slice(&kind.to_ne_bytes());
        e[18..20].copy_from_slice(&code.to_ne_bytes());
        e[20..24].copy_from_slice(&value.to_ne_bytes());
        e
    }

    #[test]
    fn only_a_key_going_down_is_a_press() {
        assert_eq!(key_press(&event(EV_KEY, 148, 1)), Some(148));
        assert_eq!(key_press(&event(EV_KEY, 148, 0)), None); // release
        assert_eq!(key_press(&event(EV_KEY, 148, 2)), None); // auto-repeat
        assert_eq!(key_press(&event(0, 0, 0)), None); // EV_SYN
    }

    #[test]
    fn devices_are_found_by_name_in_sysfs() {
        let dir = std::env::temp_dir().join(format!("fourcast-sysfs-{}", std::process::id()));
        for (node, name) in [("event3", "gpio-keys"), ("event1", "Power Button")] {
            std::fs::create_dir_all(dir.join(node).join("device")).unwrap();
            std::fs::write(dir.join(node).join("device/name"), format!("{name}\n")).unwrap();
        }
        std::fs::create_dir_all(dir.join("i2c-4")).unwrap();
        std::fs::write(dir.join("i2c-4/name"), "SMBus stub driver\n").unwrap();
        assert_eq!(
            input_by_name(&dir, "gpio-keys"),
            Some(PathBuf::from("/dev/input/event3"))
        );
        assert_eq!(input_by_name(&dir, "nothing"), None);
        assert_eq!(
            adapter_by_name(&dir, "SMBus stub driver"),
            Some(PathBuf::from("/dev/i2c-4"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reading_stops_when_told_and_on_the_end_of_the_device() {
        let path = std::env::temp_dir().join(format!("fourcast-evdev-{}", std::process::id()));
        let mut bytes = Vec::new();
        for e in [
            event(EV_KEY, 2, 1),
            event(EV_KEY, 2, 0),
            event(EV_KEY, 3, 1),
        ] {
            bytes.extend_from_slice(&e);
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut seen = Vec::new();
        let end = read_presses(File::open(&path).unwrap(), |c| {
            seen.push(c);
            true
        });
        assert_eq!(seen, [2, 3]);
        assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        std::fs::remove_file(&path).unwrap();
    }
}
